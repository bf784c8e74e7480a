//! The receiver's two-phase replay guard: a message is handled once, none is lost when its
//! handler fails or panics, a duplicate in flight is told to come back, and the guard's memory
//! is bounded in bytes while it remembers every id as long as its message verifies.
#![cfg(feature = "hyper")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hookwire::adapters::hyper::handle_once;
use hookwire::adapters::server::run_once;
use hookwire::adapters::server::verify_request;
use hookwire::http::{HeaderMap, Request, Response, StatusCode};
use hookwire::webhook::{
    Claim, GitHub, MAX_ID_LEN, MemoryReplayGuard, Message, ReplayGuard, ReplayKey, Secret, Sign,
    StandardWebhooks,
};
use http_body_util::Full;

fn secret() -> Secret {
    Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

fn request(headers: &HeaderMap, body: &'static [u8]) -> Request<Full<Bytes>> {
    let mut request = Request::post("/hooks")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap();
    *request.headers_mut() = headers.clone();
    request
}

fn answer(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(b"done"));
    *response.status_mut() = status;
    response
}

#[tokio::test]
async fn a_failed_handler_releases_the_message_so_the_retry_is_handled() {
    let verifier = StandardWebhooks::new(&secret()).expect("a key");
    let guard = MemoryReplayGuard::new(Duration::from_secs(600));
    let headers = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_1", b"{}"))
        .unwrap();
    let calls = AtomicUsize::new(0);
    let mut statuses = Vec::new();
    for outcome in [
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::NO_CONTENT,
        StatusCode::OK,
    ] {
        let response = handle_once(&verifier, &guard, 1 << 20, request(&headers, b"{}"), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { answer(outcome) }
        })
        .await;
        statuses.push(response.status());
    }
    // Failed, then handled on the retry, then answered "already received" unhandled.
    assert_eq!(
        statuses,
        [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::NO_CONTENT,
            StatusCode::OK
        ]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_panicking_handler_releases_the_message() {
    let verifier = StandardWebhooks::new(&secret()).expect("a key");
    let guard = Arc::new(MemoryReplayGuard::new(Duration::from_secs(600)));
    let headers = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_panic", b"{}"))
        .unwrap();
    let (task_guard, task_headers) = (guard.clone(), headers.clone());
    let panicked = tokio::spawn(async move {
        handle_once(
            &StandardWebhooks::new(&secret()).expect("a key"),
            &*task_guard,
            1 << 20,
            request(&task_headers, b"{}"),
            |_| async { panic!("the handler broke") },
        )
        .await
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    let retry = handle_once(
        &verifier,
        &*guard,
        1 << 20,
        request(&headers, b"{}"),
        |_| async { answer(StatusCode::OK) },
    )
    .await;
    assert_eq!(retry.status(), StatusCode::OK);
    use http_body_util::BodyExt;
    let body = retry.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "done");
}

#[tokio::test]
async fn a_duplicate_in_flight_is_told_to_retry_later_never_200() {
    let verifier = StandardWebhooks::new(&secret()).expect("a key");
    let guard = MemoryReplayGuard::new(Duration::from_secs(600));
    let headers = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_twice", b"{}"))
        .unwrap();
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let first = handle_once(
        &verifier,
        &guard,
        1 << 20,
        request(&headers, b"{}"),
        |_| async {
            let _ = wait.await;
            answer(StatusCode::INTERNAL_SERVER_ERROR)
        },
    );
    let second = async {
        let response = handle_once(
            &verifier,
            &guard,
            1 << 20,
            request(&headers, b"{}"),
            |_| async { answer(StatusCode::OK) },
        )
        .await;
        let _ = release.send(());
        response
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(second.headers()["retry-after"], "5");
    // The first failed, so the message is handled when it comes again.
    let again = handle_once(
        &verifier,
        &guard,
        1 << 20,
        request(&headers, b"{}"),
        |_| async { answer(StatusCode::NO_CONTENT) },
    )
    .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
}

/// Verifies and runs the handler at `now`, as the adapters do.
async fn deliver_at(
    verifier: &StandardWebhooks,
    guard: &MemoryReplayGuard,
    headers: &HeaderMap,
    now: SystemTime,
) -> StatusCode {
    match verify_request(verifier, request(headers, b"{}"), 1 << 20, now).await {
        Err(rejection) => rejection.status(),
        Ok(webhook) => run_once(guard, &webhook, now, || async {
            Ok::<_, std::convert::Infallible>(answer(StatusCode::NO_CONTENT))
        })
        .await
        .map(|response| response.status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[tokio::test]
async fn an_id_is_remembered_as_long_as_its_message_verifies_whatever_the_ttl() {
    let tolerance = Duration::from_secs(300);
    let signed_at = 1_800_000_000u64;
    let sent = UNIX_EPOCH + Duration::from_secs(signed_at);
    let headers = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_boundary", b"{}").at(sent))
        .unwrap();
    let verifier = StandardWebhooks::new(&secret())
        .expect("a key")
        .tolerance(tolerance);
    for ttl in [Duration::ZERO, tolerance, tolerance * 2] {
        // Received as early as the tolerance allows (the sender's clock ahead), then replayed
        // at the last second it still verifies.
        let guard = MemoryReplayGuard::new(ttl);
        let first = sent - tolerance;
        assert_eq!(
            deliver_at(&verifier, &guard, &headers, first).await,
            StatusCode::NO_CONTENT
        );
        let last = sent + tolerance;
        let replay = deliver_at(&verifier, &guard, &headers, last).await;
        assert_eq!(replay, StatusCode::OK, "ttl {ttl:?}: a replay was handled");
        let later = last + Duration::from_secs(1);
        let expired = deliver_at(&verifier, &guard, &headers, later).await;
        assert_eq!(expired, StatusCode::UNAUTHORIZED, "ttl {ttl:?}");
    }
}

#[tokio::test]
async fn long_ids_are_refused_and_memory_is_budgeted_in_bytes() {
    // GitHub's delivery id is unsigned: an attacker can replay one captured request with
    // fresh ids of any length.
    let github = GitHub::new("It's a Secret to Everybody").unwrap();
    let guard = MemoryReplayGuard::new(Duration::from_secs(3600)).max_bytes(64 * 1024);
    let mut refused = 0;
    for n in 0..200 {
        let id = format!("{n}{}", "x".repeat(300_000));
        let headers = github.sign(&Message::new(&id, b"{}")).unwrap();
        let response = handle_once(
            &github,
            &guard,
            1 << 20,
            request(&headers, b"{}"),
            |_| async { answer(StatusCode::OK) },
        )
        .await;
        if response.status() == StatusCode::BAD_REQUEST {
            refused += 1;
        }
    }
    assert_eq!(refused, 200);
    assert!(guard.is_empty());

    // Ids within the limit fill the guard up to its budget, and no further.
    for n in 0..2_000 {
        let id = format!("{n:0>width$}", width = MAX_ID_LEN);
        let key = ReplayKey {
            scheme: "github",
            id: &id,
        };
        let now = SystemTime::now();
        assert_eq!(guard.claim(key, now).await.unwrap(), Claim::Claimed);
        guard.commit(key, now, None).await.unwrap();
        assert!(guard.bytes() <= 64 * 1024, "{} bytes", guard.bytes());
    }
    assert!(guard.len() > 100, "{}", guard.len());
}

#[tokio::test]
async fn ids_are_kept_apart_by_scheme() {
    let guard = MemoryReplayGuard::new(Duration::from_secs(600));
    let now = SystemTime::now();
    for scheme in ["github", "shopify"] {
        let key = ReplayKey { scheme, id: "d7c3" };
        assert_eq!(guard.claim(key, now).await.unwrap(), Claim::Claimed);
        guard.commit(key, now, None).await.unwrap();
    }
    let key = ReplayKey {
        scheme: "github",
        id: "d7c3",
    };
    assert_eq!(guard.claim(key, now).await.unwrap(), Claim::Done);
    // The time to live still ends a done entry, and a lease an abandoned claim.
    let lapsed = MemoryReplayGuard::new(Duration::from_secs(600)).lease(Duration::from_secs(60));
    assert_eq!(lapsed.claim(key, now).await.unwrap(), Claim::Claimed);
    assert_eq!(
        lapsed
            .claim(key, now + Duration::from_secs(59))
            .await
            .unwrap(),
        Claim::InFlight
    );
    assert_eq!(
        lapsed
            .claim(key, now + Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Claimed
    );
    lapsed
        .commit(key, now + Duration::from_secs(60), None)
        .await
        .unwrap();
    assert_eq!(
        lapsed
            .claim(key, now + Duration::from_secs(659))
            .await
            .unwrap(),
        Claim::Done
    );
    assert_eq!(
        lapsed
            .claim(key, now + Duration::from_secs(660))
            .await
            .unwrap(),
        Claim::Claimed
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_at_the_read_deadline() {
    use futures_util::StreamExt;
    use hookwire::adapters::server::{ReadLimits, Rejection};
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Frame::data(
        Bytes::from_static(b"{"),
    ))])
    .chain(futures_util::stream::pending());
    let request = Request::post("/hooks")
        .body(StreamBody::new(chunks))
        .unwrap();
    let limits = ReadLimits::new(1024).read_timeout(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let rejection = verify_request(
        &StandardWebhooks::new(&secret()).expect("a key"),
        request,
        limits,
        SystemTime::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(rejection, Rejection::Timeout { .. }),
        "{rejection}"
    );
    assert_eq!(rejection.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The defaults bound every path: 30 s for a body, and for a client's whole exchange.
    assert_eq!(ReadLimits::default().timeout(), Duration::from_secs(30));
    let client = format!("{:?}", hookwire::adapters::hyper::HyperClient::new());
    assert!(client.contains("timeout: Some(30s)"), "{client}");
}

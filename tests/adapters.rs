//! The adapters on real servers bound to 127.0.0.1:0, driven by real clients.
#![cfg(all(
    feature = "hyper",
    feature = "reqwest",
    feature = "axum",
    feature = "tower"
))]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::loopback::serve_for_the_test;
use futures_util::stream;
use hookwire::adapters::axum::{Webhook, WebhookEvent};
use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::adapters::reqwest::ReqwestClient;
use hookwire::adapters::server::validation_response;
use hookwire::adapters::server::{VerifiedWebhook, WebhookConfig};
use hookwire::adapters::tower::ServiceClient;
use hookwire::adapters::tower::VerifyLayer;
use hookwire::http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use hookwire::transport::{BodyLimit, HttpClient, TransportError, TransportErrorKind};
use hookwire::webhook::{
    Inbound, Message, MultiVerifier, Secret, Sign, StandardWebhooks, Verified, Verify, VerifyError,
};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Echoes the body; repeats each `x-multi` value as `x-echo`; answers the status in
/// `x-status`; stalls on /stall; answers `n` bytes on /big?n.
async fn echo(request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() == "/stall" {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    if request.uri().path() == "/big" {
        let n: usize = request
            .uri()
            .query()
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        return Response::new(Full::new(Bytes::from(vec![b'x'; n])));
    }
    let status = request
        .headers()
        .get("x-status")
        .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
        .unwrap_or(200);
    let multi: Vec<HeaderValue> = request
        .headers()
        .get_all("x-multi")
        .iter()
        .cloned()
        .collect();
    let method = request.method().to_string();
    let version = format!("{:?}", request.version());
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for value in multi {
        response.headers_mut().append("x-echo", value);
    }
    response
        .headers_mut()
        .insert("x-method", method.parse().unwrap());
    response
        .headers_mut()
        .insert("x-version", version.parse().unwrap());
    response
}

fn transports() -> Vec<(&'static str, Box<dyn HttpClient>)> {
    vec![
        (
            "hyper",
            Box::new(HyperClient::new().body_limit(BodyLimit::refuse_over(2 * 1024 * 1024))),
        ),
        (
            "reqwest",
            Box::new(
                ReqwestClient::new()
                    .unwrap()
                    .body_limit(BodyLimit::refuse_over(2 * 1024 * 1024)),
            ),
        ),
    ]
}

#[tokio::test]
async fn client_adapters_carry_repeated_headers_binary_and_large_bodies_and_statuses() {
    let address = serve_for_the_test(echo).await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(1024 * 1024).collect();
    for (name, transport) in transports() {
        for (status, body) in [
            (200, Bytes::from(binary.clone())),
            (201, Bytes::new()),
            (404, Bytes::from_static(b"\x00\xff")),
            (503, Bytes::from_static(b"busy")),
        ] {
            let request = Request::builder()
                .method(Method::PUT)
                .uri(format!("http://{address}/echo"))
                .header("x-multi", "one")
                .header("x-multi", "two")
                .header("x-status", status.to_string())
                .body(body.clone())
                .unwrap();
            let response = transport.send(request).await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{name}");
            assert_eq!(response.body(), &body, "{name}");
            let echoed: Vec<&str> = response
                .headers()
                .get_all("x-echo")
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(echoed, ["one", "two"], "{name}");
            assert_eq!(response.headers()["x-method"], "PUT", "{name}");
            assert_eq!(response.headers()["x-version"], "HTTP/1.1", "{name}");
            assert_eq!(response.version(), Version::HTTP_11, "{name}");
        }
    }
}

#[tokio::test]
async fn client_adapters_refuse_a_response_over_their_limit() {
    let address = serve_for_the_test(echo).await;
    let transports: Vec<(&str, Box<dyn HttpClient>)> = vec![
        (
            "hyper",
            Box::new(HyperClient::new().body_limit(BodyLimit::refuse_over(1000))),
        ),
        (
            "reqwest",
            Box::new(
                ReqwestClient::new()
                    .unwrap()
                    .body_limit(BodyLimit::refuse_over(1000)),
            ),
        ),
    ];
    for (name, transport) in transports {
        let ok = Request::get(format!("http://{address}/big?1000"))
            .body(Bytes::new())
            .unwrap();
        assert_eq!(
            transport.send(ok).await.unwrap().body().len(),
            1000,
            "{name}"
        );
        let big = Request::get(format!("http://{address}/big?1001"))
            .body(Bytes::new())
            .unwrap();
        let error = transport.send(big).await.unwrap_err();
        assert_eq!(
            error.kind(),
            TransportErrorKind::TooLarge { limit: 1000 },
            "{name}"
        );
    }
}

#[tokio::test]
async fn client_adapters_stop_reading_an_endless_response_at_the_limit() {
    // A server whose response body never ends.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = service_fn(|_request: Request<Incoming>| async {
                    let chunks = stream::repeat_with(|| {
                        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'y'; 16 * 1024])))
                    });
                    Ok::<_, Infallible>(Response::new(StreamBody::new(chunks)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let transports: Vec<(&str, Box<dyn HttpClient>)> = vec![
        (
            "hyper",
            Box::new(HyperClient::new().body_limit(BodyLimit::refuse_over(256 * 1024))),
        ),
        (
            "reqwest",
            Box::new(
                ReqwestClient::new()
                    .unwrap()
                    .body_limit(BodyLimit::refuse_over(256 * 1024)),
            ),
        ),
    ];
    for (name, transport) in transports {
        let request = Request::get(format!("http://{address}/"))
            .body(Bytes::new())
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(10), transport.send(request)).await;
        let error = outcome.expect("the read stopped at the limit").unwrap_err();
        assert_eq!(
            error.kind(),
            TransportErrorKind::TooLarge { limit: 256 * 1024 },
            "{name}"
        );
    }
}

#[tokio::test]
async fn client_adapters_map_timeouts_and_refused_connections() {
    let address = serve_for_the_test(echo).await;
    let stall = || {
        Request::get(format!("http://{address}/stall"))
            .body(Bytes::new())
            .unwrap()
    };
    let hyper = HyperClient::new().timeout(Duration::from_millis(200));
    assert!(hyper.send(stall()).await.unwrap_err().is_timeout());
    let reqwest = ReqwestClient::new()
        .unwrap()
        .timeout(Duration::from_millis(200));
    assert!(reqwest.send(stall()).await.unwrap_err().is_timeout());

    // A port with nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = || {
        Request::get(format!("http://{closed}/"))
            .body(Bytes::new())
            .unwrap()
    };
    assert!(
        HyperClient::new()
            .send(refused())
            .await
            .unwrap_err()
            .is_connect()
    );
    assert!(
        ReqwestClient::new()
            .unwrap()
            .send(refused())
            .await
            .unwrap_err()
            .is_connect()
    );
}

#[tokio::test]
async fn a_tower_service_is_a_transport_and_its_errors_keep_their_kind() {
    #[derive(Clone)]
    struct Flaky(Arc<AtomicUsize>);
    impl tower_service::Service<Request<Bytes>> for Flaky {
        type Response = Response<Bytes>;
        type Error = TransportError;
        type Future = std::future::Ready<Result<Response<Bytes>, TransportError>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), TransportError>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, request: Request<Bytes>) -> Self::Future {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                std::future::ready(Err(TransportError::timeout()))
            } else {
                std::future::ready(Ok(Response::new(request.into_body())))
            }
        }
    }
    let client = ServiceClient::new(Flaky(Arc::new(AtomicUsize::new(0))));
    let request = || Request::new(Bytes::from_static(b"ping"));
    assert_eq!(
        client.send(request()).await.unwrap_err().kind(),
        TransportErrorKind::Timeout
    );
    assert_eq!(client.send(request()).await.unwrap().body(), "ping");
}

// ---------------------------------------------------------------- server side: hyper

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const LIMIT: usize = 64 * 1024;

fn secret() -> Secret {
    Secret::parse(SECRET).unwrap()
}

async fn hyper_receiver(received: Arc<AtomicUsize>) -> SocketAddr {
    let verifier = Arc::new(StandardWebhooks::new(&secret()).expect("a key"));
    serve_for_the_test(move |request: Request<Incoming>| {
        let (verifier, received) = (verifier.clone(), received.clone());
        async move {
            if let Some(answer) =
                validation_response(&request, |origin| origin == "sender.example", Some(120))
            {
                return answer.map(Full::new);
            }
            handle(&*verifier, LIMIT, request, |webhook| async move {
                received.fetch_add(1, Ordering::SeqCst);
                Response::new(Bytes::from(
                    webhook.verified().id().unwrap_or_default().to_owned(),
                ))
            })
            .await
        }
    })
    .await
}

fn signed(address: SocketAddr, body: &'static [u8], at: SystemTime) -> reqwest::RequestBuilder {
    let signed = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_1", body).at(at))
        .unwrap();
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/hooks"))
        .body(body);
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    request
}

#[tokio::test]
async fn hyper_receiver_accepts_valid_and_rejects_tampered_stale_and_unsigned_requests() {
    let received = Arc::new(AtomicUsize::new(0));
    let address = hyper_receiver(received.clone()).await;
    let now = SystemTime::now();

    let ok = signed(address, b"{\"n\":1}", now).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "msg_1");

    let tampered = signed(address, b"{\"n\":1}", now)
        .body("{\"n\":2}")
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    let text = tampered.text().await.unwrap();
    assert!(!text.contains("MfKQ") && text.len() < 64, "{text}");

    let stale = signed(address, b"{}", now - Duration::from_secs(3600))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);

    let unsigned = reqwest::Client::new()
        .post(format!("http://{address}/hooks"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);

    let oversized = signed(address, b"{}", now)
        .body(vec![b'x'; LIMIT + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    assert_eq!(received.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hyper_receiver_stops_reading_a_body_that_never_ends() {
    let received = Arc::new(AtomicUsize::new(0));
    let address = hyper_receiver(received.clone()).await;
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let endless = stream::repeat_with(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'z'; 8 * 1024])))
    });
    let signed = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_2", b"{}"))
        .unwrap();
    let mut request = Request::post(format!("http://{address}/hooks"));
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    let request = request.body(StreamBody::new(endless)).unwrap();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
    let outcome = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("the exchange ended: the server stopped reading");
    // The server answers 413 without reading on; the client, still sending, may see the
    // connection close before it reads that answer.
    if let Ok(response) = outcome {
        assert_eq!(response.status(), 413);
    }
    assert_eq!(
        received.load(Ordering::SeqCst),
        0,
        "nothing reached the handler"
    );
}

#[tokio::test]
async fn the_server_reads_at_most_the_limit_and_one_frame_of_an_endless_body() {
    use hookwire::adapters::server::verify_request;
    const FRAME: usize = 8 * 1024;
    const LIMIT: usize = 64 * 1024;
    // The bytes the server pulls out of the body: counted as it pulls each frame.
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let endless = stream::repeat_with(move || {
        counter.fetch_add(FRAME, Ordering::SeqCst);
        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'z'; FRAME])))
    });
    let signed = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_2", b"{}"))
        .unwrap();
    let mut request = Request::post("/hooks");
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    let request = request.body(StreamBody::new(endless)).unwrap();
    let verifier = StandardWebhooks::new(&secret()).expect("a key");
    let rejection = tokio::time::timeout(
        Duration::from_secs(10),
        verify_request(&verifier, request, LIMIT, SystemTime::now()),
    )
    .await
    .expect("the read stopped")
    .unwrap_err();
    assert_eq!(rejection.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(
        pulled <= LIMIT + FRAME,
        "the server read {pulled} bytes against a limit of {LIMIT}"
    );
    assert!(pulled > LIMIT, "the limit was reached");
}

#[tokio::test]
async fn the_cloudevents_validation_handshake_is_answered() {
    let address = hyper_receiver(Arc::new(AtomicUsize::new(0))).await;
    let client = reqwest::Client::new();
    let allowed = client
        .request(reqwest::Method::OPTIONS, format!("http://{address}/hooks"))
        .header("webhook-request-origin", "sender.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["webhook-allowed-origin"],
        "sender.example"
    );
    assert_eq!(allowed.headers()["webhook-allowed-rate"], "120");
    assert!(
        allowed.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let refused = client
        .request(reqwest::Method::OPTIONS, format!("http://{address}/hooks"))
        .header("webhook-request-origin", "stranger.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

// ---------------------------------------------------------------- server side: axum

async fn axum_app() -> SocketAddr {
    use axum::routing::post;
    use axum::{Extension, Router};

    async fn raw(Webhook(webhook): Webhook) -> String {
        format!(
            "raw {} {}",
            webhook.verified().id().unwrap_or_default(),
            webhook.body.len()
        )
    }
    async fn typed(WebhookEvent { event, .. }: WebhookEvent<serde_json::Value>) -> String {
        format!(
            "event {} {} {}",
            event.id(),
            event.ty(),
            event
                .json()
                .map(|d| d["amount"].to_string())
                .unwrap_or_default()
        )
    }
    async fn layered(Extension(webhook): Extension<VerifiedWebhook>, body: String) -> String {
        format!(
            "layered {} {body}",
            webhook.verified().id().unwrap_or_default()
        )
    }

    let config =
        WebhookConfig::new(StandardWebhooks::new(&secret()).expect("a key")).max_body_size(LIMIT);
    let extractors = Router::new()
        .route("/raw", post(raw))
        .route("/typed", post(typed))
        .with_state(config.clone());
    let app = Router::new()
        .route("/layered", post(layered))
        .layer(VerifyLayer::new(config))
        .merge(extractors);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

fn signed_to(address: SocketAddr, path: &str, body: &'static [u8]) -> reqwest::RequestBuilder {
    let signed = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new("msg_ax", body))
        .unwrap();
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}{path}"))
        .body(body);
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    request
}

#[tokio::test]
async fn axum_extractors_and_layer_verify_and_reject() {
    let address = axum_app().await;
    let payload: &'static [u8] = br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"amount":"12.50"}}"#;
    for (path, expected) in [
        ("/raw", format!("raw msg_ax {}", payload.len())),
        (
            "/typed",
            "event msg_ax transfer.settled \"12.50\"".to_owned(),
        ),
        (
            "/layered",
            format!("layered msg_ax {}", String::from_utf8_lossy(payload)),
        ),
    ] {
        let response = signed_to(address, path, payload).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), expected, "{path}");

        let tampered = signed_to(address, path, payload)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(tampered.status(), 401, "{path}");
        let unsigned = reqwest::Client::new()
            .post(format!("http://{address}{path}"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 400, "{path}");
        let oversized = signed_to(address, path, payload)
            .body(vec![b'x'; LIMIT + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(oversized.status(), 413, "{path}");
    }
    // Verified, but not an event: acknowledged, so that the sender does not retry it.
    let not_event = signed_to(address, "/typed", b"[1,2,3]")
        .send()
        .await
        .unwrap();
    assert_eq!(not_event.status(), 202);
}

#[tokio::test]
async fn client_adapters_speak_http2_when_built_for_it_and_report_the_version() {
    let address = serve_for_the_test(echo).await;
    let reqwest =
        ReqwestClient::from_builder(reqwest::Client::builder().http2_prior_knowledge()).unwrap();
    let transports: Vec<(&str, Box<dyn HttpClient>)> = vec![
        (
            "hyper",
            Box::new(HyperClient::builder().http2_only().build()),
        ),
        ("reqwest", Box::new(reqwest)),
    ];
    for (name, transport) in transports {
        let request = Request::post(format!("http://{address}/echo"))
            .version(Version::HTTP_2)
            .header("x-multi", "a")
            .header("x-multi", "b")
            .body(Bytes::from_static(b"h2 body"))
            .unwrap();
        let response = transport.send(request).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2, "{name}");
        assert_eq!(response.headers()["x-version"], "HTTP/2.0", "{name}");
        assert_eq!(response.body(), "h2 body", "{name}");
        assert_eq!(
            response.headers().get_all("x-echo").iter().count(),
            2,
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_axum_replay_guard_hands_each_message_on_once_and_loses_none_to_a_failed_handler() {
    use axum::Router;
    use axum::http::StatusCode as AxumStatus;
    use axum::routing::post;
    use hookwire::adapters::tower::VerifyLayer;
    use hookwire::webhook::MemoryReplayGuard;

    // The handler fails the first time it sees a message and succeeds after.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    async fn flaky(Webhook(webhook): Webhook) -> (AxumStatus, String) {
        let n = CALLS.fetch_add(1, Ordering::SeqCst);
        let id = webhook.verified().id().unwrap_or_default().to_owned();
        if n == 0 {
            (
                AxumStatus::INTERNAL_SERVER_ERROR,
                format!("database down for {id}"),
            )
        } else {
            (AxumStatus::OK, format!("handled {id}"))
        }
    }
    let config = WebhookConfig::new(StandardWebhooks::new(&secret()).expect("a key"));
    let app = Router::new()
        .route("/once", post(flaky))
        .layer(
            VerifyLayer::new(config.clone())
                .replay_guard(MemoryReplayGuard::new(Duration::from_secs(600))),
        )
        .with_state(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let first = signed_to(address, "/once", b"{}").send().await.unwrap();
    assert_eq!(first.status(), 500);
    // The sender's retry is handled, not answered "already received".
    let retry = signed_to(address, "/once", b"{}").send().await.unwrap();
    assert_eq!(retry.status(), 200);
    assert!(retry.text().await.unwrap().starts_with("handled"));
    let repeat = signed_to(address, "/once", b"{}").send().await.unwrap();
    assert_eq!(repeat.status(), 200);
    assert_eq!(repeat.text().await.unwrap(), "already received\n");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

/// A scheme that signs the request line too, as Twilio, Square and HubSpot do: it accepts a
/// request only when its `x-line` header names the method and path the server saw.
struct SignsTheRequestLine;

impl Verify for SignsTheRequestLine {
    fn name(&self) -> &str {
        "request-line"
    }
    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key("x-line")
    }
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        _now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let (Some(method), Some(uri)) = (request.method(), request.uri()) else {
            return Err(VerifyError::NoMatchingSignature);
        };
        let line = format!("{method} {}", uri.path());
        match request.headers().get("x-line") {
            Some(value) if value == line.as_str() => Ok(Verified::new(self.name(), None, None)),
            _ => Err(VerifyError::NoMatchingSignature),
        }
    }
}

#[tokio::test]
async fn every_adapter_takes_any_verifier_and_the_verifier_sees_method_and_uri() {
    use axum::routing::post;
    use axum::{Extension, Router};

    // hyper's `handle` with an `Arc<dyn Verify>` holding a `MultiVerifier` (which cannot sign).
    let multi: Arc<dyn Verify> = Arc::new(
        MultiVerifier::new()
            .with(StandardWebhooks::new(&secret()).expect("a key"))
            .with(SignsTheRequestLine),
    );
    let hyper_address = serve_for_the_test(move |request: Request<Incoming>| {
        let multi = multi.clone();
        async move {
            handle(&multi, LIMIT, request, |webhook| async move {
                Response::new(Bytes::from(webhook.verified().scheme().to_owned()))
            })
            .await
        }
    })
    .await;

    // axum's extractor with a `Box<dyn Verify>`, and the layer with a reference-counted one.
    async fn raw(Webhook(webhook): Webhook) -> String {
        webhook.verified().scheme().to_owned()
    }
    async fn layered(Extension(webhook): Extension<VerifiedWebhook>) -> String {
        webhook.verified().scheme().to_owned()
    }
    let boxed: Box<dyn Verify> = Box::new(SignsTheRequestLine);
    let shared = Arc::new(MultiVerifier::new().with(SignsTheRequestLine));
    let app = Router::new()
        .route("/layered", post(layered))
        .layer(VerifyLayer::new(WebhookConfig::new(shared)))
        .merge(
            Router::new()
                .route("/raw", post(raw))
                .with_state(WebhookConfig::new(boxed)),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum_address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let cases = [
        (hyper_address, "/hooks", "POST /hooks", 200, "request-line"),
        (hyper_address, "/hooks", "POST /elsewhere", 401, ""),
        (axum_address, "/raw", "POST /raw", 200, "request-line"),
        (axum_address, "/raw", "PUT /raw", 401, ""),
        (
            axum_address,
            "/layered",
            "POST /layered",
            200,
            "request-line",
        ),
        (axum_address, "/layered", "POST /raw", 401, ""),
    ];
    for (address, path, line, status, body) in cases {
        let response = client
            .post(format!("http://{address}{path}"))
            .header("x-line", line)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path} with {line}");
        if status == 200 {
            assert_eq!(response.text().await.unwrap(), body);
        }
    }
    // The same hyper endpoint still verifies Standard Webhooks through the MultiVerifier.
    let response = signed(hyper_address, b"{}", SystemTime::now())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "standard-webhooks");
}

#[tokio::test]
async fn axum_takes_batches_and_says_why_a_verified_body_is_not_an_event() {
    use axum::Router;
    use axum::routing::post;
    use hookwire::adapters::axum::WebhookEvents;

    async fn batch(WebhookEvents { events, .. }: WebhookEvents) -> String {
        events
            .iter()
            .map(|event| event.ty().to_owned())
            .collect::<Vec<_>>()
            .join(",")
    }
    let config = WebhookConfig::new(StandardWebhooks::new(&secret()).expect("a key"));
    let app = Router::new()
        .route("/batch", post(batch))
        .with_state(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let two: &'static [u8] = br#"[{"specversion":"1.0","id":"1","source":"/s","type":"a.one"},{"specversion":"1.0","id":"2","source":"/s","type":"a.two"}]"#;
    let response = signed_to(address, "/batch", two)
        .header("content-type", "application/cloudevents-batch+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "a.one,a.two");

    // One event, in the Standard Webhooks payload form, is a batch of one.
    let one: &'static [u8] = br#"{"type":"a.three","timestamp":"2026-11-27T09:30:00Z","data":{}}"#;
    let response = signed_to(address, "/batch", one).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "a.three");

    // A verified body that is no event: acknowledged (202, never retried), saying why.
    let broken: &'static [u8] = br#"[{"specversion":"1.0","id":"1","source":"/s"}]"#;
    let response = signed_to(address, "/batch", broken)
        .header("content-type", "application/cloudevents-batch+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("acknowledged")
            && text.contains("not a valid event")
            && text.contains("type"),
        "{text}"
    );
}

/// The handshakes of Slack, Zoom, Twitch, Discord and Microsoft Graph through one
/// `MultiVerifier`, on a real axum server: answered by the adapter (extractor and layer) when
/// turned on and, where the provider signs them, only once verified; never handed to the
/// handler; handed to it when handshakes are off.
#[tokio::test]
async fn handshakes_are_answered_once_verified_and_never_reach_the_handler() {
    use axum::routing::post;
    use axum::{Extension, Router};
    use hookwire::webhook::{MicrosoftGraph, Slack, Twitch, Zoom};

    const SLACK: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    let multi = || {
        let multi = MultiVerifier::new()
            .with(Slack::new(SLACK).unwrap())
            .with(Zoom::new("zoom-secret-token").unwrap())
            .with(Twitch::new("twitch-eventsub-secret").unwrap());
        #[cfg(feature = "ed25519")]
        let multi = multi.with(
            hookwire::webhook::Discord::new(
                "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
            )
            .unwrap(),
        );
        Arc::new(multi.with(MicrosoftGraph::new("secretClientValue").unwrap()))
    };
    static HANDLED: AtomicUsize = AtomicUsize::new(0);
    async fn handler(Webhook(webhook): Webhook) -> String {
        HANDLED.fetch_add(1, Ordering::SeqCst);
        format!("handled {}", webhook.verified().scheme())
    }
    async fn layered(Extension(webhook): Extension<VerifiedWebhook>) -> String {
        HANDLED.fetch_add(1, Ordering::SeqCst);
        format!("handled {}", webhook.verified().scheme())
    }
    let on = WebhookConfig::new(multi()).handshakes(true);
    let app = Router::new()
        .route("/layer", post(layered))
        .layer(VerifyLayer::new(on.clone()))
        .merge(Router::new().route("/on", post(handler)).with_state(on))
        .merge(
            Router::new()
                .route("/off", post(handler))
                .with_state(WebhookConfig::new(multi())),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let send = |path: &str, headers: hookwire::http::HeaderMap, body: &'static str| {
        let mut request = client.post(format!("http://{address}{path}")).body(body);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.unwrap();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (
                response.status().as_u16(),
                kind,
                response.text().await.unwrap(),
            )
        }
    };
    let sign = |scheme: &dyn SignVerify, body: &'static str| {
        scheme.sign(&Message::new("m-1", body.as_bytes())).unwrap()
    };
    let slack = Slack::new(SLACK).unwrap();
    let challenge = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let text = "text/plain; charset=utf-8";

    // Slack: answered with the challenge once signed; refused when not; handled when off.
    let answer = send("/on", sign(&slack, challenge), challenge).await;
    assert_eq!(
        answer,
        (
            200,
            text.to_owned(),
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".to_owned()
        )
    );
    let forged = Slack::new("another secret").unwrap();
    assert_eq!(
        send("/on", sign(&forged, challenge), challenge).await.0,
        401
    );
    assert_eq!(
        send("/off", sign(&slack, challenge), challenge).await.2,
        "handled slack"
    );
    let event = r#"{"type":"event_callback","event":{"type":"app_mention"}}"#;
    assert_eq!(
        send("/on", sign(&slack, event), event).await.2,
        "handled slack"
    );

    // Zoom: the plain token and its HMAC under the secret token (computed with Python's hmac:
    // hmac.new(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()).
    let zoom = Zoom::new("zoom-secret-token").unwrap();
    let validation = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let (status, kind, body) = send("/on", sign(&zoom, validation), validation).await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({
            "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
            "encryptedToken": "d9e0d764a78494688ba3f2d5c0ed4ca311394b4834d959759213424d2df961e3"
        })
    );

    // Twitch, through the layer too: the challenge of a signed callback verification.
    let twitch = Twitch::new("twitch-eventsub-secret").unwrap();
    let verification = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let mut headers = sign(&twitch, verification);
    headers.insert(
        "twitch-eventsub-message-type",
        HeaderValue::from_static("webhook_callback_verification"),
    );
    for path in ["/on", "/layer"] {
        assert_eq!(
            send(path, headers.clone(), verification).await,
            (
                200,
                text.to_owned(),
                "pogchamp-kappa-360noscope-vohiyo".to_owned()
            ),
            "{path}"
        );
    }
    // The same body as a notification is handled, not answered.
    assert_eq!(
        send("/on", sign(&twitch, verification), verification)
            .await
            .2,
        "handled twitch"
    );

    // Discord: the PONG to a signed PING.
    #[cfg(feature = "ed25519")]
    {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&std::array::from_fn(|i| i as u8));
        let ping = r#"{"type":1,"id":"1234","application_id":"5678"}"#;
        let timestamp = hookwire::webhook::Message::new("", b"")
            .timestamp()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let signature = key.sign(format!("{timestamp}{ping}").as_bytes());
        let mut headers = hookwire::http::HeaderMap::new();
        headers.insert(
            "x-signature-ed25519",
            hex::encode(signature.to_bytes()).parse().unwrap(),
        );
        headers.insert("x-signature-timestamp", timestamp.parse().unwrap());
        assert_eq!(
            send("/on", headers.clone(), ping).await,
            (
                200,
                "application/json".to_owned(),
                r#"{"type":1}"#.to_owned()
            )
        );
        headers.insert("x-signature-timestamp", HeaderValue::from_static("1"));
        assert_eq!(send("/on", headers, ping).await.0, 401);
    }

    // Microsoft Graph validates unsigned: the token comes back, decoded, as plain text.
    let response = client
        .post(format!(
            "http://{address}/on?validationToken=Validation%3A%20Testing%20client%20application"
        ))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["content-type"], text);
    assert_eq!(
        response.text().await.unwrap(),
        "Validation: Testing client application"
    );
    let notification = r#"{"value":[{"subscriptionId":"0bd9d40a","clientState":"secretClientValue","changeType":"created"}]}"#;
    let empty = hookwire::http::HeaderMap::new();
    assert_eq!(
        send("/on", empty.clone(), notification).await.2,
        "handled microsoft-graph"
    );
    let intruder = notification.replace("secretClientValue", "guessedClientValue");
    let intruder: &'static str = Box::leak(intruder.into_boxed_str());
    assert_eq!(send("/on", empty, intruder).await.0, 401);

    // Handled: Slack's handshake with handshakes off, Slack's event, Twitch's notification and
    // Graph's notification; nothing else.
    assert_eq!(HANDLED.load(Ordering::SeqCst), 4);
}

/// A scheme that signs and verifies, for the handshake test.
trait SignVerify: Sign + Verify {}
impl<T: Sign + Verify> SignVerify for T {}

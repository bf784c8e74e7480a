//! What hookwire reports through `tracing`, captured whole while the verification, adapter,
//! delivery, worker, inbox and API paths run for real on loopback with known secrets, tokens,
//! signatures and bodies: every span and event the `observe` module lists shows up with its
//! fields, and none of those secrets, in any form, nor any body.
#![cfg(all(feature = "tracing", feature = "hyper", feature = "tokio"))]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::loopback::serve;
use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::api::{ApiKey, Bearer, Client, Endpoint};
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, MemoryOutbox, Outbox, Outcome, Payload, Worker,
};
use hookwire::http::{Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Inbound, Message, Secret, Sign, StandardWebhooks, Verify};
use http_body_util::Full;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Everything the subscriber writes, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The body each request carries: if it shows up in a report, a body leaked.
const BODY_MARKER: &str = "body-marker-7d1f0c2e";
const BEARER: &str = "tok_live_91ab2c3d4e5f";
const API_KEY: &str = "key_live_c0ffee5eed";
const URL_TOKEN: &str = "url-token-8e7d6c5b";

struct Account;

impl Endpoint for Account {
    type Response = serde_json::Value;
    fn path(&self) -> String {
        "accounts/acct_1".into()
    }
}

#[tokio::test]
async fn every_path_reports_its_spans_and_events_and_none_holds_a_secret_token_signature_or_body() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    // The test runs on one thread (tokio's current-thread runtime), servers and all.
    let _default = tracing::subscriber::set_default(subscriber);

    let secret = Secret::generate();
    let wrong = Secret::generate();
    let verifier = Arc::new(StandardWebhooks::new(&secret).unwrap());
    let signatures: Arc<Mutex<Vec<String>>> = Arc::default();

    // A receiver that verifies with the right secret.
    let (seen, receiving) = (signatures.clone(), verifier.clone());
    let (receiver, _stop_receiver) = serve(move |request| {
        let (seen, verifier) = (seen.clone(), receiving.clone());
        async move {
            if let Some(signature) = request.headers().get("webhook-signature") {
                seen.lock()
                    .unwrap()
                    .push(signature.to_str().unwrap().to_owned());
            }
            handle(&*verifier, 1 << 20, request, |_| async {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            })
            .await
        }
    })
    .await;

    // Verification called directly: one that passes, one that does not.
    let body = format!(r#"{{"note":"{BODY_MARKER}"}}"#);
    let headers = verifier
        .sign(&Message::new("msg_direct", body.as_bytes()))
        .unwrap();
    verifier
        .verify(Inbound::new(&headers, body.as_bytes()))
        .unwrap();
    verifier
        .verify(Inbound::new(&headers, b"{\"tampered\":true}"))
        .unwrap_err();

    // Deliveries: one that arrives; one signed with the wrong secret, refused, not retried.
    let policy = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    let dispatcher = Arc::new(
        Dispatcher::new(HyperClient::guarded(policy), TokioClock)
            .unwrap()
            .retry(RetryPolicy::for_deliveries().backoff(Backoff::list(vec![Duration::ZERO]))),
    );
    let url = format!("http://{receiver}/hooks?token={URL_TOKEN}");
    let payload = Payload::json("msg_sent", "transfer.settled", body.clone());
    let good = Destination::new(&url, &secret).unwrap();
    let report = dispatcher.deliver(&good, &payload).await;
    assert!(matches!(report.outcome, Outcome::Delivered), "{report:?}");
    let bad = Destination::new(&url, &wrong).unwrap();
    let report = dispatcher.deliver(&bad, &payload).await;
    assert!(matches!(report.outcome, Outcome::Exhausted), "{report:?}");

    // The worker, from an outbox.
    let outbox = Arc::new(MemoryOutbox::new());
    outbox
        .enqueue(
            Job::new(
                "customer-7",
                Payload::json("msg_queued", "transfer.settled", body.clone()),
            ),
            SystemTime::now(),
        )
        .await
        .unwrap();
    let worker = Worker::new(outbox.clone(), dispatcher.clone(), move |_: &str| {
        Some(good.clone())
    });
    common::running::until_delivered(&*outbox, 1, Duration::from_secs(30), |stop| {
        worker.run(stop)
    })
    .await;

    // The inbox: a handler that fails once, then succeeds.
    common::running::an_event_that_fails_once(
        serde_json::json!({ "note": BODY_MARKER }),
        "the ledger was busy",
    )
    .await;

    // An API call with credentials, answered 503 once, then 200.
    let calls = Arc::new(Mutex::new(0));
    let (api, _stop_api) = serve(move |_request| {
        let calls = calls.clone();
        async move {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            let (status, body) = if *calls == 1 {
                (StatusCode::SERVICE_UNAVAILABLE, String::new())
            } else {
                (StatusCode::OK, format!(r#"{{"note":"{BODY_MARKER}"}}"#))
            };
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = status;
            response
        }
    })
    .await;
    let client = Client::new(HyperClient::new(), &format!("http://{api}/v1/"))
        .unwrap()
        .auth(Bearer::new(BEARER))
        .auth(ApiKey::query("api_key", API_KEY))
        .retry(
            RetryPolicy::for_requests().backoff(Backoff::list(vec![
                Duration::ZERO,
                Duration::from_millis(5),
                Duration::from_millis(5),
            ])),
            TokioClock,
        );
    client.send(&Account).await.unwrap();

    let text = captured.text();
    // Every span and event the paths above must report, with its telling fields.
    for expected in [
        "webhook verified",
        "outcome=\"verified\"",
        "key=0",
        "skew_seconds=",
        "webhook rejected",
        "reason=\"no_matching_signature\"",
        "webhook request refused",
        "http.response.status_code=401",
        "webhook attempt",
        "webhook.id=\"msg_sent\"",
        "attempt=1",
        "url.full=",
        "token=[REDACTED]",
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=204",
        "attempt ended",
        "delivery ended",
        "outcome=\"delivered\"",
        "outcome=\"exhausted\"",
        "endpoint=\"customer-7\"",
        "lag_ms=",
        "drained",
        "leased",
        "queue=\"outbox\"",
        "handler failed",
        "error=the ledger was busy",
        "outcome=\"retry\"",
        "event handled",
        "event.id=\"evt_1\"",
        "api request",
        "http.request.method=GET",
        "/v1/accounts/acct_1",
        "api attempt ended",
        "http.response.status_code=503",
        "retry_in_ms=",
        "http.response.status_code=200",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
    // And nothing that must stay secret.
    common::assert_no_leak(
        &text,
        &[
            secret.expose_bytes(),
            wrong.expose_bytes(),
            BEARER.as_bytes(),
            API_KEY.as_bytes(),
            URL_TOKEN.as_bytes(),
        ],
    );
    assert!(!text.contains(BODY_MARKER), "a body leaked:\n{text}");
    let signatures = signatures.lock().unwrap();
    assert!(signatures.len() >= 3, "{signatures:?}");
    for header in signatures.iter() {
        for signature in header.split(' ') {
            let value = signature.split_once(',').map_or(signature, |(_, v)| v);
            assert!(!text.contains(value), "a signature leaked: {value}");
        }
    }
    for signature in headers["webhook-signature"].to_str().unwrap().split(' ') {
        let value = signature.split_once(',').map_or(signature, |(_, v)| v);
        assert!(!text.contains(value), "a signature leaked: {value}");
    }
}

#[tokio::test]
async fn a_hyper_receiver_reports_refusals_at_the_level_its_config_chooses_and_explains_when_asked()
{
    use hookwire::adapters::hyper::handle_with;
    use hookwire::adapters::server::WebhookConfig;
    use hookwire::observe::{Level, Rejections};

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let secret = Secret::generate();
    let config = Arc::new(
        WebhookConfig::new(StandardWebhooks::new(&secret).unwrap())
            .rejections(Rejections::new().level(Level::Info).explain()),
    );
    let (receiver, _stop) = serve(move |request| {
        let config = config.clone();
        async move {
            handle_with(&config, request, |_| async {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            })
            .await
        }
    })
    .await;
    let body = br#"{"type":"transfer.settled"}"#;
    let headers = StandardWebhooks::new(&secret)
        .unwrap()
        .sign(&Message::new("msg_1", body))
        .unwrap();
    let mut request = hookwire::http::Request::post(format!("http://{receiver}/hooks"))
        .body(Bytes::from_static(b"{\"type\":\"tampered\"}"))
        .unwrap();
    *request.headers_mut() = headers;
    let answer = hookwire::transport::HttpClient::send(&HyperClient::new(), request)
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let explained = std::str::from_utf8(answer.body()).unwrap();
    assert!(
        explained
            .starts_with("401 Unauthorized: the webhook failed verification: no signature matches"),
        "{explained}"
    );
    let text = captured.text();
    assert!(
        text.contains(" INFO hookwire::adapters: webhook request refused"),
        "reported at the level chosen:\n{text}"
    );
    assert!(!text.contains(" WARN hookwire::adapters"), "{text}");
}

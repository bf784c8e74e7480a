//! The sender's guard against server-side request forgery, tried as an attacker would: every
//! test counts the connections its servers accepted, so that "refused" means nothing was
//! dialled, and each refusal is checked to name the policy.
#![cfg(all(feature = "hyper", feature = "reqwest", feature = "test-util"))]

mod common;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hookwire::adapters::Resolve;
use hookwire::adapters::hyper::HyperClient;
use hookwire::adapters::reqwest::ReqwestClient;
use hookwire::clock::{Clock, TokioClock};
use hookwire::deliver::{DeliverError, Destination, Dispatcher, Outcome, Payload};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::transport::{AddressError, AddressPolicy, HttpClient, TransportErrorKind};
use hookwire::webhook::Secret;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A server on `ip` that counts the connections it accepts and answers every request with
/// `answer()`, closing the connection after it.
struct Counted {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Counted {
    fn count(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn counted_on(
    bind: SocketAddr,
    answer: impl Fn() -> Response<Full<Bytes>> + Send + Sync + Clone + 'static,
) -> io::Result<Counted> {
    let listener = TcpListener::bind(bind).await?;
    let address = listener.local_addr()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                    let mut response = answer();
                    response
                        .headers_mut()
                        .insert("connection", "close".parse().unwrap());
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Counted { address, accepted })
}

fn ok() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(b"ok")))
}

async fn counted(
    answer: impl Fn() -> Response<Full<Bytes>> + Send + Sync + Clone + 'static,
) -> Counted {
    counted_on("127.0.0.1:0".parse().unwrap(), answer)
        .await
        .unwrap()
}

/// Two servers on one port number: one on 127.0.0.1, which the tests' policy permits, and one
/// on 127.0.0.2, which it refuses, so that a resolver can name either for the same URL.
async fn twin_servers(
    answer: impl Fn() -> Response<Full<Bytes>> + Send + Sync + Clone + 'static,
) -> (Counted, Counted) {
    for _ in 0..20 {
        let permitted = counted(answer.clone()).await;
        let refused_at = SocketAddr::new("127.0.0.2".parse().unwrap(), permitted.address.port());
        if let Ok(refused) = counted_on(refused_at, answer.clone()).await {
            return (permitted, refused);
        }
    }
    panic!("no port was free on both 127.0.0.1 and 127.0.0.2");
}

fn only_127_0_0_1() -> AddressPolicy {
    AddressPolicy::new().allow("127.0.0.1/32").unwrap()
}

fn get(url: &str) -> Request<Bytes> {
    Request::get(url).body(Bytes::new()).unwrap()
}

/// Both guarded clients, built over `policy` (and `resolver`, where given).
fn guarded_clients(
    policy: AddressPolicy,
    resolver: Option<Scripted>,
) -> Vec<(&'static str, Box<dyn HttpClient>)> {
    match resolver {
        None => vec![
            ("hyper", Box::new(HyperClient::guarded(policy.clone()))),
            ("reqwest", Box::new(ReqwestClient::guarded(policy).unwrap())),
        ],
        Some(resolver) => vec![
            (
                "hyper",
                Box::new(
                    HyperClient::builder()
                        .guarded(policy.clone())
                        .resolver(resolver.clone())
                        .build(),
                ),
            ),
            (
                "reqwest",
                Box::new(ReqwestClient::guarded_with_resolver(policy, resolver).unwrap()),
            ),
        ],
    }
}

/// A resolver that gives scripted answers in turn (the last one again when the script ends).
#[derive(Clone)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Vec<IpAddr>>>>,
    lookups: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(answers: &[&[&str]]) -> Self {
        Scripted {
            answers: Arc::new(Mutex::new(
                answers
                    .iter()
                    .map(|ips| ips.iter().map(|ip| ip.parse().unwrap()).collect())
                    .collect(),
            )),
            lookups: Arc::new(AtomicUsize::new(0)),
        }
    }
}

#[hookwire::async_trait]
impl Resolve for Scripted {
    async fn resolve(&self, _host: &str) -> io::Result<Vec<IpAddr>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers.front().cloned().unwrap_or_default()
        };
        Ok(answer)
    }
}

#[tokio::test]
async fn hosts_that_a_url_parser_reads_as_loopback_are_refused_by_both_guarded_clients() {
    let server = counted(ok).await;
    let port = server.address.port();
    for (name, client) in guarded_clients(AddressPolicy::new(), None) {
        for host in [
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "127.1",
            "017700000001",
            "0",
            "127.0.0.1.",
            "[::ffff:127.0.0.1]",
            "[::ffff:0:127.0.0.1]",
            "127.0.0.1",
            "localhost",
        ] {
            let url = format!("http://{host}:{port}/");
            let error = client.send(get(&url)).await.unwrap_err();
            assert_eq!(
                error.kind(),
                TransportErrorKind::Refused,
                "{name} {url}: {error}"
            );
            assert!(
                matches!(
                    error.refusal(),
                    Some(AddressError::Refused(_) | AddressError::RefusedHost(_))
                ),
                "{name} {url}: {error:?}"
            );
        }
    }
    assert_eq!(server.count(), 0, "a refused host was dialled");

    // The positive control: with loopback permitted, the same forms reach the server.
    let loopback = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    for (name, client) in guarded_clients(loopback, None) {
        for host in ["127.0.0.1", "[::ffff:127.0.0.1]", "0x7f.1"] {
            if name == "hyper" && host.starts_with('[') {
                // hyper dials the IPv6 form as IPv6, where no server listens.
                continue;
            }
            let url = format!("http://{host}:{port}/");
            let response = client.send(get(&url)).await;
            assert_eq!(
                response.map(|r| r.status()).ok(),
                Some(StatusCode::OK),
                "{name} {url}"
            );
        }
    }
    assert!(server.count() >= 5);
}

/// tokio's timer, recording every wait asked of it.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Vec<std::time::Duration>>>);

impl Recording {
    fn sleeps(&self) -> Vec<std::time::Duration> {
        self.0.lock().unwrap().clone()
    }
}

#[hookwire::async_trait]
impl Clock for Recording {
    async fn sleep(&self, duration: std::time::Duration) {
        self.0.lock().unwrap().push(duration);
        TokioClock.sleep(duration).await;
    }
}

#[tokio::test]
async fn a_dispatcher_over_an_unguarded_transport_cannot_be_built_by_accident() {
    let timer = Recording::default();
    let error = Dispatcher::new(HyperClient::new(), timer.clone()).unwrap_err();
    assert_eq!(error, DeliverError::Unguarded);
    assert!(
        error.to_string().contains("Dispatcher::unguarded"),
        "{error}"
    );
    assert!(Dispatcher::new(ReqwestClient::new().unwrap(), timer.clone()).is_err());

    // A guarded dispatcher refuses `localhost` where it resolves, dials nothing, and does not
    // retry a refusal over its schedule.
    let server = counted(ok).await;
    let url = format!("http://localhost:{}/hooks", server.address.port());
    let destination = Destination::new(&url, &Secret::generate()).unwrap();
    let payload = Payload::json("msg_1", "ping", Bytes::from_static(b"{}"));
    for (name, client) in guarded_clients(AddressPolicy::new(), None) {
        let dispatcher = Dispatcher::new(client, timer.clone()).unwrap();
        let report = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            dispatcher.deliver(&destination, &payload),
        )
        .await
        .expect("a refusal ends the delivery at once");
        assert_eq!(
            report.outcome,
            Outcome::Refused(AddressError::RefusedHost("localhost".into())),
            "{name}"
        );
        assert!(report.attempts.is_empty(), "{name}");
    }
    // Only the attempt timeouts were started; no wait between attempts.
    let waits = timer.sleeps();
    assert!(
        waits
            .iter()
            .all(|wait| *wait == std::time::Duration::from_secs(15)),
        "a refusal was retried: {waits:?}"
    );
    assert_eq!(server.count(), 0);

    // The opt-out says what it does, and does it.
    let dispatcher = Dispatcher::unguarded(HyperClient::new(), timer.clone());
    let report = dispatcher.deliver(&destination, &payload).await;
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn of_a_mixed_answer_only_the_permitted_address_is_dialled() {
    let (permitted, refused) = twin_servers(ok).await;
    let port = permitted.address.port();
    let resolver = Scripted::new(&[&["127.0.0.2", "127.0.0.1", "127.0.0.2"]]);
    for (name, client) in guarded_clients(only_127_0_0_1(), Some(resolver.clone())) {
        for _ in 0..3 {
            let response = client
                .send(get(&format!("http://hooks.customer.example:{port}/")))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{name}");
        }
    }
    assert_eq!(permitted.count(), 6);
    assert_eq!(
        refused.count(),
        0,
        "a refused address in the answer was dialled"
    );
    assert!(resolver.lookups.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn a_rebinding_answer_is_judged_afresh_at_each_lookup() {
    let (permitted, refused) = twin_servers(ok).await;
    let port = permitted.address.port();
    for index in 0..2 {
        // The first lookup names the permitted address, every later one the refused one.
        let resolver = Scripted::new(&[&["127.0.0.1"], &["127.0.0.2"]]);
        let (name, client) = guarded_clients(only_127_0_0_1(), Some(resolver.clone()))
            .into_iter()
            .nth(index)
            .unwrap();
        let url = format!("http://rebind.example:{port}/");
        let first = client.send(get(&url)).await.unwrap();
        assert_eq!(first.status(), 200, "{name}");
        // The server closed the connection, so the next request looks the name up again.
        let error = client.send(get(&url)).await.unwrap_err();
        assert_eq!(
            error.refusal(),
            Some(&AddressError::RefusedHost("rebind.example".into())),
            "{name}: {error:?}"
        );
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 2, "{name}");
    }
    assert_eq!(permitted.count(), 2);
    assert_eq!(refused.count(), 0, "the rebound address was dialled");
}

#[tokio::test]
async fn no_client_follows_a_redirect_to_a_private_address() {
    let (target, elsewhere) = twin_servers(ok).await;
    let location = format!("http://{}/internal", elsewhere.address);
    let redirecting = counted(move || {
        let mut response = ok();
        *response.status_mut() = StatusCode::FOUND;
        response
            .headers_mut()
            .insert("location", location.parse().unwrap());
        response
    })
    .await;
    let url = format!("http://{}/hooks", redirecting.address);
    let mut clients = guarded_clients(only_127_0_0_1(), None);
    clients.push(("hyper, unguarded", Box::new(HyperClient::new())));
    clients.push((
        "reqwest, unguarded",
        Box::new(ReqwestClient::new().unwrap()),
    ));
    for (name, client) in &clients {
        let response = client.send(get(&url)).await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{name}");
    }
    assert_eq!(redirecting.count(), clients.len());
    assert_eq!(elsewhere.count(), 0, "a redirect was followed");
    assert_eq!(target.count(), 0);
}

#[tokio::test]
async fn an_api_key_never_follows_a_redirect_to_another_origin() {
    let collector = counted(ok).await;
    let location = format!("http://{}/collect", collector.address);
    let redirecting = counted(move || {
        let mut response = ok();
        *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        response
            .headers_mut()
            .insert("location", location.parse().unwrap());
        response
    })
    .await;
    let transport = ReqwestClient::from_builder(
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10)),
    )
    .unwrap();
    let request = Request::get(format!("http://{}/v1/things", redirecting.address))
        .header("x-api-key", "key_live_s3cr3t")
        .body(Bytes::new())
        .unwrap();
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(collector.count(), 0, "the redirect was followed");
}

#[tokio::test]
async fn errors_and_debug_output_keep_credentials_out() {
    // A port with nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("http://user:pa55word@{address}/in?api_key=key_live_s3cr3t");
    let error = ReqwestClient::new()
        .unwrap()
        .send(get(&url))
        .await
        .unwrap_err();
    let mut text = format!("{error} {error:?}");
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    assert!(!text.contains("key_live_s3cr3t"), "{text}");
    assert!(!text.contains("pa55word"), "{text}");
    common::assert_no_leak(&text, &[b"key_live_s3cr3t", b"pa55word", b"user:pa55word"]);

    let destination = Destination::new(&url, &Secret::generate()).unwrap();
    let debug = format!("{destination:?}");
    assert!(!debug.contains("key_live_s3cr3t"), "{debug}");
    assert!(!debug.contains("pa55word"), "{debug}");
    assert!(debug.contains("api_key=[REDACTED]"), "{debug}");
}

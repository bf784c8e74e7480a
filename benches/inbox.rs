//! The consumer's receive path on SQLite, beside a bare handler in the same group: 64 signed
//! webhooks at a time to a loopback hyper server that verifies each, stores it and answers.
//!
//! - `hookwire_inbox`: `hyper::handle` verifies (Standard Webhooks), `Envelope::read` reads the
//!   CloudEvent, `Inbox::accept` stores it in a `SqliteOutbox` (synchronous = FULL).
//! - `bare_insert`: a plain hyper handler that verifies with the same verifier and inserts the
//!   same id, type and body into an SQLite table of its own through rusqlite, with the same
//!   durability, on one connection behind a mutex as the store keeps it.
//!
//! After `cargo bench --bench inbox --features hyper,sqlite`, read the ratio to `bare_insert`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookwire::adapters::hyper::handle;
use hookwire::bytes::Bytes;
use hookwire::consume::{Envelope, Inbox};
use hookwire::deliver::SqliteOutbox;
use hookwire::event::Event;
use hookwire::http::{Request, Response, StatusCode};
use hookwire::transport::BodyLimit;
use hookwire::webhook::{Inbound, Message, Secret, Sign, StandardWebhooks, Verify};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const AT_ONCE: usize = 64;

async fn serve<F, Fut>(service: F) -> SocketAddr
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = service(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

fn inbox_bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let secret = Secret::generate();
    let verifier = Arc::new(StandardWebhooks::new(&secret).expect("a key"));
    let dir = std::env::temp_dir().join(format!(
        "hookwire-bench-inbox-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).expect("a directory");

    // hookwire: verify, read the envelope, accept into the inbox.
    let store = runtime
        .block_on(SqliteOutbox::open(dir.join("inbox.db")))
        .expect("opens");
    let inbox = Inbox::new(Arc::new(store));
    let hookwire_at = runtime.block_on({
        let verifier = verifier.clone();
        serve(move |request| {
            let (verifier, inbox) = (verifier.clone(), inbox.clone());
            async move {
                handle(
                    &*verifier,
                    BodyLimit::WEBHOOK.bytes(),
                    request,
                    |webhook| async move {
                        let code = match Envelope::CloudEvents.read(
                            "https://bank.example",
                            &webhook.headers,
                            &webhook.body,
                        ) {
                            Ok(event) => match inbox.accept(&event, SystemTime::now()).await {
                                Ok(()) => StatusCode::NO_CONTENT,
                                Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                            },
                            Err(_) => StatusCode::ACCEPTED,
                        };
                        let mut response = Response::new(Bytes::new());
                        *response.status_mut() = code;
                        response
                    },
                )
                .await
            }
        })
    });

    // Bare: the same verification and the same insert, by hand.
    let connection = rusqlite::Connection::open(dir.join("bare.db")).expect("opens");
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE events (source TEXT NOT NULL, id TEXT NOT NULL, type TEXT,
                                  body BLOB NOT NULL, PRIMARY KEY (source, id));",
        )
        .expect("schema");
    let connection = Arc::new(Mutex::new(connection));
    let bare_at = runtime.block_on({
        let verifier = verifier.clone();
        serve(move |request: Request<hyper::body::Incoming>| {
            let (verifier, connection) = (verifier.clone(), connection.clone());
            async move {
                let (parts, body) = request.into_parts();
                let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
                    return status(StatusCode::BAD_REQUEST);
                };
                if verifier.verify(Inbound::from_parts(&parts, &body)).is_err() {
                    return status(StatusCode::UNAUTHORIZED);
                }
                #[derive(serde::Deserialize)]
                struct Attributes<'a> {
                    id: &'a str,
                    #[serde(rename = "type")]
                    ty: &'a str,
                }
                let Ok(event) = serde_json::from_slice::<Attributes<'_>>(&body) else {
                    return status(StatusCode::ACCEPTED);
                };
                let (id, ty) = (event.id.to_owned(), event.ty.to_owned());
                let stored = tokio::task::spawn_blocking(move || {
                    connection
                        .lock()
                        .expect("lock")
                        .prepare_cached(
                            "INSERT OR IGNORE INTO events (source, id, type, body)
                             VALUES ('https://bank.example', ?1, ?2, ?3)",
                        )
                        .and_then(|mut insert| insert.execute(rusqlite::params![id, ty, &body[..]]))
                })
                .await;
                match stored {
                    Ok(Ok(_)) => status(StatusCode::NO_CONTENT),
                    _ => status(StatusCode::SERVICE_UNAVAILABLE),
                }
            }
        })
    });

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let signer = Arc::new(StandardWebhooks::new(&secret).expect("a key"));
    let send_batch = |address: SocketAddr| {
        let (client, signer) = (client.clone(), signer.clone());
        async move {
            let mut tasks = Vec::with_capacity(AT_ONCE);
            for _ in 0..AT_ONCE {
                let (client, signer) = (client.clone(), signer.clone());
                tasks.push(tokio::spawn(async move {
                    let event = Event::builder()
                        .source("https://bank.example")
                        .ty("transfer.settled")
                        .data(serde_json::json!({"amount": "12.50"}))
                        .build()
                        .expect("event");
                    let body = Bytes::from(event.to_json().expect("json"));
                    let signed = signer
                        .sign(&Message::new(event.id(), &body[..]))
                        .expect("signs");
                    let mut request = Request::post(format!("http://{address}/hooks"))
                        .header("content-type", "application/cloudevents+json")
                        .body(Full::new(body))
                        .expect("request");
                    request.headers_mut().extend(signed);
                    let response = client.request(request).await.expect("sent");
                    assert_eq!(response.status(), StatusCode::NO_CONTENT);
                }));
            }
            for task in tasks {
                task.await.expect("task");
            }
        }
    };

    let mut group = c.benchmark_group("receive_64_into_sqlite/loopback");
    group.throughput(Throughput::Elements(AT_ONCE as u64));
    group.sample_size(20);
    group.bench_function("bare_insert", |b| {
        b.iter(|| runtime.block_on(send_batch(bare_at)));
    });
    group.bench_function("hookwire_inbox", |b| {
        b.iter(|| runtime.block_on(send_batch(hookwire_at)));
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, inbox_bench);
criterion_main!(benches);

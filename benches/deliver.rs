//! Dispatcher throughput: 512 signed deliveries at concurrency 64 to a loopback hyper receiver
//! that answers 204, beside a raw hyper-util client loop doing the same signed POSTs, in the
//! same group. Throughput is the inverse of the times shown.
//!
//! After `cargo bench --bench deliver --features hyper`, read the ratio to `raw_hyper_loop`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookwire::adapters::hyper::HyperClient;
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::deliver::{Destination, Dispatcher, Payload};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::Verdict;
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Message, Secret, Sign, StandardWebhooks};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const MESSAGES: usize = 512;
const CONCURRENCY: usize = 64;
const BODY: &[u8] =
    br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"amount":"12.50"}}"#;

async fn receiver() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = StatusCode::NO_CONTENT;
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn deliver(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let address = runtime.block_on(receiver());
    let url = format!("http://{address}/hooks");
    let secret = Secret::generate();

    // The guarded client the README tells senders to use, allowing the loopback receiver.
    let policy = AddressPolicy::new().allow("127.0.0.0/8").expect("cidr");
    let dispatcher =
        Arc::new(Dispatcher::new(HyperClient::guarded(policy), TokioClock).expect("guarded"));
    let destination = Arc::new(Destination::new(&url, &secret).expect("url"));

    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let raw: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let signer = Arc::new(StandardWebhooks::new(&secret).expect("a key"));

    let mut group = c.benchmark_group("deliver_512_at_64/loopback");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.sample_size(20);
    group.bench_function("raw_hyper_loop", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut tasks = Vec::with_capacity(CONCURRENCY);
                for worker in 0..CONCURRENCY {
                    let (raw, signer, url) = (raw.clone(), signer.clone(), url.clone());
                    tasks.push(tokio::spawn(async move {
                        for n in (worker..MESSAGES).step_by(CONCURRENCY) {
                            let id = format!("msg_{n}");
                            let signed = signer.sign(&Message::new(&id, BODY)).expect("signs");
                            let mut request = Request::post(&url)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(BODY)))
                                .expect("request");
                            request.headers_mut().extend(signed);
                            let response = raw.request(request).await.expect("sent");
                            let status = response.status();
                            let _ = response.into_body().collect().await;
                            assert_eq!(status, StatusCode::NO_CONTENT);
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("task");
                }
            })
        })
    });
    group.bench_function("hookwire_dispatcher", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut tasks = Vec::with_capacity(CONCURRENCY);
                for worker in 0..CONCURRENCY {
                    let (dispatcher, destination) = (dispatcher.clone(), destination.clone());
                    tasks.push(tokio::spawn(async move {
                        for n in (worker..MESSAGES).step_by(CONCURRENCY) {
                            let payload = Payload::json(
                                format!("msg_{n}"),
                                "transfer.settled",
                                Bytes::from_static(BODY),
                            );
                            let (_, verdict) = dispatcher
                                .attempt(&destination, &payload)
                                .await
                                .expect("sent");
                            assert_eq!(verdict, Verdict::Success);
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("task");
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, deliver);
criterion_main!(benches);

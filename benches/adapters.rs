//! Each client adapter sending to a loopback hyper server, beside raw hyper-util and raw reqwest
//! code sending the same request, in the same group.
//!
//! After `cargo bench --bench adapters --features hyper,reqwest`, read the ratios to `raw_*`.

use std::convert::Infallible;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use hookwire::adapters::hyper::HyperClient;
use hookwire::adapters::reqwest::ReqwestClient;
use hookwire::bytes::Bytes;
use hookwire::http::{Request, Response};
use hookwire::transport::HttpClient;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const BODY: &[u8] = br#"{"type":"transfer.settled","data":{"amount":"12.50"}}"#;

async fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: Request<hyper::body::Incoming>| async move {
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        Ok::<_, Infallible>(Response::new(Full::new(body)))
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

fn request(url: &str) -> Request<Bytes> {
    Request::post(url)
        .header("content-type", "application/json")
        .header("webhook-id", "msg_1")
        .body(Bytes::from_static(BODY))
        .expect("valid request")
}

fn adapters(c: &mut Criterion) {
    // One thread runs the server, the clients and their connection tasks, so that the
    // measurement is the work done, not cross-thread wake-ups.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let address = runtime.block_on(server());
    let url = format!("http://{address}/hooks");

    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let raw_hyper: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let hyper_adapter = HyperClient::new();
    let mut group = c.benchmark_group("adapter_hyper/loopback");
    group.bench_function("hookwire_hyper", |b| {
        b.iter(|| {
            runtime.block_on(async { hyper_adapter.send(request(&url)).await.expect("sent") })
        })
    });
    group.bench_function("raw_hyper", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = raw_hyper
                    .request(request(&url).map(Full::new))
                    .await
                    .expect("sent");
                let (parts, body) = response.into_parts();
                let body = body.collect().await.expect("read").to_bytes();
                Response::from_parts(parts, body)
            })
        })
    });
    group.finish();

    let raw_reqwest = reqwest::Client::new();
    let reqwest_adapter = ReqwestClient::new().expect("client");
    let mut group = c.benchmark_group("adapter_reqwest/loopback");
    group.bench_function("raw_reqwest", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = raw_reqwest
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", "msg_1")
                    .body(Bytes::from_static(BODY))
                    .send()
                    .await
                    .expect("sent");
                let status = response.status();
                (status, response.bytes().await.expect("read"))
            })
        })
    });
    group.bench_function("hookwire_reqwest", |b| {
        b.iter(|| {
            runtime.block_on(async { reqwest_adapter.send(request(&url)).await.expect("sent") })
        })
    });
    group.finish();
}

criterion_group!(benches, adapters);
criterion_main!(benches);

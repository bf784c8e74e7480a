//! A call through `Client` (build the request, send it over an in-memory transport, decode a
//! 1 KiB JSON response) beside the same work done by hand with http and serde_json, in the
//! same group.
//!
//! After `cargo bench --bench api`, read the ratio to `raw_http_serde_json`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::FutureExt;
use hookwire::api::{Client, Endpoint, segment};
use hookwire::bytes::Bytes;
use hookwire::http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use hookwire::http::{Request, Response};
use hookwire::transport::{HttpClient, TransportError};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Transaction {
    id: String,
    amount: String,
    currency: String,
    booked: bool,
    counterparty: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Statement {
    account: String,
    transactions: Vec<Transaction>,
}

struct GetStatement {
    account: String,
}

impl Endpoint for GetStatement {
    type Response = Statement;
    fn path(&self) -> String {
        format!("accounts/{}/statement", segment(&self.account))
    }
}

/// Answers every request at once with the same response.
#[derive(Clone)]
struct InMemory(Response<Bytes>);

#[hookwire::async_trait]
impl HttpClient for InMemory {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        Ok(self.0.clone())
    }
}

fn body() -> Bytes {
    let transactions: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"id":"tx_{i:04}","amount":"{}.{:02}","currency":"EUR","booked":true,"counterparty":"Supplier {i} GmbH"}}"#,
                100 + i * 13,
                i * 7
            )
        })
        .collect();
    Bytes::from(format!(
        r#"{{"account":"acc_eur_ops","transactions":[{}]}}"#,
        transactions.join(",")
    ))
}

fn api(c: &mut Criterion) {
    let body = body();
    assert!((900..1200).contains(&body.len()), "{} bytes", body.len());
    let mut response = Response::new(body.clone());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().expect("valid"));
    let transport = InMemory(response);
    let client = Client::new(transport.clone(), "https://api.bank.example/v1").expect("valid URL");
    let endpoint = GetStatement {
        account: "acc_eur_ops".into(),
    };

    let mut group = c.benchmark_group("api_call/1KiB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("raw_http_serde_json", |b| {
        b.iter(|| {
            let request = Request::get(format!(
                "https://api.bank.example/v1/accounts/{}/statement",
                black_box("acc_eur_ops")
            ))
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, "bench/1.0")
            .body(Bytes::new())
            .expect("valid request");
            let response = transport
                .send(request)
                .now_or_never()
                .expect("ready")
                .expect("sent");
            assert!(response.status().is_success());
            serde_json::from_slice::<Statement>(response.body()).expect("decodes")
        })
    });
    group.bench_function("hookwire_client", |b| {
        b.iter(|| {
            client
                .send(black_box(&endpoint))
                .now_or_never()
                .expect("ready")
                .expect("decodes")
        })
    });
    group.finish();
}

criterion_group!(benches, api);
criterion_main!(benches);

//! What the load benches share: a loopback receiver that reports arrivals, a raw loop's signed
//! POST, the process's CPU time, and percentiles.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hookwire::bytes::Bytes;
use hookwire::http::{Request, Response, StatusCode};
use hookwire::webhook::{Message, Sign, StandardWebhooks};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The body every bench message carries.
pub const BODY: &[u8] =
    br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"amount":"12.50"}}"#;

/// The process's CPU time (user and system) so far, from `/proc/self/stat`; zero where there
/// is no such file.
pub fn cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The fields after the command name, which ends at the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the state field.
    let total = ticks(11) + ticks(12);
    // Linux reports them in USER_HZ, 100 per second on every architecture it runs on.
    Duration::from_millis(total * 10)
}

/// A receiver on loopback answering 204, reporting each request's `webhook-id` and arrival.
pub async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<(String, Instant)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (arrived, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let id = request
                            .headers()
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let _ = arrived.send((id, Instant::now()));
                        async move {
                            let _ = request.into_body().collect().await;
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = StatusCode::NO_CONTENT;
                            Ok::<_, Infallible>(response)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, arrivals)
}

/// Waits for `count` distinct ids to arrive; returns each one's first arrival.
pub async fn arrivals(
    arrivals: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    count: usize,
) -> HashMap<String, Instant> {
    let mut seen = HashMap::with_capacity(count);
    while seen.len() < count {
        let (id, at) = tokio::time::timeout(Duration::from_secs(60), arrivals.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages arrived", seen.len()))
            .expect("the receiver runs");
        seen.entry(id).or_insert(at);
    }
    seen
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The signed POST the raw loops send, through a plain hyper-util client.
pub struct Raw {
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub signer: StandardWebhooks,
    pub url: String,
}

impl Raw {
    pub async fn send(&self, id: &str) {
        let signed = self.signer.sign(&Message::new(id, BODY)).expect("signs");
        let mut request = Request::post(&self.url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(BODY)))
            .expect("request");
        request.headers_mut().extend(signed);
        let response = self.client.request(request).await.expect("sent");
        let status = response.status();
        let _ = response.into_body().collect().await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

//! Seeing what hookwire does: a receiver and a sender on loopback, with `tracing` events
//! written to the terminal by `tracing-subscriber`'s formatter, and the metrics exposed in
//! Prometheus text format on a loopback port, fetched and printed once at the end.
//!
//! ```sh
//! cargo run --example observe --features hyper,tracing,metrics
//! ```
//!
//! Three deliveries: one arrives; one is signed with the wrong secret, refused (the
//! receiver's WARN says why) and given up after two attempts; one goes to an endpoint that
//! answers 503 once, then 204.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::clock::TokioClock;
use hookwire::deliver::{Destination, Dispatcher, Payload};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::{AddressPolicy, BodyLimit, HttpClient};
use hookwire::webhook::{Secret, StandardWebhooks};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Serves `service` on 127.0.0.1:0.
async fn serve<F, Fut>(service: F) -> std::io::Result<SocketAddr>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = service(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Events to the terminal: hookwire's at DEBUG, everything else at WARN.
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_ansi(false))
        .with(
            Targets::new()
                .with_target("hookwire", tracing::Level::DEBUG)
                .with_default(tracing::Level::WARN),
        )
        .init();
    // Metrics into a Prometheus registry, scraped from a loopback port.
    let prometheus: PrometheusHandle = PrometheusBuilder::new().install_recorder()?;
    let scrape = prometheus.clone();
    let metrics_at = serve(move |_| {
        let text = scrape.render();
        async move { Response::new(Full::new(Bytes::from(text))) }
    })
    .await?;

    // The receiver: Standard Webhooks, its refusals reported at WARN.
    let secret = Secret::generate();
    let verifier = Arc::new(StandardWebhooks::new(&secret)?);
    let busy_once = Arc::new(AtomicUsize::new(0));
    let receiver = serve(move |request| {
        let (verifier, busy_once) = (verifier.clone(), busy_once.clone());
        async move {
            let flaky = request.uri().path() == "/flaky";
            handle(
                &*verifier,
                BodyLimit::WEBHOOK.bytes(),
                request,
                |_| async move {
                    let mut response = Response::new(Bytes::new());
                    *response.status_mut() =
                        if flaky && busy_once.fetch_add(1, Ordering::SeqCst) == 0 {
                            StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            StatusCode::NO_CONTENT
                        };
                    response
                },
            )
            .await
        }
    })
    .await?;

    // The sender: two attempts at most, 50 ms apart.
    let policy = AddressPolicy::new().allow("127.0.0.0/8")?;
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock)?.retry(
        RetryPolicy::for_deliveries().backoff(Backoff::list(vec![
            Duration::ZERO,
            Duration::from_millis(50),
        ])),
    );
    let payload = Payload::json("msg_1", "transfer.settled", r#"{"amount":"12.50"}"#);
    let hooks = format!("http://{receiver}/hooks");
    let good = Destination::new(&hooks, &secret)?;
    let wrong = Destination::new(&hooks, &Secret::generate())?;
    let flaky = Destination::new(&format!("http://{receiver}/flaky"), &secret)?;
    for destination in [&good, &wrong, &flaky] {
        let report = dispatcher.deliver(destination, &payload).await;
        println!(
            "delivery: {:?} after {} attempt(s)",
            report.outcome,
            report.attempts.len()
        );
    }

    // What a Prometheus scrape would read now.
    let scrape = Request::get(format!("http://{metrics_at}/metrics")).body(Bytes::new())?;
    let scraped = HyperClient::new().send(scrape).await?;
    println!("\n--- metrics on http://{metrics_at}/metrics ---");
    let text = String::from_utf8_lossy(scraped.body());
    for line in text.lines().filter(|line| line.starts_with("hookwire_")) {
        println!("{line}");
    }
    Ok(())
}

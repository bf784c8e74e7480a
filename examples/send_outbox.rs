//! A sender: events go into a durable SQLite outbox, a worker delivers them to a local receiver
//! (which turns the first attempt of one away with 503 and `Retry-After`), and the attempts are
//! printed as a sender would show them to its customers.
//!
//! Run with `cargo run --example send_outbox --features hyper,sqlite`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use hookwire::adapters::hyper::HyperClient;
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, ListQuery, Outbox, Payload, SqliteOutbox, State, Worker,
};
use hookwire::event::Event;
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Inbound, Secret, StandardWebhooks, Verify};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = Secret::generate();

    // The customer's receiver, on loopback.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let verifier = Arc::new(StandardWebhooks::new(&secret)?);
    let turned_away = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (verifier, turned_away) = (verifier.clone(), turned_away.clone());
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (verifier, turned_away) = (verifier.clone(), turned_away.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut response = Response::new(Full::new(Bytes::new()));
                            let busy = body.windows(16).any(|w| w == b"transfer.settled")
                                && !turned_away.swap(true, Ordering::SeqCst);
                            *response.status_mut() = if busy {
                                response
                                    .headers_mut()
                                    .insert("retry-after", "1".parse().expect("valid"));
                                StatusCode::SERVICE_UNAVAILABLE
                            } else if verifier.verify(Inbound::from_parts(&parts, &body)).is_ok() {
                                StatusCode::NO_CONTENT
                            } else {
                                StatusCode::UNAUTHORIZED
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    // The sender's outbox, in a file that survives restarts.
    let path = std::env::temp_dir().join(format!("hookwire-send-{}.db", std::process::id()));
    let outbox = Arc::new(SqliteOutbox::open(&path).await?);
    for (ty, data) in [
        (
            "account.opened",
            serde_json::json!({"account_id": "acc_42"}),
        ),
        (
            "transfer.settled",
            serde_json::json!({"transfer_id": "tr_8841", "amount": "1250.00"}),
        ),
        (
            "fx.rate.published",
            serde_json::json!({"pair": "EUR/USD", "rate": "1.0842"}),
        ),
    ] {
        let event = Event::builder()
            .ty(ty)
            .source("/treasury")
            .data(data)
            .build()?;
        let job = Job::new("customer-7", Payload::from_event(&event)?);
        outbox.enqueue(job, SystemTime::now()).await?;
    }

    // The worker: loopback is allowed on purpose here; by default it is refused.
    let policy = AddressPolicy::new().allow("127.0.0.0/8")?;
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock)?.retry(
        RetryPolicy::for_deliveries().backoff(Backoff::list(vec![
            Duration::ZERO,
            Duration::from_millis(200),
            Duration::from_secs(2),
        ])),
    );
    let destination = Destination::new(&format!("http://{address}/webhooks"), &secret)?;
    let worker = Worker::new(
        outbox.clone(),
        Arc::new(dispatcher),
        move |endpoint: &str| (endpoint == "customer-7").then(|| destination.clone()),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    while outbox.count(Some(State::Pending)).await? > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    running.await??;

    println!("deliveries to http://{address}/webhooks:");
    for entry in outbox.list(&ListQuery::new()).await? {
        println!(
            "  {} {:<18} {:?}",
            entry.job.payload.id,
            entry.job.payload.event_type.as_deref().unwrap_or("-"),
            entry.state
        );
        for (n, attempt) in entry.attempts.iter().enumerate() {
            let result = attempt
                .status
                .map(|s| s.to_string())
                .or(attempt.error.map(|e| format!("{e:?}")))
                .unwrap_or_default();
            println!("    attempt {}: {result} in {:?}", n + 1, attempt.latency);
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

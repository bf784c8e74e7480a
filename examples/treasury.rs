//! A treasury bank sending webhooks as a service: its partners register endpoints for the
//! event types they want, the bank publishes each event once and hookwire fans it out, signs
//! it with each partner's key, delivers it on loopback, and keeps each partner's history. One
//! partner rotates its key mid-run; one has left and answers 410, and is disabled.
//!
//! Run with `cargo run --example treasury --features hyper,sqlite`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hookwire::adapters::hyper::HyperClient;
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Dispatcher, ListQuery, Outbox, Payload, ROTATION_GRACE, SqliteOutbox, State, Status,
    Subscription, Subscriptions, Worker,
};
use hookwire::event::Event;
use hookwire::http::{Request, Response, StatusCode};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Inbound, Secret, StandardWebhooks, Verify};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What each partner's server received: (event type, which of its keys verified it).
type Received = Arc<Mutex<BTreeMap<String, Vec<(String, String)>>>>;

/// A partner's webhook server on loopback: verifies with the old key or the new one, answers
/// 410 when the partner has left.
async fn partner(
    name: &'static str,
    keys: Vec<(&'static str, Secret)>,
    left: bool,
    received: Received,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let verifiers: Arc<Vec<(&'static str, StandardWebhooks)>> = Arc::new(
        keys.into_iter()
            .filter_map(|(label, key)| Some((label, StandardWebhooks::new(&key).ok()?)))
            .collect(),
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (verifiers, received) = (verifiers.clone(), received.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let (verifiers, received) = (verifiers.clone(), received.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body: Bytes = BodyExt::collect(body)
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let inbound = Inbound::from_parts(&parts, &body);
                        let keys: Vec<&str> = verifiers
                            .iter()
                            .filter(|(_, verifier)| verifier.verify(inbound).is_ok())
                            .map(|(label, _)| *label)
                            .collect();
                        let key = (!keys.is_empty()).then(|| keys.join(" and "));
                        let status = match key {
                            None => StatusCode::UNAUTHORIZED,
                            Some(_) if left => StatusCode::GONE,
                            Some(key) => {
                                let ty = serde_json::from_slice::<serde_json::Value>(&body)
                                    .ok()
                                    .and_then(|v| v["type"].as_str().map(str::to_owned))
                                    .unwrap_or_default();
                                if let Ok(mut received) = received.lock() {
                                    received.entry(name.to_owned()).or_default().push((ty, key));
                                }
                                StatusCode::NO_CONTENT
                            }
                        };
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

async fn publish(
    bank: &SqliteOutbox,
    ty: &str,
    data: serde_json::Value,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let event = Event::builder()
        .ty(ty)
        .source("/treasury")
        .data(data)
        .build()?;
    let published = bank
        .publish(
            "bank",
            &Payload::from_event(&event)?,
            &[],
            SystemTime::now(),
        )
        .await?;
    Ok(published.endpoints)
}

async fn drain(bank: &SqliteOutbox) -> Result<(), Box<dyn std::error::Error>> {
    for _ in 0..200 {
        if bank.count(Some(State::Pending)).await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("deliveries did not finish".into())
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let received: Received = Arc::default();
    let (ledger_old, ledger_new) = (Secret::generate(), Secret::generate());
    let (audit, fx) = (Secret::generate(), Secret::generate());
    let ledgerly = partner(
        "ledgerly",
        vec![
            ("old key", ledger_old.clone()),
            ("new key", ledger_new.clone()),
        ],
        false,
        received.clone(),
    )
    .await?;
    let auditco = partner(
        "auditco",
        vec![("key", audit.clone())],
        false,
        received.clone(),
    )
    .await?;
    let fxhub = partner("fxhub", vec![("key", fx.clone())], true, received.clone()).await?;

    // The bank's store: jobs and partners' endpoints in one SQLite file.
    let path = std::env::temp_dir().join(format!("hookwire-treasury-{}.db", std::process::id()));
    let bank = Arc::new(SqliteOutbox::open(&path).await?);
    let mut ledger = Subscription::new(
        "ep_ledgerly",
        "bank",
        &format!("http://{ledgerly}/hooks"),
        ledger_old,
    )?
    .event_types(["transfer.*"])?
    .description("Ledgerly: bookkeeping of every transfer");
    bank.save(&ledger).await?;
    bank.save(
        &Subscription::new(
            "ep_auditco",
            "bank",
            &format!("http://{auditco}/hooks"),
            audit,
        )?
        .event_types(["account.*", "transfer.settled"])?
        .ordered(true)
        .description("AuditCo: account changes, in order"),
    )
    .await?;
    bank.save(
        &Subscription::new("ep_fxhub", "bank", &format!("http://{fxhub}/hooks"), fx)?
            .event_types(["fx.*"])?
            .description("FXHub: rates (has left; answers 410)"),
    )
    .await?;

    // One worker delivers for every partner, reading their endpoints from the store.
    let policy = AddressPolicy::new().allow("127.0.0.0/8")?;
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock)?;
    let disabled = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let disabled = disabled.clone();
        Worker::with_destinations(bank.clone(), Arc::new(dispatcher), bank.clone()).on_disabled(
            move |event| {
                if let Ok(mut disabled) = disabled.lock() {
                    disabled.push(event);
                }
            },
        )
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));

    println!("published (event: endpoints it was queued for):");
    for (ty, data) in [
        ("account.opened", serde_json::json!({"account": "acc_42"})),
        (
            "transfer.created",
            serde_json::json!({"transfer": "tr_1", "amount": "1250.00"}),
        ),
        (
            "fx.rate.published",
            serde_json::json!({"pair": "EUR/USD", "rate": "1.0842"}),
        ),
        ("transfer.settled", serde_json::json!({"transfer": "tr_1"})),
    ] {
        println!("  {ty:<18} {:?}", publish(&bank, ty, data).await?);
    }
    drain(&bank).await?;

    // Ledgerly rotates its key: for a day both sign, so either verifies.
    ledger.rotate(ledger_new, SystemTime::now(), ROTATION_GRACE);
    bank.save(&ledger).await?;
    for (ty, data) in [
        (
            "transfer.created",
            serde_json::json!({"transfer": "tr_2", "amount": "80.00"}),
        ),
        ("account.closed", serde_json::json!({"account": "acc_7"})),
        (
            "fx.rate.published",
            serde_json::json!({"pair": "EUR/GBP", "rate": "0.8571"}),
        ),
    ] {
        println!("  {ty:<18} {:?}", publish(&bank, ty, data).await?);
    }
    drain(&bank).await?;
    let _ = stop.send(());
    running.await??;

    println!("\nreceived (event, key that verified it):");
    let received = received.lock().map(|r| r.clone()).unwrap_or_default();
    for (partner, events) in &received {
        println!("  {partner}:");
        for (ty, key) in events {
            println!("    {ty:<18} {key}");
        }
    }
    println!("\nendpoints:");
    for subscription in bank.subscriptions("bank", None, 10).await? {
        let sent = bank
            .list(&ListQuery::new().endpoint(subscription.id()))
            .await?
            .iter()
            .filter(|entry| entry.state == State::Delivered)
            .count();
        let status = match subscription.status() {
            Status::Enabled => "enabled".to_owned(),
            Status::Disabled { reason, .. } => format!("disabled: {reason}"),
            _ => "unknown".to_owned(),
        };
        println!("  {:<12} {sent} delivered, {status}", subscription.id());
    }
    let disabled = disabled.lock().map(|d| d.clone()).unwrap_or_default();
    let _ = std::fs::remove_file(&path);

    let ledgerly_got: Vec<_> = received["ledgerly"]
        .iter()
        .map(|(ty, _)| ty.as_str())
        .collect();
    // After the rotation, both keys sign.
    let rotated = received["ledgerly"]
        .last()
        .is_some_and(|(_, keys)| keys == "old key and new key");
    let audit_got: Vec<_> = received["auditco"]
        .iter()
        .map(|(ty, _)| ty.as_str())
        .collect();
    // Ledgerly's endpoint is not ordered: the first two transfers may arrive either way round;
    // the third was published after both were delivered.
    let mut first_two = ledgerly_got.get(..2).map(<[_]>::to_vec).unwrap_or_default();
    first_two.sort_unstable();
    let fine = first_two == ["transfer.created", "transfer.settled"]
        && ledgerly_got.get(2) == Some(&"transfer.created")
        && ledgerly_got.len() == 3
        && audit_got == ["account.opened", "transfer.settled", "account.closed"]
        && rotated
        && !received.contains_key("fxhub")
        && disabled.len() == 1
        && disabled[0].endpoint == "ep_fxhub";
    if fine {
        println!("\nevery partner got what it subscribed to; FXHub was disabled and the bank told");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "\nunexpected: ledgerly {ledgerly_got:?}, auditco {audit_got:?}, disabled {disabled:?}"
        );
        Ok(ExitCode::FAILURE)
    }
}

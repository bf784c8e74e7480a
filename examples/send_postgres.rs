//! A sender on PostgreSQL: each order and its webhook are written in one transaction (the
//! transactional outbox), a rolled-back order leaves no webhook, and a worker delivers the
//! committed ones to a local receiver. Any number of such workers, on any number of machines,
//! can drain the same outbox.
//!
//! Run with a database URL (the tables go in a schema of their own, dropped at the end):
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --example send_postgres --features hyper,postgres
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hookwire::adapters::hyper::HyperClient;
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, ListQuery, Outbox, Payload, PostgresOutbox, State, Worker,
};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::sqlx::{self, PgPool};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Inbound, Secret, StandardWebhooks, Verify};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Writes an order and its webhook in one transaction; rolls both back when `commit` is false.
async fn place_order(
    pool: &PgPool,
    outbox: &PostgresOutbox,
    order: &str,
    amount: &str,
    commit: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut transaction = pool.begin().await?;
    sqlx::query("INSERT INTO shop.orders (id, amount) VALUES ($1, $2)")
        .bind(order)
        .bind(amount)
        .execute(&mut *transaction)
        .await?;
    let payload = Payload::json(
        format!("evt_{order}"),
        "order.placed",
        serde_json::json!({"order_id": order, "amount": amount}).to_string(),
    );
    outbox
        .enqueue_in(
            &mut *transaction,
            &Job::new("customer-7", payload),
            SystemTime::now(),
        )
        .await?;
    if commit {
        transaction.commit().await?;
    } else {
        transaction.rollback().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("set DATABASE_URL to a PostgreSQL database, for example");
        eprintln!("  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres");
        std::process::exit(2);
    };
    let pool = PgPool::connect(&url).await?;
    let schema = format!("hookwire_example_{}", std::process::id());
    let outbox = Arc::new(PostgresOutbox::new(pool.clone()).schema(&schema)?);
    outbox.migrate().await?;
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS shop;
         CREATE TABLE IF NOT EXISTS shop.orders (id text PRIMARY KEY, amount text NOT NULL);",
    )
    .execute(&pool)
    .await?;

    // The customer's receiver, on loopback: it verifies every delivery.
    let secret = Secret::generate();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let verifier = Arc::new(StandardWebhooks::new(&secret)?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let verifier = verifier.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() =
                                if verifier.verify(Inbound::from_parts(&parts, &body)).is_ok() {
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

    // Two orders commit with their webhooks; a third is rolled back, webhook and all.
    let suffix = std::process::id();
    place_order(&pool, &outbox, &format!("ord_{suffix}_1"), "25.00", true).await?;
    place_order(&pool, &outbox, &format!("ord_{suffix}_2"), "310.50", true).await?;
    place_order(&pool, &outbox, &format!("ord_{suffix}_3"), "99.99", false).await?;

    // A worker (run as many as you like, anywhere): loopback is allowed on purpose here.
    let policy = AddressPolicy::new().allow("127.0.0.0/8")?;
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock)?;
    let destination = Destination::new(&format!("http://{address}/webhooks"), &secret)?;
    let worker = Worker::new(outbox.clone(), Arc::new(dispatcher), move |_: &str| {
        Some(destination.clone())
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    while outbox.count(Some(State::Pending)).await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    running.await??;

    println!("deliveries to http://{address}/webhooks (schema {schema}):");
    for entry in outbox.list(&ListQuery::new()).await? {
        let attempt = entry.attempts.last();
        println!(
            "  {} {:?}: {} attempt(s), last {}",
            entry.job.payload.id,
            entry.state,
            entry.attempts.len(),
            attempt
                .and_then(|a| a.status)
                .map_or("-".to_owned(), |s| s.to_string())
        );
    }
    println!(
        "the rolled-back order left no webhook: {} job(s) in all",
        outbox.count(None).await?
    );
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await?;
    sqlx::query("DELETE FROM shop.orders WHERE id LIKE $1")
        .bind(format!("ord_{suffix}_%"))
        .execute(&pool)
        .await?;
    Ok(())
}

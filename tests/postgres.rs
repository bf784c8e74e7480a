//! The PostgreSQL outbox against a real server (`HOOKWIRE_TEST_POSTGRES_URL`; see
//! `tests/common/services.rs`): the outbox contract, migrations, transactional enqueue both
//! ways, wake-ups across connections by `LISTEN/NOTIFY`, and leasing by several instances at
//! once. Each test works in a schema of its own.
#![cfg(all(feature = "postgres", feature = "hyper"))]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::services::{drop_schema, postgres, unique_name};
use futures_util::FutureExt;
use hookwire::deliver::{Job, Outbox, Payload, PostgresOutbox, State};
use hookwire::sqlx::{self, PgPool};

fn job(n: usize) -> Job {
    Job::new("ep", Payload::json(format!("msg_{n}"), "t", &b"{}"[..]))
}

/// An outbox in a fresh schema, migrated, or `None` where no server is configured.
async fn outbox(test: &str) -> Option<(PgPool, PostgresOutbox, String)> {
    let pool = postgres(test).await?;
    let schema = unique_name("hw_test");
    let outbox = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    outbox.migrate().await.unwrap();
    Some((pool, outbox, schema))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_outbox_keeps_the_contract() {
    let Some((pool, outbox, schema)) = outbox("the_postgres_outbox_keeps_the_contract").await
    else {
        return;
    };
    common::contract::outbox_contract(&outbox).await;
    let paging = PostgresOutbox::new(pool.clone())
        .schema(&format!("{schema}_p"))
        .unwrap();
    paging.migrate().await.unwrap();
    common::contract::paging_and_retention_contract(&paging).await;
    let sequenced = PostgresOutbox::new(pool.clone())
        .schema(&format!("{schema}_s"))
        .unwrap();
    sequenced.migrate().await.unwrap();
    common::contract::sequence_contract(&sequenced).await;
    drop_schema(&pool, &schema).await;
    drop_schema(&pool, &format!("{schema}_p")).await;
    drop_schema(&pool, &format!("{schema}_s")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_versioned_idempotent_and_safe_to_run_from_many_places_at_once() {
    let Some(pool) = postgres("migrations_are_versioned_idempotent").await else {
        return;
    };
    let schema = unique_name("hw_test");
    let outbox = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    outbox.migrate().await.unwrap();
    let versions: Vec<i32> = sqlx::query_scalar(&format!(
        "SELECT version FROM \"{schema}\".hookwire_migrations ORDER BY version"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        versions,
        vec![1, 2, 3, 4, 5, 6],
        "each version applied once, in order"
    );
    outbox.enqueue(job(1), SystemTime::now()).await.unwrap();
    assert_eq!(outbox.count(None).await.unwrap(), 1);

    for bad in ["", "Public", "1abc", "a-b", "a\"b", &"a".repeat(64)] {
        let error = PostgresOutbox::new(pool.clone()).schema(bad).unwrap_err();
        assert!(
            error.to_string().contains("not a plain identifier"),
            "{bad:?}: {error}"
        );
    }
    drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_business_write_leaves_no_webhook_and_a_committed_one_always_has_it() {
    let Some((pool, outbox, schema)) = outbox("transactional_enqueue").await else {
        return;
    };
    sqlx::query(&format!(
        "CREATE TABLE \"{schema}\".orders (id text PRIMARY KEY)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let order = |id: &'static str| {
        let sql = format!("INSERT INTO \"{schema}\".orders (id) VALUES ('{id}')");
        async move { sql }
    };

    // The first wake-up request starts the listener, which wakes once when it connects.
    let _ = outbox.wakeup();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Rolled back: neither the order nor its webhook.
    let woken = outbox.wakeup().unwrap().listen();
    let mut transaction = pool.begin().await.unwrap();
    sqlx::query(&order("ord_1").await)
        .execute(&mut *transaction)
        .await
        .unwrap();
    outbox
        .enqueue_in(&mut *transaction, &job(1), SystemTime::now())
        .await
        .unwrap();
    transaction.rollback().await.unwrap();
    assert_eq!(
        outbox.count(None).await.unwrap(),
        0,
        "no webhook without its order"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        woken.now_or_never().is_none(),
        "a rolled-back enqueue wakes nobody"
    );

    // Committed: both, and the workers are woken by the commit.
    let woken = outbox.wakeup().unwrap().listen();
    let mut transaction = pool.begin().await.unwrap();
    sqlx::query(&order("ord_2").await)
        .execute(&mut *transaction)
        .await
        .unwrap();
    outbox
        .enqueue_in(&mut *transaction, &job(2), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(
        outbox.count(None).await.unwrap(),
        0,
        "invisible before the commit"
    );
    transaction.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), woken)
        .await
        .expect("the commit's NOTIFY wakes the workers");
    let leased = outbox
        .lease(SystemTime::now(), 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].job.payload.id, "msg_2");
    let orders: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".orders"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);

    // A failed business write aborts the transaction, webhook included.
    let mut transaction = pool.begin().await.unwrap();
    outbox
        .enqueue_in(&mut *transaction, &job(3), SystemTime::now())
        .await
        .unwrap();
    assert!(
        sqlx::query(&order("ord_2").await)
            .execute(&mut *transaction)
            .await
            .is_err(),
        "a duplicate order fails"
    );
    assert!(transaction.commit().await.is_err() || outbox.count(None).await.unwrap() == 1);
    assert_eq!(
        outbox.count(None).await.unwrap(),
        1,
        "the aborted webhook is not there"
    );
    drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_through_another_connection_wakes_this_outbox_by_notify() {
    let Some((pool, outbox, schema)) = outbox("wakes_by_notify").await else {
        return;
    };
    // Another process, as far as PostgreSQL can tell: its own pool, its own outbox value.
    let other_pool = postgres("wakes_by_notify").await.unwrap();
    let other = PostgresOutbox::new(other_pool).schema(&schema).unwrap();
    // The first wake-up request starts the listener; give it a moment to connect.
    let _ = outbox.wakeup();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::new();
    for n in 0..20 {
        let woken = outbox.wakeup().unwrap().listen();
        let started = Instant::now();
        other.enqueue(job(n), SystemTime::now()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("NOTIFY reaches the other outbox's listener");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    assert!(
        latencies[19] < Duration::from_millis(250),
        "a wake-up across connections took {:?}",
        latencies[19]
    );
    drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_leasing_at_once_never_lease_one_job_twice() {
    let Some((pool, outbox, schema)) = outbox("skip_locked").await else {
        return;
    };
    for n in 0..1000 {
        outbox.enqueue(job(n), SystemTime::now()).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let instance = Arc::new(
            PostgresOutbox::new(postgres("skip_locked").await.unwrap())
                .schema(&schema)
                .unwrap(),
        );
        tasks.push(tokio::spawn(async move {
            let mut leased = Vec::new();
            loop {
                let batch = instance
                    .lease(SystemTime::now(), 7, Duration::from_secs(600))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return leased;
                }
                for lease in &batch {
                    instance
                        .finish(lease, State::Delivered, SystemTime::now())
                        .await
                        .unwrap();
                }
                leased.extend(batch.into_iter().map(|lease| lease.job.payload.id));
            }
        }));
    }
    let mut all = Vec::new();
    let mut busy_instances = 0;
    for task in tasks {
        let leased = task.await.unwrap();
        busy_instances += usize::from(!leased.is_empty());
        all.extend(leased);
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        all.len(),
        1000,
        "every job leased once: {} leases",
        all.len()
    );
    assert_eq!(unique.len(), 1000);
    assert!(busy_instances >= 2, "the instances shared the work");
    assert_eq!(outbox.count(Some(State::Delivered)).await.unwrap(), 1000);
    drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_is_held_while_an_attempt_is_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let Some((pool, _, schema)) = outbox("no_connection_held").await else {
        return;
    };
    // Two connections in all: the listener takes one, every statement shares the other.
    let url = std::env::var(common::services::POSTGRES_URL).unwrap();
    let small = hookwire::sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let outbox = Arc::new(PostgresOutbox::new(small).schema(&schema).unwrap());
    for n in 0..8 {
        outbox.enqueue(job(n), SystemTime::now()).await.unwrap();
    }
    // A receiver that holds each request for 300 ms and counts how many it holds at once.
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (held, peak) = (now.clone(), most.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (held, peak) = (held.clone(), peak.clone());
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |_: hyper::Request<hyper::body::Incoming>| {
                        let (held, peak) = (held.clone(), peak.clone());
                        async move {
                            let at_once = held.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(at_once, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            held.fetch_sub(1, Ordering::SeqCst);
                            let mut response = hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::new(),
                            ));
                            *response.status_mut() = hyper::StatusCode::NO_CONTENT;
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    let policy = hookwire::transport::AddressPolicy::new()
        .allow("127.0.0.0/8")
        .unwrap();
    let dispatcher = hookwire::deliver::Dispatcher::new(
        hookwire::adapters::hyper::HyperClient::guarded(policy),
        hookwire::clock::TokioClock,
    )
    .unwrap();
    let destination = hookwire::deliver::Destination::new(
        &format!("http://{address}/hooks"),
        &hookwire::webhook::Secret::generate(),
    )
    .unwrap();
    let worker =
        hookwire::deliver::Worker::new(outbox.clone(), Arc::new(dispatcher), move |_: &str| {
            Some(destination.clone())
        })
        .concurrency(8)
        // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
        .per_endpoint(u32::try_from(8).unwrap_or(u32::MAX))
        .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(10);
    while outbox.count(Some(State::Delivered)).await.unwrap() < 8 {
        assert!(Instant::now() < deadline, "the deliveries did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(
        most.load(Ordering::SeqCst),
        8,
        "all 8 attempts were in flight at once on one statement connection"
    );
    drop_schema(&pool, &schema).await;
}

//! The PostgreSQL outbox, each figure beside its baseline in the same run, against the server
//! `HOOKWIRE_TEST_POSTGRES_URL` names (skipped, saying so, where it is unset):
//!
//! 1. **Delivery throughput**: a backlog drained by 1, 2 and 4 workers (each with its own
//!    pool, as on separate machines; concurrency 16 each) to a loopback receiver answering 204,
//!    beside a hand-written loop with as many tasks that leases with the same
//!    `FOR UPDATE SKIP LOCKED` statement, sends the same signed POSTs and marks each row done.
//! 2. **Transactional enqueue**: `enqueue_in` inside a transaction (begin, enqueue, commit),
//!    beside a plain `INSERT` of the same row in the same kind of transaction.
//! 3. **Idle latency**: the time from `enqueue` (through another pool, as from another
//!    process) to the first attempt's arrival, at idle, woken by `LISTEN/NOTIFY`.
//!
//! `cargo bench --bench postgres --features hyper,postgres` runs the full load;
//! `cargo test --benches` runs a small one, checking that every message arrives.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hookwire::adapters::hyper::HyperClient;
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, Outbox, Payload, PostgresOutbox, State, Worker,
};
use hookwire::sqlx::postgres::PgPoolOptions;
use hookwire::sqlx::{self, PgPool, Row};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Secret, StandardWebhooks};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::{BODY, Raw, arrivals, ms, percentile, receiver};

struct Load {
    backlog: usize,
    enqueues: usize,
    idle: usize,
}

const FULL: Load = Load {
    backlog: 5_000,
    enqueues: 2_000,
    idle: 100,
};

const SMOKE: Load = Load {
    backlog: 200,
    enqueues: 100,
    idle: 5,
};

const CONCURRENCY: usize = 16;

async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(CONCURRENCY as u32 + 2)
        .connect(url)
        .await
        .expect("the database answers")
}

fn payload(prefix: &str, n: usize) -> Payload {
    Payload::json(
        format!("{prefix}_{n:06}"),
        "transfer.settled",
        Bytes::from_static(BODY),
    )
}

/// Fills `outbox` with `count` due jobs in one transaction.
async fn backlog(pool: &PgPool, outbox: &PostgresOutbox, prefix: &str, count: usize) {
    let mut transaction = pool.begin().await.expect("begin");
    for n in 0..count {
        outbox
            .enqueue_in(
                &mut *transaction,
                &Job::new("ep", payload(prefix, n)),
                SystemTime::now(),
            )
            .await
            .expect("enqueued");
    }
    transaction.commit().await.expect("commit");
}

/// Drains with `workers` hookwire workers; returns messages per second.
async fn drain_hookwire(
    url: &str,
    schema: &str,
    target: &str,
    secret: &Secret,
    workers: usize,
    arrived: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
    count: usize,
) -> f64 {
    let mut stops = Vec::new();
    let started = Instant::now();
    for _ in 0..workers {
        let outbox = Arc::new(
            PostgresOutbox::new(pool(url).await)
                .schema(schema)
                .expect("schema"),
        );
        let policy = AddressPolicy::new().allow("127.0.0.0/8").expect("cidr");
        let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock).expect("guard");
        let destination = Destination::new(target, secret).expect("url");
        let worker = Worker::new(outbox, Arc::new(dispatcher), move |_: &str| {
            Some(destination.clone())
        })
        .concurrency(CONCURRENCY)
        // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
        .per_endpoint(u32::try_from(CONCURRENCY).unwrap_or(u32::MAX))
        .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("runs");
        });
        stops.push((stop, running));
    }
    arrivals(arrived, count).await;
    let elapsed = started.elapsed();
    for (stop, running) in stops {
        let _ = stop.send(());
        running.await.expect("worker");
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Drains with `workers` hand-written loops of `CONCURRENCY` tasks each: lease one row with
/// `SKIP LOCKED`, POST it signed, mark it delivered.
async fn drain_raw(
    url: &str,
    schema: &str,
    raw: &Arc<Raw>,
    workers: usize,
    arrived: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
    count: usize,
) -> f64 {
    let lease = format!(
        "UPDATE \"{schema}\".hookwire_outbox o
         SET lease_until = $2, next_at = greatest(o.next_at, $2), token = o.token + 1
         FROM (SELECT endpoint, id FROM \"{schema}\".hookwire_outbox
               WHERE state = 'pending' AND next_at <= $1
               ORDER BY next_at LIMIT 1 FOR UPDATE SKIP LOCKED) due
         WHERE o.endpoint = due.endpoint AND o.id = due.id
         RETURNING o.endpoint, o.id, o.token"
    );
    let done = format!(
        "UPDATE \"{schema}\".hookwire_outbox SET state = 'delivered', finished_at = now()
         WHERE endpoint = $1 AND id = $2 AND token = $3"
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let pool = pool(url).await;
        for _ in 0..CONCURRENCY {
            let (pool, raw, lease, done) = (pool.clone(), raw.clone(), lease.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let now = time::OffsetDateTime::now_utc();
                    let Some(row) = sqlx::query(&lease)
                        .bind(now)
                        .bind(now + Duration::from_secs(60))
                        .fetch_optional(&pool)
                        .await
                        .expect("lease")
                    else {
                        return;
                    };
                    let (endpoint, id, token): (String, String, i64) =
                        (row.get("endpoint"), row.get("id"), row.get("token"));
                    raw.send(&id).await;
                    sqlx::query(&done)
                        .bind(endpoint)
                        .bind(id)
                        .bind(token)
                        .execute(&pool)
                        .await
                        .expect("done");
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    arrivals(arrived, count).await;
    count as f64 / started.elapsed().as_secs_f64()
}

async fn throughput(url: &str, load: &Load) {
    let (address, mut arrived) = receiver().await;
    let target = format!("http://{address}/hooks");
    let secret = Secret::generate();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let raw = Arc::new(Raw {
        client: Client::builder(TokioExecutor::new()).build(connector),
        signer: StandardWebhooks::new(&secret).expect("a key"),
        url: target.clone(),
    });
    println!(
        "delivery: a backlog of {} through the PostgreSQL outbox, concurrency {CONCURRENCY} per worker",
        load.backlog
    );
    let setup = pool(url).await;
    for workers in [1, 2, 4] {
        let schema = format!("hookwire_bench_{}_{workers}", std::process::id());
        let outbox = PostgresOutbox::new(setup.clone())
            .schema(&schema)
            .expect("schema");
        outbox.migrate().await.expect("migrate");

        backlog(&setup, &outbox, &format!("raw{workers}"), load.backlog).await;
        let raw_rate = drain_raw(url, &schema, &raw, workers, &mut arrived, load.backlog).await;

        backlog(&setup, &outbox, &format!("hw{workers}"), load.backlog).await;
        let rate = drain_hookwire(
            url,
            &schema,
            &target,
            &secret,
            workers,
            &mut arrived,
            load.backlog,
        )
        .await;
        while outbox.count(Some(State::Pending)).await.expect("count") > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!(
            "  {workers} worker(s): raw_skip_locked_loop {raw_rate:>7.0} msg/s   hookwire_worker {rate:>7.0} msg/s   ratio {:.2}{}",
            rate / raw_rate,
            if rate / raw_rate >= 0.8 {
                ""
            } else {
                "  (target 0.8: NOT MET)"
            }
        );
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&setup)
            .await
            .expect("drop");
    }
}

async fn enqueue(url: &str, load: &Load) {
    let pool = pool(url).await;
    let schema = format!("hookwire_bench_{}_enqueue", std::process::id());
    let outbox = PostgresOutbox::new(pool.clone())
        .schema(&schema)
        .expect("schema");
    outbox.migrate().await.expect("migrate");
    let insert = format!(
        "INSERT INTO \"{schema}\".hookwire_outbox
         (endpoint, id, event_type, content_type, body, next_at) VALUES ($1, $2, $3, $4, $5, $6)"
    );
    let started = Instant::now();
    for n in 0..load.enqueues {
        let payload = payload("plain", n);
        let mut transaction = pool.begin().await.expect("begin");
        sqlx::query(&insert)
            .bind("ep")
            .bind(&payload.id)
            .bind(payload.event_type.as_deref())
            .bind("application/json")
            .bind(&payload.body[..])
            .bind(time::OffsetDateTime::now_utc())
            .execute(&mut *transaction)
            .await
            .expect("insert");
        transaction.commit().await.expect("commit");
    }
    let plain = load.enqueues as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for n in 0..load.enqueues {
        let mut transaction = pool.begin().await.expect("begin");
        outbox
            .enqueue_in(
                &mut *transaction,
                &Job::new("ep", payload("hw", n)),
                SystemTime::now(),
            )
            .await
            .expect("enqueue");
        transaction.commit().await.expect("commit");
    }
    let hookwire = load.enqueues as f64 / started.elapsed().as_secs_f64();
    println!(
        "enqueue in a transaction ({} each): plain_insert {plain:>7.0}/s   hookwire_enqueue_in {hookwire:>7.0}/s   ratio {:.2}{}",
        load.enqueues,
        hookwire / plain,
        if hookwire / plain >= 0.9 {
            ""
        } else {
            "  (target 0.9: NOT MET)"
        }
    );
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .expect("drop");
}

async fn idle_latency(url: &str, load: &Load) {
    let (address, mut arrived) = receiver().await;
    let secret = Secret::generate();
    let pool = pool(url).await;
    let schema = format!("hookwire_bench_{}_idle", std::process::id());
    let outbox = Arc::new(PostgresOutbox::new(pool).schema(&schema).expect("schema"));
    outbox.migrate().await.expect("migrate");
    let producer = PostgresOutbox::new(self::pool(url).await)
        .schema(&schema)
        .expect("schema");
    let policy = AddressPolicy::new().allow("127.0.0.0/8").expect("cidr");
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock).expect("guard");
    let destination = Destination::new(&format!("http://{address}/hooks"), &secret).expect("url");
    let worker = Worker::new(outbox.clone(), Arc::new(dispatcher), move |_: &str| {
        Some(destination.clone())
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("runs");
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = Vec::new();
    for n in 0..load.idle {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        producer
            .enqueue(Job::new("ep", payload("idle", n)), SystemTime::now())
            .await
            .expect("enqueue");
        let (_, at) = arrivals(&mut arrived, 1)
            .await
            .into_iter()
            .next()
            .expect("one");
        latencies.push(at - started);
    }
    let _ = stop.send(());
    running.await.expect("worker");
    latencies.sort();
    let p99 = percentile(&latencies, 0.99);
    println!(
        "idle: enqueue (another pool) to first attempt, {} messages: p50 {}  p99 {}  max {}{}",
        load.idle,
        ms(percentile(&latencies, 0.5)),
        ms(p99),
        ms(*latencies.last().expect("some")),
        if p99 < Duration::from_millis(50) {
            ""
        } else {
            "  (target p99 < 50 ms: NOT MET)"
        }
    );
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(outbox.pool())
        .await
        .expect("drop");
}

fn main() {
    let Ok(url) = std::env::var("HOOKWIRE_TEST_POSTGRES_URL") else {
        println!("SKIPPED: set HOOKWIRE_TEST_POSTGRES_URL to run the PostgreSQL benches");
        return;
    };
    let full = std::env::args().any(|arg| arg == "--bench");
    let load = if full { FULL } else { SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        throughput(&url, &load).await;
        enqueue(&url, &load).await;
        idle_latency(&url, &load).await;
    });
}

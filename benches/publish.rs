//! Publishing one event to 1 000 subscribed endpoints, beside a hand-written batched insert of
//! the same rows into the same SQLite tables, in one group:
//!
//! - `hookwire_publish`: `SqliteOutbox::publish` (synchronous = FULL): the message's id
//!   recorded, then the owner's 1 000 endpoints matched against the event type and their 1 000
//!   jobs inserted in one `INSERT … SELECT` (the match runs inside SQLite), one transaction, on
//!   tokio's blocking pool as the store always runs.
//! - `batched_insert`: rusqlite on the same file and durability, one transaction: the same
//!   rows, written by hand: the message (its body stored once), then the 1 000 job rows that
//!   point at it through one prepared statement, endpoints known in advance (nothing read,
//!   nothing matched).
//!
//! Each iteration publishes a new message; its rows are deleted outside the timing, so that
//! the table does not grow. After `cargo bench --bench publish --features sqlite`, read the
//! ratio of the two (the target is at most 1.2x).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookwire::deliver::{Payload, SqliteOutbox, Subscription, Subscriptions};
use hookwire::webhook::Secret;

const ENDPOINTS: usize = 1_000;
const BODY: &str =
    r#"{"type":"transfer.settled","data":{"id":"tr_1","amount":1250,"currency":"EUR"}}"#;

fn directory() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookwire-bench-publish-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Deletes the message `id`'s rows, outside the timing.
fn forget(connection: &rusqlite::Connection, id: &str) {
    connection
        .execute("DELETE FROM hookwire_outbox WHERE id = ?1", [id])
        .expect("deletes");
    connection
        .execute("DELETE FROM hookwire_published WHERE id = ?1", [id])
        .expect("deletes");
}

fn publish(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = directory();
    let path = dir.join("publish.db");
    let store = runtime.block_on(async {
        let store = SqliteOutbox::open(&path).await.expect("opens");
        for i in 0..ENDPOINTS {
            let subscription = Subscription::new(
                format!("ep_{i:04}"),
                "acme",
                &format!("https://partner{i}.example/hooks"),
                Secret::generate(),
            )
            .expect("valid")
            .event_types(["transfer.*"])
            .expect("valid");
            store.save(&subscription).await.expect("saves");
        }
        store
    });
    let connection = rusqlite::Connection::open(&path).expect("opens");
    connection
        .busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    connection
        .pragma_update(None, "synchronous", "FULL")
        .expect("synchronous");
    let endpoints: Vec<String> = (0..ENDPOINTS).map(|i| format!("ep_{i:04}")).collect();

    // Both write what the other would: checked once, before timing.
    let check = runtime.block_on(store.publish(
        "acme",
        &Payload::json("check", "transfer.settled", BODY),
        &[],
        SystemTime::now(),
    ));
    assert_eq!(check.expect("publishes").endpoints, endpoints);
    forget(&connection, "check");

    let mut group = c.benchmark_group("publish_1000_endpoints");
    group.throughput(Throughput::Elements(ENDPOINTS as u64));
    group.sample_size(10);
    let mut n = 0u64;
    group.bench_function("hookwire_publish", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let id = format!("msg_{n}");
                let payload = Payload::json(&id, "transfer.settled", BODY);
                let started = Instant::now();
                let published = runtime
                    .block_on(store.publish("acme", &payload, &[], SystemTime::now()))
                    .expect("publishes");
                spent += started.elapsed();
                assert_eq!(published.endpoints.len(), ENDPOINTS);
                forget(&connection, &id);
            }
            spent
        });
    });
    group.bench_function("batched_insert", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let id = format!("msg_{n}");
                let started = Instant::now();
                let now = millis(SystemTime::now());
                let transaction = rusqlite::Transaction::new_unchecked(
                    &connection,
                    rusqlite::TransactionBehavior::Immediate,
                )
                .expect("begins");
                transaction
                    .execute(
                        "INSERT OR IGNORE INTO hookwire_published (owner, id, at, body)
                         VALUES (?1, ?2, ?3, ?4)",
                        rusqlite::params!["acme", id, now, BODY.as_bytes()],
                    )
                    .expect("inserts");
                {
                    let mut insert = transaction
                        .prepare_cached(
                            "INSERT OR IGNORE INTO hookwire_outbox
                             (endpoint, id, event_type, content_type, body, state, next_at,
                              enqueued_at, message_owner)
                             VALUES (?1, ?2, ?3, ?4, x'', 'pending', ?5, ?5, 'acme')",
                        )
                        .expect("prepares");
                    for endpoint in &endpoints {
                        insert
                            .execute(rusqlite::params![
                                endpoint,
                                id,
                                "transfer.settled",
                                "application/json",
                                now
                            ])
                            .expect("inserts");
                    }
                }
                transaction.commit().expect("commits");
                spent += started.elapsed();
                forget(&connection, &id);
            }
            spent
        });
    });
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, publish);
criterion_main!(benches);

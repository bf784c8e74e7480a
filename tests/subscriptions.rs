//! The endpoint registry's contract, held by every store that keeps one (memory, SQLite,
//! PostgreSQL):
//! what is saved reads back, status survives a save, publish fans out by owner, type and
//! channel, skips disabled endpoints, is idempotent, and numbers an ordered endpoint's
//! messages; health bookkeeping (failing, pause, enable).
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "ed25519"))]

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use hookwire::deliver::{
    MemoryOutbox, Outbox, Payload, PostgresOutbox, SqliteOutbox, State, Status, Subscription,
    Subscriptions,
};
use hookwire::http::{HeaderName, HeaderValue};
use hookwire::webhook::{Secret, SigningKey};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
}

async fn contract<S: Subscriptions + Outbox>(store: &S) {
    // Everything a subscription holds reads back, rotated keys (of both kinds) included.
    let mut full = Subscription::new(
        "ep_full",
        "acme",
        "https://acme.example/hooks?x=1",
        Secret::generate(),
    )
    .unwrap()
    .event_types(["transfer.*", "account.closed"])
    .unwrap()
    .channels(["eu"])
    .unwrap()
    .header(
        HeaderName::from_static("x-tenant"),
        HeaderValue::from_static("acme"),
    )
    .description("Acme treasury")
    .metadata("team", "payments")
    .rate_limit(NonZeroU32::new(10).unwrap())
    .max_in_flight(NonZeroU32::new(2).unwrap())
    .ordered(true);
    full.rotate(SigningKey::generate(), at(0), Duration::from_secs(3600));
    store.save(&full).await.unwrap();
    assert_eq!(
        store.subscription("ep_full").await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(store.subscription("nope").await.unwrap(), None);

    // A disable survives a save of the configuration; enable clears it.
    assert!(
        store
            .disable("ep_full", "asked by support", at(1))
            .await
            .unwrap()
    );
    assert!(!store.disable("ep_full", "again", at(2)).await.unwrap());
    store
        .save(&full.clone().description("renamed"))
        .await
        .unwrap();
    let read = store.subscription("ep_full").await.unwrap().unwrap();
    assert_eq!(read.description_text(), "renamed");
    assert_eq!(
        read.status(),
        &Status::Disabled {
            reason: "asked by support".into(),
            at: at(1)
        }
    );
    assert!(store.enable("ep_full").await.unwrap());
    assert!(!store.enable("ep_full").await.unwrap());
    assert!(
        store
            .subscription("ep_full")
            .await
            .unwrap()
            .unwrap()
            .is_enabled()
    );

    // Pages of one owner's endpoints, in id order.
    for i in 0..5 {
        let s = Subscription::new(
            format!("ep_{i}"),
            "acme",
            "https://acme.example/",
            Secret::generate(),
        )
        .unwrap()
        .event_types(if i % 2 == 0 {
            vec!["transfer.settled"]
        } else {
            vec![]
        })
        .unwrap();
        store.save(&s).await.unwrap();
    }
    let other = Subscription::new(
        "ep_other",
        "globex",
        "https://globex.example/",
        Secret::generate(),
    )
    .unwrap();
    store.save(&other).await.unwrap();
    let first = store.subscriptions("acme", None, 3).await.unwrap();
    let ids: Vec<_> = first.iter().map(|s| s.id().to_owned()).collect();
    assert_eq!(ids, ["ep_0", "ep_1", "ep_2"]);
    let rest = store.subscriptions("acme", Some("ep_2"), 10).await.unwrap();
    let ids: Vec<_> = rest.iter().map(|s| s.id().to_owned()).collect();
    assert_eq!(ids, ["ep_3", "ep_4", "ep_full"]);

    // Fan-out: by owner, type and channel; disabled endpoints skipped.
    assert!(
        store
            .disable("ep_4", "paused by owner", at(3))
            .await
            .unwrap()
    );
    let settled = Payload::json("msg_1", "transfer.settled", "{}");
    let published = store.publish("acme", &settled, &[], at(4)).await.unwrap();
    assert_eq!(
        published.endpoints,
        ["ep_0", "ep_1", "ep_2", "ep_3"],
        "ep_full wants channel eu"
    );
    assert!(!published.duplicate);
    let on_eu = store
        .publish(
            "acme",
            &Payload::json("msg_2", "transfer.settled", "{}"),
            &["eu".into()],
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(on_eu.endpoints, ["ep_0", "ep_1", "ep_2", "ep_3", "ep_full"]);
    let opened = store
        .publish(
            "acme",
            &Payload::json("msg_3", "account.opened", "{}"),
            &["eu".into()],
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(opened.endpoints, ["ep_1", "ep_3"]);
    // The same id again: nothing new.
    let before = store.count(Some(State::Pending)).await.unwrap();
    let again = store.publish("acme", &settled, &[], at(7)).await.unwrap();
    assert!(again.duplicate && again.endpoints.is_empty());
    assert_eq!(store.count(Some(State::Pending)).await.unwrap(), before);
    assert_eq!(before, 4 + 5 + 2);

    // The ordered endpoint's messages are numbered in publish order.
    store
        .publish(
            "acme",
            &Payload::json("msg_4", "transfer.created", "{}"),
            &["eu".into()],
            at(8),
        )
        .await
        .unwrap();
    let leased = store
        .lease(at(100), 100, Duration::from_secs(30))
        .await
        .unwrap();
    let numbers: Vec<_> = leased
        .iter()
        .filter(|lease| lease.job.endpoint == "ep_full")
        .map(|lease| lease.job.sequence.as_ref().map(|s| s.number))
        .collect();
    assert_eq!(
        numbers,
        [Some(1)],
        "only the first of an ordered endpoint is leased"
    );

    // Health bookkeeping.
    assert_eq!(
        store.failing("ep_0", Some(at(10))).await.unwrap(),
        Some(at(10))
    );
    assert_eq!(
        store.failing("ep_0", Some(at(20))).await.unwrap(),
        Some(at(10))
    );
    assert_eq!(store.failing("ep_0", None).await.unwrap(), None);
    assert_eq!(
        store.failing("ep_0", Some(at(30))).await.unwrap(),
        Some(at(30))
    );
    assert_eq!(store.failing("nope", Some(at(30))).await.unwrap(), None);
    assert_eq!(store.paused_until("ep_1").await.unwrap(), None);
    store.pause("ep_1", at(60)).await.unwrap();
    store.pause("ep_1", at(50)).await.unwrap();
    assert_eq!(store.paused_until("ep_1").await.unwrap(), Some(at(60)));

    // Removed: gone from reads.
    assert!(store.remove("ep_other").await.unwrap());
    assert!(!store.remove("ep_other").await.unwrap());
    assert_eq!(store.subscription("ep_other").await.unwrap(), None);
}

/// Operations on one endpoint's messages: list with filters, resend one (delivered ones too),
/// recover every failure since a time.
async fn operations<S: Outbox>(store: &S) {
    use hookwire::deliver::{Job, ListQuery};
    // Six messages: endpoints a and b, types t1 and t2, enqueued at 0, 10 and 20.
    for (n, (endpoint, ty)) in [("a", "t1"), ("a", "t2"), ("b", "t1")].iter().enumerate() {
        for (k, when) in [0u64, 10].iter().enumerate() {
            let id = format!("m{n}{k}");
            let job = Job::new(*endpoint, Payload::json(id, *ty, "{}"));
            store.enqueue(job, at(*when + n as u64)).await.unwrap();
        }
    }
    let ids = |entries: Vec<hookwire::deliver::Entry>| -> Vec<String> {
        entries.into_iter().map(|e| e.job.payload.id).collect()
    };
    let list = |query: ListQuery| async move { ids(store.list(&query).await.unwrap()) };
    assert_eq!(
        list(ListQuery::new().endpoint("a")).await,
        ["m00", "m01", "m10", "m11"]
    );
    assert_eq!(
        list(ListQuery::new().endpoint("a").event_type("t2")).await,
        ["m10", "m11"]
    );
    assert_eq!(
        list(ListQuery::new().since(at(10))).await,
        ["m01", "m11", "m21"]
    );
    assert_eq!(
        list(ListQuery::new().before(at(10))).await,
        ["m00", "m10", "m20"]
    );
    assert_eq!(
        list(ListQuery::new().endpoint("a").since(at(5)).before(at(11))).await,
        ["m01"]
    );
    // Finish them all: a's dead-lettered at 100 (m0*) and 200 (m1*), b's delivered.
    let leased = store
        .lease(at(50), 100, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(leased.len(), 6);
    for lease in &leased {
        let (state, when) = match (lease.job.endpoint.as_str(), &lease.job.payload.id[..2]) {
            ("b", _) => (State::Delivered, 60),
            (_, "m0") => (State::DeadLettered, 100),
            _ => (State::DeadLettered, 200),
        };
        store.finish(lease, state, at(when)).await.unwrap();
    }
    assert_eq!(
        list(ListQuery::new().endpoint("a").state(State::DeadLettered)).await,
        ["m00", "m01", "m10", "m11"]
    );
    // Resend: a delivered message goes again; a pending one cannot.
    assert!(store.resend("b", "m20", at(300)).await.unwrap());
    assert!(!store.resend("b", "m20", at(300)).await.unwrap());
    assert!(
        !store.redrive("b", "m21", at(300)).await.unwrap(),
        "redrive leaves delivered alone"
    );
    // Recover: a's failures since 150 only.
    assert_eq!(store.recover("a", at(150), at(300)).await.unwrap(), 2);
    assert_eq!(
        list(ListQuery::new().state(State::Pending)).await,
        ["m10", "m11", "m20"]
    );
    assert_eq!(store.recover("a", at(150), at(300)).await.unwrap(), 0);
    // Payloads go before the attempt log: b's delivered m21 (finished at 60) loses its body,
    // keeps its entry; the dead-lettered ones keep theirs (a redrive needs them).
    assert_eq!(store.purge_payloads(at(61)).await.unwrap(), 1);
    assert_eq!(store.purge_payloads(at(61)).await.unwrap(), 0);
    let entries = store.list(&ListQuery::new().endpoint("b")).await.unwrap();
    let m21 = entries.iter().find(|e| e.job.payload.id == "m21").unwrap();
    assert!(m21.job.payload.body.is_empty() && m21.state == State::Delivered);
    let m20 = entries.iter().find(|e| e.job.payload.id == "m20").unwrap();
    assert_eq!(&m20.job.payload.body[..], b"{}");
    assert_eq!(store.count(None).await.unwrap(), 6);
}

/// A published message is stored once and read by each of its jobs; its body goes with
/// `purge_payloads` only when every one of its jobs finished before the cutoff, and the message
/// with `purge` when the last of its jobs goes.
async fn published_bodies<S: Subscriptions + Outbox>(store: &S) {
    use hookwire::deliver::ListQuery;
    for endpoint in ["x", "y", "z"] {
        let s = Subscription::new(
            endpoint,
            "acme",
            "https://acme.example/",
            Secret::generate(),
        )
        .unwrap();
        store.save(&s).await.unwrap();
    }
    let body = "a body of some size ".repeat(100);
    let payload = Payload::json("big", "t", body.clone());
    assert_eq!(
        store
            .publish("acme", &payload, &[], at(0))
            .await
            .unwrap()
            .endpoints,
        ["x", "y", "z"]
    );
    let leased = store
        .lease(at(1), 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(leased.len(), 3);
    assert!(
        leased.iter().all(|lease| lease.job.payload == payload),
        "each job reads the body"
    );
    for lease in leased.iter().filter(|lease| lease.job.endpoint != "z") {
        store.finish(lease, State::Delivered, at(10)).await.unwrap();
    }
    // z still pending: its body must stay.
    store.purge_payloads(at(20)).await.unwrap();
    let bodies = |entries: Vec<hookwire::deliver::Entry>| -> Vec<(String, usize)> {
        entries
            .into_iter()
            .map(|e| (e.job.endpoint, e.job.payload.body.len()))
            .collect()
    };
    let pending = bodies(
        store
            .list(&ListQuery::new().state(State::Pending))
            .await
            .unwrap(),
    );
    assert_eq!(pending, [("z".to_owned(), body.len())]);
    let z = leased
        .iter()
        .find(|lease| lease.job.endpoint == "z")
        .unwrap();
    store.finish(z, State::Delivered, at(15)).await.unwrap();
    assert!(store.purge_payloads(at(20)).await.unwrap() > 0);
    let all = bodies(store.list(&ListQuery::new()).await.unwrap());
    assert!(all.iter().all(|(_, len)| *len == 0), "{all:?}");
    assert_eq!(all.len(), 3, "the jobs and their history stay");
    // Purged with its jobs, the message is forgotten: publishing the id again queues anew.
    assert_eq!(store.purge(at(20)).await.unwrap(), 3);
    let again = store.publish("acme", &payload, &[], at(30)).await.unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.endpoints.len(), 3);
}

#[tokio::test]
async fn the_memory_store_keeps_the_registry_contract() {
    contract(&MemoryOutbox::new()).await;
    operations(&MemoryOutbox::new()).await;
    published_bodies(&MemoryOutbox::new()).await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_registry_contract() {
    let dir = std::env::temp_dir().join(format!("hookwire-registry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteOutbox::open(dir.join("registry.db")).await.unwrap();
    contract(&store).await;
    operations(&SqliteOutbox::open(dir.join("operations.db")).await.unwrap()).await;
    published_bodies(&SqliteOutbox::open(dir.join("bodies.db")).await.unwrap()).await;
    // And it is all still there after a reopen.
    let reopened = SqliteOutbox::open(dir.join("registry.db")).await.unwrap();
    assert_eq!(
        reopened
            .subscriptions("acme", None, 100)
            .await
            .unwrap()
            .len(),
        6
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_postgres_store_keeps_the_registry_contract() {
    let Some(pool) =
        common::services::postgres("the_postgres_store_keeps_the_registry_contract").await
    else {
        return;
    };
    let schema = common::services::unique_name("registry");
    let store = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    store.migrate().await.unwrap();
    contract(&store).await;
    common::services::drop_schema(&pool, &schema).await;
    let schema = common::services::unique_name("operations");
    let store = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    store.migrate().await.unwrap();
    operations(&store).await;
    common::services::drop_schema(&pool, &schema).await;
    let schema = common::services::unique_name("bodies");
    let store = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    store.migrate().await.unwrap();
    published_bodies(&store).await;
    common::services::drop_schema(&pool, &schema).await;
}

#[tokio::test]
async fn publishing_in_a_transaction_that_rolls_back_queues_nothing() {
    let Some(pool) =
        common::services::postgres("publishing_in_a_transaction_that_rolls_back_queues_nothing")
            .await
    else {
        return;
    };
    let schema = common::services::unique_name("publish_tx");
    let store = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    store.migrate().await.unwrap();
    let subscription =
        Subscription::new("ep", "acme", "https://acme.example/", Secret::generate()).unwrap();
    store.save(&subscription).await.unwrap();
    let payload = Payload::json("evt_1", "transfer.settled", "{}");

    let mut transaction = pool.begin().await.unwrap();
    let published = store
        .publish_in(&mut transaction, "acme", &payload, &[], at(0))
        .await
        .unwrap();
    assert_eq!(published.endpoints, ["ep"]);
    transaction.rollback().await.unwrap();
    assert_eq!(
        store.count(None).await.unwrap(),
        0,
        "rolled back with the application's write"
    );

    // The same message, committed this time: it was never published, so it is now.
    let mut transaction = pool.begin().await.unwrap();
    let published = store
        .publish_in(&mut transaction, "acme", &payload, &[], at(1))
        .await
        .unwrap();
    assert!(!published.duplicate);
    transaction.commit().await.unwrap();
    assert_eq!(store.count(Some(State::Pending)).await.unwrap(), 1);
    common::services::drop_schema(&pool, &schema).await;
}

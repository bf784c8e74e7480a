//! The replay guards several receiver instances share, against real servers
//! (`HOOKWIRE_TEST_POSTGRES_URL`, `HOOKWIRE_TEST_REDIS_URL`; see `tests/common/services.rs`),
//! beside the memory guard running the same contract: claim, in flight, release, commit, done,
//! lapsed claims, the verification window, and two instances claiming the same deliveries at
//! the same moment.
#![cfg(all(feature = "postgres", feature = "redis"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::services::{POSTGRES_URL, REDIS_URL, drop_schema, postgres, unique_name, url};
use hookwire::webhook::{
    Claim, MemoryReplayGuard, PostgresReplayGuard, RedisReplayGuard, ReplayGuard, ReplayKey,
};

/// How long a claim lasts in these tests, and the guards' time to live.
const LEASE: Duration = Duration::from_secs(1);

fn key(id: &str) -> ReplayKey<'_> {
    ReplayKey {
        scheme: "standard-webhooks",
        id,
    }
}

/// The contract every guard keeps, in real time (Redis expires keys by its own clock).
async fn guard_contract(guard: &dyn ReplayGuard) {
    let now = SystemTime::now;
    assert_eq!(guard.claim(key("a"), now()).await.unwrap(), Claim::Claimed);
    assert_eq!(guard.claim(key("a"), now()).await.unwrap(), Claim::InFlight);
    guard.release(key("a")).await.unwrap();
    assert_eq!(
        guard.claim(key("a"), now()).await.unwrap(),
        Claim::Claimed,
        "a released claim is claimed again: the retry is handled"
    );
    guard.commit(key("a"), now(), None).await.unwrap();
    assert_eq!(guard.claim(key("a"), now()).await.unwrap(), Claim::Done);
    guard.release(key("a")).await.unwrap();
    assert_eq!(
        guard.claim(key("a"), now()).await.unwrap(),
        Claim::Done,
        "a release never forgets a handled message"
    );
    let other = ReplayKey {
        scheme: "github",
        id: "a",
    };
    assert_eq!(
        guard.claim(other, now()).await.unwrap(),
        Claim::Claimed,
        "ids are kept apart by scheme"
    );

    // A claim whose holder vanished lapses with its lease; a handled id stays while its
    // message verifies, past the time to live.
    assert_eq!(guard.claim(key("b"), now()).await.unwrap(), Claim::Claimed);
    assert_eq!(guard.claim(key("c"), now()).await.unwrap(), Claim::Claimed);
    guard
        .commit(key("c"), now(), Some(now() + Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(guard.claim(key("d"), now()).await.unwrap(), Claim::Claimed);
    guard.commit(key("d"), now(), None).await.unwrap();
    tokio::time::sleep(LEASE + Duration::from_millis(500)).await;
    assert_eq!(
        guard.claim(key("b"), now()).await.unwrap(),
        Claim::Claimed,
        "a lapsed claim is taken over"
    );
    assert_eq!(
        guard.claim(key("c"), now()).await.unwrap(),
        Claim::Done,
        "kept while the message verifies"
    );
    assert_eq!(
        guard.claim(key("d"), now()).await.unwrap(),
        Claim::Claimed,
        "forgotten after the time to live once the message no longer verifies"
    );
}

/// Two instances claim the same 200 deliveries at the same moment: each is claimed once.
async fn two_instances_claim_each_delivery_once(
    first: Arc<dyn ReplayGuard>,
    second: Arc<dyn ReplayGuard>,
) {
    let ids: Vec<String> = (0..200).map(|n| format!("race_{n}")).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let race = |guard: Arc<dyn ReplayGuard>| {
        let (ids, barrier) = (ids.clone(), barrier.clone());
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            for id in &ids {
                barrier.wait().await;
                claimed.push(guard.claim(key(id), SystemTime::now()).await.unwrap());
            }
            claimed
        })
    };
    let (a, b) = (race(first), race(second));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    for (n, (a, b)) in a.iter().zip(&b).enumerate() {
        let claimed = usize::from(*a == Claim::Claimed) + usize::from(*b == Claim::Claimed);
        assert_eq!(claimed, 1, "delivery {n}: {a:?} and {b:?}");
        assert!(
            *a == Claim::InFlight || *b == Claim::InFlight,
            "the loser is told to retry later"
        );
    }
}

#[tokio::test]
async fn the_memory_guard_keeps_the_contract() {
    guard_contract(&MemoryReplayGuard::new(LEASE).lease(LEASE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_guard_keeps_the_contract_and_two_instances_never_both_claim() {
    let Some(pool) = postgres("the_postgres_guard_keeps_the_contract").await else {
        return;
    };
    let schema = unique_name("hw_test");
    let guard = PostgresReplayGuard::new(pool.clone(), LEASE)
        .schema(&schema)
        .unwrap()
        .lease(LEASE);
    guard.migrate().await.unwrap();
    guard_contract(&guard).await;

    let other_pool = postgres("two postgres instances").await.unwrap();
    let other = PostgresReplayGuard::new(other_pool, LEASE)
        .schema(&schema)
        .unwrap()
        .lease(Duration::from_secs(60));
    two_instances_claim_each_delivery_once(
        Arc::new(guard.clone().lease(Duration::from_secs(60))),
        Arc::new(other),
    )
    .await;
    assert!(
        guard
            .purge(SystemTime::now() + Duration::from_secs(3600))
            .await
            .unwrap()
            >= 200,
        "purge deletes what expired"
    );
    drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_guard_keeps_the_contract_and_two_instances_never_both_claim() {
    let Some(redis_url) = url(REDIS_URL, "the_redis_guard_keeps_the_contract") else {
        return;
    };
    let prefix = format!("{}:", unique_name("hookwire_test"));
    let guard = RedisReplayGuard::connect(&redis_url, LEASE)
        .await
        .unwrap()
        .prefix(&prefix)
        .lease(LEASE);
    guard_contract(&guard).await;
    let other = RedisReplayGuard::connect(&redis_url, LEASE)
        .await
        .unwrap()
        .prefix(&prefix)
        .lease(Duration::from_secs(60));
    two_instances_claim_each_delivery_once(
        Arc::new(guard.clone().lease(Duration::from_secs(60))),
        Arc::new(other),
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_store_is_a_replay_error_that_names_no_secret() {
    // A closed port: the error says the guard's store failed, and shows no password.
    let error = RedisReplayGuard::connect("redis://:hunter2@127.0.0.1:9/", LEASE)
        .await
        .unwrap_err();
    let report = common::report(&error);
    assert!(report.contains("replay guard's store failed"), "{report}");
    assert!(!report.contains("hunter2"), "{report}");
    let _ = POSTGRES_URL;
}

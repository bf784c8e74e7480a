//! The durable inbox, held to one contract on every store (memory, SQLite, and PostgreSQL
//! where `HOOKWIRE_TEST_POSTGRES_URL` names one): each event handled once however often it is
//! accepted, a failing handler retried, a poison event parked and replayed, an event without a
//! handler acknowledged; and two processors on one PostgreSQL inbox.
#![cfg(all(feature = "sqlite", feature = "postgres"))]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hookwire::clock::TokioClock;
use hookwire::consume::{Cursors, Inbox, InboxError, Position, Processor, Router};
use hookwire::deliver::{ListQuery, MemoryOutbox, Outbox, PostgresOutbox, SqliteOutbox, State};
use hookwire::event::{Event, RawEvent};
use hookwire::retry::Backoff;

fn event(source: &str, id: &str, ty: &str) -> RawEvent {
    Event::builder()
        .id(id)
        .source(source)
        .ty(ty)
        .data(serde_json::value::RawValue::from_string(format!(r#"{{"id":"{id}"}}"#)).unwrap())
        .build()
        .unwrap()
}

#[derive(serde::Deserialize)]
struct Transfer {
    id: String,
}

/// What the handlers saw: how often each id was handled, and failed.
#[derive(Default)]
struct Counts {
    handled: HashMap<String, usize>,
    failed: HashMap<String, usize>,
    unrouted: Vec<String>,
}

fn router(counts: Arc<Mutex<Counts>>, poison_cured: Arc<AtomicBool>) -> Router {
    let fallback = counts.clone();
    Router::new()
        .on("transfer.settled", move |event: Event<Transfer>| {
            let (counts, poison_cured) = (counts.clone(), poison_cured.clone());
            async move {
                let id = event.json().unwrap().id.clone();
                let mut counts = counts.lock().unwrap();
                let failed = counts.failed.get(&id).copied().unwrap_or(0);
                // "flaky" fails twice; "poison" until it is cured.
                if (id == "flaky" && failed < 2)
                    || (id == "poison" && !poison_cured.load(Ordering::SeqCst))
                {
                    *counts.failed.entry(id.clone()).or_default() += 1;
                    return Err(std::io::Error::other(format!("the ledger refused {id}")));
                }
                *counts.handled.entry(id).or_default() += 1;
                Ok(())
            }
        })
        .fallback(move |unrouted| {
            fallback
                .lock()
                .unwrap()
                .unrouted
                .push(unrouted.event.id().to_owned());
            async {}
        })
}

/// Runs processors on `inboxes` until nothing is pending in `store`.
async fn process_until_settled<O: Outbox + 'static>(
    inboxes: Vec<Inbox<O>>,
    router: Router,
    store: &O,
) {
    let mut stops = Vec::new();
    for inbox in inboxes {
        let processor = Processor::new(inbox, router.clone(), TokioClock)
            .backoff(Backoff::list(vec![
                Duration::ZERO,
                Duration::from_millis(20),
                Duration::from_millis(20),
            ]))
            .handler_timeout(Duration::from_secs(2))
            .lease_for(Duration::from_secs(5));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(processor.run(async move {
            let _ = stopped.await;
        }));
        stops.push((stop, running));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.count(Some(State::Pending)).await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the inbox did not settle"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (stop, running) in stops {
        let _ = stop.send(());
        running.await.unwrap().unwrap();
    }
}

/// Positions saved under a name are read back, by another handle on the same store too.
async fn cursor_contract<O: Cursors>(store: &O, twin: &O) {
    assert_eq!(store.load_cursor("bank").await.unwrap(), None);
    let mut position = Position::at("c100");
    position.etag = Some("\"c100-7\"".to_owned());
    store.save_cursor("bank", &position).await.unwrap();
    assert_eq!(twin.load_cursor("bank").await.unwrap(), Some(position));
    store
        .save_cursor("bank", &Position::at("c200"))
        .await
        .unwrap();
    assert_eq!(
        twin.load_cursor("bank").await.unwrap(),
        Some(Position::at("c200")),
        "saved again, the entity tag gone with the old cursor"
    );
    assert_eq!(
        twin.load_cursor("other").await.unwrap(),
        None,
        "names are apart"
    );
}

/// The contract, on `store` (and `twin`, a second handle on the same store, standing for a
/// second receiver instance).
async fn inbox_contract<O: Outbox + Cursors + 'static>(store: Arc<O>, twin: Arc<O>) {
    cursor_contract(&*store, &*twin).await;
    let (inbox, other) = (Inbox::new(store.clone()), Inbox::new(twin));
    let now = SystemTime::now();
    for n in 0..40 {
        let e = event("https://bank.example", &format!("t{n}"), "transfer.settled");
        inbox.accept(&e, now).await.unwrap();
        if n % 4 == 0 {
            // The sender's retry, reaching the other instance.
            other.accept(&e, now).await.unwrap();
        }
    }
    for id in ["flaky", "poison"] {
        inbox
            .accept(&event("https://bank.example", id, "transfer.settled"), now)
            .await
            .unwrap();
    }
    // Same id, another source: another event.
    inbox
        .accept(
            &event("https://other.example", "t0", "transfer.settled"),
            now,
        )
        .await
        .unwrap();
    inbox
        .accept(&event("https://bank.example", "a1", "account.opened"), now)
        .await
        .unwrap();
    assert_eq!(
        store.count(None).await.unwrap(),
        44,
        "each (source, id) stored once"
    );

    let counts: Arc<Mutex<Counts>> = Arc::default();
    let cured = Arc::new(AtomicBool::new(false));
    process_until_settled(
        vec![inbox.clone()],
        router(counts.clone(), cured.clone()),
        &store,
    )
    .await;
    {
        let counts = counts.lock().unwrap();
        assert_eq!(counts.handled.len(), 41, "t0..t39 and flaky");
        assert!(
            counts.handled.values().all(|&n| n == 1 || n == 2),
            "handled once per event"
        );
        assert_eq!(counts.handled["t0"], 2, "one per source");
        assert_eq!(counts.handled["flaky"], 1, "after two failures");
        assert_eq!(counts.failed["flaky"], 2);
        assert_eq!(
            counts.failed["poison"], 3,
            "the whole schedule, then parked"
        );
        assert_eq!(counts.unrouted, vec!["a1"], "reported, and acknowledged");
    }
    let parked = store
        .list(&ListQuery::new().state(State::DeadLettered))
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].job.payload.id, "poison");
    assert_eq!(parked[0].attempts.len(), 3);
    assert!(
        parked[0]
            .attempts
            .iter()
            .all(|a| a.status.is_none() && a.body.as_ref() == b"the ledger refused poison"),
        "each attempt keeps the handler's error"
    );
    assert_eq!(store.count(Some(State::Delivered)).await.unwrap(), 43);

    // Fixed, and replayed.
    cured.store(true, Ordering::SeqCst);
    assert!(
        inbox
            .replay("https://bank.example", "poison", SystemTime::now())
            .await
            .unwrap()
    );
    process_until_settled(vec![inbox], router(counts.clone(), cured), &store).await;
    assert_eq!(counts.lock().unwrap().handled["poison"], 1);
    assert_eq!(store.count(Some(State::Delivered)).await.unwrap(), 44);
}

const ACCOUNTS: u64 = 5;
const PER_ACCOUNT: u64 = 20;

/// An event of `account`, numbered `number` among its events, in the CloudEvents
/// `partitionkey` and `sequence` extensions.
fn numbered(account: u64, number: u64) -> RawEvent {
    let id = format!("acct{account}-{number}");
    Event::builder()
        .id(&id)
        .source("https://bank.example")
        .ty("transfer.settled")
        .extension("partitionkey", format!("acct{account}"))
        .extension("sequence", number.to_string())
        .data(serde_json::value::RawValue::from_string(format!(r#"{{"id":"{id}"}}"#)).unwrap())
        .build()
        .unwrap()
}

fn ordered<O: Outbox + ?Sized>(store: Arc<O>) -> Inbox<O> {
    Inbox::new(store).ordered_by(common::bank::place)
}

/// What the ordered handler saw: each account's numbers in the order handled, how many
/// handlers ran at once at most, and which events have failed once already.
#[derive(Default)]
struct Seen {
    order: HashMap<String, Vec<u64>>,
    running: usize,
    most_running: usize,
    failed: Vec<String>,
}

fn ordered_router(seen: Arc<Mutex<Seen>>) -> Router {
    Router::new().on("transfer.settled", move |event: RawEvent| {
        let seen = seen.clone();
        async move {
            let account = event
                .extension("partitionkey")
                .unwrap()
                .to_canonical_string()
                .unwrap();
            let number: u64 = event
                .extension("sequence")
                .unwrap()
                .to_canonical_string()
                .unwrap()
                .parse()
                .unwrap();
            {
                let mut seen = seen.lock().unwrap();
                seen.running += 1;
                seen.most_running = seen.most_running.max(seen.running);
            }
            // Later numbers finish sooner: handled at once, they would end out of order.
            tokio::time::sleep(Duration::from_millis(2 * (PER_ACCOUNT + 1 - number))).await;
            let mut seen = seen.lock().unwrap();
            seen.running -= 1;
            // Every fifth event of account 1 fails once: its successors must wait for the retry.
            if account == "acct1"
                && number % 5 == 0
                && !seen.failed.contains(&event.id().to_owned())
            {
                seen.failed.push(event.id().to_owned());
                return Err(std::io::Error::other("the ledger was busy"));
            }
            seen.order.entry(account).or_default().push(number);
            Ok(())
        }
    })
}

/// An ordered inbox handles each account's events in their numbers' order, whatever order
/// they arrive in, several accounts at once; an account's events wait for a missing one.
async fn order_contract<O: Outbox + 'static>(store: Arc<O>) {
    let inbox = ordered(store.clone());
    // Arrival order: each account's events backwards, the accounts interleaved, and account
    // 0's seventh missing.
    for number in (1..=PER_ACCOUNT).rev() {
        for account in 0..ACCOUNTS {
            if (account, number) != (0, 7) {
                inbox
                    .accept(&numbered(account, number), SystemTime::now())
                    .await
                    .unwrap();
            }
        }
    }
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let processor = Processor::new(inbox.clone(), ordered_router(seen.clone()), TokioClock)
        .backoff(Backoff::list(vec![
            Duration::ZERO,
            Duration::from_millis(10),
        ]))
        .concurrency(16);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(processor.run(async move {
        let _ = stopped.await;
    }));
    let handled = |seen: &Mutex<Seen>| {
        seen.lock()
            .unwrap()
            .order
            .values()
            .map(Vec::len)
            .sum::<usize>()
    };
    let everything_else = ((ACCOUNTS - 1) * PER_ACCOUNT + 6) as usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while handled(&seen) < everything_else {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} handled",
            handled(&seen)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Account 0 waits at its gap: 8 to 20 are stored and due, but not handled.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        seen.lock().unwrap().order["acct0"],
        (1..=6).collect::<Vec<_>>(),
        "account 0 stops at its missing seventh event"
    );
    assert_eq!(handled(&seen), everything_else);
    // The seventh arrives (the poller found it): the rest of account 0 follows.
    inbox
        .accept(&numbered(0, 7), SystemTime::now())
        .await
        .unwrap();
    while handled(&seen) < (ACCOUNTS * PER_ACCOUNT) as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} handled",
            handled(&seen)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(
        store.count(Some(State::Delivered)).await.unwrap(),
        (ACCOUNTS * PER_ACCOUNT) as usize
    );
    let seen = seen.lock().unwrap();
    for account in 0..ACCOUNTS {
        assert_eq!(
            seen.order[&format!("acct{account}")],
            (1..=PER_ACCOUNT).collect::<Vec<_>>(),
            "account {account}'s events in their order, each once"
        );
    }
    assert_eq!(
        seen.failed.len(),
        4,
        "account 1's 5, 10, 15 and 20 failed once each"
    );
    assert!(
        seen.most_running > 1,
        "accounts were handled side by side ({} at most)",
        seen.most_running
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_memory_inbox_handles_each_keys_events_in_their_order() {
    order_contract(Arc::new(MemoryOutbox::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_sqlite_inbox_handles_each_keys_events_in_their_order() {
    let dir = std::env::temp_dir().join(format!(
        "hookwire-ordered-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    order_contract(Arc::new(
        SqliteOutbox::open(dir.join("inbox.db")).await.unwrap(),
    ))
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_postgres_inbox_handles_each_keys_events_in_their_order() {
    let Some(pool) = common::services::postgres("an_ordered_postgres_inbox").await else {
        return;
    };
    let schema = common::services::unique_name("hw_ordered");
    let store = Arc::new(PostgresOutbox::new(pool.clone()).schema(&schema).unwrap());
    store.migrate().await.unwrap();
    order_contract(store).await;
    common::services::drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_due_again_while_its_last_run_is_still_settling_runs_again_at_once() {
    // Each settle returns 300 ms after it took effect: the event, retried at once, is due
    // (and leased again) while its first run is still settling.
    let store = Arc::new(
        common::stores::Watched::new(MemoryOutbox::new()).slow_settles(Duration::from_millis(300)),
    );
    let inbox = Inbox::new(store.clone());
    inbox
        .accept(
            &event("https://bank.example", "flaky", "transfer.settled"),
            SystemTime::now(),
        )
        .await
        .unwrap();
    let counts: Arc<Mutex<Counts>> = Arc::default();
    let processor = Processor::new(
        inbox,
        router(counts.clone(), Arc::new(AtomicBool::new(true))),
        TokioClock,
    )
    .backoff(Backoff::list(vec![
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    ]));
    // Not at the lease's end (60 s), but as soon as each run has settled.
    common::running::until_delivered(&*store, 1, Duration::from_secs(10), |stop| {
        processor.run(stop)
    })
    .await;
    let counts = counts.lock().unwrap();
    assert_eq!(counts.failed["flaky"], 2);
    assert_eq!(
        counts.handled["flaky"], 1,
        "handled once, never two runs at once"
    );
}

#[tokio::test]
async fn an_ordered_inbox_refuses_a_store_that_keeps_no_sequences_and_stores_nothing() {
    let store = Arc::new(common::stores::flaky(0));
    let error = ordered(store.clone())
        .accept(&numbered(0, 1), SystemTime::now())
        .await
        .unwrap_err();
    assert!(matches!(error, InboxError::Unordered), "{error:?}");
    assert!(
        error.to_string().contains("drop Inbox::ordered_by"),
        "{error}"
    );
    assert_eq!(store.count(None).await.unwrap(), 0);
    // Unordered, the same store is fine.
    Inbox::new(store.clone())
        .accept(&numbered(0, 1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(store.count(None).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_inbox_keeps_the_contract() {
    let store = Arc::new(MemoryOutbox::new());
    inbox_contract(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_inbox_keeps_the_contract_across_two_handles_on_one_file() {
    let dir = std::env::temp_dir().join(format!(
        "hookwire-inbox-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    let (store, twin) = (
        Arc::new(SqliteOutbox::open(&path).await.unwrap()),
        Arc::new(SqliteOutbox::open(&path).await.unwrap()),
    );
    inbox_contract(store, twin).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_inbox_keeps_the_contract_and_two_processors_share_it() {
    let Some(pool) = common::services::postgres("the_postgres_inbox").await else {
        return;
    };
    let schema = common::services::unique_name("hw_inbox");
    let store = Arc::new(PostgresOutbox::new(pool.clone()).schema(&schema).unwrap());
    store.migrate().await.unwrap();
    let other_pool = common::services::postgres("the_postgres_inbox")
        .await
        .unwrap();
    let twin = Arc::new(PostgresOutbox::new(other_pool).schema(&schema).unwrap());
    inbox_contract(store.clone(), twin.clone()).await;

    // Two processors (two machines, as far as the database can tell) on 300 more events.
    let inbox = Inbox::new(store.clone());
    for n in 0..300 {
        inbox
            .accept(
                &event("https://bank.example", &format!("s{n}"), "transfer.settled"),
                SystemTime::now(),
            )
            .await
            .unwrap();
    }
    let counts: Arc<Mutex<Counts>> = Arc::default();
    process_until_settled(
        vec![Inbox::new(store.clone()), Inbox::new(twin)],
        router(counts.clone(), Arc::new(AtomicBool::new(true))),
        &store,
    )
    .await;
    common::services::drop_schema(&pool, &schema).await;
    let counts = counts.lock().unwrap();
    assert_eq!(counts.handled.len(), 300);
    assert!(
        counts.handled.values().all(|&n| n == 1),
        "each handled once"
    );
}

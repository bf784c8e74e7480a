//! Push meets pull, end to end on loopback: a treasury bank emits 5 000 events for 50
//! accounts, serving them on its events API and sending each as a signed webhook, but 30 % of
//! the webhooks are lost and 10 % arrive twice. The consumer (receiver, poller and processor on
//! one ordered SQLite inbox) runs in a child process, which is stopped mid-run, as a deploy
//! stops it, and started again on the same file. Every event is handled exactly once, each
//! account's events in the bank's order, and the last within a bound of its emission.
#![cfg(all(feature = "hyper", feature = "sqlite"))]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use common::bank::{BankFeed, place, query_value};
use common::loopback::serve;
use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::api::Client;
use hookwire::clock::TokioClock;
use hookwire::consume::{Envelope, Inbox, Poller, Processor, Router};
use hookwire::deliver::{Destination, Dispatcher, Outbox, Payload, SqliteOutbox, State};
use hookwire::event::{Event, RawEvent};
use hookwire::http::{Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::{AddressPolicy, BodyLimit};
use hookwire::webhook::{Secret, StandardWebhooks};
use http_body_util::Full;

const EVENTS: usize = 5_000;
const ACCOUNTS: usize = 50;
const BANK: &str = "https://bank.example";
/// Set in the consumer's child process.
const CHILD: &str = "HOOKWIRE_PUSH_PULL_CHILD";
/// A consumer process: started with its inbox file, the bank's API, the webhook secret and a
/// journal; prints `listening <address>`, then runs until its stdin closes.
struct Consumer {
    child: Child,
    address: SocketAddr,
}

impl Consumer {
    fn start(inbox: &Path, bank_api: SocketAddr, secret: &Secret, journal: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "consumer_process", "--ignored", "--nocapture"])
            .env(CHILD, "1")
            .env("HOOKWIRE_PP_INBOX", inbox)
            .env("HOOKWIRE_PP_BANK", bank_api.to_string())
            .env("HOOKWIRE_PP_SECRET", hex::encode(secret.expose_bytes()))
            .env("HOOKWIRE_PP_JOURNAL", journal)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the consumer said where it listens")
                .unwrap();
            if let Some(address) = line.strip_prefix("listening ") {
                break address.parse().unwrap();
            }
        };
        // The rest of its output (the test harness's report) is read, and dropped.
        std::thread::spawn(move || lines.for_each(drop));
        Consumer { child, address }
    }

    /// Stops it as a deploy would: it takes no new requests, finishes the work in flight and
    /// exits; waits for that.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the consumer exited with {status}");
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The events the consumers handled, in the order they handled them: (id, account, number).
fn journal(paths: &[&Path]) -> Vec<(String, String, u64)> {
    let mut handled = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // A line is whole once its newline is written.
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in whole.lines() {
            let mut fields = line.split(' ');
            let (Some(id), Some(account), Some(number)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("a malformed journal line: {line:?}");
            };
            handled.push((id.to_owned(), account.to_owned(), number.parse().unwrap()));
        }
    }
    handled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_events_lost_repeated_and_a_restart_each_handled_once_in_each_accounts_order()
{
    let secret = Secret::generate();
    // The bank's events API.
    let emitted: Arc<Mutex<Vec<String>>> = Arc::default();
    let api_events = emitted.clone();
    let (bank_api, _stop_api) = serve(move |request| {
        let emitted = api_events.clone();
        async move {
            let query = request.uri().query();
            let number = |name, default| {
                query_value(query, name)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(default)
            };
            let (after, limit): (usize, usize) = (number("after", 0), number("limit", 100));
            let emitted = emitted.lock().unwrap();
            let end = emitted.len().min(after + limit);
            let body = format!(
                r#"{{"events":[{}],"next":"{end}","has_more":{}}}"#,
                emitted[after.min(end)..end].join(","),
                end < emitted.len()
            );
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
        }
    })
    .await;

    let dir = std::env::temp_dir().join(format!(
        "hookwire-push-pull-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let inbox = dir.join("inbox.db");
    let journals = [dir.join("journal-1"), dir.join("journal-2")];
    let handled = || journal(&[&journals[0], &journals[1]]).len();
    let mut consumer = Some(Consumer::start(&inbox, bank_api, &secret, &journals[0]));
    let mut receiver = consumer.as_ref().unwrap().address;

    // The bank's webhooks: one attempt each (a lost one is for the poller to catch up).
    let policy = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    let dispatcher = Arc::new(
        Dispatcher::new(HyperClient::guarded(policy), TokioClock)
            .unwrap()
            .retry(RetryPolicy::for_deliveries().backoff(Backoff::list(vec![Duration::ZERO]))),
    );
    let (mut lost, mut repeated, mut restarted_at) = (0, 0, None);
    let mut numbers = [0u64; ACCOUNTS];
    for n in 0..EVENTS {
        // Accounts in a scrambled order, each numbering its own events 1, 2, 3, ...
        let account = (n * 7 + n / ACCOUNTS) % ACCOUNTS;
        numbers[account] += 1;
        let event = Event::builder()
            .source(BANK)
            .ty("transfer.settled")
            .extension("partitionkey", format!("acct{account}"))
            .extension("sequence", numbers[account].to_string())
            .data(serde_json::json!({ "n": n }))
            .build()
            .unwrap();
        let json = event.to_json().unwrap();
        emitted
            .lock()
            .unwrap()
            .push(String::from_utf8(json.clone()).unwrap());
        // A fixed pseudo-random pick: 30 % lost, 10 % sent twice.
        let roll = (n as u64).wrapping_mul(2_654_435_761) % 100;
        let copies = match roll {
            0..=29 => {
                lost += 1;
                0
            }
            30..=39 => {
                repeated += 1;
                2
            }
            _ => 1,
        };
        let destination = Destination::new(&format!("http://{receiver}/hooks"), &secret).unwrap();
        let mut payload = Payload::json(event.id(), event.ty(), json);
        payload.content_type = "application/cloudevents+json".parse().unwrap();
        for _ in 0..copies {
            let dispatcher = dispatcher.clone();
            let (destination, payload) = (destination.clone(), payload.clone());
            tokio::spawn(async move { dispatcher.deliver(&destination, &payload).await });
        }
        if n == EVENTS * 2 / 5 {
            // A deploy, once the consumer is under way: it stops (webhooks sent meanwhile are
            // refused, and lost) and starts again on the same inbox file, at a new address.
            let under_way = Instant::now() + Duration::from_secs(60);
            while handled() < 100 {
                assert!(Instant::now() < under_way, "the consumer handled nothing");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let stopping = consumer.take().unwrap();
            tokio::task::spawn_blocking(move || stopping.stop())
                .await
                .unwrap();
            restarted_at = Some(handled());
            let (inbox, secret, journal) = (inbox.clone(), secret.clone(), journals[1].clone());
            let next = tokio::task::spawn_blocking(move || {
                Consumer::start(&inbox, bank_api, &secret, &journal)
            })
            .await
            .unwrap();
            receiver = next.address;
            consumer = Some(next);
        }
        if n % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let last_emitted = Instant::now();

    let deadline = last_emitted + Duration::from_secs(60);
    while handled() < EVENTS {
        assert!(
            Instant::now() < deadline,
            "{} of {EVENTS} handled",
            handled()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught_up = last_emitted.elapsed();
    eprintln!(
        "{lost} webhooks lost, {repeated} sent twice, {restarted_at:?} handled before the restart; caught up {caught_up:?} after the last emission"
    );
    let stopping = consumer.take().unwrap();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();

    let store = SqliteOutbox::open(&inbox).await.unwrap();
    assert_eq!(
        store.count(None).await.unwrap(),
        EVENTS,
        "each event stored once"
    );
    assert_eq!(store.count(Some(State::Delivered)).await.unwrap(), EVENTS);
    let handled = journal(&[&journals[0], &journals[1]]);
    assert_eq!(
        handled.len(),
        EVENTS,
        "nothing handled twice, across the restart"
    );
    let mut times: HashMap<&str, usize> = HashMap::new();
    let mut order: HashMap<&str, Vec<u64>> = HashMap::new();
    for (id, account, number) in &handled {
        *times.entry(id).or_default() += 1;
        order.entry(account).or_default().push(*number);
    }
    assert_eq!(times.len(), EVENTS, "every event handled");
    assert!(times.values().all(|&n| n == 1), "each exactly once");
    assert_eq!(order.len(), ACCOUNTS);
    for (account, numbers) in &order {
        assert_eq!(
            numbers,
            &(1..=(EVENTS / ACCOUNTS) as u64).collect::<Vec<_>>(),
            "{account}'s events in the bank's order"
        );
    }
    let restarted_at = restarted_at.unwrap();
    assert!(
        (100..EVENTS).contains(&restarted_at),
        "the restart came mid-run ({restarted_at} handled)"
    );
    assert!((1400..=1600).contains(&lost) && (400..=600).contains(&repeated));
    // Bound by the inbox's SQLite commits (each accept and each settle is one, synchronous
    // = FULL) and by the accounts waiting at their gaps for the poller (at most 400 ms
    // between polls).
    assert!(
        caught_up < Duration::from_secs(30),
        "the last event was handled {caught_up:?} after it was emitted"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The consumer of the push/pull test, as its own process: receiver, poller and processor
/// on an ordered SQLite inbox. Does nothing unless run by that test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the push/pull test"]
async fn consumer_process() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let var = |name: &str| std::env::var(name).unwrap();
    // The parent holds our stdin: when it closes it (or dies), we stop.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = stop.send(true);
    });
    let shutdown = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };

    let store = Arc::new(SqliteOutbox::open(var("HOOKWIRE_PP_INBOX")).await.unwrap());
    let inbox = Inbox::new(store).ordered_by(place);
    let secret = Secret::from_bytes(hex::decode(var("HOOKWIRE_PP_SECRET")).unwrap()).unwrap();
    let verifier = Arc::new(StandardWebhooks::new(&secret).unwrap());
    let receiving = inbox.clone();
    let (address, stop_receiving) = serve(move |request| {
        let (verifier, inbox) = (verifier.clone(), receiving.clone());
        async move {
            handle(
                &*verifier,
                BodyLimit::WEBHOOK.bytes(),
                request,
                |webhook| async move {
                    let status =
                        match Envelope::CloudEvents.read(BANK, &webhook.headers, &webhook.body) {
                            Ok(event) => match inbox.accept(&event, SystemTime::now()).await {
                                Ok(()) => StatusCode::NO_CONTENT,
                                Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                            },
                            Err(_) => StatusCode::ACCEPTED,
                        };
                    let mut response = Response::new(Bytes::new());
                    *response.status_mut() = status;
                    response
                },
            )
            .await
        }
    })
    .await;

    let bank = var("HOOKWIRE_PP_BANK");
    let api = Arc::new(Client::new(HyperClient::new(), &format!("http://{bank}/v1/")).unwrap());
    let poller = Poller::new("bank", api, BankFeed(500), inbox.clone(), TokioClock)
        .interval(Duration::from_millis(100), Duration::from_millis(400));
    let polling = tokio::spawn(poller.run(shutdown()));

    let journal = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(var("HOOKWIRE_PP_JOURNAL"))
            .unwrap(),
    ));
    let router = Router::new().on("transfer.settled", move |event: RawEvent| {
        let journal = journal.clone();
        async move {
            let place = place(&event).expect("the bank numbers every event");
            let line = format!("{} {} {}\n", event.id(), place.key, place.number);
            journal.lock().unwrap().write_all(line.as_bytes())?;
            Ok::<(), std::io::Error>(())
        }
    });
    let processor = Processor::new(inbox, router, TokioClock).concurrency(32);
    // Stopping, the receiver takes no new requests; the poller and the processor stop on the
    // same signal, the processor once the handlers in flight are done.
    let receiving = shutdown();
    tokio::spawn(async move {
        receiving.await;
        let _ = stop_receiving.send(());
    });
    println!("listening {address}");
    processor.run(shutdown()).await.unwrap();
    polling.await.unwrap();
}

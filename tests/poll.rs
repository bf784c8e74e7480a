//! Pull meeting push: a poller reads a loopback treasury bank's events API (cursor pages,
//! `ETag`, `Retry-After`, rate-limit headers) into the same inbox the bank's webhooks feed, and
//! each event is handled once whichever way it came.
#![cfg(all(feature = "hyper", feature = "sqlite"))]

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::bank::BankFeed;
use hookwire::adapters::hyper::HyperClient;
use hookwire::api::Client;
use hookwire::clock::TokioClock;
use hookwire::consume::{Envelope, Inbox, PollError, Poller, Processor, Router};
use hookwire::deliver::{MemoryOutbox, Outbox, SqliteOutbox, State};
use hookwire::event::{Event, cloudevents};
use hookwire::http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;

/// The bank: its events, and how its events API answers.
#[derive(Default)]
struct Bank {
    events: Vec<String>,
    /// Requests to the events API, and the full (200) answers among them.
    requests: usize,
    full_answers: usize,
    /// The `after` of each request.
    afters: Vec<Option<String>>,
    /// Headers to add to the next answer, and a status to give it instead of 200.
    next_status: Option<(u16, Vec<(&'static str, String)>)>,
    next_headers: Vec<(&'static str, String)>,
}

fn bank_event(n: usize) -> Event {
    Event::builder()
        .id(format!("evt_{n:05}"))
        .source("https://bank.example")
        .ty("transfer.settled")
        .data(serde_json::json!({ "n": n }))
        .build()
        .unwrap()
}

impl Bank {
    fn emit(&mut self, count: usize) {
        for _ in 0..count {
            let n = self.events.len();
            self.events
                .push(String::from_utf8(bank_event(n).to_json().unwrap()).unwrap());
        }
    }
}

#[derive(Deserialize)]
struct Query {
    after: Option<usize>,
    limit: Option<usize>,
}

fn answer(bank: &Mutex<Bank>, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut bank = bank.lock().unwrap();
    bank.requests += 1;
    let query: Query = serde_urlencoded::from_str(request.uri().query().unwrap_or("")).unwrap();
    bank.afters.push(query.after.map(|a| a.to_string()));
    if let Some((status, headers)) = bank.next_status.take() {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        return response;
    }
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(100);
    let etag = format!("\"{after}-{}\"", bank.events.len());
    let matches = request
        .headers()
        .get("if-none-match")
        .is_some_and(|value| value.as_bytes() == etag.as_bytes());
    let mut response = if matches {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        bank.full_answers += 1;
        let end = bank.events.len().min(after + limit);
        let page = &bank.events[after.min(end)..end];
        let body = format!(
            r#"{{"events":[{}],"next":"{end}","has_more":{}}}"#,
            page.join(","),
            end < bank.events.len()
        );
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        response
    };
    response.headers_mut().insert("etag", etag.parse().unwrap());
    for (name, value) in std::mem::take(&mut bank.next_headers) {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn start_bank(bank: Arc<Mutex<Bank>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let bank = bank.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let response = answer(&bank, &request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn client(address: SocketAddr) -> Arc<Client<HyperClient>> {
    Arc::new(Client::new(HyperClient::new(), &format!("http://{address}/v1/")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_stores_each_event_once_and_a_restarted_one_resumes_at_its_saved_cursor() {
    let bank = Arc::new(Mutex::new(Bank::default()));
    bank.lock().unwrap().emit(250);
    let address = start_bank(bank.clone()).await;
    let dir =
        std::env::temp_dir().join(format!("hookwire-poll-{}", hookwire::webhook::message_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    {
        let store = Arc::new(SqliteOutbox::open(&path).await.unwrap());
        let poller = Poller::new(
            "bank",
            client(address),
            BankFeed(100),
            Inbox::new(store.clone()),
            TokioClock,
        );
        let mut pages = Vec::new();
        loop {
            let polled = poller.poll_once().await.unwrap();
            pages.push(polled.accepted);
            if !polled.more {
                break;
            }
        }
        assert_eq!(pages, vec![100, 100, 50]);
        assert_eq!(store.count(None).await.unwrap(), 250);
    }
    // A restart: a new store handle and poller on the same file resume after event 250.
    let store = Arc::new(SqliteOutbox::open(&path).await.unwrap());
    let poller = Poller::new(
        "bank",
        client(address),
        BankFeed(100),
        Inbox::new(store.clone()),
        TokioClock,
    );
    bank.lock().unwrap().emit(10);
    let polled = poller.poll_once().await.unwrap();
    assert_eq!(polled.accepted, 10, "only what is new");
    assert_eq!(
        bank.lock().unwrap().afters.last().unwrap().as_deref(),
        Some("250"),
        "asked from the saved cursor"
    );
    assert_eq!(store.count(None).await.unwrap(), 260);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_feed_is_asked_with_its_etag_and_answers_304() {
    let bank = Arc::new(Mutex::new(Bank::default()));
    bank.lock().unwrap().emit(5);
    let address = start_bank(bank.clone()).await;
    let store = Arc::new(MemoryOutbox::new());
    let poller = Poller::new(
        "bank",
        client(address),
        BankFeed(100),
        Inbox::new(store.clone()),
        TokioClock,
    );
    assert_eq!(poller.poll_once().await.unwrap().accepted, 5);
    // The cursor moved, so the first ETag is dropped; the next answer's is kept.
    assert_eq!(poller.poll_once().await.unwrap().accepted, 0);
    for _ in 0..3 {
        let polled = poller.poll_once().await.unwrap();
        assert!(polled.not_modified, "{polled:?}");
    }
    {
        let bank = bank.lock().unwrap();
        assert_eq!((bank.requests, bank.full_answers), (5, 2));
    }
    bank.lock().unwrap().emit(1);
    let polled = poller.poll_once().await.unwrap();
    assert_eq!((polled.accepted, polled.not_modified), (1, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_and_a_spent_rate_limit_say_how_long_to_wait() {
    let bank = Arc::new(Mutex::new(Bank::default()));
    bank.lock().unwrap().emit(3);
    let address = start_bank(bank.clone()).await;
    let store = Arc::new(MemoryOutbox::new());
    let poller = Poller::new(
        "bank",
        client(address),
        BankFeed(100),
        Inbox::new(store.clone()),
        TokioClock,
    );

    bank.lock().unwrap().next_status = Some((429, vec![("retry-after", "7".to_owned())]));
    match poller.poll_once().await {
        Err(PollError::Status {
            status,
            retry_after,
        }) => {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    assert_eq!(
        store.count(None).await.unwrap(),
        0,
        "nothing stored from a refusal"
    );

    bank.lock().unwrap().next_headers = vec![
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-reset", "30".to_owned()),
    ];
    let polled = poller.poll_once().await.unwrap();
    assert_eq!(polled.accepted, 3);
    assert_eq!(polled.wait, Some(Duration::from_secs(30)));
    let reset_at = SystemTime::now() + Duration::from_secs(90);
    let unix = reset_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    bank.lock().unwrap().next_headers = vec![
        ("ratelimit-remaining", "0".to_owned()),
        ("ratelimit-reset", unix.to_string()),
    ];
    let wait = poller.poll_once().await.unwrap().wait.unwrap();
    assert!(
        wait > Duration::from_secs(85) && wait <= Duration::from_secs(90),
        "a reset given as a Unix time: {wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_and_pulled_copies_of_each_event_meet_in_the_inbox_and_each_is_handled_once() {
    let bank = Arc::new(Mutex::new(Bank::default()));
    bank.lock().unwrap().emit(300);
    let address = start_bank(bank.clone()).await;
    let store = Arc::new(MemoryOutbox::new());
    let inbox = Inbox::new(store.clone());

    // Push: 30 % of the webhooks never arrive, 10 % arrive twice.
    let mut pushed = 0;
    for n in 0..300 {
        if n % 10 < 3 {
            continue;
        }
        let (headers, body) = cloudevents::encode(&bank_event(n), cloudevents::Mode::Binary)
            .unwrap()
            .into_parts();
        let copies = if n % 10 == 9 { 2 } else { 1 };
        for _ in 0..copies {
            let event = Envelope::CloudEvents
                .read("https://bank.example", &headers, &body)
                .unwrap();
            inbox.accept(&event, SystemTime::now()).await.unwrap();
            pushed += 1;
        }
    }
    assert_eq!(pushed, 240);
    assert_eq!(store.count(None).await.unwrap(), 210);

    // Pull: the poller catches up what the webhooks missed.
    let poller = Poller::new(
        "bank",
        client(address),
        BankFeed(100),
        inbox.clone(),
        TokioClock,
    )
    .interval(Duration::from_millis(10), Duration::from_millis(50));
    let (stop_polling, stopped) = tokio::sync::oneshot::channel::<()>();
    let polling = tokio::spawn(poller.run(async move {
        let _ = stopped.await;
    }));

    let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen = handled.clone();
    let router = Router::new().on("transfer.settled", move |event: Event| {
        let seen = seen.clone();
        async move {
            *seen
                .lock()
                .unwrap()
                .entry(event.id().to_owned())
                .or_default() += 1;
            Ok::<(), std::io::Error>(())
        }
    });
    let processor = Processor::new(inbox, router, TokioClock);
    let (stop_processing, stopped) = tokio::sync::oneshot::channel::<()>();
    let processing = tokio::spawn(processor.run(async move {
        let _ = stopped.await;
    }));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.count(Some(State::Delivered)).await.unwrap() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every event was handled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_polling.send(());
    let _ = stop_processing.send(());
    polling.await.unwrap();
    processing.await.unwrap().unwrap();

    assert_eq!(store.count(None).await.unwrap(), 300);
    assert!(
        bank.lock().unwrap().full_answers >= 3,
        "the poller read all three pages"
    );
    let handled = handled.lock().unwrap();
    assert_eq!(handled.len(), 300, "every event, pushed or pulled");
    assert!(handled.values().all(|&n| n == 1), "each exactly once");
}

//! Delivery over real loopback connections (the guard itself is tried in `tests/ssrf.rs`):
//! 2 000 events reach a receiver that fails 30 % of requests, each handled
//! exactly once; a worker killed mid-run loses nothing to its successor on the same SQLite file.
#![cfg(all(
    feature = "hyper",
    feature = "reqwest",
    feature = "sqlite",
    feature = "test-util"
))]

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookwire::adapters::hyper::HyperClient;
use hookwire::adapters::reqwest::ReqwestClient;
use hookwire::adapters::server::run_once;
use hookwire::adapters::server::verify_request;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, MemoryOutbox, Outbox, Payload, SqliteOutbox, State, Worker,
};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::{AddressPolicy, HttpClient};
use hookwire::webhook::{MemoryReplayGuard, Secret, StandardWebhooks};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

fn loopback() -> AddressPolicy {
    AddressPolicy::new()
        .allow("127.0.0.0/8")
        .unwrap()
        .allow("::1/128")
        .unwrap()
}

/// A receiver that, when `faulty`, fails 35 % of requests (500; 429 with Retry-After; a stall
/// past the sender's timeout; a dropped connection before handling; and a dropped connection
/// *after* handling, so that the sender never hears of a success and delivers again), and
/// otherwise verifies, dedupes and handles. It records every verified request, duplicates
/// included, and every handled one.
struct Receiver {
    address: SocketAddr,
    handled: Arc<Mutex<Vec<String>>>,
    verified: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
    dropped_after_handling: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Shared {
    verifier: Arc<StandardWebhooks>,
    guard: Arc<MemoryReplayGuard>,
    handled: Arc<Mutex<Vec<String>>>,
    verified: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
    dropped_after_handling: Arc<AtomicUsize>,
    faulty: bool,
}

async fn receive(
    shared: Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, &'static str> {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst) as u64;
    // A fixed pseudo-random sequence: 35 % failures in five kinds.
    let roll = if shared.faulty {
        n.wrapping_mul(2_654_435_761) % 100
    } else {
        99
    };
    match roll {
        0..=9 => return Ok(status(500)),
        10..=16 => {
            let mut response = status(429);
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            return Ok(response);
        }
        17..=23 => {
            tokio::time::sleep(Duration::from_millis(600)).await;
            return Ok(status(503));
        }
        24..=29 => return Err("reset"),
        _ => {}
    }
    let now = SystemTime::now();
    let webhook = match verify_request(&*shared.verifier, request, 1 << 20, now).await {
        Ok(webhook) => webhook,
        Err(rejection) => return Ok(rejection.to_response().map(Full::new)),
    };
    let id = webhook.verified().id().unwrap_or_default().to_owned();
    shared.verified.lock().unwrap().push(id.clone());
    let handled = shared.handled.clone();
    let response = run_once(&*shared.guard, &webhook, now, || async move {
        handled.lock().unwrap().push(id);
        Ok::<_, &'static str>(status(204))
    })
    .await?;
    if (30..=34).contains(&roll) && response.status() == StatusCode::NO_CONTENT {
        // Handled, and the answer never reaches the sender.
        shared.dropped_after_handling.fetch_add(1, Ordering::SeqCst);
        return Err("reset after handling");
    }
    Ok(response)
}

async fn receiver(secret: &Secret, faulty: bool) -> Receiver {
    let shared = Shared {
        verifier: Arc::new(StandardWebhooks::new(secret).expect("a key")),
        guard: Arc::new(MemoryReplayGuard::new(Duration::from_secs(600))),
        handled: Arc::default(),
        verified: Arc::default(),
        requests: Arc::default(),
        dropped_after_handling: Arc::default(),
        faulty,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let receiver = Receiver {
        address,
        handled: shared.handled.clone(),
        verified: shared.verified.clone(),
        requests: shared.requests.clone(),
        dropped_after_handling: shared.dropped_after_handling.clone(),
    };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    receive(shared.clone(), request)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    receiver
}

async fn faulty_receiver(secret: &Secret) -> Receiver {
    receiver(secret, true).await
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
}

/// A compressed schedule: 16 attempts, tens of milliseconds apart.
fn dispatcher(secret: &Secret) -> Dispatcher<HyperClient> {
    let _ = secret;
    Dispatcher::new(HyperClient::guarded(loopback()), TokioClock)
        .expect("a guarded transport")
        .retry(
            RetryPolicy::for_deliveries()
                .backoff(Backoff::exponential(
                    Duration::from_millis(20),
                    Duration::from_millis(200),
                    16,
                ))
                .retry_after_cap(Duration::from_millis(100)),
        )
        .attempt_timeout(Duration::from_millis(250))
}

async fn enqueue(outbox: &dyn Outbox, count: usize) {
    for i in 0..count {
        let payload = Payload::json(
            format!("msg_{i:05}"),
            "transfer.settled",
            format!(r#"{{"n":{i}}}"#),
        );
        outbox
            .enqueue(Job::new("customer-1", payload), SystemTime::now())
            .await
            .unwrap();
    }
}

async fn wait_until_done(outbox: &dyn Outbox, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let pending = outbox.count(Some(State::Pending)).await.unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} deliveries still pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_events_through_a_faulty_receiver_are_each_handled_exactly_once() {
    let secret = Secret::generate();
    let receiver = faulty_receiver(&secret).await;
    let outbox = Arc::new(MemoryOutbox::new());
    enqueue(&*outbox, 2000).await;

    let url = format!("http://{}/hooks", receiver.address);
    let destination = Destination::new(&url, &secret).unwrap();
    let worker = Worker::new(
        outbox.clone(),
        Arc::new(dispatcher(&secret)),
        move |endpoint: &str| (endpoint == "customer-1").then(|| destination.clone()),
    )
    .concurrency(64)
    // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
    .per_endpoint(u32::try_from(64).unwrap_or(u32::MAX))
    .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1))
    .lease_for(Duration::from_secs(5));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));

    wait_until_done(&*outbox, Duration::from_secs(120)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    let handled = receiver.handled.lock().unwrap().clone();
    let unique: HashSet<&String> = handled.iter().collect();
    assert_eq!(unique.len(), 2000, "every event handled");
    assert_eq!(handled.len(), 2000, "each exactly once");
    assert_eq!(outbox.count(Some(State::Delivered)).await.unwrap(), 2000);
    assert!(outbox.count(Some(State::DeadLettered)).await.unwrap() == 0);
    assert!(
        receiver.requests.load(Ordering::SeqCst) > 2000,
        "failures were retried"
    );
    // Messages handled whose answer was lost came again: the dedupe path ran, and absorbed
    // every one of them.
    let verified = receiver.verified.lock().unwrap().len();
    let dropped = receiver.dropped_after_handling.load(Ordering::SeqCst);
    assert!(dropped > 0, "no answer was lost after handling");
    assert!(
        verified >= 2000 + dropped,
        "{verified} verified requests for 2000 events and {dropped} lost answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_no_message_is_delivered_twice() {
    let secret = Secret::generate();
    let receiver = receiver(&secret, false).await;
    let outbox = Arc::new(MemoryOutbox::new());
    enqueue(&*outbox, 300).await;
    let url = format!("http://{}/hooks", receiver.address);
    let destination = Destination::new(&url, &secret).unwrap();
    let worker = Worker::new(
        outbox.clone(),
        Arc::new(dispatcher(&secret)),
        move |_: &str| Some(destination.clone()),
    )
    .concurrency(32)
    // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
    .per_endpoint(u32::try_from(32).unwrap_or(u32::MAX))
    .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1))
    .lease_for(Duration::from_secs(5));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    wait_until_done(&*outbox, Duration::from_secs(60)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(
        receiver.requests.load(Ordering::SeqCst),
        300,
        "one request each"
    );
    assert_eq!(
        receiver.verified.lock().unwrap().len(),
        300,
        "no duplicate arrived"
    );
    assert_eq!(receiver.handled.lock().unwrap().len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_nothing_to_its_successor_on_the_same_file() {
    let secret = Secret::generate();
    let receiver = faulty_receiver(&secret).await;
    let dir = std::env::temp_dir().join(format!(
        "hookwire-restart-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("outbox.db");
    let url = format!("http://{}/hooks", receiver.address);

    let first = Arc::new(SqliteOutbox::open(&path).await.unwrap());
    enqueue(&*first, 300).await;
    let destination = Destination::new(&url, &secret).unwrap();
    let worker = Worker::new(
        first.clone(),
        Arc::new(dispatcher(&secret)),
        move |_: &str| Some(destination.clone()),
    )
    .concurrency(16)
    // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
    .per_endpoint(u32::try_from(16).unwrap_or(u32::MAX))
    .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1))
    .lease_for(Duration::from_secs(2));
    let killed = tokio::spawn(worker.run(std::future::pending()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while receiver.handled.lock().unwrap().len() < 60 {
        assert!(!killed.is_finished(), "the first worker stopped on its own");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first worker delivered too little"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.abort();
    let _ = killed.await;
    let unfinished = first.count(Some(State::Pending)).await.unwrap();
    assert!(unfinished > 0, "every job was finished before the kill");
    let handled_at_kill = receiver.handled.lock().unwrap().len();
    drop(first);

    let second = Arc::new(SqliteOutbox::open(&path).await.unwrap());
    let destination = Destination::new(&url, &secret).unwrap();
    let worker = Worker::new(
        second.clone(),
        Arc::new(dispatcher(&secret)),
        move |_: &str| Some(destination.clone()),
    )
    .concurrency(16)
    // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
    .per_endpoint(u32::try_from(16).unwrap_or(u32::MAX))
    .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1))
    .lease_for(Duration::from_secs(2));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    wait_until_done(&*second, Duration::from_secs(120)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    let handled = receiver.handled.lock().unwrap().clone();
    let unique: HashSet<&String> = handled.iter().collect();
    assert_eq!(unique.len(), 300, "nothing lost across the restart");
    assert_eq!(
        handled.len(),
        300,
        "the receiver's dedupe absorbed any redelivery"
    );
    assert!(
        handled.len() > handled_at_kill,
        "the second worker delivered what the first left"
    );
    assert_eq!(second.count(Some(State::Delivered)).await.unwrap(), 300);
    assert!(second.count(Some(State::DeadLettered)).await.unwrap() == 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn guarded_clients_keep_only_the_first_64_kib_of_an_endless_answer() {
    use futures_util::stream;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_: Request<Incoming>| async {
                    let chunks = stream::repeat_with(|| {
                        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'a'; 10_000])))
                    });
                    Ok::<_, Infallible>(Response::new(StreamBody::new(chunks)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let clients: Vec<(&str, Box<dyn HttpClient>)> = vec![
        ("hyper", Box::new(HyperClient::guarded(loopback()))),
        (
            "reqwest",
            Box::new(ReqwestClient::guarded(loopback()).unwrap()),
        ),
    ];
    for (name, client) in clients {
        let request = Request::post(format!("http://{address}/"))
            .body(Bytes::new())
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), client.send(request))
            .await
            .expect("the read stopped")
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.body().len(), 64 * 1024, "{name}");
    }
}

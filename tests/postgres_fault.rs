//! Four worker processes on one PostgreSQL outbox deliver 10 000 events to a loopback receiver
//! that fails 30 % of requests (500, 429 with `Retry-After`, stalls past the attempt timeout,
//! connections reset before handling, and connections reset *after* handling, so that the
//! sender never hears of a success). One worker is killed with SIGKILL mid-run. Every event is
//! delivered and handled once; a repeat arrives only where a fault hid a success or the kill
//! cut an attempt short, always under the event's own `webhook-id`, and the receiver's shared
//! PostgreSQL replay guard drops it.
//!
//! The workers are this test binary run again as child processes (`fault_worker_process`,
//! which does nothing unless the parent set its environment). Needs
//! `HOOKWIRE_TEST_POSTGRES_URL`.
#![cfg(all(feature = "postgres", feature = "hyper", unix))]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use common::services::{POSTGRES_URL, drop_schema, postgres, unique_name};
use hookwire::adapters::hyper::HyperClient;
use hookwire::adapters::server::{run_once, verify_request};
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, Outbox, Payload, PostgresOutbox, State, Worker,
};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::sqlx;
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{PostgresReplayGuard, Secret, StandardWebhooks};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const EVENTS: usize = 10_000;
const WORKERS: usize = 4;
const CHILD: &str = "HOOKWIRE_FAULT_CHILD";
/// The workers' attempt timeout.
const ATTEMPT: Duration = Duration::from_millis(250);

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Every verified request's id, repeats included.
    verified: Vec<String>,
    /// Each handled id, in order: a repeat here is a message handled twice.
    handled: Vec<String>,
    /// Verified requests for ids already handled: the repeats the guard must drop.
    repeats: Vec<String>,
    /// Ids handled whose answer was then cut off.
    hidden_successes: HashSet<String>,

    done: HashSet<String>,
}

#[derive(Clone)]
struct Receiver {
    verifier: Arc<StandardWebhooks>,
    guard: Arc<PostgresReplayGuard>,
    seen: Arc<Mutex<Seen>>,
    requests: Arc<AtomicUsize>,
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
}

async fn receive(
    receiver: Receiver,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, &'static str> {
    let n = receiver.requests.fetch_add(1, Ordering::SeqCst) as u64;
    // A fixed pseudo-random sequence: 30 % failures of five kinds.
    match n.wrapping_mul(2_654_435_761) % 100 {
        0..=9 => Ok(status(500)),
        10..=16 => {
            let mut response = status(429);
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            Ok(response)
        }
        17..=21 => {
            tokio::time::sleep(Duration::from_millis(600)).await;
            Ok(status(503))
        }
        22..=26 => Err("reset before handling"),
        roll => {
            let now = SystemTime::now();
            let webhook = match verify_request(&*receiver.verifier, request, 1 << 20, now).await {
                Ok(webhook) => webhook,
                Err(rejection) => return Ok(rejection.to_response().map(Full::new)),
            };
            let id = webhook.verified().id().unwrap_or_default().to_owned();
            {
                let mut seen = receiver.seen.lock().unwrap();
                seen.verified.push(id.clone());
                if seen.done.contains(&id) {
                    seen.repeats.push(id.clone());
                }
            }
            // Handled in a task of its own, as a receiver should: a sender that goes away
            // mid-request (the killed worker) cancels the request, never the handling and its
            // commit.
            let (seen, guard, handled_id) =
                (receiver.seen.clone(), receiver.guard.clone(), id.clone());
            let response = tokio::spawn(async move {
                run_once(&*guard, &webhook, now, || async move {
                    let mut seen = seen.lock().unwrap();
                    seen.handled.push(handled_id.clone());
                    seen.done.insert(handled_id);
                    Ok::<_, &'static str>(status(204))
                })
                .await
            })
            .await
            .map_err(|_| "the handling task failed")??;
            if (27..=29).contains(&roll) && response.status() == StatusCode::NO_CONTENT {
                receiver.seen.lock().unwrap().hidden_successes.insert(id);
                return Err("reset after handling");
            }
            Ok(response)
        }
    }
}

async fn start_receiver(receiver: Receiver) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let receiver = receiver.clone();
            tokio::spawn(async move {
                // An error from the service resets the connection: the sender sees no answer.
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    receive(receiver.clone(), request)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// The worker processes; killed when dropped, so that a failing test leaves none behind.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_deliver_every_event_once_through_faults_and_a_sigkill() {
    let Some(pool) = postgres("four_worker_processes_deliver_every_event_once").await else {
        return;
    };
    let schema = unique_name("hw_fault");
    let outbox = PostgresOutbox::new(pool.clone()).schema(&schema).unwrap();
    outbox.migrate().await.unwrap();
    // A claim lasts a little longer than handling can take: a claim left by a receiver that
    // died lapses within the senders' schedule.
    let guard = PostgresReplayGuard::new(pool.clone(), Duration::from_secs(3600))
        .schema(&schema)
        .unwrap()
        .lease(Duration::from_secs(2));

    let secret = Secret::generate();
    let receiver = Receiver {
        verifier: Arc::new(StandardWebhooks::new(&secret).unwrap()),
        guard: Arc::new(guard),
        seen: Arc::default(),
        requests: Arc::default(),
    };
    let address = start_receiver(receiver.clone()).await;

    let mut transaction = pool.begin().await.unwrap();
    for n in 0..EVENTS {
        let payload = Payload::json(
            format!("evt_{n:05}"),
            "transfer.settled",
            format!(r#"{{"n":{n}}}"#),
        );
        outbox
            .enqueue_in(
                &mut *transaction,
                &Job::new("customer-1", payload),
                SystemTime::now(),
            )
            .await
            .unwrap();
    }
    transaction.commit().await.unwrap();

    let exe = std::env::current_exe().unwrap();
    let mut workers = Workers(
        (0..WORKERS)
            .map(|_| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        "fault_worker_process",
                        "--ignored",
                        "--nocapture",
                    ])
                    .env(CHILD, "1")
                    .env("HOOKWIRE_FAULT_SCHEMA", &schema)
                    .env("HOOKWIRE_FAULT_URL", format!("http://{address}/hooks"))
                    .env("HOOKWIRE_FAULT_SECRET", hex::encode(secret.expose_bytes()))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );

    // Mid-run, one worker dies without a chance to clean up.
    let deadline = Instant::now() + Duration::from_secs(300);
    while receiver.seen.lock().unwrap().done.len() < EVENTS * 3 / 10 {
        assert!(Instant::now() < deadline, "the workers made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.0[0].kill().unwrap();
    workers.0[0].wait().unwrap();
    // Every job leased and unfinished now: the killed worker's attempts in flight among them.
    let in_flight: HashSet<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM \"{schema}\".hookwire_outbox
         WHERE state = 'pending' AND lease_until > now()"
    ))
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let done_at_kill = receiver.seen.lock().unwrap().done.len();

    loop {
        let delivered = outbox.count(Some(State::Delivered)).await.unwrap();
        if delivered == EVENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {EVENTS} delivered before the deadline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(workers);

    let dead = outbox.count(Some(State::DeadLettered)).await.unwrap();
    // The jobs with an attempt the sender got no answer to (a reset, a timeout): where a
    // success can hide.
    let unanswered: HashSet<String> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT id FROM \"{schema}\".hookwire_attempts WHERE status IS NULL"
    ))
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    drop_schema(&pool, &schema).await;
    let seen = receiver.seen.lock().unwrap();
    let handled: HashSet<&String> = seen.handled.iter().collect();
    assert_eq!(handled.len(), EVENTS, "every event handled");
    assert_eq!(
        seen.handled.len(),
        EVENTS,
        "each exactly once: the shared guard dropped every repeat"
    );
    assert_eq!(dead, 0, "none lost");
    assert!(done_at_kill < EVENTS, "the kill came mid-run");
    assert!(!in_flight.is_empty(), "jobs were in flight at the kill");

    // Repeats: every hidden success was delivered again; any repeat follows an attempt the
    // sender got no answer to (a reset, or a timeout while the receiver handled it), or one
    // the kill cut short. All of them carried the event's own id.
    let repeats: HashMap<&String, usize> = seen.repeats.iter().fold(HashMap::new(), |mut m, id| {
        *m.entry(id).or_default() += 1;
        m
    });
    assert!(
        !seen.hidden_successes.is_empty(),
        "the faults hid some successes from the sender"
    );
    for id in &seen.hidden_successes {
        assert!(
            repeats.contains_key(id),
            "{id}: a hidden success is delivered again"
        );
    }
    let unexplained: Vec<&&String> = repeats
        .keys()
        .filter(|id| !unanswered.contains(**id) && !in_flight.contains(**id))
        .collect();
    assert!(
        unexplained.is_empty(),
        "repeats after neither an unanswered attempt nor the kill: {unexplained:?}"
    );
    let known: HashSet<String> = (0..EVENTS).map(|n| format!("evt_{n:05}")).collect();
    assert!(
        seen.verified.iter().all(|id| known.contains(id)),
        "every request carried its event's id"
    );
    eprintln!(
        "{} requests, {} verified, {} repeats ({} hidden successes, {} jobs with an unanswered attempt, {} in flight at the kill)",
        receiver.requests.load(Ordering::SeqCst),
        seen.verified.len(),
        seen.repeats.len(),
        seen.hidden_successes.len(),
        unanswered.len(),
        in_flight.len()
    );
}

/// One worker process of the fault test; does nothing unless run by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the fault test"]
async fn fault_worker_process() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    // The parent holds our stdin: when it goes, so do we.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let var = |name: &str| std::env::var(name).unwrap();
    let pool = hookwire::sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&var(POSTGRES_URL))
        .await
        .unwrap();
    let outbox = Arc::new(
        PostgresOutbox::new(pool)
            .schema(&var("HOOKWIRE_FAULT_SCHEMA"))
            .unwrap(),
    );
    let secret = Secret::from_bytes(hex::decode(var("HOOKWIRE_FAULT_SECRET")).unwrap()).unwrap();
    let destination = Destination::new(&var("HOOKWIRE_FAULT_URL"), &secret).unwrap();
    let policy = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock)
        .unwrap()
        .retry(
            RetryPolicy::for_deliveries()
                .backoff(Backoff::exponential(
                    Duration::from_millis(20),
                    Duration::from_millis(500),
                    60,
                ))
                .retry_after_cap(Duration::from_millis(100)),
        )
        .attempt_timeout(ATTEMPT);
    Worker::new(outbox, Arc::new(dispatcher), move |_: &str| {
        Some(destination.clone())
    })
    .concurrency(16)
    // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
    .per_endpoint(u32::try_from(16).unwrap_or(u32::MAX))
    .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1))
    .lease_for(Duration::from_secs(2))
    .run(std::future::pending())
    .await
    .unwrap();
}

//! The worker starts a job when it is enqueued or falls due, not at its next poll: over real
//! loopback connections, with the poll interval set to a minute so that polling cannot be what
//! delivers, and with the store's calls counted so that spinning would show.
#![cfg(all(feature = "hyper", feature = "sqlite"))]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use common::stores::Watched;
use hookwire::adapters::hyper::HyperClient;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Job, MemoryOutbox, Outbox, OutboxError, Payload, SqliteOutbox, State,
    Worker,
};
use hookwire::http::{Request, Response};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::Secret;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Far longer than any bound these tests assert: a delivery within the bound was not polled.
const SAFETY_NET: Duration = Duration::from_secs(60);

/// A receiver on loopback that answers 204 and reports each request's arrival.
async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<(String, Instant)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (arrived, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let id = request
                        .headers()
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let _ = arrived.send((id, Instant::now()));
                    async {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(204)
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, arrivals)
}

/// Starts a worker on `outbox` that delivers to `address` and polls only every minute.
fn start<O: Outbox + 'static>(
    outbox: Arc<O>,
    address: SocketAddr,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), OutboxError>>,
) {
    let policy = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock).unwrap();
    let destination = Destination::new(
        &format!("http://{address}/hooks"),
        &Secret::from_bytes([7; 32]).unwrap(),
    )
    .unwrap();
    let worker = Worker::new(outbox, Arc::new(dispatcher), move |_: &str| {
        Some(destination.clone())
    })
    .poll_interval(SAFETY_NET);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    (stop, running)
}

fn job(n: usize) -> Job {
    Job::new("ep", Payload::json(format!("msg_{n}"), "t", &b"{}"[..]))
}

/// Enqueues 20 jobs one at a time into an idle worker and returns each one's time from
/// `enqueue` to arrival.
async fn enqueue_into_idle_worker<O: Outbox + 'static>(outbox: Arc<Watched<O>>) -> Vec<Duration> {
    let (address, mut arrivals) = receiver().await;
    let (stop, running) = start(outbox.clone(), address);
    let mut latencies = Vec::new();
    for n in 0..20 {
        // Idle: the worker has asked, found nothing and gone to sleep.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let before = outbox.questions();
        let enqueued = Instant::now();
        outbox.enqueue(job(n), SystemTime::now()).await.unwrap();
        let (id, arrived) = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
            .await
            .expect("the job arrives long before the safety net polls")
            .unwrap();
        assert_eq!(id, format!("msg_{n}"));
        latencies.push(arrived - enqueued);
        assert!(
            outbox.questions().0 - before.0 <= 3,
            "one wake-up, a few leases: {before:?} -> {:?}",
            outbox.questions()
        );
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    latencies
}

fn assert_prompt(store: &str, latencies: &[Duration]) {
    let worst = latencies.iter().max().unwrap();
    // A minute-long poll cannot deliver within a quarter of a second; a wake-up does, on a
    // loaded 2-core machine, with room to spare (a typical attempt here takes about 1 ms).
    assert!(
        *worst < Duration::from_millis(250),
        "{store}: an idle worker took {worst:?} to attempt an enqueued job; all: {latencies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_into_an_idle_memory_worker_is_attempted_at_once_not_at_the_next_poll() {
    let latencies = enqueue_into_idle_worker(Arc::new(Watched::new(MemoryOutbox::new()))).await;
    assert_prompt("memory", &latencies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_into_an_idle_sqlite_worker_is_attempted_at_once_not_at_the_next_poll() {
    let dir = std::env::temp_dir().join(format!(
        "hookwire-wakeup-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let outbox = SqliteOutbox::open(dir.join("outbox.db")).await.unwrap();
    let latencies = enqueue_into_idle_worker(Arc::new(Watched::new(outbox))).await;
    assert_prompt("sqlite", &latencies);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_due_later_is_attempted_when_due_and_the_worker_asks_only_a_few_times_meanwhile() {
    let outbox = Arc::new(Watched::new(MemoryOutbox::new()));
    let (address, mut arrivals) = receiver().await;
    let (stop, running) = start(outbox.clone(), address);
    tokio::time::sleep(Duration::from_millis(30)).await;

    let delay = Duration::from_millis(600);
    let enqueued = Instant::now();
    outbox
        .enqueue(job(1), SystemTime::now() + delay)
        .await
        .unwrap();
    // Halfway to the due time, the worker has asked a handful of times: it is asleep, not
    // polling. A poll every 10 ms would have asked 30 times by now.
    tokio::time::sleep(delay / 2).await;
    let (leases, next_dues) = outbox.questions();
    assert!(
        leases <= 3 && next_dues <= 3,
        "the worker spun while waiting: {leases} leases, {next_dues} next_due calls"
    );
    assert!(
        arrivals.try_recv().is_err(),
        "nothing is sent before it is due"
    );

    let (id, arrived) = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
        .await
        .expect("the job arrives when due, long before the safety net polls")
        .unwrap();
    assert_eq!(id, "msg_1");
    let after = arrived - enqueued;
    assert!(
        after >= delay - Duration::from_millis(2) && after < delay + Duration::from_millis(250),
        "attempted {after:?} after enqueue; due after {delay:?}"
    );
    let (leases, next_dues) = outbox.questions();
    assert!(
        leases <= 5 && next_dues <= 5,
        "from start to delivery the worker asked {leases} times for work and {next_dues} times when it is due"
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(outbox.count(Some(State::Delivered)).await.unwrap(), 1);
}

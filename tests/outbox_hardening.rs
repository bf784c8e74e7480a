//! The outbox and worker under an unlucky operator: two processes on one SQLite file, a store
//! that fails for a while, a lease shorter than an attempt, and what "acknowledged" means.
#![cfg(all(feature = "sqlite", feature = "test-util"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::stores::flaky;
use hookwire::clock::{Clock, TokioClock};
use hookwire::deliver::{
    Destination, Dispatcher, Durability, Job, ListQuery, MemoryOutbox, Outbox, OutboxError,
    Payload, SqliteOutbox, State, Worker,
};
use hookwire::testing::{MockClient, MockResponse};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::Secret;

fn job(n: usize) -> Job {
    Job::new(
        "customer-1",
        Payload::json(format!("msg_{n}"), "t", &b"{}"[..]),
    )
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hookwire-{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("outbox.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_outboxes_on_one_file_lease_without_lock_errors() {
    let path = temp_file("two-outboxes");
    let first = SqliteOutbox::open(&path).await.unwrap();
    let second = SqliteOutbox::open(&path).await.unwrap();
    for n in 0..400 {
        first.enqueue(job(n), SystemTime::now()).await.unwrap();
    }
    let lease_all = |outbox: SqliteOutbox| {
        tokio::spawn(async move {
            let (mut leased, mut errors) = (Vec::new(), Vec::new());
            for _ in 0..100 {
                match outbox
                    .lease(SystemTime::now(), 4, Duration::from_secs(600))
                    .await
                {
                    Ok(batch) => leased.extend(batch.into_iter().map(|l| l.job.payload.id)),
                    Err(error) => errors.push(error.to_string()),
                }
            }
            (leased, errors)
        })
    };
    let (a, b) = (lease_all(first), lease_all(second));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(
        a.1.is_empty() && b.1.is_empty(),
        "lease errors: {:?} {:?}",
        a.1,
        b.1
    );
    let mut all: Vec<String> = a.0.into_iter().chain(b.0).collect();
    assert_eq!(all.len(), 400, "every job leased");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400, "no job leased twice");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn acknowledged_means_durable_unless_asked_otherwise() {
    let path = temp_file("durability");
    let full = SqliteOutbox::open(&path).await.unwrap();
    assert_eq!(full.synchronous().await.unwrap(), 2, "FULL");
    let normal = SqliteOutbox::open_with(&path, Durability::Normal)
        .await
        .unwrap();
    assert_eq!(normal.synchronous().await.unwrap(), 1, "NORMAL");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

fn dispatcher(mock: &MockClient) -> Dispatcher<MockClient> {
    Dispatcher::new(mock.clone().guarded(AddressPolicy::new()), TokioClock)
        .unwrap()
        .attempt_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn a_worker_rides_out_a_failing_store_and_delivers_everything() {
    let outbox = Arc::new(flaky(3));
    for n in 0..5 {
        outbox.enqueue(job(n), SystemTime::now()).await.unwrap();
    }
    let mut mock = MockClient::new();
    for _ in 0..5 {
        mock = mock.push(MockResponse::status(204));
    }
    let destination =
        Destination::new("https://hooks.customer.example/in", &Secret::generate()).unwrap();
    let worker = Worker::new(
        outbox.clone(),
        Arc::new(dispatcher(&mock)),
        move |_: &str| Some(destination.clone()),
    )
    .poll_interval(Duration::from_millis(5));
    common::running::until_delivered(&*outbox, 5, Duration::from_secs(10), |stop| {
        worker.run(stop)
    })
    .await;
    assert_eq!(outbox.failures_left(), 0, "the failures happened");
    assert_eq!(mock.requests().len(), 5);
}

#[tokio::test]
async fn a_lease_that_does_not_outlast_an_attempt_is_refused_before_anything_runs() {
    let outbox = Arc::new(MemoryOutbox::new());
    outbox.enqueue(job(0), SystemTime::now()).await.unwrap();
    let mock = MockClient::new().push(MockResponse::status(204));
    let worker = Worker::new(outbox.clone(), Arc::new(dispatcher(&mock)), |_: &str| None)
        .lease_for(Duration::from_secs(2));
    let error = worker.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(error, OutboxError::LeaseTooShort { .. }),
        "{error}"
    );
    assert!(mock.requests().is_empty());
    assert_eq!(outbox.count(Some(State::Pending)).await.unwrap(), 1);
}

#[tokio::test]
async fn a_worker_purges_jobs_past_their_retention() {
    let outbox = Arc::new(MemoryOutbox::new());
    let day = Duration::from_secs(24 * 60 * 60);
    let now = SystemTime::now();
    for (n, finished) in [(0, now - day * 40), (1, now - day * 2)] {
        outbox.enqueue(job(n), now).await.unwrap();
        let lease = outbox
            .lease(now, 1, Duration::from_secs(60))
            .await
            .unwrap()
            .remove(0);
        outbox
            .finish(&lease, State::Delivered, finished)
            .await
            .unwrap();
    }
    let mock = MockClient::new();
    let worker = Worker::new(outbox.clone(), Arc::new(dispatcher(&mock)), |_: &str| None)
        .retention(day * 30)
        .poll_interval(Duration::from_millis(5));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while outbox.count(None).await.unwrap() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "nothing was purged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    let kept = outbox.list(&ListQuery::new()).await.unwrap();
    assert_eq!(kept[0].job.payload.id, "msg_1", "the recent job is kept");
}

#[tokio::test]
async fn a_worker_runs_the_whole_28_hour_schedule_on_a_fake_clock_and_dead_letters_on_time() {
    use hookwire::deliver::{ListQuery, MemoryOutbox};
    use hookwire::testing::FakeClock;

    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = FakeClock::at(start);
    let outbox = Arc::new(MemoryOutbox::new());
    outbox.enqueue(job(0), clock.now()).await.unwrap();
    let mut mock = MockClient::new().guarded(AddressPolicy::new());
    for _ in 0..8 {
        mock = mock.push(MockResponse::status(503));
    }
    let dispatcher = Dispatcher::new(mock.clone(), clock.clone())
        .unwrap()
        .attempt_timeout(Duration::from_secs(2));
    let destination =
        Destination::new("https://hooks.customer.example/in", &Secret::generate()).unwrap();
    let worker = Worker::new(outbox.clone(), Arc::new(dispatcher), move |_: &str| {
        Some(destination.clone())
    })
    .poll_interval(Duration::from_secs(60));
    let watched = outbox.clone();
    let finished = async move {
        while watched.count(Some(State::DeadLettered)).await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    worker.run(finished).await.unwrap();

    let entries = outbox.list(&ListQuery::new()).await.unwrap();
    let [entry] = entries.as_slice() else {
        panic!("one job: {entries:?}")
    };
    assert_eq!(entry.state, State::DeadLettered);
    assert_eq!(
        mock.requests().len(),
        8,
        "every attempt of the schedule was made"
    );
    // The attempts follow the schedule in virtual time: each gap at least its delay less the
    // 20 % jitter, at most that plus the jitter and two poll intervals (the worker polls: one
    // interval may pass while the attempt is recorded, another before the job is due).
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let delays = [
        Duration::from_secs(5),
        minutes(5),
        minutes(30),
        minutes(120),
        minutes(300),
        minutes(600),
        minutes(600),
    ];
    let times: Vec<SystemTime> = entry.attempts.iter().map(|attempt| attempt.at).collect();
    assert_eq!(times.len(), 8);
    for (pair, delay) in times.windows(2).zip(delays) {
        let gap = pair[1].duration_since(pair[0]).unwrap();
        assert!(gap >= delay.mul_f64(0.8), "{gap:?} < {delay:?}");
        assert!(
            gap <= delay.mul_f64(1.2) + Duration::from_secs(121),
            "{gap:?} > {delay:?}"
        );
    }
    let elapsed = entry.finished_at.unwrap().duration_since(start).unwrap();
    assert!(elapsed >= Duration::from_secs(22 * 3600), "{elapsed:?}");
    assert!(elapsed <= Duration::from_secs(34 * 3600), "{elapsed:?}");
    assert!(clock.now() >= entry.finished_at.unwrap());
}

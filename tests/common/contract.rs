//! The contract every [`Outbox`] keeps, run against each store.

use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt;
use hookwire::deliver::{
    Attempt, Entry, Job, Lease, ListQuery, Next, Outbox, OutboxError, Payload, Sequence, State,
};
use hookwire::http::StatusCode;

fn job(endpoint: &str, id: &str) -> Job {
    Job::new(endpoint, Payload::json(id, "t", &b"{}"[..]))
}

fn attempt(status: u16) -> Attempt {
    Attempt::new(
        SystemTime::now(),
        StatusCode::from_u16(status).ok(),
        None,
        Duration::from_millis(3),
        Bytes::from_static(b"ok"),
    )
}

/// Whether `outbox`'s wake-up fired while `write` ran.
async fn wakes<T>(outbox: &dyn Outbox, write: impl Future<Output = T>) -> (T, bool) {
    let woken = outbox
        .wakeup()
        .expect("the shipped stores wake their workers")
        .listen();
    let value = write.await;
    (value, woken.now_or_never().is_some())
}

/// Waits until `outbox`'s wake-ups have been quiet for a while: a store whose wake-ups come
/// from another connection (PostgreSQL's `NOTIFY`) may deliver them a moment after the write.
async fn quiet(outbox: &dyn Outbox) {
    let wakeup = outbox
        .wakeup()
        .expect("the shipped stores wake their workers");
    for _ in 0..20 {
        let woken = wakeup.listen();
        if tokio::time::timeout(Duration::from_millis(150), woken)
            .await
            .is_err()
        {
            return;
        }
    }
    panic!("the store's wake-ups never went quiet");
}

/// The contract every outbox keeps.
pub async fn outbox_contract(outbox: &dyn Outbox) {
    // Whole seconds: every store keeps at least millisecond precision.
    let t0 = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let lease_for = Duration::from_secs(30);
    assert_eq!(outbox.next_due().await.unwrap(), None, "nothing is pending");
    let (enqueued, woken) = wakes(outbox, outbox.enqueue(job("ep1", "a"), t0)).await;
    enqueued.unwrap();
    assert!(woken, "an enqueue wakes the workers");
    outbox.enqueue(job("ep1", "a"), t0).await.unwrap(); // idempotent
    outbox
        .enqueue(job("ep1", "b"), t0 + Duration::from_secs(60))
        .await
        .unwrap();
    outbox.enqueue(job("ep2", "a"), t0).await.unwrap(); // same id, other endpoint
    assert_eq!(
        outbox.next_due().await.unwrap(),
        Some(t0),
        "the earliest due time"
    );
    assert_eq!(
        outbox.oldest_pending().await.unwrap(),
        Some(t0),
        "the backlog is as old as its first due job"
    );

    quiet(outbox).await;
    let (leased, woken) = wakes(outbox, outbox.lease(t0, 10, lease_for)).await;
    let leased = leased.unwrap();
    assert!(!woken, "a lease wakes nobody, or workers would spin");
    assert_eq!(leased.len(), 2, "only due jobs, once each");
    assert!(
        leased.iter().all(|l| l.enqueued_at == Some(t0)),
        "a lease says when its job was first due: {leased:?}"
    );
    assert!(
        outbox.lease(t0, 10, lease_for).await.unwrap().is_empty(),
        "leased jobs are not leased again"
    );
    assert_eq!(
        outbox.next_due().await.unwrap(),
        Some(t0 + lease_for),
        "with both due jobs leased, the next is a lease running out (before ep1/b at 60 s)"
    );

    let first = leased
        .iter()
        .find(|l| l.job.endpoint == "ep1")
        .unwrap()
        .clone();
    assert_eq!(first.attempts, 0);
    outbox.record(&first, &attempt(500)).await.unwrap();
    let (rescheduled, woken) = wakes(
        outbox,
        outbox.reschedule(&first, t0 + Duration::from_secs(5)),
    )
    .await;
    rescheduled.unwrap();
    assert!(woken, "a job released for a new time wakes the workers");
    assert_eq!(
        outbox.next_due().await.unwrap(),
        Some(t0 + Duration::from_secs(5)),
        "the rescheduled job is next"
    );

    // An expired lease is granted again; the stale holder is fenced off.
    let second = leased
        .iter()
        .find(|l| l.job.endpoint == "ep2")
        .unwrap()
        .clone();
    let regranted = outbox.lease(t0 + lease_for, 10, lease_for).await.unwrap();
    assert!(regranted.iter().any(|l| l.job.endpoint == "ep2"));
    assert!(matches!(
        outbox
            .finish(&second, State::Delivered, SystemTime::now())
            .await,
        Err(OutboxError::LeaseLost)
    ));
    let fresh = regranted.iter().find(|l| l.job.endpoint == "ep2").unwrap();
    outbox
        .finish(fresh, State::Delivered, SystemTime::now())
        .await
        .unwrap();

    let later = outbox
        .lease(t0 + Duration::from_secs(61), 10, lease_for)
        .await
        .unwrap();
    let again = later.iter().find(|l| l.job.payload.id == "a").unwrap();
    assert_eq!(again.attempts, 1);
    outbox.record(again, &attempt(500)).await.unwrap();
    outbox
        .finish(again, State::DeadLettered, SystemTime::now())
        .await
        .unwrap();

    let dead = outbox
        .list(&ListQuery::new().state(State::DeadLettered))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts.len(), 2);
    assert_eq!(
        dead[0].attempts[0].status,
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(outbox.count(Some(State::Delivered)).await.unwrap(), 1);
    assert_eq!(outbox.count(None).await.unwrap(), 3);

    let (redriven, woken) = wakes(outbox, outbox.redrive("ep1", "a", t0)).await;
    assert!(redriven.unwrap());
    assert!(woken, "a redrive wakes the workers");
    assert!(!outbox.redrive("ep1", "missing", t0).await.unwrap());
    let redriven = outbox
        .lease(t0 + Duration::from_secs(62), 10, lease_for)
        .await
        .unwrap();
    let redriven = redriven.iter().find(|l| l.job.payload.id == "a").unwrap();
    assert_eq!(redriven.attempts, 0, "a redrive starts the schedule over");

    settle_contract(outbox, t0).await;
}

/// `settle` records an attempt with what follows it, fenced like every other write: a stale
/// lease writes nothing, not even the attempt.
async fn settle_contract(outbox: &dyn Outbox, t0: SystemTime) {
    let lease_for = Duration::from_secs(30);
    let later = t0 + Duration::from_secs(3600);
    outbox.enqueue(job("ep3", "s"), later).await.unwrap();
    let first = outbox.lease(later, 10, lease_for).await.unwrap();
    let first = first
        .iter()
        .find(|l| l.job.endpoint == "ep3")
        .unwrap()
        .clone();
    let retry_at = later + Duration::from_secs(7);
    let (settled, woken) = wakes(
        outbox,
        outbox.settle(&first, &attempt(503), Next::RetryAt(retry_at), later),
    )
    .await;
    settled.unwrap();
    assert!(woken, "a job released for a new time wakes the workers");
    let entry = |entries: Vec<Entry>| {
        entries
            .into_iter()
            .find(|e| e.job.endpoint == "ep3")
            .unwrap()
    };
    let pending = entry(
        outbox
            .list(&ListQuery::new().state(State::Pending))
            .await
            .unwrap(),
    );
    assert_eq!(pending.attempts.len(), 1);
    assert_eq!(pending.next_at, Some(retry_at));
    assert!(
        outbox
            .lease(retry_at - Duration::from_secs(1), 10, lease_for)
            .await
            .unwrap()
            .iter()
            .all(|l| l.job.endpoint != "ep3"),
        "not due before its retry time"
    );

    let second = outbox.lease(retry_at, 10, lease_for).await.unwrap();
    let second = second
        .iter()
        .find(|l| l.job.endpoint == "ep3")
        .unwrap()
        .clone();
    assert_eq!(second.attempts, 1);
    assert!(matches!(
        outbox
            .settle(
                &first,
                &attempt(204),
                Next::Finish(State::Delivered),
                retry_at
            )
            .await,
        Err(OutboxError::LeaseLost)
    ));
    let finished_at = retry_at + Duration::from_secs(1);
    outbox
        .settle(
            &second,
            &attempt(204),
            Next::Finish(State::Delivered),
            finished_at,
        )
        .await
        .unwrap();
    let delivered = entry(
        outbox
            .list(&ListQuery::new().state(State::Delivered))
            .await
            .unwrap(),
    );
    assert_eq!(
        delivered
            .attempts
            .iter()
            .map(|a| a.status.map(|s| s.as_u16()))
            .collect::<Vec<_>>(),
        vec![Some(503), Some(204)],
        "the stale lease's attempt was not written"
    );
    assert_eq!(delivered.finished_at, Some(finished_at));
    assert!(
        matches!(
            outbox
                .settle(
                    &second,
                    &attempt(204),
                    Next::Finish(State::Delivered),
                    finished_at
                )
                .await,
            Err(OutboxError::LeaseLost)
        ),
        "a finished job takes no more attempts"
    );
}

/// Listing comes a page at a time in a stable order, and retention purges delivered and gone
/// jobs (with their attempts) past a cutoff, keeping dead-lettered and pending ones.
pub async fn paging_and_retention_contract(outbox: &dyn Outbox) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for n in 0..25 {
        outbox
            .enqueue(job(&format!("ep{}", n % 3), &format!("m{n:02}")), t0)
            .await
            .unwrap();
    }
    let leased = outbox
        .lease(t0, 100, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leased.len(), 25);
    for (n, lease) in leased.iter().enumerate() {
        outbox.record(lease, &attempt(500)).await.unwrap();
        let (state, at) = match n % 5 {
            0 | 1 => (State::Delivered, t0),
            2 => (State::Gone, t0 + Duration::from_secs(100)),
            3 => (State::DeadLettered, t0),
            _ => continue,
        };
        outbox.finish(lease, state, at).await.unwrap();
    }
    // Pages of 7 cover everything once, in (endpoint, id) order.
    let mut seen = Vec::new();
    let mut query = ListQuery::new().limit(7);
    loop {
        let page = outbox.list(&query).await.unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        query = query.after(last);
        seen.extend(
            page.iter()
                .map(|e| (e.job.endpoint.clone(), e.job.payload.id.clone())),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages are ordered and never repeat a job");
    assert_eq!(seen.len(), 25);
    let delivered = outbox
        .list(&ListQuery::new().state(State::Delivered).limit(100))
        .await
        .unwrap();
    assert_eq!(delivered.len(), 10);
    assert!(
        delivered
            .iter()
            .all(|e| e.finished_at == Some(t0) && e.next_at.is_none())
    );
    assert_eq!(outbox.count(Some(State::Pending)).await.unwrap(), 5);

    let purged = outbox.purge(t0 + Duration::from_secs(50)).await.unwrap();
    assert_eq!(purged, 10, "the delivered jobs finished before the cutoff");
    assert_eq!(outbox.count(Some(State::Delivered)).await.unwrap(), 0);
    assert_eq!(outbox.count(Some(State::Gone)).await.unwrap(), 5);
    assert_eq!(outbox.count(Some(State::DeadLettered)).await.unwrap(), 5);
    assert_eq!(outbox.count(Some(State::Pending)).await.unwrap(), 5);
    let purged = outbox.purge(t0 + Duration::from_secs(101)).await.unwrap();
    assert_eq!(purged, 5);
    assert_eq!(outbox.count(None).await.unwrap(), 10);
    // A purged job enqueued again is a new job, with no history.
    outbox.enqueue(job("ep0", "m00"), t0).await.unwrap();
    let again = outbox
        .list(&ListQuery::new().state(State::Pending).limit(100))
        .await
        .unwrap();
    let fresh = again.iter().find(|e| e.job.payload.id == "m00").unwrap();
    assert!(fresh.attempts.is_empty(), "the purged attempts are gone");
}

/// What the leased jobs are, as sorted "endpoint/id" names.
fn names(leases: &[Lease]) -> Vec<String> {
    let mut names: Vec<String> = leases
        .iter()
        .map(|l| format!("{}/{}", l.job.endpoint, l.job.payload.id))
        .collect();
    names.sort();
    names
}

fn sequenced(endpoint: &str, id: &str, key: &str, number: u64) -> Job {
    job(endpoint, id).in_sequence(Sequence::new(key, number))
}

/// A store that keeps sequences leases each key's jobs one after another, in the order of
/// their numbers, whatever order they were enqueued in, and whatever happens to each.
pub async fn sequence_contract(outbox: &dyn Outbox) {
    assert!(outbox.keeps_sequences());
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let lease_for = Duration::from_secs(30);
    let at = |s: u64| t0 + Duration::from_secs(s);
    // Enqueued out of order: 3 and 2 before 1.
    for job in [
        sequenced("src", "a3", "acct-a", 3),
        sequenced("src", "a2", "acct-a", 2),
        sequenced("src", "a1", "acct-a", 1),
        sequenced("src", "b1", "acct-b", 1),
        sequenced("other", "x1", "acct-a", 1), // the same key at another endpoint
        job("src", "plain"),
    ] {
        outbox.enqueue(job, t0).await.unwrap();
    }
    let first = outbox.lease(t0, 10, lease_for).await.unwrap();
    assert_eq!(
        names(&first),
        ["other/x1", "src/a1", "src/b1", "src/plain"],
        "each key's first job, and the job with no sequence; not a2 or a3"
    );
    let a1 = first.iter().find(|l| l.job.payload.id == "a1").unwrap();
    assert_eq!(a1.job.sequence, Some(Sequence::new("acct-a", 1)));
    let next = outbox.next_due().await.unwrap().unwrap();
    assert!(
        t0 < next && next <= at(30),
        "a2 and a3 are due but not in their turn: nothing is due now ({next:?})"
    );
    assert!(outbox.lease(t0, 10, lease_for).await.unwrap().is_empty());

    // a1 handled: a2's turn, not a3's.
    let (settled, woken) = wakes(
        outbox,
        outbox.settle(a1, &attempt(200), Next::Finish(State::Delivered), t0),
    )
    .await;
    settled.unwrap();
    assert!(woken, "finishing a1 wakes the workers for a2");
    let second = outbox.lease(t0, 10, lease_for).await.unwrap();
    assert_eq!(names(&second), ["src/a2"]);

    // a2 fails and is retried later: a3 waits, past a2's retry time too.
    outbox
        .settle(&second[0], &attempt(500), Next::RetryAt(at(5)), t0)
        .await
        .unwrap();
    assert_eq!(outbox.next_due().await.unwrap(), Some(at(5)));
    let retried = outbox.lease(at(10), 10, lease_for).await.unwrap();
    assert_eq!(names(&retried), ["src/a2"], "a3 waits while a2 is retried");
    // a2 is dead-lettered: a3 stays held back until a2 is redriven and handled.
    outbox
        .settle(
            &retried[0],
            &attempt(500),
            Next::Finish(State::DeadLettered),
            at(10),
        )
        .await
        .unwrap();
    assert!(
        outbox
            .lease(at(29), 10, lease_for)
            .await
            .unwrap()
            .is_empty(),
        "a dead-lettered job holds back the rest of its key"
    );
    assert!(outbox.redrive("src", "a2", at(29)).await.unwrap());
    let redriven = outbox.lease(at(29), 10, lease_for).await.unwrap();
    assert_eq!(names(&redriven), ["src/a2"]);
    // `finish` (not only `settle`) lets the next go.
    let (finished, woken) = wakes(
        outbox,
        outbox.finish(&redriven[0], State::Delivered, at(29)),
    )
    .await;
    finished.unwrap();
    assert!(woken, "finishing a2 wakes the workers for a3");
    assert_eq!(
        names(&outbox.lease(at(29), 10, lease_for).await.unwrap()),
        ["src/a3"]
    );

    // A number already passed is leased at once; a number further on waits for the gap.
    outbox
        .enqueue(sequenced("src", "a1-again", "acct-a", 1), at(29))
        .await
        .unwrap();
    outbox
        .enqueue(sequenced("src", "b3", "acct-b", 3), at(29))
        .await
        .unwrap();
    assert_eq!(
        names(&outbox.lease(at(29), 10, lease_for).await.unwrap()),
        ["src/a1-again"]
    );
    let held = outbox
        .list(&ListQuery::new().state(State::Pending))
        .await
        .unwrap();
    let b3 = held.iter().find(|e| e.job.payload.id == "b3").unwrap();
    assert_eq!(
        b3.job.sequence,
        Some(Sequence::new("acct-b", 3)),
        "listed with its sequence"
    );
    // b1's lease runs out and it is taken again; a gone job counts as finished.
    let b1 = outbox.lease(at(31), 10, lease_for).await.unwrap();
    let b1 = b1.iter().find(|l| l.job.payload.id == "b1").unwrap();
    outbox.finish(b1, State::Gone, at(31)).await.unwrap();
    outbox
        .enqueue(sequenced("src", "b2", "acct-b", 2), at(31))
        .await
        .unwrap();
    let b2 = outbox.lease(at(31), 10, lease_for).await.unwrap();
    assert_eq!(names(&b2), ["src/b2"], "b3 waits for b2");
    outbox
        .finish(&b2[0], State::Delivered, at(31))
        .await
        .unwrap();
    assert_eq!(
        names(&outbox.lease(at(31), 10, lease_for).await.unwrap()),
        ["src/b3"]
    );

    // A key whose numbering began before this consumer: it waits for number 1 until told
    // where it starts; a key under way keeps its place.
    outbox
        .enqueue(sequenced("src", "c8", "acct-c", 8), at(31))
        .await
        .unwrap();
    outbox
        .enqueue(sequenced("src", "c7", "acct-c", 7), at(31))
        .await
        .unwrap();
    assert!(
        outbox
            .lease(at(31), 10, lease_for)
            .await
            .unwrap()
            .is_empty()
    );
    let (started, woken) = wakes(outbox, outbox.start_sequence("src", "acct-c", 7, at(31))).await;
    started.unwrap();
    assert!(woken, "starting a key with jobs waiting wakes the workers");
    let c7 = outbox.lease(at(31), 10, lease_for).await.unwrap();
    assert_eq!(names(&c7), ["src/c7"], "c8 waits for c7");
    outbox
        .start_sequence("src", "acct-c", 1, at(31))
        .await
        .unwrap();
    outbox
        .finish(&c7[0], State::Delivered, at(31))
        .await
        .unwrap();
    assert_eq!(
        names(&outbox.lease(at(31), 10, lease_for).await.unwrap()),
        ["src/c8"],
        "a key under way keeps its place"
    );
}

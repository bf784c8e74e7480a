//! The worker that drains an outbox.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;

use super::dispatcher::{Destination, Dispatcher};
use super::health::{DisabledReason, EndpointDisabled, Gate, Health, Settings};
use super::outbox::{Lease, Next, Outbox, OutboxError, State};
use super::subscription::{Destinations, Lookup};
use super::wakeup::Wakeup;
use crate::clock::{Clock, within};
use crate::observe::AttemptOf;
use crate::retry::Verdict;
use crate::transport::HttpClient;

/// Drains an [`Outbox`]: leases due jobs, delivers them with a [`Dispatcher`] (at most
/// `concurrency` at once), records every attempt and reschedules, finishes or dead-letters.
///
/// It starts a job as soon as the job is enqueued or falls due: the store's [`Wakeup`] wakes it
/// when work comes in, and when nothing is due it sleeps until the store's
/// [`next_due`](Outbox::next_due), polling only as a safety net.
///
/// A store that fails (a locked or unreachable database) does not stop it: leasing backs off
/// (doubling from half a second up to 30 seconds) and goes on. It never runs one job twice
/// at once: a job it leases again while its attempt is still in flight (a clock jump, a lease
/// shorter than the attempt) is left alone, and the lease must outlast the dispatcher's attempt
/// timeout, which [`run`](Worker::run) checks.
///
/// It reads the time and waits on the dispatcher's [`Clock`](crate::clock::Clock), so that a
/// test with a [`FakeClock`](crate::testing::FakeClock) runs a whole retry schedule at once.
///
/// On shutdown it stops leasing and waits for the attempts in flight, up to a grace period;
/// any it abandons keep their lease until it expires, then another worker takes them, so
/// nothing is lost (a receiver may see such a message twice, which its dedupe absorbs).
pub struct Worker<O, C, D> {
    outbox: Arc<O>,
    dispatcher: Arc<Dispatcher<C>>,
    destinations: Arc<D>,
    health: Settings,
    on_disabled: Option<Notify>,
    concurrency: usize,
    lease_for: Duration,
    idle: Duration,
    grace: Duration,
    retention: Option<Duration>,
    payloads: Option<Duration>,
}

/// What a worker calls when it disables an endpoint.
type Notify = Arc<dyn Fn(EndpointDisabled) + Send + Sync>;

/// A job's turn to run in this process.
type Turn = Arc<tokio::sync::Mutex<()>>;

/// How often a worker purges delivered and gone jobs past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

/// The first wait after the store fails; it doubles with each failure, up to 30 seconds.
const FAILURE_BACKOFF: Duration = Duration::from_millis(500);

/// How often a worker counts its backlog for the metrics.
#[cfg(feature = "metrics")]
const COUNT_EVERY: Duration = Duration::from_secs(15);

/// Counts the pending jobs and the age of the oldest, for the metrics.
#[cfg(feature = "metrics")]
async fn count_backlog<O: Outbox + ?Sized>(outbox: &O, clock: &dyn Clock, queue: &'static str) {
    let pending = match outbox.count(Some(State::Pending)).await {
        Ok(pending) => pending,
        Err(error) => return crate::observe::store_failed("count", &error),
    };
    let oldest = match outbox.oldest_pending().await {
        Ok(oldest) => oldest,
        Err(error) => return crate::observe::store_failed("oldest_pending", &error),
    };
    let age = oldest.map(|at| clock.now().duration_since(at).unwrap_or(Duration::ZERO));
    crate::observe::backlog(queue, pending, age);
}

impl<O, C, D> Worker<O, C, D>
where
    O: Outbox + 'static,
    C: HttpClient + 'static,
    D: Fn(&str) -> Option<Destination> + Send + Sync + 'static,
{
    /// A worker for `outbox`, delivering with `dispatcher` to the destination `destinations`
    /// gives for each job's endpoint name (`None` dead-letters the job). What it learns of an
    /// endpoint's health (a 410, a `Retry-After`, a long failure) it keeps in memory; a
    /// worker [`with_destinations`](Worker::with_destinations) from a store of
    /// [`Subscriptions`](super::Subscriptions) keeps it there, for every worker.
    pub fn new(outbox: Arc<O>, dispatcher: Arc<Dispatcher<C>>, destinations: D) -> Self {
        Self::with_destinations(outbox, dispatcher, Arc::new(destinations))
    }
}

impl<O, C, D> Worker<O, C, D>
where
    O: Outbox + 'static,
    C: HttpClient + 'static,
    D: Destinations + 'static,
{
    /// A worker for `outbox`, delivering with `dispatcher` to the endpoints `destinations`
    /// finds: a store of [`Subscriptions`](super::Subscriptions) (the memory, SQLite and
    /// PostgreSQL outboxes), read again before each attempt, so that a new key, a new URL or a
    /// disable takes effect on the next one.
    ///
    /// ```no_run
    /// # async fn run(dispatcher: hookwire::deliver::Dispatcher<hookwire::testing::MockClient>) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use hookwire::deliver::{SqliteOutbox, Worker};
    ///
    /// let store = Arc::new(SqliteOutbox::open("webhooks.db").await?);
    /// let worker = Worker::with_destinations(store.clone(), Arc::new(dispatcher), store)
    ///     .on_disabled(|disabled| eprintln!("{} disabled: {:?}", disabled.endpoint, disabled.reason));
    /// worker.run(std::future::pending()).await?;
    /// # Ok(()) }
    /// ```
    pub fn with_destinations(
        outbox: Arc<O>,
        dispatcher: Arc<Dispatcher<C>>,
        destinations: Arc<D>,
    ) -> Self {
        Worker {
            outbox,
            dispatcher,
            destinations,
            health: Settings::default(),
            on_disabled: None,
            concurrency: 16,
            lease_for: Duration::from_secs(60),
            idle: Duration::from_secs(5),
            grace: Duration::from_secs(20),
            retention: Some(Duration::from_secs(30 * 24 * 60 * 60)),
            payloads: None,
        }
    }

    /// How long delivered and gone jobs (and their attempts) are kept after they finished:
    /// the worker purges older ones every hour. 30 days unless set; dead-lettered jobs are
    /// kept until redriven.
    #[must_use]
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = Some(keep);
        self
    }

    /// How long delivered and gone jobs keep their bodies, when that is shorter than the
    /// [`retention`](Worker::retention): the attempt log stays for the retention, the
    /// payloads (which may hold personal data) go sooner. Kept as long as the jobs unless set.
    #[must_use]
    pub fn keep_payloads(mut self, keep: Duration) -> Self {
        self.payloads = Some(keep);
        self
    }

    /// Keeps delivered and gone jobs forever (the store grows without bound).
    #[must_use]
    pub fn keep_forever(mut self) -> Self {
        self.retention = None;
        self
    }

    /// How many deliveries run at once; 16 unless set.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// At most `attempts` in flight to any one endpoint at once (unless its destination sets
    /// its own [`max_in_flight`](Destination::max_in_flight)); 4 unless set. A message over the
    /// cap waits a second without an attempt and without holding a slot, so that endpoints
    /// that hang cannot take every slot from the healthy ones.
    #[must_use]
    pub fn per_endpoint(mut self, attempts: u32) -> Self {
        self.health.per_endpoint = attempts.max(1);
        self
    }

    /// The circuit breaker: after `failures` failed attempts in a row (5 unless set), an
    /// endpoint gets no attempts for `first_probe` (30 s unless set), then one probe; while the
    /// probe fails, the wait doubles up to 10 minutes; when it succeeds, the endpoint's
    /// messages flow again. Messages held back wait without an attempt (their schedule does
    /// not advance).
    #[must_use]
    pub fn circuit_breaker(mut self, failures: u32, first_probe: Duration) -> Self {
        self.health.trip_after = failures.max(1);
        self.health.probe_after = first_probe;
        self.health.probe_max = self.health.probe_max.max(first_probe);
        self
    }

    /// Disables an endpoint whose every attempt has failed for `period` (5 days unless set,
    /// as is common practice), and calls [`on_disabled`](Worker::on_disabled).
    #[must_use]
    pub fn disable_after(mut self, period: Duration) -> Self {
        self.health.disable_after = period;
        self
    }

    /// Called when this worker disables an endpoint (a 410, or failing for
    /// [`disable_after`](Worker::disable_after)): forward it to the endpoint's owner.
    #[must_use]
    pub fn on_disabled(
        mut self,
        notify: impl Fn(EndpointDisabled) + Send + Sync + 'static,
    ) -> Self {
        self.on_disabled = Some(Arc::new(notify));
        self
    }

    /// How long a lease lasts: longer than an attempt can take. 60 s unless set.
    #[must_use]
    pub fn lease_for(mut self, lease_for: Duration) -> Self {
        self.lease_for = lease_for;
        self
    }

    /// The longest the worker sleeps when nothing is due: a safety net. 5 s unless set.
    ///
    /// It wakes sooner on its own: when a job falls due (the store's
    /// [`next_due`](Outbox::next_due)) and when a job is enqueued, redriven or rescheduled
    /// through a store in this process (its [`Wakeup`]). The poll interval bounds how late it
    /// sees work that a store cannot signal: a job another process wrote into a shared SQLite
    /// file, or any job in a store with neither.
    #[must_use]
    pub fn poll_interval(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// How long shutdown waits for attempts in flight; 20 s unless set.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Runs until `shutdown` completes, then drains the attempts in flight within the grace
    /// period.
    ///
    /// # Errors
    ///
    /// [`OutboxError::LeaseTooShort`], before anything is leased, when the lease does not
    /// outlast the dispatcher's attempt timeout (plus a second for the bookkeeping).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), OutboxError> {
        let attempt = self.dispatcher.current_attempt_timeout();
        if self.lease_for <= attempt.saturating_add(Duration::from_secs(1)) {
            return Err(OutboxError::LeaseTooShort {
                lease: self.lease_for,
                attempt,
            });
        }
        let health = Arc::new(Health::new(
            self.dispatcher.clock_arc(),
            self.health.clone(),
        ));
        let lease_for = self.lease_for;
        let on_disabled = self.on_disabled.clone();
        let (outbox, dispatcher, destinations) = (
            self.outbox.clone(),
            self.dispatcher.clone(),
            self.destinations.clone(),
        );
        let settings = Drain {
            concurrency: self.concurrency,
            lease_for: self.lease_for,
            idle: self.idle,
            grace: self.grace,
            retention: self.retention,
            payloads: self.payloads,
            queue: "outbox",
            parked: Some(health.parked()),
        };
        drain(
            self.outbox,
            self.dispatcher.clock_arc(),
            &settings,
            shutdown,
            move |lease| {
                let (outbox, dispatcher, destinations) =
                    (outbox.clone(), dispatcher.clone(), destinations.clone());
                let (health, on_disabled) = (health.clone(), on_disabled.clone());
                async move {
                    let endpoints = Endpoints {
                        destinations: &*destinations,
                        lease_for,
                        health: &health,
                        on_disabled: on_disabled.as_deref(),
                    };
                    // A lost lease or a store failure leaves the job to its lease's expiry.
                    if let Err(error) = process(&*outbox, &dispatcher, &endpoints, lease).await {
                        crate::observe::store_failed("settle", &error);
                    }
                }
            },
        )
        .await;
        Ok(())
    }
}

/// How [`drain`] runs.
pub(crate) struct Drain {
    pub(crate) concurrency: usize,
    pub(crate) lease_for: Duration,
    pub(crate) idle: Duration,
    pub(crate) grace: Duration,
    pub(crate) retention: Option<Duration>,
    /// How long finished jobs keep their bodies, when shorter than the retention.
    pub(crate) payloads: Option<Duration>,
    /// What the queue is called in reports: `outbox` or `inbox`.
    #[cfg_attr(not(any(feature = "tracing", feature = "metrics")), allow(dead_code))]
    pub(crate) queue: &'static str,
    /// How many of the runs in flight wait for a place at their endpoint: they hold no slot.
    pub(crate) parked: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

/// The runs in flight that hold a slot: those not parked.
fn active(in_flight: &JoinSet<()>, settings: &Drain) -> usize {
    let parked = settings.parked.as_ref().map_or(0, |parked| {
        parked.load(std::sync::atomic::Ordering::Relaxed)
    });
    in_flight.len().saturating_sub(parked)
}

/// Drains `outbox` until `shutdown` completes: leases due jobs (at most `concurrency` at
/// once, never one twice at once), runs `process` on each in a task of its own, wakes on the
/// store's [`Wakeup`] or at the next due time, backs off when the store fails, purges past
/// the retention, and at shutdown waits for the work in flight within the grace period.
pub(crate) async fn drain<O, F, Fut>(
    outbox: Arc<O>,
    clock: Arc<dyn Clock>,
    settings: &Drain,
    shutdown: impl Future<Output = ()> + Send,
    process: F,
) where
    O: Outbox + ?Sized + 'static,
    F: Fn(Lease) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut shutdown = std::pin::pin!(shutdown);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    // One turn per job: a job leased again while its previous run here is still finishing
    // (its settle made it due again, or its lease ran out) waits for that run, then runs;
    // never two runs of one job at once.
    let running: Arc<Mutex<HashMap<(String, String), Turn>>> = Arc::default();
    let mut failures = 0u32;
    let clock = &*clock;
    let mut purged_at: Option<std::time::Instant> = None;
    #[cfg(feature = "metrics")]
    let mut counted_at: Option<std::time::Instant> = None;
    loop {
        if let Some(keep) = settings.retention {
            let now = clock.instant();
            if purged_at.is_none_or(|at| now.saturating_duration_since(at) >= PURGE_EVERY) {
                purged_at = Some(now);
                if let Some(cutoff) = clock.now().checked_sub(keep) {
                    // A failed purge is tried again at the next hour.
                    if let Err(error) = outbox.purge(cutoff).await {
                        crate::observe::store_failed("purge", &error);
                    }
                }
                let payloads = settings.payloads.filter(|payloads| *payloads < keep);
                if let Some(cutoff) =
                    payloads.and_then(|payloads| clock.now().checked_sub(payloads))
                {
                    if let Err(error) = outbox.purge_payloads(cutoff).await {
                        crate::observe::store_failed("purge_payloads", &error);
                    }
                }
            }
        }
        #[cfg(feature = "metrics")]
        {
            let now = clock.instant();
            if counted_at.is_none_or(|at| now.saturating_duration_since(at) >= COUNT_EVERY) {
                counted_at = Some(now);
                count_backlog(&*outbox, clock, settings.queue).await;
            }
        }
        // Listening starts before the store is asked, so that a job enqueued after the
        // question is never missed.
        let woken = outbox.wakeup().map(Wakeup::listen);
        // Every attempt that ended frees its slot, so that one lease fills them all.
        while in_flight.try_join_next().is_some() {}
        let room = settings
            .concurrency
            .saturating_sub(active(&in_flight, settings));
        let leased = if room > 0 {
            match outbox.lease(clock.now(), room, settings.lease_for).await {
                Ok(leased) => {
                    failures = 0;
                    leased
                }
                Err(error) => {
                    // A transient store failure: back off, keep what is in flight going.
                    crate::observe::store_failed("lease", &error);
                    failures = failures.saturating_add(1);
                    let wait = FAILURE_BACKOFF
                        .saturating_mul(2u32.saturating_pow(failures.min(16)))
                        .min(Duration::from_secs(30));
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = clock.sleep(wait) => continue,
                    }
                }
            }
        } else {
            Vec::new()
        };
        #[cfg(feature = "tracing")]
        if !leased.is_empty() {
            tracing::trace!(
                target: "hookwire::deliver",
                { queue = settings.queue, leased = leased.len(), in_flight = in_flight.len() },
                "leased"
            );
        }
        // A full batch may leave more due; a short one took everything due.
        let more = room > 0 && leased.len() == room;
        for lease in leased {
            let key = (lease.job.endpoint.clone(), lease.job.payload.id.clone());
            let turn = running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key.clone())
                .or_default()
                .clone();
            let (work, running) = (process(lease), running.clone());
            in_flight.spawn(async move {
                {
                    let _turn = turn.lock().await;
                    work.await;
                }
                let mut running = running.lock().unwrap_or_else(PoisonError::into_inner);
                // The map's and this run's: no other run of the job waits.
                if Arc::strong_count(&turn) == 2 {
                    running.remove(&key);
                }
            });
        }
        let room = active(&in_flight, settings) < settings.concurrency;
        if more && room {
            continue;
        }
        // With room for more, sleep until the next job falls due (the poll interval at
        // most, a safety net), or until the store says work came in; when full, until an
        // attempt ends.
        let wait = if room {
            let due = match outbox.next_due().await {
                Ok(Some(at)) => at.duration_since(clock.now()).unwrap_or(Duration::ZERO),
                Ok(None) => settings.idle,
                Err(error) => {
                    crate::observe::store_failed("next_due", &error);
                    settings.idle
                }
            };
            Some(due.min(settings.idle))
        } else {
            None
        };
        let woken = async {
            match woken {
                Some(woken) if room => woken.await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            () = clock.sleep(wait.unwrap_or(Duration::ZERO)), if wait.is_some() => {}
            () = woken => {}
        }
    }
    let drained = within(clock, settings.grace, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    let aborted = if drained.is_none() {
        let aborted = in_flight.len();
        in_flight.abort_all();
        aborted
    } else {
        0
    };
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "hookwire::deliver", { queue = settings.queue, aborted }, "drained");
    #[cfg(not(feature = "tracing"))]
    let _ = aborted;
}

/// What a worker knows of its endpoints.
struct Endpoints<'a, D: ?Sized> {
    destinations: &'a D,
    lease_for: Duration,
    health: &'a Arc<Health>,
    on_disabled: Option<&'a (dyn Fn(EndpointDisabled) + Send + Sync)>,
}

impl<D: Destinations + ?Sized> Endpoints<'_, D> {
    /// Disables `endpoint` for `reason`, and says so once.
    async fn disable(&self, endpoint: &str, reason: DisabledReason, now: std::time::SystemTime) {
        match self
            .destinations
            .disable_endpoint(endpoint, &reason.describe(), now)
            .await
        {
            Ok(true) => {
                crate::observe::endpoint_disabled(endpoint, &reason);
                if let Some(notify) = self.on_disabled {
                    notify(EndpointDisabled {
                        endpoint: endpoint.to_owned(),
                        reason,
                        at: now,
                    });
                }
            }
            Ok(false) => {}
            Err(error) => crate::observe::store_failed("disable", &error),
        }
    }

    /// Writes what an attempt taught about `endpoint`'s health.
    async fn learn(
        &self,
        endpoint: &str,
        effects: super::health::Effects,
        now: std::time::SystemTime,
    ) {
        if let Some(until) = effects.pause {
            crate::observe::endpoint_paused(
                endpoint,
                until.duration_since(now).unwrap_or_default(),
            );
            if let Err(error) = self.destinations.pause_endpoint(endpoint, until).await {
                crate::observe::store_failed("pause", &error);
            }
        }
        let mut disable = effects.disable;
        if let Some(failing) = effects.failing {
            match self
                .destinations
                .note_failing(endpoint, failing.then_some(now))
                .await
            {
                Ok(Some(since)) if failing && disable.is_none() => {
                    disable = self.health.failing_since(endpoint, since);
                }
                Ok(_) => {}
                Err(error) => crate::observe::store_failed("note_failing", &error),
            }
        }
        if let Some(reason) = disable {
            self.disable(endpoint, reason, now).await;
        }
    }
}

/// One attempt for one leased job, and its bookkeeping.
async fn process<O, C, D>(
    outbox: &O,
    dispatcher: &Dispatcher<C>,
    endpoints: &Endpoints<'_, D>,
    lease: Lease,
) -> Result<(), OutboxError>
where
    O: Outbox + ?Sized,
    C: HttpClient,
    D: Destinations + ?Sized,
{
    let lease = &lease;
    let (id, endpoint) = (&lease.job.payload.id, Some(lease.job.endpoint.as_str()));
    let now = || dispatcher.clock().now();
    let name = lease.job.endpoint.as_str();
    let dead = |outcome| async move {
        crate::observe::delivery_ended(id, endpoint, outcome, None);
        outbox.finish(lease, State::DeadLettered, now()).await
    };
    let destination = match endpoints.destinations.lookup(name, now()).await? {
        Lookup::Found(destination) => {
            if endpoints.destinations.keeps_status() {
                endpoints.health.enabled(name);
            }
            destination
        }
        Lookup::Paused(until) => return outbox.reschedule(lease, until).await,
        Lookup::Disabled => return dead("endpoint_disabled").await,
        Lookup::Unknown => return dead("unknown_endpoint").await,
    };
    // A message parked for a place at its endpoint gives up before its lease could run out.
    let parked_until = dispatcher.clock().instant().checked_add(
        endpoints
            .lease_for
            .saturating_sub(dispatcher.current_attempt_timeout())
            .saturating_sub(Duration::from_secs(1)),
    );
    let permit = loop {
        match endpoints.health.admit(name, &destination) {
            Gate::Go(permit) => break permit,
            Gate::Wait(at) => return outbox.reschedule(lease, at).await,
            Gate::Disabled => return dead("endpoint_disabled").await,
            Gate::Busy(parked) => {
                let left = parked_until
                    .map(|until| until.saturating_duration_since(dispatcher.clock().instant()))
                    .unwrap_or_default();
                if left.is_zero() {
                    return outbox.reschedule(lease, now()).await;
                }
                tokio::select! {
                    () = parked.wait() => {}
                    () = dispatcher.clock().sleep(left) => {}
                }
            }
        }
    };
    let of = AttemptOf {
        endpoint,
        number: Some(lease.attempts.saturating_add(1)),
    };
    let Ok((attempt, verdict)) = dispatcher
        .attempt_of(&destination, &lease.job.payload, of)
        .await
    else {
        // Nothing could be sent (a refused address, an unsignable id): no retry changes that.
        return dead("refused").await;
    };
    // A pause lasts as long as the policy honours a `Retry-After`, no longer.
    let cap = dispatcher.current_retry().current_retry_after_cap();
    let asked = match verdict {
        Verdict::Retry {
            at_least: Some(wait),
        } => Verdict::Retry {
            at_least: Some(wait.min(cap)),
        },
        verdict => verdict,
    };
    let effects = endpoints.health.settle(&permit, &attempt, asked);
    drop(permit);
    endpoints.learn(name, effects, now()).await;
    let next = match verdict {
        Verdict::Success => Next::Finish(State::Delivered),
        Verdict::Gone => Next::Finish(State::Gone),
        _ => {
            // The worker's jobs have no budget: see `Dispatcher::retry`.
            let wait = dispatcher.next_delay(lease.attempts + 1, verdict, Duration::ZERO);
            match wait.and_then(|wait| now().checked_add(wait).map(|at| (wait, at))) {
                Some((wait, at)) => {
                    crate::observe::retry_scheduled(id, endpoint, wait);
                    Next::RetryAt(at)
                }
                None => Next::Finish(State::DeadLettered),
            }
        }
    };
    let settled_at = now();
    outbox.settle(lease, &attempt, next, settled_at).await?;
    if let Next::Finish(state) = next {
        let outcome = match state {
            State::Delivered => "delivered",
            State::Gone => "gone",
            _ => "dead_lettered",
        };
        let lag = lease
            .enqueued_at
            .and_then(|at| settled_at.duration_since(at).ok());
        crate::observe::delivery_ended(id, endpoint, outcome, lag);
    }
    Ok(())
}

//! A durable queue of deliveries: enqueue, lease what is due, record, reschedule, finish, list,
//! redrive.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::dispatcher::Payload;
use super::outcome::Attempt;
use super::wakeup::Wakeup;

/// A message for an endpoint. Endpoints are named by the application (an id in its own
/// database); the worker looks up their URL and secrets when it delivers, so that no secret is
/// stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Job {
    /// The endpoint's name.
    pub endpoint: String,
    /// The message.
    pub payload: Payload,
    /// Its place in a per-key order, if it has one: see [`Sequence`].
    pub sequence: Option<Sequence>,
}

/// A job's place in the order of its key: jobs of one endpoint with the same key are leased
/// one after another, in the order of their numbers, whatever order they were enqueued in.
///
/// Numbers run 1, 2, 3, … per key, with no gaps: the job numbered `n` is leased only once the
/// job numbered `n - 1` has finished (delivered or gone), so a job that arrives early waits
/// for the ones before it, and a dead-lettered job holds back the rest of its key until it is
/// redriven and finishes. A job whose number is already passed (a second job with a number
/// that finished) is leased at once. Keys are independent of each other, and of the jobs with
/// no sequence.
///
/// Only stores whose [`Outbox::keeps_sequences`] says so honour sequences (the memory, SQLite
/// and PostgreSQL stores do). The database stores set a waiting job aside, look at it again
/// every few seconds, and make it due at once when the job before it finishes; so a key's
/// waiting jobs cost `lease` nothing, however many there are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Sequence {
    /// The key (an account, an order, a customer: whatever must stay in order).
    pub key: String,
    /// The job's number among the key's, from 1.
    pub number: u64,
}

/// How long a database store sets aside a job that must wait for an earlier one of its key
/// before `lease` looks at it again (finishing the earlier job makes it due at once).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) const HELD_RECHECK: Duration = Duration::from_secs(5);

impl Sequence {
    /// The `number`th job of `key`, counting from 1.
    pub fn new(key: impl Into<String>, number: u64) -> Self {
        Sequence {
            key: key.into(),
            number,
        }
    }
}

/// A job leased to one worker until its lease expires. The token fences off a worker whose
/// lease expired and was granted to another: its writes are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The job.
    pub job: Job,
    /// Attempts made before this lease, since the job was enqueued or last redriven: where the
    /// schedule stands.
    pub attempts: u32,
    /// The lease's fencing token.
    pub token: u64,
    /// When the job was first due (the time it was enqueued for), where the store knows it:
    /// how long it has waited.
    pub enqueued_at: Option<SystemTime>,
}

impl Job {
    /// A job that delivers `payload` to the endpoint named `endpoint`.
    pub fn new(endpoint: impl Into<String>, payload: Payload) -> Self {
        Job {
            endpoint: endpoint.into(),
            payload,
            sequence: None,
        }
    }

    /// The job, with its place in its key's order.
    #[must_use]
    pub fn in_sequence(mut self, sequence: Sequence) -> Self {
        self.sequence = Some(sequence);
        self
    }
}

impl Lease {
    /// A lease on `job`, for implementers of [`Outbox`]: `attempts` made before it, and the
    /// fencing `token` that the store checks on every write under it.
    pub fn new(job: Job, attempts: u32, token: u64) -> Self {
        Lease {
            job,
            attempts,
            token,
            enqueued_at: None,
        }
    }

    /// The lease, noting when its job was first due.
    #[must_use]
    pub fn enqueued_at(mut self, at: SystemTime) -> Self {
        self.enqueued_at = Some(at);
        self
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Waiting for its next attempt (or leased for it).
    Pending,
    /// Delivered.
    Delivered,
    /// The endpoint answered 410 Gone.
    Gone,
    /// The schedule ran out, or the endpoint is unknown or refused: kept for a redrive.
    DeadLettered,
}

impl State {
    /// The state's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Delivered => "delivered",
            State::Gone => "gone",
            State::DeadLettered => "dead",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => State::Pending,
            "delivered" => State::Delivered,
            "gone" => State::Gone,
            "dead" => State::DeadLettered,
            _ => return None,
        })
    }
}

/// What follows an attempt: see [`Outbox::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Try again at this time.
    RetryAt(SystemTime),
    /// End the job in this state (delivered, gone or dead-lettered).
    Finish(State),
}

/// A job and its history, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The job.
    pub job: Job,
    /// Where it stands.
    pub state: State,
    /// Its attempts so far.
    pub attempts: Vec<Attempt>,
    /// When it is next due, while pending; while leased, when the lease runs out (and another
    /// worker may take it).
    pub next_at: Option<SystemTime>,
    /// When it was delivered, found gone or dead-lettered.
    pub finished_at: Option<SystemTime>,
}

impl Entry {
    /// An entry, for implementers of [`Outbox::list`].
    pub fn new(
        job: Job,
        state: State,
        attempts: Vec<Attempt>,
        next_at: Option<SystemTime>,
        finished_at: Option<SystemTime>,
    ) -> Self {
        Entry {
            job,
            state,
            attempts,
            next_at,
            finished_at,
        }
    }
}

/// Which page of jobs [`Outbox::list`] returns: jobs in one state (or all), in order of
/// (endpoint, id), after a given job, at most `limit` of them (100 unless set).
///
/// ```
/// # async fn run(outbox: &dyn hookwire::deliver::Outbox) -> Result<(), hookwire::deliver::OutboxError> {
/// use hookwire::deliver::{ListQuery, State};
///
/// let mut query = ListQuery::new().state(State::DeadLettered).limit(50);
/// loop {
///     let page = outbox.list(&query).await?;
///     for entry in &page {
///         println!("{} {}: {} attempts", entry.job.endpoint, entry.job.payload.id, entry.attempts.len());
///     }
///     match page.last() {
///         Some(last) => query = query.after(last),
///         None => break,
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    state: Option<State>,
    after: Option<(String, String)>,
    limit: usize,
    endpoint: Option<String>,
    event_type: Option<String>,
    since: Option<SystemTime>,
    before: Option<SystemTime>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            state: None,
            after: None,
            limit: 100,
            endpoint: None,
            event_type: None,
            since: None,
            before: None,
        }
    }
}

impl ListQuery {
    /// The first 100 jobs, in any state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only jobs in `state`.
    #[must_use]
    pub fn state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only jobs for `endpoint`: one endpoint's messages, as its owner's dashboard lists them.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Only jobs of `event_type`.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Only jobs first due (enqueued) at or after `since`.
    #[must_use]
    pub fn since(mut self, since: SystemTime) -> Self {
        self.since = Some(since);
        self
    }

    /// Only jobs first due (enqueued) before `before`.
    #[must_use]
    pub fn before(mut self, before: SystemTime) -> Self {
        self.before = Some(before);
        self
    }

    /// The endpoint asked for, if any.
    pub fn wanted_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The event type asked for, if any.
    pub fn wanted_event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// The earliest enqueue time asked for, if any.
    pub fn enqueued_since(&self) -> Option<SystemTime> {
        self.since
    }

    /// The enqueue time jobs must precede, if any.
    pub fn enqueued_before(&self) -> Option<SystemTime> {
        self.before
    }

    /// Whether a job of `event_type` for `endpoint`, first due at `enqueued_at`, passes the
    /// endpoint, type and time filters (the state and the page aside): for stores that filter
    /// as they read.
    pub fn admits(
        &self,
        endpoint: &str,
        event_type: Option<&str>,
        enqueued_at: SystemTime,
    ) -> bool {
        self.endpoint
            .as_deref()
            .is_none_or(|wanted| wanted == endpoint)
            && self
                .event_type
                .as_deref()
                .is_none_or(|wanted| event_type == Some(wanted))
            && self.since.is_none_or(|since| enqueued_at >= since)
            && self.before.is_none_or(|before| enqueued_at < before)
    }

    /// The jobs after `entry` (the last of the previous page).
    #[must_use]
    pub fn after(mut self, entry: &Entry) -> Self {
        self.after = Some((entry.job.endpoint.clone(), entry.job.payload.id.clone()));
        self
    }

    /// At most `limit` jobs (at least one).
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// The state asked for, if any.
    pub fn wanted_state(&self) -> Option<State> {
        self.state
    }

    /// The (endpoint, id) the page starts after, if any.
    pub fn start_after(&self) -> Option<(&str, &str)> {
        self.after
            .as_ref()
            .map(|(endpoint, id)| (endpoint.as_str(), id.as_str()))
    }

    /// The most jobs on the page.
    pub fn max(&self) -> usize {
        self.limit
    }
}

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The lease expired and the job was leased again; this worker must drop it.
    #[error("the lease on this job was lost; another worker has it now")]
    LeaseLost,
    /// The store failed.
    #[error("the outbox store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A worker's lease would end before its attempt can: the job could be leased again and
    /// delivered twice at once.
    #[error(
        "the lease ({lease:?}) must outlast the attempt timeout ({attempt:?}) by more than a second; lengthen Worker::lease_for"
    )]
    LeaseTooShort {
        /// The worker's lease.
        lease: Duration,
        /// The dispatcher's attempt timeout.
        attempt: Duration,
    },
}

/// Where deliveries wait, so that none is lost when a process stops.
///
/// The operations map onto one table: a job is keyed by (endpoint, message id) and has a due
/// time; `lease` takes pending jobs whose due time has come, in order of due time, moves their
/// due time to the end of the lease (so that another worker takes a job whose worker died
/// once its lease runs out) and stamps them with a new fencing token. A Postgres store for
/// many machines does the same with `SELECT … FOR UPDATE SKIP LOCKED` in `lease`.
///
/// A store that [keeps sequences](Outbox::keeps_sequences) also leases a job with a
/// [`Sequence`] only when every job before it in its key has finished.
///
/// A store that fires a [`Wakeup`] and answers [`next_due`](Outbox::next_due) lets its
/// workers start a job the moment it is enqueued or falls due; one that does neither is
/// polled.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds a job, due at `at`. Enqueuing the same (endpoint, id) again changes nothing.
    async fn enqueue(&self, job: Job, at: SystemTime) -> Result<(), OutboxError>;

    /// Leases up to `limit` jobs due at `now`, for `lease_for`.
    async fn lease(
        &self,
        now: SystemTime,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, OutboxError>;

    /// Appends an attempt to the job's history.
    async fn record(&self, lease: &Lease, attempt: &Attempt) -> Result<(), OutboxError>;

    /// Releases the job, due again at `at`.
    async fn reschedule(&self, lease: &Lease, at: SystemTime) -> Result<(), OutboxError>;

    /// Ends the job as delivered, gone or dead-lettered, at `now`.
    async fn finish(&self, lease: &Lease, state: State, now: SystemTime)
    -> Result<(), OutboxError>;

    /// Records `attempt` and what follows it (`next`), at `now`: what a worker does after each
    /// attempt. The default calls [`record`](Outbox::record), then
    /// [`reschedule`](Outbox::reschedule) or [`finish`](Outbox::finish); a database store does
    /// both in one transaction, one commit instead of two.
    async fn settle(
        &self,
        lease: &Lease,
        attempt: &Attempt,
        next: Next,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        self.record(lease, attempt).await?;
        match next {
            Next::RetryAt(at) => self.reschedule(lease, at).await,
            Next::Finish(state) => self.finish(lease, state, now).await,
        }
    }

    /// One page of jobs with their attempts (see [`ListQuery`]).
    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError>;

    /// How many jobs there are, all or in one state.
    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError>;

    /// Deletes the delivered and gone jobs (with their attempts) that finished before
    /// `finished_before`; returns how many. Dead-lettered jobs stay, waiting for a redrive.
    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError>;

    /// Empties the bodies of the delivered and gone jobs that finished before
    /// `finished_before`, keeping the jobs and their attempts: payloads can be kept for a
    /// shorter time than the attempt log. Returns how many. The default empties nothing.
    async fn purge_payloads(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let _ = finished_before;
        Ok(0)
    }

    /// Makes a dead-lettered or gone job pending again, due at `now`, with the schedule
    /// starting over (its history kept); `false` if there is no such job or it is not finished
    /// that way.
    async fn redrive(&self, endpoint: &str, id: &str, now: SystemTime)
    -> Result<bool, OutboxError>;

    /// Sends a finished job again, delivered ones included (a customer asks for a message
    /// once more): pending again, due at `now`, with the schedule starting over and its
    /// history kept. `false` if there is no such job or it is still pending. The default
    /// resends what [`redrive`](Outbox::redrive) does (dead-lettered and gone jobs).
    async fn resend(&self, endpoint: &str, id: &str, now: SystemTime) -> Result<bool, OutboxError> {
        self.redrive(endpoint, id, now).await
    }

    /// Redrives every dead-lettered or gone job of `endpoint` that finished at or after
    /// `since`, due at `now`: what an endpoint missed during an outage, or while it was
    /// disabled. Returns how many.
    async fn recover(
        &self,
        endpoint: &str,
        since: SystemTime,
        now: SystemTime,
    ) -> Result<usize, OutboxError> {
        let mut recovered = 0;
        for state in [State::DeadLettered, State::Gone] {
            let mut query = ListQuery::new().state(state).endpoint(endpoint).limit(500);
            loop {
                let page = self.list(&query).await?;
                for entry in &page {
                    if entry.finished_at.is_some_and(|at| at >= since)
                        && self.redrive(endpoint, &entry.job.payload.id, now).await?
                    {
                        recovered += 1;
                    }
                }
                match page.last() {
                    Some(last) => query = query.after(last),
                    None => break,
                }
            }
        }
        Ok(recovered)
    }

    /// When `lease` will next find something: the earliest time a pending job falls due or a
    /// lease on one expires. `None` when nothing is pending, or when the store cannot tell.
    ///
    /// A worker with nothing to do sleeps until then (or until its poll interval, whichever is
    /// sooner), so a job scheduled for later is attempted when it falls due, with no polling in
    /// between. The default says `None`, and the worker falls back to its poll interval.
    async fn next_due(&self) -> Result<Option<SystemTime>, OutboxError> {
        Ok(None)
    }

    /// The signal this store fires after it makes work due (`enqueue`, `redrive`,
    /// `reschedule`), so that a waiting worker in the same process starts at once instead of at
    /// its next poll. `None` (the default) when the store has none; its workers poll.
    fn wakeup(&self) -> Option<&Wakeup> {
        None
    }

    /// When the pending job that was first due earliest was due: how far behind the backlog
    /// is. `None` when nothing is pending, or when the store cannot tell (the default).
    async fn oldest_pending(&self) -> Result<Option<SystemTime>, OutboxError> {
        Ok(None)
    }

    /// Sets where `key`'s order starts at `endpoint`: the number it lets go first, for a
    /// consumer that joins a stream whose keys began before it. A key already under way (one
    /// whose jobs have finished, or whose start was set) keeps its place. A store that keeps no
    /// sequences ignores it (the default). Jobs of the key that are now in their turn are due
    /// at `now`.
    async fn start_sequence(
        &self,
        endpoint: &str,
        key: &str,
        first: u64,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let _ = (endpoint, key, first, now);
        Ok(())
    }

    /// Whether this store honours [`Sequence`]s: leases a sequenced job only after the jobs
    /// before it in its key have finished. `false` (the default) for a store that ignores
    /// them, which an inbox asked to keep order refuses.
    fn keeps_sequences(&self) -> bool {
        false
    }
}

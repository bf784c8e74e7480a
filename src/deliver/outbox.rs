//! A durable queue of deliveries: enqueue, lease what is due, record, reschedule, finish, list,
//! redrive.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::dispatcher::Payload;
use super::outcome::Attempt;

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
}

impl Job {
    /// A job that delivers `payload` to the endpoint named `endpoint`.
    pub fn new(endpoint: impl Into<String>, payload: Payload) -> Self {
        Job {
            endpoint: endpoint.into(),
            payload,
        }
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
        }
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
    /// When it is due, while pending.
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
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            state: None,
            after: None,
            limit: 100,
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
/// The operations map onto one table: a job is keyed by (endpoint, message id); `lease`
/// takes due, unleased (or lease-expired) pending jobs in order of due time and stamps them
/// with a lease deadline and a new fencing token. A Postgres store for many machines does the
/// same with `SELECT … FOR UPDATE SKIP LOCKED` in `lease`.
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

    /// One page of jobs with their attempts (see [`ListQuery`]).
    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError>;

    /// How many jobs there are, all or in one state.
    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError>;

    /// Deletes the delivered and gone jobs (with their attempts) that finished before
    /// `finished_before`; returns how many. Dead-lettered jobs stay, waiting for a redrive.
    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError>;

    /// Makes a dead-lettered or gone job pending again, due at `now`, with the schedule
    /// starting over (its history kept); `false` if there is no such job or it is not finished
    /// that way.
    async fn redrive(&self, endpoint: &str, id: &str, now: SystemTime)
    -> Result<bool, OutboxError>;
}

/// An [`Outbox`] in memory: for tests, and for processes that may lose pending deliveries.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    rows: Mutex<BTreeMap<(String, String), Row>>,
}

#[derive(Debug)]
struct Row {
    job: Job,
    state: State,
    attempts: Vec<Attempt>,
    next_at: SystemTime,
    lease_until: Option<SystemTime>,
    token: u64,
    /// Attempts before the last redrive, which the schedule no longer counts.
    round_start: usize,
    finished_at: Option<SystemTime>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_row<T>(&self, lease: &Lease, f: impl FnOnce(&mut Row) -> T) -> Result<T, OutboxError> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (lease.job.endpoint.clone(), lease.job.payload.id.clone());
        match rows.get_mut(&key) {
            Some(row) if row.token == lease.token && row.state == State::Pending => Ok(f(row)),
            _ => Err(OutboxError::LeaseLost),
        }
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn enqueue(&self, job: Job, at: SystemTime) -> Result<(), OutboxError> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (job.endpoint.clone(), job.payload.id.clone());
        rows.entry(key).or_insert(Row {
            job,
            state: State::Pending,
            attempts: Vec::new(),
            next_at: at,
            lease_until: None,
            token: 0,
            round_start: 0,
            finished_at: None,
        });
        Ok(())
    }

    async fn lease(
        &self,
        now: SystemTime,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, OutboxError> {
        let until = now.checked_add(lease_for).ok_or_else(|| {
            OutboxError::Store(
                format!("a lease of {lease_for:?} reaches past representable time").into(),
            )
        })?;
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due: Vec<&mut Row> = rows
            .values_mut()
            .filter(|row| {
                row.state == State::Pending
                    && row.next_at <= now
                    && row.lease_until.is_none_or(|until| until <= now)
            })
            .collect();
        due.sort_by_key(|row| row.next_at);
        Ok(due
            .into_iter()
            .take(limit)
            .map(|row| {
                row.lease_until = Some(until);
                row.token += 1;
                Lease {
                    job: row.job.clone(),
                    attempts: u32::try_from(row.attempts.len() - row.round_start)
                        .unwrap_or(u32::MAX),
                    token: row.token,
                }
            })
            .collect())
    }

    async fn record(&self, lease: &Lease, attempt: &Attempt) -> Result<(), OutboxError> {
        self.with_row(lease, |row| row.attempts.push(attempt.clone()))
    }

    async fn reschedule(&self, lease: &Lease, at: SystemTime) -> Result<(), OutboxError> {
        self.with_row(lease, |row| {
            row.next_at = at;
            row.lease_until = None;
        })
    }

    async fn finish(
        &self,
        lease: &Lease,
        state: State,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        self.with_row(lease, |row| {
            row.state = state;
            row.lease_until = None;
            row.finished_at = Some(now);
        })
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError> {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let start = match &query.after {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Unbounded,
        };
        Ok(rows
            .range((start, Bound::Unbounded))
            .map(|(_, row)| row)
            .filter(|row| query.state.is_none_or(|wanted| row.state == wanted))
            .take(query.limit)
            .map(|row| Entry {
                job: row.job.clone(),
                state: row.state,
                attempts: row.attempts.clone(),
                next_at: (row.state == State::Pending).then_some(row.next_at),
                finished_at: row.finished_at.filter(|_| row.state != State::Pending),
            })
            .collect())
    }

    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError> {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(rows
            .values()
            .filter(|row| state.is_none_or(|wanted| row.state == wanted))
            .count())
    }

    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let before = rows.len();
        rows.retain(|_, row| {
            !(matches!(row.state, State::Delivered | State::Gone)
                && row.finished_at.is_some_and(|at| at < finished_before))
        });
        Ok(before - rows.len())
    }

    async fn redrive(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        match rows.get_mut(&(endpoint.to_owned(), id.to_owned())) {
            Some(row) if matches!(row.state, State::DeadLettered | State::Gone) => {
                row.state = State::Pending;
                row.next_at = now;
                row.lease_until = None;
                row.round_start = row.attempts.len();
                row.finished_at = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

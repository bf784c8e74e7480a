//! An [`Outbox`] in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::dispatcher::Payload;
use super::outbox::{Entry, Job, Lease, ListQuery, Outbox, OutboxError, Sequence, State};
use super::outcome::Attempt;
use super::subscription::{Published, Status, Subscription, Subscriptions};
use super::wakeup::Wakeup;

/// An [`Outbox`] in memory: for tests, and for processes that may lose pending deliveries.
///
/// Pending jobs are kept in order of the time they can next be leased (due time, or lease
/// expiry while leased), apart from finished ones, so `lease` costs O(log n) per job however
/// many jobs the outbox holds or has finished. A job whose [`Sequence`] must wait for earlier
/// ones is kept aside until they finish. It fires its [`Wakeup`] on `enqueue`, `redrive`,
/// `reschedule` and when a finished job lets the next of its key go.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    inner: Mutex<Rows>,
    registry: Mutex<Registry>,
    wakeup: Wakeup,
    #[cfg(feature = "tokio")]
    cursors: Mutex<HashMap<String, crate::consume::Position>>,
}

type Key = (String, String);

/// The registered endpoints, and the messages published to them.
#[derive(Debug, Default)]
struct Registry {
    endpoints: BTreeMap<String, Registered>,
    /// Every message published, by (owner, id), with when: what makes `publish` idempotent,
    /// forgotten with the delivered jobs past their retention.
    published: HashMap<Key, SystemTime>,
}

#[derive(Debug)]
struct Registered {
    subscription: Subscription,
    failing_since: Option<SystemTime>,
    paused_until: Option<SystemTime>,
    /// The number the next message of an ordered endpoint takes.
    next_number: u64,
}

#[derive(Debug, Default)]
struct Rows {
    /// Every job, by (endpoint, id): what `list` pages through.
    rows: BTreeMap<Key, Row>,
    /// The pending jobs, by the time they can next be leased, then by enqueue order.
    ready: BTreeMap<(SystemTime, u64), Key>,
    /// The sequenced jobs waiting for an earlier job of their key, by (endpoint, key, number,
    /// enqueue order).
    waiting: BTreeMap<(String, String, u64, u64), Key>,
    /// When each pending job was first due, with its enqueue order: what `oldest_pending`
    /// reads.
    pending_since: BTreeSet<(SystemTime, u64)>,
    /// The next number each (endpoint, key) lets go; 1 when absent.
    next_numbers: HashMap<(String, String), u64>,
    /// How many jobs are in each state.
    counts: HashMap<State, usize>,
    /// The next enqueue order number.
    sequence: u64,
}

#[derive(Debug)]
struct Row {
    job: Job,
    state: State,
    attempts: Vec<Attempt>,
    /// When `lease` can next take the job: its due time, or when its lease runs out.
    next_at: SystemTime,
    token: u64,
    /// Attempts before the last redrive, which the schedule no longer counts.
    round_start: usize,
    finished_at: Option<SystemTime>,
    /// The job's place among jobs ready at the same time.
    sequence: u64,
    /// When the job was first due.
    enqueued_at: SystemTime,
}

impl Row {
    /// The job's key in [`Rows::ready`].
    fn ready_key(&self) -> (SystemTime, u64) {
        (self.next_at, self.sequence)
    }
}

impl Rows {
    /// Whether a job with `sequence` for `endpoint` must wait for an earlier one.
    fn held_back(&self, endpoint: &str, sequence: &Sequence) -> bool {
        let next = self
            .next_numbers
            .get(&(endpoint.to_owned(), sequence.key.clone()))
            .copied()
            .unwrap_or(1);
        sequence.number > next
    }

    /// Puts a pending job where `lease` finds it, or aside while it must wait.
    fn place(&mut self, key: Key) {
        let Some(row) = self.rows.get(&key) else {
            return;
        };
        match &row.job.sequence {
            Some(sequence) if self.held_back(&row.job.endpoint, sequence) => {
                let place = (
                    key.0.clone(),
                    sequence.key.clone(),
                    sequence.number,
                    row.sequence,
                );
                self.waiting.insert(place, key);
            }
            _ => {
                let ready = row.ready_key();
                self.ready.insert(ready, key);
            }
        }
    }

    /// Lets the jobs of `sequence`'s key after it go, now that it finished; whether any did.
    fn advance(&mut self, endpoint: &str, sequence: &Sequence) -> bool {
        let next = self
            .next_numbers
            .entry((endpoint.to_owned(), sequence.key.clone()))
            .or_insert(1);
        *next = (*next).max(sequence.number.saturating_add(1));
        let next = *next;
        self.release(endpoint, &sequence.key, next)
    }

    /// Places the waiting jobs of `key` numbered up to `next`; whether there were any.
    fn release(&mut self, endpoint: &str, key: &str, next: u64) -> bool {
        let from = (endpoint.to_owned(), key.to_owned(), 0, 0);
        let to = (endpoint.to_owned(), key.to_owned(), next, u64::MAX);
        let released: Vec<_> = self
            .waiting
            .range(from..=to)
            .map(|(place, _)| place.clone())
            .collect();
        for place in &released {
            if let Some(key) = self.waiting.remove(place) {
                self.place(key);
            }
        }
        !released.is_empty()
    }

    /// Adds a pending job due at `at`, unless one with its key is there; whether it did.
    fn insert(&mut self, job: Job, at: SystemTime) -> bool {
        let key = (job.endpoint.clone(), job.payload.id.clone());
        if self.rows.contains_key(&key) {
            return false;
        }
        let sequence = self.sequence;
        self.sequence += 1;
        self.count(State::Pending, 1);
        self.rows.insert(
            key.clone(),
            Row {
                job,
                state: State::Pending,
                attempts: Vec::new(),
                next_at: at,
                token: 0,
                round_start: 0,
                finished_at: None,
                sequence,
                enqueued_at: at,
            },
        );
        self.pending_since.insert((at, sequence));
        self.place(key);
        true
    }

    fn count(&mut self, state: State, change: isize) {
        let count = self.counts.entry(state).or_default();
        *count = count.saturating_add_signed(change);
    }

    /// Runs `f` on the leased job's row while the lease holds, keeping the ready order and
    /// the counts in step with what `f` changed; also says whether finishing the job let
    /// later jobs of its key go.
    fn with_leased<T>(
        &mut self,
        lease: &Lease,
        f: impl FnOnce(&mut Row) -> T,
    ) -> Result<(T, bool), OutboxError> {
        let key = (lease.job.endpoint.clone(), lease.job.payload.id.clone());
        let Some(row) = self.rows.get_mut(&key) else {
            return Err(OutboxError::LeaseLost);
        };
        if row.token != lease.token || row.state != State::Pending {
            return Err(OutboxError::LeaseLost);
        }
        let was = row.ready_key();
        let value = f(row);
        let (state, now) = (row.state, row.ready_key());
        let sequence = row.job.sequence.clone();
        let since = (row.enqueued_at, row.sequence);
        let mut released = false;
        if state == State::Pending {
            if now != was {
                self.ready.remove(&was);
                self.ready.insert(now, key);
            }
        } else {
            self.ready.remove(&was);
            self.pending_since.remove(&since);
            self.count(State::Pending, -1);
            self.count(state, 1);
            if let Some(sequence) = sequence.filter(|_| state != State::DeadLettered) {
                released = self.advance(&lease.job.endpoint, &sequence);
            }
        }
        Ok((value, released))
    }
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> MutexGuard<'_, Rows> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the job pending again, due at `now`, if it finished in one of `states`.
    fn again(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
        states: &[State],
    ) -> Result<bool, OutboxError> {
        {
            let mut rows = self.rows();
            let key = (endpoint.to_owned(), id.to_owned());
            let Some(row) = rows.rows.get_mut(&key) else {
                return Ok(false);
            };
            let was = row.state;
            if !states.contains(&was) {
                return Ok(false);
            }
            row.state = State::Pending;
            row.next_at = now;
            row.round_start = row.attempts.len();
            row.finished_at = None;
            let since = (row.enqueued_at, row.sequence);
            rows.pending_since.insert(since);
            rows.place(key);
            rows.count(was, -1);
            rows.count(State::Pending, 1);
        }
        self.wakeup.wake();
        Ok(true)
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The key all messages of an ordered endpoint share.
pub(crate) const ORDERED_KEY: &str = "publish-order";

#[async_trait]
impl Subscriptions for MemoryOutbox {
    async fn save(&self, subscription: &Subscription) -> Result<(), OutboxError> {
        let mut registry = self.registry();
        match registry.endpoints.get_mut(subscription.id()) {
            Some(registered) => {
                let status = registered.subscription.status().clone();
                registered.subscription = subscription.clone().with_status(status);
            }
            None => {
                registry.endpoints.insert(
                    subscription.id().to_owned(),
                    Registered {
                        subscription: subscription.clone(),
                        failing_since: None,
                        paused_until: None,
                        next_number: 1,
                    },
                );
            }
        }
        Ok(())
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, OutboxError> {
        Ok(self
            .registry()
            .endpoints
            .get(id)
            .map(|registered| registered.subscription.clone()))
    }

    async fn subscriptions(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Subscription>, OutboxError> {
        let registry = self.registry();
        let from = match after {
            Some(after) => Bound::Excluded(after.to_owned()),
            None => Bound::Unbounded,
        };
        Ok(registry
            .endpoints
            .range((from, Bound::Unbounded))
            .map(|(_, registered)| &registered.subscription)
            .filter(|subscription| subscription.owner() == owner)
            .take(limit.max(1))
            .cloned()
            .collect())
    }

    async fn remove(&self, id: &str) -> Result<bool, OutboxError> {
        Ok(self.registry().endpoints.remove(id).is_some())
    }

    async fn disable(&self, id: &str, reason: &str, now: SystemTime) -> Result<bool, OutboxError> {
        let mut registry = self.registry();
        let Some(registered) = registry.endpoints.get_mut(id) else {
            return Ok(false);
        };
        if !registered.subscription.is_enabled() {
            return Ok(false);
        }
        let subscription = registered
            .subscription
            .clone()
            .with_status(Status::Disabled {
                reason: reason.to_owned(),
                at: now,
            });
        registered.subscription = subscription;
        Ok(true)
    }

    async fn enable(&self, id: &str) -> Result<bool, OutboxError> {
        let mut registry = self.registry();
        let Some(registered) = registry.endpoints.get_mut(id) else {
            return Ok(false);
        };
        if registered.subscription.is_enabled() {
            return Ok(false);
        }
        registered.subscription = registered.subscription.clone().with_status(Status::Enabled);
        registered.failing_since = None;
        registered.paused_until = None;
        Ok(true)
    }

    async fn failing(
        &self,
        id: &str,
        now: Option<SystemTime>,
    ) -> Result<Option<SystemTime>, OutboxError> {
        let mut registry = self.registry();
        let Some(registered) = registry.endpoints.get_mut(id) else {
            return Ok(None);
        };
        Ok(match now {
            Some(now) => Some(*registered.failing_since.get_or_insert(now)),
            None => registered.failing_since.take().and(None),
        })
    }

    async fn pause(&self, id: &str, until: SystemTime) -> Result<(), OutboxError> {
        if let Some(registered) = self.registry().endpoints.get_mut(id) {
            registered.paused_until =
                Some(registered.paused_until.map_or(until, |at| at.max(until)));
        }
        Ok(())
    }

    async fn paused_until(&self, id: &str) -> Result<Option<SystemTime>, OutboxError> {
        Ok(self
            .registry()
            .endpoints
            .get(id)
            .and_then(|registered| registered.paused_until))
    }

    async fn publish(
        &self,
        owner: &str,
        payload: &Payload,
        channels: &[String],
        now: SystemTime,
    ) -> Result<Published, OutboxError> {
        let mut registry = self.registry();
        let message = (owner.to_owned(), payload.id.clone());
        if registry.published.contains_key(&message) {
            return Ok(Published::new(Vec::new(), true));
        }
        registry.published.insert(message, now);
        let event_type = payload.event_type.as_deref().unwrap_or("");
        let mut endpoints = Vec::new();
        let mut rows = self.rows();
        for (id, registered) in &mut registry.endpoints {
            let subscription = &registered.subscription;
            if subscription.owner() != owner
                || !subscription.is_enabled()
                || !subscription.wants(event_type, channels)
            {
                continue;
            }
            // The body is shared, not copied: the message is stored once.
            let mut job = Job::new(id.clone(), payload.clone());
            if subscription.is_ordered() {
                job = job.in_sequence(Sequence::new(ORDERED_KEY, registered.next_number));
                registered.next_number += 1;
            }
            rows.insert(job, now);
            endpoints.push(id.clone());
        }
        drop(rows);
        drop(registry);
        if !endpoints.is_empty() {
            self.wakeup.wake();
        }
        Ok(Published::new(endpoints, false))
    }
}

super::subscription::destinations_from_subscriptions!(MemoryOutbox);

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn enqueue(&self, job: Job, at: SystemTime) -> Result<(), OutboxError> {
        if self.rows().insert(job, at) {
            self.wakeup.wake();
        }
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
        let mut rows = self.rows();
        let Rows { rows, ready, .. } = &mut *rows;
        let mut leases = Vec::new();
        while leases.len() < limit {
            let Some(entry) = ready.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let ((_, sequence), key) = entry.remove_entry();
            let Some(row) = rows.get_mut(&key) else {
                continue;
            };
            row.next_at = until.max(row.next_at);
            row.token += 1;
            leases.push(Lease {
                job: row.job.clone(),
                attempts: u32::try_from(row.attempts.len() - row.round_start).unwrap_or(u32::MAX),
                token: row.token,
                enqueued_at: Some(row.enqueued_at),
            });
            ready.insert((row.next_at, sequence), key);
        }
        Ok(leases)
    }

    async fn record(&self, lease: &Lease, attempt: &Attempt) -> Result<(), OutboxError> {
        self.rows()
            .with_leased(lease, |row| row.attempts.push(attempt.clone()))?;
        Ok(())
    }

    async fn reschedule(&self, lease: &Lease, at: SystemTime) -> Result<(), OutboxError> {
        self.rows().with_leased(lease, |row| row.next_at = at)?;
        self.wakeup.wake();
        Ok(())
    }

    async fn finish(
        &self,
        lease: &Lease,
        state: State,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let ((), released) = self.rows().with_leased(lease, |row| {
            row.state = state;
            row.finished_at = Some(now);
        })?;
        if released {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError> {
        let rows = self.rows();
        let start = match query.start_after() {
            Some((endpoint, id)) => Bound::Excluded((endpoint.to_owned(), id.to_owned())),
            None => Bound::Unbounded,
        };
        Ok(rows
            .rows
            .range((start, Bound::Unbounded))
            .map(|(_, row)| row)
            .filter(|row| {
                query
                    .wanted_state()
                    .is_none_or(|wanted| row.state == wanted)
                    && query.admits(
                        &row.job.endpoint,
                        row.job.payload.event_type.as_deref(),
                        row.enqueued_at,
                    )
            })
            .take(query.max())
            .map(|row| {
                Entry::new(
                    row.job.clone(),
                    row.state,
                    row.attempts.clone(),
                    (row.state == State::Pending).then_some(row.next_at),
                    row.finished_at.filter(|_| row.state != State::Pending),
                )
            })
            .collect())
    }

    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError> {
        let rows = self.rows();
        Ok(match state {
            Some(state) => rows.counts.get(&state).copied().unwrap_or(0),
            None => rows.rows.len(),
        })
    }

    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let mut rows = self.rows();
        let mut purged = Vec::new();
        rows.rows.retain(|_, row| {
            let old = matches!(row.state, State::Delivered | State::Gone)
                && row.finished_at.is_some_and(|at| at < finished_before);
            if old {
                purged.push(row.state);
            }
            !old
        });
        for &state in &purged {
            rows.count(state, -1);
        }
        drop(rows);
        self.registry()
            .published
            .retain(|_, at| *at >= finished_before);
        Ok(purged.len())
    }

    async fn purge_payloads(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let mut rows = self.rows();
        let mut emptied = 0;
        for row in rows.rows.values_mut() {
            if matches!(row.state, State::Delivered | State::Gone)
                && row.finished_at.is_some_and(|at| at < finished_before)
                && !row.job.payload.body.is_empty()
            {
                row.job.payload.body = bytes::Bytes::new();
                emptied += 1;
            }
        }
        Ok(emptied)
    }

    async fn redrive(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        self.again(endpoint, id, now, &[State::DeadLettered, State::Gone])
    }

    async fn resend(&self, endpoint: &str, id: &str, now: SystemTime) -> Result<bool, OutboxError> {
        self.again(
            endpoint,
            id,
            now,
            &[State::DeadLettered, State::Gone, State::Delivered],
        )
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, OutboxError> {
        Ok(self.rows().ready.keys().next().map(|&(at, _)| at))
    }

    fn wakeup(&self) -> Option<&Wakeup> {
        Some(&self.wakeup)
    }

    async fn start_sequence(
        &self,
        endpoint: &str,
        key: &str,
        first: u64,
        _now: SystemTime,
    ) -> Result<(), OutboxError> {
        // Waiting jobs keep their own due times here: they were never set aside.
        let released = {
            let mut rows = self.rows();
            let next = *rows
                .next_numbers
                .entry((endpoint.to_owned(), key.to_owned()))
                .or_insert(first);
            rows.release(endpoint, key, next)
        };
        if released {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn oldest_pending(&self) -> Result<Option<SystemTime>, OutboxError> {
        Ok(self.rows().pending_since.first().map(|&(at, _)| at))
    }

    fn keeps_sequences(&self) -> bool {
        true
    }
}

#[cfg(feature = "tokio")]
#[async_trait]
impl crate::consume::Cursors for MemoryOutbox {
    async fn load_cursor(
        &self,
        name: &str,
    ) -> Result<Option<crate::consume::Position>, OutboxError> {
        let cursors = self.cursors.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(cursors.get(name).cloned())
    }

    async fn save_cursor(
        &self,
        name: &str,
        position: &crate::consume::Position,
    ) -> Result<(), OutboxError> {
        let mut cursors = self.cursors.lock().unwrap_or_else(PoisonError::into_inner);
        cursors.insert(name.to_owned(), position.clone());
        Ok(())
    }
}

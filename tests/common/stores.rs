//! A store wrapper for tests of what hookwire does around a store.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use hookwire::deliver::{
    Attempt, Entry, Job, Lease, ListQuery, MemoryOutbox, Next, Outbox, OutboxError, State, Wakeup,
};

/// An outbox that passes everything through to `inner`, counting the worker's questions
/// (`lease`, `next_due`); it can also fail its first leases, and stand for a plain store
/// written outside hookwire (one with only the required methods: no wake-ups, no `next_due`,
/// no sequences).
pub struct Watched<O> {
    inner: O,
    leases: AtomicUsize,
    next_dues: AtomicUsize,
    failing_leases: AtomicUsize,
    plain: AtomicBool,
    slow_settles: Duration,
}

impl<O> Watched<O> {
    /// `inner`, watched.
    pub fn new(inner: O) -> Self {
        Watched {
            inner,
            leases: AtomicUsize::new(0),
            next_dues: AtomicUsize::new(0),
            failing_leases: AtomicUsize::new(0),
            plain: AtomicBool::new(false),
            slow_settles: Duration::ZERO,
        }
    }

    /// Each `settle` returns `delay` after it took effect, as over a slow connection.
    pub fn slow_settles(mut self, delay: Duration) -> Self {
        self.slow_settles = delay;
        self
    }

    /// Its first `n` leases fail.
    pub fn failing_leases(self, n: usize) -> Self {
        self.failing_leases.store(n, Ordering::SeqCst);
        self
    }

    /// It answers as a store with only the required methods would.
    pub fn plain(self) -> Self {
        self.plain.store(true, Ordering::SeqCst);
        self
    }

    /// How many leases are still to fail.
    pub fn failures_left(&self) -> usize {
        self.failing_leases.load(Ordering::SeqCst)
    }

    /// How often it was asked to lease, and for the next due time.
    pub fn questions(&self) -> (usize, usize) {
        (
            self.leases.load(Ordering::SeqCst),
            self.next_dues.load(Ordering::SeqCst),
        )
    }

    fn is_plain(&self) -> bool {
        self.plain.load(Ordering::SeqCst)
    }
}

/// A plain memory store whose first `failures` leases fail.
pub fn flaky(failures: usize) -> Watched<MemoryOutbox> {
    Watched::new(MemoryOutbox::new())
        .plain()
        .failing_leases(failures)
}

#[hookwire::async_trait]
impl<O: Outbox> Outbox for Watched<O> {
    async fn enqueue(&self, job: Job, at: SystemTime) -> Result<(), OutboxError> {
        self.inner.enqueue(job, at).await
    }
    async fn lease(
        &self,
        now: SystemTime,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, OutboxError> {
        self.leases.fetch_add(1, Ordering::SeqCst);
        if self
            .failing_leases
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(OutboxError::Store("database is locked".into()));
        }
        self.inner.lease(now, limit, lease_for).await
    }
    async fn record(&self, lease: &Lease, attempt: &Attempt) -> Result<(), OutboxError> {
        self.inner.record(lease, attempt).await
    }
    async fn reschedule(&self, lease: &Lease, at: SystemTime) -> Result<(), OutboxError> {
        self.inner.reschedule(lease, at).await
    }
    async fn finish(
        &self,
        lease: &Lease,
        state: State,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        self.inner.finish(lease, state, now).await
    }
    async fn settle(
        &self,
        lease: &Lease,
        attempt: &Attempt,
        next: Next,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let settled = self.inner.settle(lease, attempt, next, now).await;
        tokio::time::sleep(self.slow_settles).await;
        settled
    }
    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError> {
        self.inner.list(query).await
    }
    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError> {
        self.inner.count(state).await
    }
    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        self.inner.purge(finished_before).await
    }
    async fn redrive(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        self.inner.redrive(endpoint, id, now).await
    }
    async fn next_due(&self) -> Result<Option<SystemTime>, OutboxError> {
        self.next_dues.fetch_add(1, Ordering::SeqCst);
        if self.is_plain() {
            return Ok(None);
        }
        self.inner.next_due().await
    }
    async fn start_sequence(
        &self,
        endpoint: &str,
        key: &str,
        first: u64,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        self.inner.start_sequence(endpoint, key, first, now).await
    }
    async fn oldest_pending(&self) -> Result<Option<SystemTime>, OutboxError> {
        if self.is_plain() {
            return Ok(None);
        }
        self.inner.oldest_pending().await
    }
    fn wakeup(&self) -> Option<&Wakeup> {
        if self.is_plain() {
            return None;
        }
        self.inner.wakeup()
    }
    fn keeps_sequences(&self) -> bool {
        !self.is_plain() && self.inner.keeps_sequences()
    }
}

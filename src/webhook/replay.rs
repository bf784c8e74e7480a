//! Handling each message once: the receiver's two-phase dedupe.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// The longest message id a receiver accepts for dedupe, in bytes; longer ids are refused
/// (400), so that a flood of fresh ids of hundreds of kilobytes cannot fill a guard. Standard
/// Webhooks, GitHub and Shopify ids are under 64 bytes.
pub const MAX_ID_LEN: usize = 256;

/// Which message a guard remembers: the scheme that verified it and its id, so that two
/// providers' ids never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey<'a> {
    /// The scheme's name, as [`Verified::scheme`](super::Verified::scheme) gives it.
    pub scheme: &'a str,
    /// The message id.
    pub id: &'a str,
}

/// What a guard answers when a message arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The message is new, and is now claimed by the caller until the guard's lease ends:
    /// handle it, then [`commit`](ReplayGuard::commit) or [`release`](ReplayGuard::release).
    Claimed,
    /// Another delivery of the same message is being handled right now: answer so that the
    /// sender tries again later (409 with `Retry-After`), since that handling may still fail.
    InFlight,
    /// The message was handled: answer 200 so that the sender stops, and do not handle it
    /// again.
    Done,
}

/// A guard's store failed; answer 503 so that the sender tries again.
#[derive(Debug, thiserror::Error)]
#[error("the replay guard's store failed")]
pub struct ReplayError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl ReplayError {
    /// A failure caused by `source`.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ReplayError(source.into())
    }
}

/// Remembers which messages were handled, so that a receiver handles each message once however
/// often it is delivered (retries after a lost response, a replay of a captured request), and
/// loses none when its handler fails.
///
/// It works in two phases. [`claim`](ReplayGuard::claim) reserves a message before the handler
/// runs; [`commit`](ReplayGuard::commit) records it as handled once the handler succeeded, and
/// [`release`](ReplayGuard::release) forgets the claim when it failed (or panicked), so that the
/// sender's retry is handled. A claim whose holder vanished lapses when its lease ends. The
/// server adapters (`hyper::handle_once`, axum's `VerifyLayer::replay_guard`) drive it.
///
/// [`MemoryReplayGuard`] serves one process; `PostgresReplayGuard` (feature `postgres`) and
/// `RedisReplayGuard` (feature `redis`) serve several receiver instances behind a load
/// balancer. Implement it over any other shared store the same way.
#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Claims `key` at `now`.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] when the store cannot be reached.
    async fn claim(&self, key: ReplayKey<'_>, now: SystemTime) -> Result<Claim, ReplayError>;

    /// Records the claimed `key` as handled at `now`, remembered at least until
    /// `verifiable_until` (when the message stops verifying; see
    /// [`Verified::verifiable_until`](super::Verified::verifiable_until)) and for the guard's
    /// own time to live.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] when the store cannot be reached.
    async fn commit(
        &self,
        key: ReplayKey<'_>,
        now: SystemTime,
        verifiable_until: Option<SystemTime>,
    ) -> Result<(), ReplayError>;

    /// Forgets the claim on `key`, so that the next delivery is handled.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] when the store cannot be reached.
    async fn release(&self, key: ReplayKey<'_>) -> Result<(), ReplayError>;
}

/// An in-memory [`ReplayGuard`] for one process.
///
/// Handled ids are remembered for a time to live, and always at least until the message stops
/// verifying (its signed timestamp plus the verifier's tolerance, which applies both ways: a
/// message verifies for twice the tolerance around its timestamp). Claims last a lease (60
/// seconds unless set). Memory is bounded in bytes (64 MiB unless set): past the budget the
/// entries closest to expiry are forgotten first. Each id is stored once, keyed by scheme and id.
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// use std::time::{Duration, SystemTime};
/// use hookwire::webhook::{Claim, MemoryReplayGuard, ReplayGuard, ReplayKey};
///
/// let guard = MemoryReplayGuard::new(Duration::from_secs(600));
/// let key = ReplayKey { scheme: "standard-webhooks", id: "msg_1" };
/// let now = SystemTime::now();
/// assert_eq!(guard.claim(key, now).await?, Claim::Claimed);
/// assert_eq!(guard.claim(key, now).await?, Claim::InFlight);
/// guard.release(key).await?; // the handler failed: the retry is handled
/// assert_eq!(guard.claim(key, now).await?, Claim::Claimed);
/// guard.commit(key, now, None).await?;
/// assert_eq!(guard.claim(key, now).await?, Claim::Done);
/// # Ok::<(), hookwire::webhook::ReplayError>(())
/// # }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryReplayGuard {
    ttl: Duration,
    lease: Duration,
    budget: usize,
    state: Mutex<State>,
}

/// Bytes counted for an entry beyond its key: the map's and the index's bookkeeping.
const ENTRY_OVERHEAD: usize = 96;

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Arc<str>, Entry>,
    by_expiry: BTreeSet<(SystemTime, Arc<str>)>,
    bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    done: bool,
    until: SystemTime,
}

impl State {
    fn remove(&mut self, key: &Arc<str>) {
        if let Some(entry) = self.entries.remove(key) {
            self.by_expiry.remove(&(entry.until, key.clone()));
            self.bytes = self.bytes.saturating_sub(key.len() + ENTRY_OVERHEAD);
        }
    }

    fn put(&mut self, key: Arc<str>, entry: Entry) {
        self.remove(&key);
        self.bytes += key.len() + ENTRY_OVERHEAD;
        self.by_expiry.insert((entry.until, key.clone()));
        self.entries.insert(key, entry);
    }

    /// Forgets what expired by `now`, and the entries closest to expiry past `budget`.
    fn trim(&mut self, now: SystemTime, budget: usize) {
        while let Some((until, key)) = self.by_expiry.first().cloned() {
            if until > now && self.bytes <= budget {
                break;
            }
            self.remove(&key);
        }
    }
}

fn stored(key: ReplayKey<'_>) -> Arc<str> {
    // Header values hold no line feed, so the join is unambiguous.
    Arc::from(format!("{}\n{}", key.scheme, key.id))
}

impl MemoryReplayGuard {
    /// Handled ids are remembered for `ttl` (and at least until their message stops
    /// verifying); claims last 60 seconds; at most 64 MiB is held.
    pub fn new(ttl: Duration) -> Self {
        MemoryReplayGuard {
            ttl,
            lease: Duration::from_secs(60),
            budget: 64 * 1024 * 1024,
            state: Mutex::new(State::default()),
        }
    }

    /// How long a claim lasts when its holder neither commits nor releases it (a crash): make
    /// it longer than a handler can take.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The most memory the remembered ids may take, in bytes, counting each id with its
    /// bookkeeping.
    #[must_use]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// How many ids are held now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes counted against the budget now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `now + by`, checked: a duration too long to add means "as long as can be said".
pub(super) fn later(now: SystemTime, by: Duration) -> SystemTime {
    now.checked_add(by)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn claim(&self, key: ReplayKey<'_>, now: SystemTime) -> Result<Claim, ReplayError> {
        let key = stored(key);
        let mut state = self.lock();
        state.trim(now, self.budget);
        match state.entries.get(&key) {
            Some(entry) if entry.done => return Ok(Claim::Done),
            Some(_) => return Ok(Claim::InFlight),
            None => {}
        }
        let until = later(now, self.lease);
        state.put(key, Entry { done: false, until });
        state.trim(now, self.budget);
        Ok(Claim::Claimed)
    }

    async fn commit(
        &self,
        key: ReplayKey<'_>,
        now: SystemTime,
        verifiable_until: Option<SystemTime>,
    ) -> Result<(), ReplayError> {
        let until = later(now, self.ttl).max(verifiable_until.unwrap_or(now));
        let mut state = self.lock();
        state.put(stored(key), Entry { done: true, until });
        state.trim(now, self.budget);
        Ok(())
    }

    async fn release(&self, key: ReplayKey<'_>) -> Result<(), ReplayError> {
        let key = stored(key);
        let mut state = self.lock();
        if state.entries.get(&key).is_some_and(|entry| !entry.done) {
            state.remove(&key);
        }
        Ok(())
    }
}

impl fmt::Display for ReplayKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} message {}", self.scheme, self.id)
    }
}

//! Dropping messages seen before: the receiver's dedupe.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// Remembers message ids for a while, so that a receiver handles each message once however
/// often it is delivered (retries after a lost response, a replay of a captured request).
///
/// Remember ids at least as long as the verifier's timestamp tolerance: a replay older than
/// that fails verification anyway. Implement it over Redis or a database for several
/// receivers; [`MemoryReplayGuard`] serves one process.
#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Records `id` as seen at `now`; `true` the first time within the window, `false` for a
    /// repeat.
    async fn first_sight(&self, id: &str, now: SystemTime) -> bool;
}

/// An in-memory [`ReplayGuard`] that forgets ids after a time to live, with a bound on how
/// many it holds (the oldest are forgotten first beyond it).
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// use std::time::{Duration, SystemTime};
/// use hookwire::webhook::{MemoryReplayGuard, ReplayGuard};
///
/// let guard = MemoryReplayGuard::new(Duration::from_secs(600));
/// let now = SystemTime::now();
/// assert!(guard.first_sight("msg_1", now).await);
/// assert!(!guard.first_sight("msg_1", now).await);
/// assert!(guard.first_sight("msg_1", now + Duration::from_secs(601)).await);
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryReplayGuard {
    ttl: Duration,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    expiry: HashMap<String, SystemTime>,
    order: VecDeque<(SystemTime, String)>,
}

impl MemoryReplayGuard {
    /// Ids are remembered for `ttl` (use at least the verifier's tolerance, twice is safer);
    /// at most a million at once unless [`capacity`](MemoryReplayGuard::capacity) says
    /// otherwise.
    pub fn new(ttl: Duration) -> Self {
        MemoryReplayGuard {
            ttl,
            capacity: 1_000_000,
            state: Mutex::new(State::default()),
        }
    }

    /// The most ids held at once.
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// How many ids are held now.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .expiry
            .len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn first_sight(&self, id: &str, now: SystemTime) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget what has expired, and the oldest beyond capacity.
        while let Some((expires, _)) = state.order.front() {
            if *expires > now && state.order.len() < self.capacity {
                break;
            }
            if let Some((expires, old)) = state.order.pop_front() {
                if state.expiry.get(&old) == Some(&expires) {
                    state.expiry.remove(&old);
                }
            }
        }
        if state.expiry.get(id).is_some_and(|expires| *expires > now) {
            return false;
        }
        let expires = now + self.ttl;
        state.expiry.insert(id.to_owned(), expires);
        state.order.push_back((expires, id.to_owned()));
        true
    }
}

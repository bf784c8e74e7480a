//! The durable inbox: verified events stored before the sender is answered, then handled with
//! retries, each once.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::router::Router;
use crate::clock::Clock;
use crate::deliver::{Attempt, Job, Next, Outbox, OutboxError, Payload, Sequence, State};
use crate::event::{EventError, RawEvent};
use crate::retry::Backoff;
use crate::transport::TransportErrorKind;

/// The content type an inbox stores events in.
const STORED_AS: &str = "application/cloudevents+json";

/// A durable inbox: a receiver [`accept`](Inbox::accept)s each verified event into it before
/// answering 2xx, so that the sender gets its answer fast and a failing handler loses nothing;
/// a [`Processor`] then runs the [`Router`] on each, retrying on failure and parking what keeps
/// failing for inspection and [`replay`](Inbox::replay).
///
/// The inbox keeps its events in any [`Outbox`] store (memory, SQLite, PostgreSQL): each event
/// is a job keyed by its source and id, so the store's insert is the dedupe: an event that
/// arrives twice (a sender's retry, several receiver instances, a webhook and a poll of the
/// same event) is stored and handled once. Give the inbox a store of its own (another SQLite
/// file, another PostgreSQL schema), not the one a sender's worker drains.
///
/// # Order
///
/// Events are handled as they come, several at once, unless the inbox is told how they are
/// ordered: with [`ordered_by`](Inbox::ordered_by), the events of one key (an account, an
/// order) are handled one after another in their source's order, each only once the one
/// before it was handled, whichever came first, pushed or pulled. The source must number each
/// key's events 1, 2, 3, … with no gaps (a per-key version or sequence number, as ledgers and
/// event-sourced systems keep), since only then can the inbox tell that an event is missing
/// and wait for it:
///
/// ```
/// # fn run(store: std::sync::Arc<hookwire::deliver::MemoryOutbox>) {
/// use hookwire::consume::Inbox;
/// use hookwire::deliver::Sequence;
///
/// // The CloudEvents `partitionkey` and `sequence` extensions: the account, and the event's
/// // number among the account's.
/// let inbox = Inbox::new(store).ordered_by(|event| {
///     let key = event.extension("partitionkey")?.to_canonical_string().ok()?;
///     let number = event.extension("sequence")?.to_canonical_string().ok()?.parse().ok()?;
///     Some(Sequence::new(key, number))
/// });
/// # }
/// ```
///
/// A consumer that joins a stream whose keys began before it says where each key starts with
/// [`start_sequence`](Inbox::start_sequence); otherwise a key waits for its event number 1.
///
/// A key's events wait while an earlier one is missing, failing or parked: a parked event
/// holds back the rest of its key until it is [replayed](Inbox::replay) and handled. Events
/// for which the function says `None` are handled as they come. The order holds across
/// processes and restarts: the store keeps each key's progress (the memory, SQLite and
/// PostgreSQL stores do; see [`Outbox::keeps_sequences`]).
pub struct Inbox<O: ?Sized> {
    store: Arc<O>,
    order: Option<Arc<OrderFn>>,
}

/// How an inbox finds an event's place in its key's order.
type OrderFn = dyn Fn(&RawEvent) -> Option<Sequence> + Send + Sync;

impl<O: ?Sized> Clone for Inbox<O> {
    fn clone(&self) -> Self {
        Inbox {
            store: self.store.clone(),
            order: self.order.clone(),
        }
    }
}

impl<O: std::fmt::Debug + ?Sized> std::fmt::Debug for Inbox<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("store", &self.store)
            .field("ordered", &self.order.is_some())
            .finish()
    }
}

/// Why an event could not be stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The event could not be written in the stored form.
    #[error("the event could not be stored as JSON")]
    Encode(#[source] EventError),
    /// The store failed: answer 503 so that the sender tries again.
    #[error("the inbox's store failed")]
    Store(#[source] OutboxError),
    /// The inbox was asked to keep order ([`Inbox::ordered_by`]) in a store that does not
    /// keep sequences: nothing is stored.
    #[error(
        "this inbox keeps events in order, but its store does not keep sequences: use the memory, SQLite or PostgreSQL store, or drop Inbox::ordered_by"
    )]
    Unordered,
}

impl<O: Outbox + ?Sized> Inbox<O> {
    /// An inbox in `store`.
    pub fn new(store: Arc<O>) -> Self {
        Inbox { store, order: None }
    }

    /// Handles the events of each key in the order of their numbers: `order` says an event's
    /// key and number, or `None` for an event with no order. See [Order](Inbox#order).
    #[must_use]
    pub fn ordered_by(
        mut self,
        order: impl Fn(&RawEvent) -> Option<Sequence> + Send + Sync + 'static,
    ) -> Self {
        self.order = Some(Arc::new(order));
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<O> {
        &self.store
    }

    /// Stores `event`, due to be handled at `now`, unless an event with its source and id is
    /// stored already.
    ///
    /// # Errors
    ///
    /// [`InboxError::Store`] when the store fails: the event is not stored, so answer the
    /// sender with an error it retries (503). [`InboxError::Unordered`] when the inbox keeps
    /// order in a store that cannot.
    pub async fn accept(&self, event: &RawEvent, now: SystemTime) -> Result<(), InboxError> {
        let sequence = match &self.order {
            Some(_) if !self.store.keeps_sequences() => return Err(InboxError::Unordered),
            Some(order) => order(event),
            None => None,
        };
        let body = event.to_json().map_err(InboxError::Encode)?;
        let payload = Payload::new(
            event.id(),
            Some(event.ty().to_owned()),
            HeaderValue::from_static(STORED_AS),
            body,
        );
        let mut job = Job::new(event.source(), payload);
        job.sequence = sequence;
        self.store
            .enqueue(job, now)
            .await
            .map_err(InboxError::Store)
    }

    /// Sets where `key`'s order starts for events from `source`: the number handled first,
    /// for a consumer that joins a stream whose keys began before it (otherwise a key waits for
    /// its event number 1). A key already under way keeps its place. Its events now in their
    /// turn are due at `now`.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the store fails.
    pub async fn start_sequence(
        &self,
        source: &str,
        key: &str,
        first: u64,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        self.store.start_sequence(source, key, first, now).await
    }

    /// Makes a parked event (one whose handler kept failing) due again at `now`, its
    /// schedule starting over; `false` if there is no such parked event.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the store fails.
    pub async fn replay(
        &self,
        source: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        self.store.redrive(source, id, now).await
    }
}

/// Runs a [`Router`] on the events in an [`Inbox`]: each in a task of its own, at most
/// `concurrency` at once, retried on the [`Backoff`] schedule when its handler fails (1 s
/// doubling to an hour, 20 attempts, unless set), then parked as dead-lettered for a
/// [`replay`](Inbox::replay). It starts an event the moment it is accepted in this process (the
/// store's wake-up), and like the sender's `Worker` it leases, so several processors, on
/// several machines with PostgreSQL, share one inbox and never run one event twice at once.
///
/// Each run is recorded as an [`Attempt`] in the store: 200 when handled, or, when the handler
/// failed, no status and the handler's error as the attempt's body.
pub struct Processor<O: ?Sized> {
    inbox: Inbox<O>,
    router: Arc<Router>,
    clock: Arc<dyn Clock>,
    backoff: Backoff,
    concurrency: usize,
    lease_for: Duration,
    handler_timeout: Duration,
    poll_interval: Duration,
    retention: Option<Duration>,
}

impl<O: ?Sized> std::fmt::Debug for Processor<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("router", &self.router)
            .field("backoff", &self.backoff)
            .field("concurrency", &self.concurrency)
            .field("lease_for", &self.lease_for)
            .field("handler_timeout", &self.handler_timeout)
            .finish_non_exhaustive()
    }
}

impl<O: Outbox + ?Sized + 'static> Processor<O> {
    /// A processor running `router` on `inbox`'s events, reading the time from `clock`.
    pub fn new(inbox: Inbox<O>, router: Router, clock: impl Clock + 'static) -> Self {
        Processor {
            inbox,
            router: Arc::new(router),
            clock: Arc::new(clock),
            backoff: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(3600), 20),
            concurrency: 16,
            lease_for: Duration::from_secs(60),
            handler_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(5),
            retention: Some(Duration::from_secs(7 * 24 * 60 * 60)),
        }
    }

    /// The schedule of retries for an event whose handler fails; past its last attempt the
    /// event is parked.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How many events are handled at once; 16 unless set.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long a handler may run before it counts as failed; 30 s unless set. The lease
    /// (60 s unless set) must outlast it by more than a second.
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// How long a lease on an event lasts; 60 s unless set.
    #[must_use]
    pub fn lease_for(mut self, lease_for: Duration) -> Self {
        self.lease_for = lease_for;
        self
    }

    /// The longest an idle processor sleeps (a safety net for events another process
    /// accepted into a store without wake-ups across processes); 5 s unless set.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How long handled events are kept (the dedupe remembers them as long); 7 days unless
    /// set. Parked events are kept until replayed.
    #[must_use]
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = Some(keep);
        self
    }

    /// Runs until `shutdown` completes, then lets the handlers in flight finish within 20 s.
    ///
    /// # Errors
    ///
    /// [`OutboxError::LeaseTooShort`] when the lease does not outlast the handler timeout by
    /// more than a second.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), OutboxError> {
        if self.lease_for <= self.handler_timeout.saturating_add(Duration::from_secs(1)) {
            return Err(OutboxError::LeaseTooShort {
                lease: self.lease_for,
                attempt: self.handler_timeout,
            });
        }
        let settings = crate::deliver::Drain {
            concurrency: self.concurrency,
            lease_for: self.lease_for,
            idle: self.poll_interval,
            grace: Duration::from_secs(20),
            retention: self.retention,
            queue: "inbox",
            parked: None,
            payloads: None,
        };
        let (store, router, clock, backoff, timeout) = (
            self.inbox.store.clone(),
            self.router.clone(),
            self.clock.clone(),
            self.backoff.clone(),
            self.handler_timeout,
        );
        crate::deliver::drain(
            self.inbox.store,
            self.clock,
            &settings,
            shutdown,
            move |lease| {
                let (store, router, clock, backoff) = (
                    store.clone(),
                    router.clone(),
                    clock.clone(),
                    backoff.clone(),
                );
                async move {
                    let started = clock.now();
                    let instant = clock.instant();
                    let outcome = match RawEvent::from_json(&lease.job.payload.body) {
                        // Stored by `accept`, so always an event; kept if not, for a look.
                        Err(error) => Err(format!("the stored event cannot be read: {error}")),
                        Ok(event) => {
                            match crate::clock::within(&*clock, timeout, router.route(event)).await
                            {
                                None => Err(format!("the handler ran past {timeout:?}")),
                                Some(Err(error)) => Err(error.to_string()),
                                Some(Ok(_)) => Ok(()),
                            }
                        }
                    };
                    let latency = clock.instant().saturating_duration_since(instant);
                    let (attempt, next) = match outcome {
                        Ok(()) => (
                            Attempt::new(
                                started,
                                Some(StatusCode::OK),
                                None,
                                latency,
                                Bytes::new(),
                            ),
                            Next::Finish(State::Delivered),
                        ),
                        Err(error) => {
                            let made = lease.attempts.saturating_add(1);
                            let next = backoff
                                .delay(made)
                                .and_then(|wait| clock.now().checked_add(wait))
                                .map_or(Next::Finish(State::DeadLettered), Next::RetryAt);
                            (
                                Attempt::new(
                                    started,
                                    None,
                                    Some(TransportErrorKind::Other),
                                    latency,
                                    Bytes::from(error),
                                ),
                                next,
                            )
                        }
                    };
                    crate::observe::handled(&lease, &attempt, next);
                    // A lost lease leaves the event to whoever holds it now.
                    if let Err(error) = store.settle(&lease, &attempt, next, clock.now()).await {
                        crate::observe::store_failed("settle", &error);
                    }
                }
            },
        )
        .await;
        Ok(())
    }
}

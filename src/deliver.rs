//! Sending webhooks: the push side, for senders.
//!
//! A [`Dispatcher`] delivers a [`Payload`] to a [`Destination`]: it signs every attempt afresh
//! under the message's stable id, classifies each response and waits as its
//! [`RetryPolicy`](crate::retry::RetryPolicy) and the receiver's `Retry-After` say, and reports
//! every [`Attempt`]. It sends
//! through a guarded transport, whose
//! [`AddressPolicy`](crate::transport::AddressPolicy) refuses private, loopback, link-local,
//! metadata and other non-public addresses where the address is dialled.
//!
//! For deliveries that must survive a restart, enqueue [`Job`]s in an [`Outbox`]
//! ([`MemoryOutbox`], `SqliteOutbox` with the `sqlite` feature, `PostgresOutbox` with the
//! `postgres` feature) and let a `Worker` (feature `tokio`) drain it with bounded concurrency.
//!
//! # Sending webhooks as a service
//!
//! A SaaS whose customers register endpoints keeps them beside its jobs, in the same store
//! ([`MemoryOutbox`], `SqliteOutbox`, `PostgresOutbox`), through [`Subscriptions`]:
//!
//! - **Registering.** A [`Subscription`] names its endpoint, its owner (the customer), the URL,
//!   a signing key (a `whsec_` secret for `v1`, or a `whsk_` key for `v1a` with the `ed25519`
//!   feature), the event types it wants (exact, or prefixes such as `transfer.*`), optional
//!   channels, headers, a description, metadata, a rate limit, a cap on attempts in flight,
//!   and whether its messages go one at a time in order. [`Subscriptions::save`] registers or
//!   updates it; [`Subscriptions::subscriptions`] lists an owner's, page by page.
//! - **Publishing.** [`Subscriptions::publish`] queues one delivery for each of the owner's
//!   enabled endpoints that wants the message, in one transaction, once per message id;
//!   `PostgresOutbox::publish_in` does it in the application's own transaction.
//! - **Rotating keys.** [`Subscription::rotate`] adds a key and keeps the current ones signing
//!   beside it for a grace period ([`ROTATION_GRACE`], a day), so that a receiver verifies with
//!   either until it has switched; save the subscription, and the next attempt signs with both.
//! - **Health.** A worker built [`with_destinations`](Worker::with_destinations) reads each
//!   endpoint before each attempt. A `410 Gone` disables it (the rest of its queue is
//!   dead-lettered without an attempt); a `429` or `503` with `Retry-After` pauses it for every
//!   worker; each endpoint gets at most a few attempts at once ([`Worker::per_endpoint`]), and
//!   at most its rate limit; after a run of failures a circuit breaker holds its messages back
//!   and probes with one attempt now and then ([`Worker::circuit_breaker`]); after 5 days of
//!   failing without a success it is disabled ([`Worker::disable_after`]) and
//!   [`Worker::on_disabled`] is called, for the application to tell the owner.
//! - **Replay.** List an endpoint's messages with [`Outbox::list`] and
//!   [`ListQuery::endpoint`] (by state, event type and time too); send one again with
//!   [`Outbox::resend`]; enable an endpoint again with [`Subscriptions::enable`] and send
//!   everything it missed since a time with [`Outbox::recover`].
//! - **Retention.** The worker purges delivered messages and their attempts after its
//!   [`retention`](Worker::retention) (30 days), and forgets their ids with them; with
//!   [`keep_payloads`](Worker::keep_payloads), bodies go sooner than the attempt log.
//!
//! # Scaling out
//!
//! **Which store.** [`MemoryOutbox`] for tests and for senders that may lose what is pending
//! when the process stops. `SqliteOutbox` for one machine: durable across restarts, no server
//! to run, and several processes may share the file (a worker sees another process's jobs at
//! its poll interval). `PostgresOutbox` for many workers on many machines, and for the
//! transactional outbox: `enqueue_in` writes the job in the application's own transaction, so
//! that a business write and its webhook commit together or not at all.
//!
//! **Leases and fencing.** A worker leases due jobs for a while (`Worker::lease_for`, 60 s):
//! the lease moves the job's due time to the end of the lease and stamps it with a new fencing
//! token. Every later write for the job (`settle`, `reschedule`, `finish`) names the token, and
//! the store refuses it ([`OutboxError::LeaseLost`]) once the job was leased again. The lease
//! must outlast an attempt (the worker checks this before it starts). PostgreSQL leases with
//! one `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`, so workers never wait for each
//! other, and holds no connection while an HTTP attempt is in flight.
//!
//! **When a worker dies** (a crash, `SIGKILL`, a lost machine), its leased jobs fall due again
//! when their leases run out, and another worker delivers them. An attempt that was in flight
//! may have reached the receiver, so the receiver may see that message twice, under the same
//! `webhook-id`: its [`ReplayGuard`](crate::webhook::ReplayGuard) (shared between instances:
//! `PostgresReplayGuard`, `RedisReplayGuard`) drops the repeat. Nothing is lost: a job leaves
//! the outbox only as delivered, gone (410) or dead-lettered, and dead letters wait for a
//! redrive.
//!
//! **When the database dies**, workers keep their attempts in flight, and leasing backs off
//! (from half a second, doubling, up to 30 s) until the database answers again; a settle
//! that failed leaves its job to its lease, so the attempt is made again. A transactional
//! enqueue fails with the application's own write, which is the point.
//!
//! **Wake-ups.** An enqueue wakes the workers at once: in the same process through the
//! store's [`Wakeup`], across processes through PostgreSQL's `LISTEN/NOTIFY` (sent on commit).
//! Idle workers otherwise sleep until the next job falls due, and poll only as a safety net
//! (`Worker::poll_interval`, 5 s).
//!
//! **How many workers.** Throughput on one database is bound by its commits: each attempt
//! costs one (`settle`), and each lease one for a batch. On a 2-core machine with PostgreSQL
//! on the same host, one worker at concurrency 16 delivers about 2 500 messages per second to
//! a fast receiver, and two or four workers about as many (`cargo bench --bench postgres`):
//! add workers for availability (two or more, on different machines) and raise
//! `Worker::concurrency` for slow receivers, whose attempts spend their time waiting. Each
//! worker holds at most `concurrency` plus two connections, one of them listening.

mod dispatcher;
#[cfg(feature = "tokio")]
mod health;
mod memory;
mod outbox;
mod outcome;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
pub(crate) mod subscription;
mod wakeup;
#[cfg(feature = "tokio")]
mod worker;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::postgres::InvalidSchema;
pub use dispatcher::{DeliverError, DeliveryReport, Destination, Dispatcher, Outcome, Payload};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use health::{DisabledReason, EndpointDisabled};
pub use memory::MemoryOutbox;
pub use outbox::{Entry, Job, Lease, ListQuery, Next, Outbox, OutboxError, Sequence, State};
pub use outcome::Attempt;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresOutbox;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{Durability, SqliteOutbox};
pub use subscription::{
    ActiveKey, Destinations, Lookup, Published, ROTATION_GRACE, Status, Subscription,
    SubscriptionError, SubscriptionKey, Subscriptions,
};
pub use wakeup::{Wakeup, Woken};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use worker::Worker;
#[cfg(feature = "tokio")]
pub(crate) use worker::{Drain, drain};

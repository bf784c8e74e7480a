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
//! ([`MemoryOutbox`], or `SqliteOutbox` with the `sqlite` feature) and let a `Worker` (feature
//! `tokio`) drain it with bounded concurrency.

mod dispatcher;
mod memory;
mod outbox;
mod outcome;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod wakeup;
#[cfg(feature = "tokio")]
mod worker;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::postgres::InvalidSchema;
pub use dispatcher::{DeliverError, DeliveryReport, Destination, Dispatcher, Outcome, Payload};
pub use memory::MemoryOutbox;
pub use outbox::{Entry, Job, Lease, ListQuery, Next, Outbox, OutboxError, State};
pub use outcome::Attempt;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresOutbox;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{Durability, SqliteOutbox};
pub use wakeup::{Wakeup, Woken};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use worker::Worker;

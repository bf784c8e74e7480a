//! Consuming events: the receiving application's side, whichever way the events come.
//!
//! [`Envelope::read`] turns a verified delivery from any common provider (CloudEvents,
//! Standard Webhooks, Stripe, GitHub, Shopify, Slack) into the one [`Event`](crate::event::Event)
//! envelope, and a [`Router`] dispatches events by type to typed async handlers. An event with
//! no handler, or whose data does not decode, is acknowledged and reported to the router's
//! fallback, never refused: its sender would retry it for days.
//!
//! With an [`Inbox`] (feature `tokio`), a receiver stores each verified event before it
//! answers, and a [`Processor`] runs the router on it with retries, each event once: a
//! handler that fails loses nothing, and the sender gets its answer fast. A [`Poller`] reads an
//! events API into the same inbox: push and pull meet there, and each event is handled once
//! whichever way it came.

mod envelope;
#[cfg(feature = "tokio")]
mod inbox;
#[cfg(feature = "tokio")]
mod poll;
mod router;

pub use envelope::{Envelope, EnvelopeError};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use inbox::{Inbox, InboxError, Processor};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use poll::{Cursors, Feed, FeedPage, PollError, Polled, Poller, Position};
pub use router::{HandlerError, Reason, Routed, Router, Unrouted};

//! Consuming events: the receiving application's side, whichever way the events come.
//!
//! # Consuming events
//!
//! An application that consumes another's events can be told (push: webhooks) or can ask
//! (pull: an events API). Push is fast but can be lost (the receiver was down, a deploy
//! dropped requests, the sender gave up); pull is reliable but slow and costly. This module
//! gives the pieces to use both, each event handled once whichever way it came.
//!
//! **One envelope.** [`Envelope::read`] turns a verified delivery from CloudEvents, Standard
//! Webhooks, Stripe, GitHub, Shopify or Slack into one [`Event`](crate::event::Event) (a
//! [`RawEvent`](crate::event::RawEvent), its data not yet decoded), naming the source.
//!
//! **Router** (use it always). A [`Router`] dispatches events by type (exact, or a `prefix.*`)
//! to typed async handlers. An event with no handler, or whose data does not decode, is
//! acknowledged and reported to the fallback: answering such a delivery with an error would
//! have the sender retry it for days. Called straight from a receiver (with a
//! [`ReplayGuard`](crate::webhook::ReplayGuard) for dedupe), a handler's failure becomes the
//! sender's retry.
//!
//! **Inbox** (use it when an event must not be lost, or handlers are slow). The receiver
//! [`accept`](Inbox::accept)s each verified event into an [`Inbox`] (memory, SQLite or
//! PostgreSQL) and answers 2xx at once; a [`Processor`] runs the router on it, retries a
//! failing handler on a schedule, and parks what keeps failing for a
//! [`replay`](Inbox::replay). The insert is the dedupe, keyed by source and id, so an event
//! handled once stays handled once, whichever receiver instance got it and however often.
//!
//! **Poller** (use it where the sender has an events API). A [`Poller`] reads the API into
//! the same inbox: saved cursor, `If-None-Match`, `Retry-After`, rate limits, slower while
//! nothing comes. With webhooks flowing, run it slowly, as a check; when they stop (an outage,
//! a disabled endpoint), it catches up the gap, and the inbox handles each event once whether
//! it was pushed, pulled or both. Make sure both paths name the same source (the `source` you
//! give [`Envelope::read`] and the one the feed's events carry), since the dedupe key is
//! (source, id).
//!
//! **Order** (use it when one key's events must be handled in their order). Pushed and pulled
//! events arrive in any order: a lost webhook comes back through the poller after later ones.
//! An inbox [`ordered_by`](Inbox::ordered_by) a key and a per-key number (an account and its
//! event's version) handles each key's events one after another in their source's order,
//! waiting at a gap until the missing event comes, while other keys go on side by side. The
//! store keeps each key's progress, so the order holds across restarts and processes.
//!
//! `examples/partner.rs` runs the whole pattern on loopback.

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

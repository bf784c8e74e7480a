//! How a store tells the workers waiting on it that work may have become due.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::Event;

/// Wakes the workers waiting on an [`Outbox`](super::Outbox) when work may have become due: a
/// job enqueued, redriven or released for a new time.
///
/// A store keeps one and fires it after each such write; a worker takes a [`listen`] future
/// *before* it asks the store for work, so that a job enqueued between the two is never
/// missed, and waits on it (with the time the next job falls due) when nothing is due. Clones
/// share one signal. Waking costs one atomic read when nobody listens.
///
/// [`listen`]: Wakeup::listen
///
/// ```
/// # async fn run() {
/// use hookwire::deliver::Wakeup;
///
/// let wakeup = Wakeup::new();
/// let woken = wakeup.listen();
/// wakeup.wake();
/// woken.await; // completes at once: it was listening when `wake` ran
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Wakeup {
    event: Arc<Event>,
}

impl fmt::Debug for Wakeup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wakeup").finish_non_exhaustive()
    }
}

impl Wakeup {
    /// A signal nobody listens to yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every [`Woken`] future taken before this call.
    pub fn wake(&self) {
        self.event.notify(usize::MAX);
    }

    /// A future that completes at the first [`wake`](Wakeup::wake) after this call, even one
    /// that runs before the future is first polled.
    pub fn listen(&self) -> Woken {
        Woken {
            listener: self.event.listen(),
        }
    }
}

/// The future [`Wakeup::listen`] returns.
#[must_use = "a wake-up does nothing unless awaited"]
pub struct Woken {
    listener: event_listener::EventListener,
}

impl fmt::Debug for Woken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Woken").finish_non_exhaustive()
    }
}

impl Future for Woken {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.listener).poll(cx)
    }
}

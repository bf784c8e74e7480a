//! Time: one [`Clock`] for everything that reads the time or waits, injected so that the core
//! runs on no particular async runtime and tests of long schedules run in milliseconds.
//!
//! The API client and its token refresh, the dispatcher and the worker, the axum receiver's
//! replay guard and the event builder all read time through a `Clock`. With
//! [`FakeClock`](crate::testing::FakeClock) (feature `test-util`) a test drives all of them
//! through days of virtual time at once.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

/// Wall time, monotonic time and sleeping.
///
/// With the `tokio` feature (which the adapter features bring), [`TokioClock`] implements it;
/// for another runtime it is a few lines over that runtime's sleep:
///
/// ```
/// use std::time::Duration;
/// use hookwire::clock::Clock;
///
/// struct MyRuntimeClock;
///
/// #[hookwire::async_trait]
/// impl Clock for MyRuntimeClock {
///     async fn sleep(&self, duration: Duration) {
///         // e.g. `tokio::time::sleep(duration).await` or `async_io::Timer::after(duration).await`
/// #       let _ = duration;
///     }
/// }
/// ```
#[async_trait]
pub trait Clock: Send + Sync {
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);

    /// The wall-clock time: for timestamps that are signed, checked or stored. The system's
    /// unless overridden.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// The monotonic time: for time budgets and intervals. The system's unless overridden.
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

#[async_trait]
impl<C: Clock + ?Sized> Clock for Arc<C> {
    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await;
    }

    fn now(&self) -> SystemTime {
        (**self).now()
    }

    fn instant(&self) -> Instant {
        (**self).instant()
    }
}

/// The system's clocks, sleeping on the tokio runtime.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

#[cfg(feature = "tokio")]
#[async_trait]
impl Clock for TokioClock {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Waits for `future` or for `duration` on `clock`, whichever ends first: `None` when the time
/// ran out.
pub(crate) async fn within<F: std::future::Future>(
    clock: &dyn Clock,
    duration: Duration,
    future: F,
) -> Option<F::Output> {
    use futures_util::future::{Either, select};
    let future = std::pin::pin!(future);
    let deadline = std::pin::pin!(clock.sleep(duration));
    match select(future, deadline).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(((), _)) => None,
    }
}

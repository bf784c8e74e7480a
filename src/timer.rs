//! Time for waiting between attempts, injected so that the core runs on no particular async
//! runtime and tests of long retry schedules run in milliseconds.

use std::time::{Duration, Instant};

use async_trait::async_trait;

/// Sleeps, and tells the time, for retries and schedules.
///
/// With a tokio-based adapter feature (`reqwest`, `hyper`, `axum`), `TokioTimer` implements it;
/// elsewhere it is a few lines over the runtime's sleep:
///
/// ```
/// use std::time::Duration;
/// use hookwire::timer::Timer;
///
/// struct MyRuntimeTimer;
///
/// #[hookwire::async_trait]
/// impl Timer for MyRuntimeTimer {
///     async fn sleep(&self, duration: Duration) {
///         // e.g. `tokio::time::sleep(duration).await` or `async_io::Timer::after(duration).await`
/// #       let _ = duration;
///     }
/// }
/// ```
#[async_trait]
pub trait Timer: Send + Sync {
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);

    /// The current instant, for time budgets; the system's monotonic clock unless overridden.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The tokio runtime's timer.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
#[async_trait]
impl Timer for TokioTimer {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

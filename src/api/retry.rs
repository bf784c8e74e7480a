//! When and how long to wait before trying a call again.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, Method, Response, StatusCode};

use crate::transport::{TransportError, TransportErrorKind};

/// `Idempotency-Key`: a request that carries it may be retried whatever its method.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// How a [`Client`](super::Client) retries.
///
/// Only requests that are safe to repeat are retried: `GET`, `HEAD`, `PUT`, `DELETE`,
/// `OPTIONS` and `TRACE`, and any request with an `Idempotency-Key` header. They are retried
/// after connection failures, timeouts, and 429, 502, 503 and 504 responses. Before each retry
/// the client waits for the server's `Retry-After` when it gives one (if that exceeds
/// [`retry_after_cap`](RetryPolicy::retry_after_cap), the client stops and returns the
/// response), else for an exponential backoff with full jitter: a random delay between zero and
/// `min(max_delay, base_delay × 2^retry)`. It stops after
/// [`max_attempts`](RetryPolicy::max_attempts) attempts, or when the next wait would end after
/// the [`budget`](RetryPolicy::budget).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    retry_after_cap: Duration,
    budget: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms base delay, 5 s maximum backoff, `Retry-After` honoured up to 60 s,
    /// a 90 s budget.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            retry_after_cap: Duration::from_secs(60),
            budget: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The number of attempts in all, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff's first step.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest backoff.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest `Retry-After` the client waits for; a longer one ends the retries.
    #[must_use]
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// The time from the first attempt after which no retry starts.
    #[must_use]
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// How long to wait before retry number `retry` (0 for the first retry) of a request with
    /// `method` and `headers` that ended in `outcome`, `elapsed` after the first attempt began;
    /// `None` to stop.
    pub fn delay(
        &self,
        retry: u32,
        method: &Method,
        headers: &HeaderMap,
        outcome: &Result<Response<Bytes>, TransportError>,
        elapsed: Duration,
        now: SystemTime,
    ) -> Option<Duration> {
        if retry.saturating_add(1) >= self.max_attempts || !repeatable(method, headers) {
            return None;
        }
        let delay = match outcome {
            Ok(response) if retryable_status(response.status()) => {
                match retry_after(response.headers(), now) {
                    Ok(Some(wait)) if wait > self.retry_after_cap => return None,
                    Ok(Some(wait)) => wait,
                    Ok(None) | Err(_) => self.backoff(retry),
                }
            }
            Ok(_) => return None,
            Err(error) => match error.kind() {
                TransportErrorKind::Connect | TransportErrorKind::Timeout => self.backoff(retry),
                _ => return None,
            },
        };
        (elapsed.saturating_add(delay) <= self.budget).then_some(delay)
    }

    /// A random delay in `0..=min(max_delay, base_delay × 2^retry)` (full jitter).
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let random = getrandom::u64().unwrap_or(nanos / 2);
        Duration::from_nanos(random % nanos.saturating_add(1))
    }
}

/// Whether a request with `method` and `headers` can be sent twice without harm.
fn repeatable(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key(IDEMPOTENCY_KEY)
}

/// Whether a response status asks for a later attempt.
fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// An invalid `Retry-After` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the Retry-After header is neither a number of seconds nor an HTTP date (such as `120` or `Wed, 21 Oct 2026 07:28:00 GMT`)"
)]
pub struct InvalidRetryAfter;

/// The wait a `Retry-After` header asks for, at `now`: a number of seconds, or an HTTP date
/// (a date in the past asks for no wait). `Ok(None)` when there is no such header.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use hookwire::api::retry_after;
/// use hookwire::http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "120".parse()?);
/// assert_eq!(retry_after(&headers, SystemTime::now())?, Some(Duration::from_secs(120)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`InvalidRetryAfter`] for a value that is neither.
pub fn retry_after(
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<Option<Duration>, InvalidRetryAfter> {
    let Some(value) = headers.get(RETRY_AFTER) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| InvalidRetryAfter)?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still a valid (absurdly long) wait.
        let seconds = text.parse::<u64>().unwrap_or(u64::MAX);
        return Ok(Some(Duration::from_secs(seconds)));
    }
    let date = httpdate::parse_http_date(text).map_err(|_| InvalidRetryAfter)?;
    Ok(Some(date.duration_since(now).unwrap_or(Duration::ZERO)))
}

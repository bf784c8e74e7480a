//! When to try again: one engine for the API client's retries and the dispatcher's delivery
//! schedule.
//!
//! A [`RetryPolicy`] holds a [`Backoff`] (the delay before each attempt, with [`Jitter`]), a
//! cap on the wait a server's `Retry-After` may ask for, an optional time budget, and which
//! failures are worth another attempt. It [`classify`](RetryPolicy::classify)s each result
//! into a [`Verdict`] and says how long to wait before the next attempt
//! ([`next_delay`](RetryPolicy::next_delay)). The API client starts from
//! [`RetryPolicy::for_requests`], the dispatcher from [`RetryPolicy::for_deliveries`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, Response, StatusCode};

use crate::transport::{TransportError, TransportErrorKind};

/// How the delays of a [`Backoff`] vary, so that retries from many clients spread out.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Jitter {
    /// Each delay exactly as scheduled.
    None,
    /// Each delay varied uniformly by up to this fraction either way (0.2 is ±20 %), clamped
    /// to `0..=1`.
    Proportional(f64),
    /// Each delay drawn uniformly from zero to the scheduled delay ("full jitter").
    Full,
}

/// The delay before each attempt: a list, or an exponential series up to a cap, with
/// [`Jitter`].
///
/// ```
/// use std::time::Duration;
/// use hookwire::retry::{Backoff, Jitter};
///
/// let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5), 4)
///     .jitter(Jitter::None);
/// let delays: Vec<_> = (0..5).map(|attempt| backoff.delay(attempt)).collect();
/// assert_eq!(delays, [
///     Some(Duration::ZERO),
///     Some(Duration::from_millis(100)),
///     Some(Duration::from_millis(200)),
///     Some(Duration::from_millis(400)),
///     None,
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    kind: Kind,
    jitter: Jitter,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    List(Vec<Duration>),
    Exponential {
        first: Duration,
        cap: Duration,
        attempts: u32,
    },
}

impl Default for Backoff {
    /// The delivery schedule of common practice (and the Standard Webhooks recommendation):
    /// at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each varied by up to
    /// ±20 %.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Backoff::list(vec![
            Duration::ZERO,
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl Backoff {
    /// The delay before each attempt, the first included (usually zero), with ±20 % jitter.
    pub fn list(delays: Vec<Duration>) -> Self {
        Backoff {
            kind: Kind::List(delays),
            jitter: Jitter::Proportional(0.2),
        }
    }

    /// `attempts` attempts: the first at once, then after `first`, doubling up to `cap`, with
    /// ±20 % jitter.
    pub fn exponential(first: Duration, cap: Duration, attempts: u32) -> Self {
        Backoff {
            kind: Kind::Exponential {
                first,
                cap,
                attempts,
            },
            jitter: Jitter::Proportional(0.2),
        }
    }

    /// How the delays vary; ±20 % unless set.
    #[must_use]
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = match jitter {
            Jitter::Proportional(fraction) if fraction.is_finite() => {
                Jitter::Proportional(fraction.clamp(0.0, 1.0))
            }
            Jitter::Proportional(_) => Jitter::None,
            other => other,
        };
        self
    }

    /// How many attempts it allows in all.
    pub fn attempts(&self) -> u32 {
        match &self.kind {
            Kind::List(delays) => u32::try_from(delays.len()).unwrap_or(u32::MAX),
            Kind::Exponential { attempts, .. } => *attempts,
        }
    }

    /// The delay before attempt number `attempt` (0 for the first) without jitter, or `None`
    /// after the last.
    pub fn nominal(&self, attempt: u32) -> Option<Duration> {
        match &self.kind {
            Kind::List(delays) => delays.get(usize::try_from(attempt).ok()?).copied(),
            Kind::Exponential {
                first,
                cap,
                attempts,
            } => match attempt {
                a if a >= *attempts => None,
                0 => Some(Duration::ZERO),
                a => Some(
                    first
                        .checked_mul(1u32.checked_shl(a - 1).unwrap_or(u32::MAX))
                        .unwrap_or(*cap)
                        .min(*cap),
                ),
            },
        }
    }

    /// The delay before attempt number `attempt`, with jitter, or `None` after the last.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        let nominal = self.nominal(attempt)?;
        if nominal.is_zero() {
            return Some(nominal);
        }
        // A uniform number in [0, 1).
        let unit = || getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64);
        let factor = match self.jitter {
            Jitter::None => return Some(nominal),
            Jitter::Proportional(fraction) => 1.0 + fraction * (2.0 * unit() - 1.0),
            Jitter::Full => unit(),
        };
        // Checked: a delay near `Duration::MAX` stretched by the jitter saturates, never panics.
        Some(
            Duration::try_from_secs_f64(nominal.as_secs_f64() * factor.max(0.0))
                .unwrap_or(Duration::MAX),
        )
    }
}

/// What one attempt's result means for the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// 2xx: done.
    Success,
    /// 410 Gone, where the policy treats it so: the receiver wants no more deliveries.
    Gone,
    /// Worth another attempt. `at_least` is the wait the server asked for with `Retry-After`.
    Retry {
        /// The server's `Retry-After`, if it gave a valid one.
        at_least: Option<Duration>,
    },
    /// Not worth another attempt: the result stands.
    Stop,
}

/// When to try again: a [`Backoff`], a cap on `Retry-After`, an optional budget, and which
/// failures are retried.
///
/// Two starting points, each a complete policy:
///
/// - [`RetryPolicy::for_requests`], for API calls a caller waits on: 3 attempts with
///   exponential backoff (100 ms doubling to 5 s, full jitter), only after connection failures,
///   timeouts and 429, 502, 503 and 504; a `Retry-After` up to 60 s is waited for, a longer one
///   ends the retries; no retry starts 90 s after the first attempt.
/// - [`RetryPolicy::for_deliveries`], for webhooks delivered in the background: the
///   [default schedule](Backoff::default) over 28 hours, after every failure but 410 Gone;
///   `Retry-After` stretches a delay up to 24 hours.
///
/// ```
/// use std::time::Duration;
/// use hookwire::retry::{Backoff, Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::for_requests()
///     .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(2), 5).jitter(Jitter::Full))
///     .budget(Duration::from_secs(10));
/// assert_eq!(policy.attempts(), 5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    backoff: Backoff,
    retry_after_cap: Duration,
    beyond_cap: BeyondCap,
    budget: Option<Duration>,
    retry_on: RetryOn,
}

/// What a `Retry-After` beyond the cap does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BeyondCap {
    /// Ends the retries: the caller gets the response now.
    Stop,
    /// Waits for the cap.
    Cap,
}

/// Which failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryOn {
    /// Connection failures, timeouts, 429, 502, 503 and 504.
    Transient,
    /// Everything but 2xx and 410 Gone.
    EveryFailure,
}

impl RetryPolicy {
    /// The API client's default: see the type's docs.
    pub fn for_requests() -> Self {
        RetryPolicy {
            backoff: Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5), 3)
                .jitter(Jitter::Full),
            retry_after_cap: Duration::from_secs(60),
            beyond_cap: BeyondCap::Stop,
            budget: Some(Duration::from_secs(90)),
            retry_on: RetryOn::Transient,
        }
    }

    /// The dispatcher's default: see the type's docs.
    pub fn for_deliveries() -> Self {
        RetryPolicy {
            backoff: Backoff::default(),
            retry_after_cap: Duration::from_secs(24 * 60 * 60),
            beyond_cap: BeyondCap::Cap,
            budget: None,
            retry_on: RetryOn::EveryFailure,
        }
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        Self::for_requests().backoff(Backoff::list(vec![Duration::ZERO]))
    }

    /// The delays between attempts.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` honoured: beyond it, [`for_requests`](Self::for_requests)
    /// stops retrying and [`for_deliveries`](Self::for_deliveries) waits for the cap.
    #[must_use]
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// The time from the first attempt after which no retry starts.
    #[must_use]
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The number of attempts in all, the first included.
    pub fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// The longest `Retry-After` honoured.
    pub fn current_retry_after_cap(&self) -> Duration {
        self.retry_after_cap
    }

    /// The backoff, for stores that compute the next attempt's time.
    pub fn current_backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// What `result` means, at `now` (for a `Retry-After` date): 2xx success; 410 gone where
    /// every failure is retried; a failure this policy retries, with the server's
    /// `Retry-After`; otherwise stop. Redirects are never followed, so they are failures.
    pub fn classify(
        &self,
        result: &Result<Response<Bytes>, TransportError>,
        now: SystemTime,
    ) -> Verdict {
        let retry = |response: &Response<Bytes>| Verdict::Retry {
            at_least: retry_after(response.headers(), now).ok().flatten(),
        };
        match (result, self.retry_on) {
            (Ok(response), _) if response.status().is_success() => Verdict::Success,
            (Ok(response), RetryOn::EveryFailure) if response.status() == StatusCode::GONE => {
                Verdict::Gone
            }
            (Ok(response), RetryOn::EveryFailure) => retry(response),
            (Ok(response), RetryOn::Transient)
                if matches!(response.status().as_u16(), 429 | 502 | 503 | 504) =>
            {
                retry(response)
            }
            (Err(_), RetryOn::EveryFailure) => Verdict::Retry { at_least: None },
            (Err(error), RetryOn::Transient)
                if matches!(
                    error.kind(),
                    TransportErrorKind::Connect | TransportErrorKind::Timeout
                ) =>
            {
                Verdict::Retry { at_least: None }
            }
            _ => Verdict::Stop,
        }
    }

    /// How long to wait after attempt number `made` (1 after the first) ended in `verdict`,
    /// `elapsed` after the first attempt began; `None` to stop. The backoff's next delay,
    /// stretched to the server's `Retry-After` (up to the cap).
    pub fn next_delay(&self, made: u32, verdict: Verdict, elapsed: Duration) -> Option<Duration> {
        let Verdict::Retry { at_least } = verdict else {
            return None;
        };
        let scheduled = self.backoff.delay(made)?;
        let delay = match at_least {
            Some(asked) if asked > self.retry_after_cap => match self.beyond_cap {
                BeyondCap::Stop => return None,
                BeyondCap::Cap => self.retry_after_cap.max(scheduled),
            },
            Some(asked) => asked.max(scheduled),
            None => scheduled,
        };
        match self.budget {
            Some(budget) if elapsed.saturating_add(delay) > budget => None,
            _ => Some(delay),
        }
    }
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
/// use hookwire::retry::retry_after;
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

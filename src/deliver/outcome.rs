//! What an attempt's response means for the delivery.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::api::retry_after;
use crate::transport::{TransportError, TransportErrorKind};

/// The most of a response body an attempt keeps: 64 KiB.
pub const KEPT_BODY: usize = 64 * 1024;

/// What an attempt's result means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// 410 Gone: the receiver wants no more deliveries; stop, and disable the endpoint.
    Gone,
    /// Anything else: try again. `at_least` is the wait the receiver asked for (429 or 503 with
    /// `Retry-After`).
    Retry {
        /// The receiver's `Retry-After`, if it gave one.
        at_least: Option<Duration>,
    },
}

/// Classifies an attempt's result, at `now`: 2xx delivered; 410 gone; 429 and 503 retried
/// after their `Retry-After` if any; redirects (never followed), other statuses, timeouts and
/// connection errors retried.
pub fn classify(result: &Result<Response<Bytes>, TransportError>, now: SystemTime) -> Verdict {
    match result {
        Ok(response) if response.status().is_success() => Verdict::Delivered,
        Ok(response) if response.status() == StatusCode::GONE => Verdict::Gone,
        Ok(response)
            if matches!(
                response.status(),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) =>
        {
            Verdict::Retry {
                at_least: retry_after(response.headers(), now).ok().flatten(),
            }
        }
        _ => Verdict::Retry { at_least: None },
    }
}

/// One attempt, as a sender shows it to its customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When the attempt started.
    pub at: SystemTime,
    /// The response status, if a response arrived.
    pub status: Option<StatusCode>,
    /// The failure, if none did.
    pub error: Option<TransportErrorKind>,
    /// How long the attempt took.
    pub latency: Duration,
    /// The first 64 KiB of the response body.
    pub body: Bytes,
}

impl Attempt {
    pub(crate) fn new(
        at: SystemTime,
        latency: Duration,
        result: &Result<Response<Bytes>, TransportError>,
    ) -> Self {
        match result {
            Ok(response) => Attempt {
                at,
                status: Some(response.status()),
                error: None,
                latency,
                body: response
                    .body()
                    .slice(..response.body().len().min(KEPT_BODY)),
            },
            Err(error) => Attempt {
                at,
                status: None,
                error: Some(error.kind()),
                latency,
                body: Bytes::new(),
            },
        }
    }
}

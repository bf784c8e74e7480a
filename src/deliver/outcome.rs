//! What an attempt's response means for the delivery.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::transport::{BodyLimit, TransportError, TransportErrorKind};

/// One attempt, as a sender shows it to its customers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// An attempt from its parts: what a store reads back. `body` is cut to the
    /// [`BodyLimit::DELIVERY_ANSWER`] a report keeps.
    pub fn new(
        at: SystemTime,
        status: Option<StatusCode>,
        error: Option<TransportErrorKind>,
        latency: Duration,
        mut body: Bytes,
    ) -> Self {
        body.truncate(BodyLimit::DELIVERY_ANSWER.bytes());
        Attempt {
            at,
            status,
            error,
            latency,
            body,
        }
    }

    pub(crate) fn from_result(
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
                body: response.body().slice(
                    ..response
                        .body()
                        .len()
                        .min(BodyLimit::DELIVERY_ANSWER.bytes()),
                ),
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

/// The error kind a store wrote as its `Debug` form.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(super) fn parse_kind(kind: &str) -> TransportErrorKind {
    match kind {
        "Connect" => TransportErrorKind::Connect,
        "Timeout" => TransportErrorKind::Timeout,
        "Body" => TransportErrorKind::Body,
        other if other.starts_with("TooLarge") => TransportErrorKind::TooLarge {
            limit: other
                .trim_start_matches("TooLarge { limit: ")
                .trim_end_matches(" }")
                .parse()
                .unwrap_or(0),
        },
        _ => TransportErrorKind::Other,
    }
}

//! What every server-side adapter shares: reading a request body up to a limit, verifying it,
//! the rejections and their status codes, and the CloudEvents webhook validation handshake.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;

use super::body::{OverLimit, ReadError, read_limited};
use crate::webhook::{ReplayGuard, Scheme, Verified, VerifyError};

/// The default limit on a webhook body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A request whose signature checked out: its headers, its exact body, and what the scheme
/// verified.
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    /// The request headers.
    pub headers: HeaderMap,
    /// The body, exactly as it arrived.
    pub body: Bytes,
    scheme: &'static str,
    id: Option<String>,
    timestamp: Option<i64>,
}

impl VerifiedWebhook {
    /// What the scheme verified: its name, the message id and timestamp where it has them.
    pub fn verified(&self) -> Verified<'_> {
        Verified::new(self.scheme, self.id.as_deref(), self.timestamp)
    }
}

/// Why a webhook request was refused, and the response that says so.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is longer than the limit (413); the rest of it was not read.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read (400).
    Body(String),
    /// Verification failed (401 for a bad signature or timestamp, 400 for a malformed request).
    Verify(VerifyError),
    /// A message already received (by its id), answered 200 so that the sender stops, and
    /// not handled again.
    Duplicate,
}

impl Rejection {
    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Body(_) => StatusCode::BAD_REQUEST,
            Rejection::Duplicate => StatusCode::OK,
            Rejection::Verify(error) => match error {
                VerifyError::TooOld { .. }
                | VerifyError::TooNew { .. }
                | VerifyError::NoMatchingSignature
                | VerifyError::NoSupportedSignature => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    /// A short response for the sender: the status and a one-line reason that reveals nothing
    /// about secrets or which check failed beyond the status' own meaning.
    pub fn to_response(&self) -> Response<Bytes> {
        let text: &'static str = match self.status() {
            StatusCode::OK => "already received\n",
            StatusCode::PAYLOAD_TOO_LARGE => "payload too large\n",
            StatusCode::UNAUTHORIZED => "webhook signature or timestamp rejected\n",
            _ => "malformed webhook request\n",
        };
        let mut response = Response::new(Bytes::from_static(text.as_bytes()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { limit } => {
                write!(
                    f,
                    "the webhook body is larger than the limit of {limit} bytes"
                )
            }
            Rejection::Body(reason) => write!(f, "the webhook body could not be read: {reason}"),
            Rejection::Verify(error) => write!(f, "{error}"),
            Rejection::Duplicate => f.write_str("the message was already received"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Verify(error) => Some(error),
            _ => None,
        }
    }
}

/// Reads `request`'s body up to `limit` bytes (stopping, unread, at the first byte past it)
/// and verifies it under `scheme` at `now`.
///
/// # Errors
///
/// A [`Rejection`]: answer with [`Rejection::to_response`].
pub async fn verify_request<S, B>(
    scheme: &S,
    request: Request<B>,
    limit: usize,
    now: SystemTime,
) -> Result<VerifiedWebhook, Rejection>
where
    S: Scheme + ?Sized,
    B: Body,
    B::Error: fmt::Display,
{
    let (parts, body) = request.into_parts();
    let body = read_limited(&parts.headers, body, limit, OverLimit::Refuse)
        .await
        .map_err(|error| match error {
            ReadError::TooLarge => Rejection::TooLarge { limit },
            ReadError::Body(error) => Rejection::Body(error.to_string()),
        })?;
    let verified = scheme
        .verify_at(&parts.headers, &body, now)
        .map_err(Rejection::Verify)?;
    let (scheme, id, timestamp) = (
        verified.scheme(),
        verified.id().map(str::to_owned),
        verified.timestamp(),
    );
    Ok(VerifiedWebhook {
        headers: parts.headers,
        body,
        scheme,
        id,
        timestamp,
    })
}

/// As [`verify_request`], then drops a message whose id `guard` has seen before, with
/// [`Rejection::Duplicate`] (answered 200, so that the sender stops retrying).
///
/// # Errors
///
/// A [`Rejection`].
pub async fn verify_request_once<S, B>(
    scheme: &S,
    guard: &dyn ReplayGuard,
    request: Request<B>,
    limit: usize,
    now: SystemTime,
) -> Result<VerifiedWebhook, Rejection>
where
    S: Scheme + ?Sized,
    B: Body,
    B::Error: fmt::Display,
{
    let webhook = verify_request(scheme, request, limit, now).await?;
    match webhook.id.as_deref() {
        Some(id) if !guard.first_sight(id, now).await => Err(Rejection::Duplicate),
        _ => Ok(webhook),
    }
}

/// `WebHook-Request-Origin`: who asks to deliver webhooks (CloudEvents HTTP webhook spec §4).
const REQUEST_ORIGIN: HeaderName = HeaderName::from_static("webhook-request-origin");
/// `WebHook-Allowed-Origin`: the origin the receiver accepts.
const ALLOWED_ORIGIN: HeaderName = HeaderName::from_static("webhook-allowed-origin");
/// `WebHook-Allowed-Rate`: requests per minute the receiver accepts, or `*`.
const ALLOWED_RATE: HeaderName = HeaderName::from_static("webhook-allowed-rate");

/// The answer to the CloudEvents webhook validation handshake (the "abuse protection" of the
/// CloudEvents HTTP webhook specification), or `None` if `request` is not one.
///
/// A handshake is an `OPTIONS` request with `WebHook-Request-Origin`. When `accept` approves
/// the origin, the answer is 200 with `WebHook-Allowed-Origin` (the origin),
/// `WebHook-Allowed-Rate` (`rate`, requests a minute, or `*` for no limit) and
/// `Allow: POST, OPTIONS`; otherwise 403.
pub fn validation_response<B>(
    request: &Request<B>,
    accept: impl Fn(&str) -> bool,
    rate: Option<u32>,
) -> Option<Response<Bytes>> {
    if request.method() != Method::OPTIONS {
        return None;
    }
    let origin = request.headers().get(REQUEST_ORIGIN)?;
    let mut response = Response::new(Bytes::new());
    let accepted = origin.to_str().is_ok_and(accept);
    if !accepted {
        *response.status_mut() = StatusCode::FORBIDDEN;
        return Some(response);
    }
    let headers = response.headers_mut();
    headers.insert(ALLOWED_ORIGIN, origin.clone());
    let rate = rate.map_or_else(|| HeaderValue::from_static("*"), HeaderValue::from);
    headers.insert(ALLOWED_RATE, rate);
    headers.insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    Some(response)
}

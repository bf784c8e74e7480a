//! The one trait all HTTP I/O goes through: the API client, the webhook dispatcher and the
//! poller send with it, and adapters implement it; and the [`AddressPolicy`] that a sender's
//! transport enforces on the addresses it dials.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};

mod address;
mod redact;

pub use address::{AddressError, AddressPolicy, RangeError, is_public};
pub use redact::redact_url;

/// How much of a body is read, and what becomes of a longer one: refused
/// ([`TransportErrorKind::TooLarge`], or 413 on the server side) or cut at the limit. Readers
/// stop at the first byte past it, while the body streams in, and read no further.
///
/// One concept for every body hookwire reads, with a constant for each default:
///
/// ```
/// use hookwire::transport::BodyLimit;
///
/// assert_eq!(BodyLimit::RESPONSE.bytes(), 10 * 1024 * 1024);
/// assert!(BodyLimit::DELIVERY_ANSWER.truncates());
/// assert_eq!(BodyLimit::refuse_over(4096), BodyLimit::refuse_over(4096));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyLimit {
    bytes: usize,
    truncate: bool,
}

impl BodyLimit {
    /// An API response: up to 10 MiB, refused beyond.
    pub const RESPONSE: BodyLimit = BodyLimit::refuse_over(10 * 1024 * 1024);
    /// A receiver's answer to a delivery attempt: its first 64 KiB are kept for the report,
    /// the rest is not read.
    pub const DELIVERY_ANSWER: BodyLimit = BodyLimit::truncate_at(64 * 1024);
    /// A received webhook: up to 1 MiB, refused beyond (413).
    pub const WEBHOOK: BodyLimit = BodyLimit::refuse_over(1024 * 1024);

    /// Bodies longer than `bytes` are refused.
    pub const fn refuse_over(bytes: usize) -> Self {
        BodyLimit {
            bytes,
            truncate: false,
        }
    }

    /// The first `bytes` of a longer body are kept, and the rest is not read.
    pub const fn truncate_at(bytes: usize) -> Self {
        BodyLimit {
            bytes,
            truncate: true,
        }
    }

    /// The most bytes read.
    pub const fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a longer body is cut at the limit rather than refused.
    pub const fn truncates(&self) -> bool {
        self.truncate
    }
}

/// Sends an HTTP request and reads the whole response.
///
/// It is dyn-compatible: `Arc<dyn HttpClient>` and `Box<dyn HttpClient>` implement it too.
/// Async closures implement it, so that a stand-in transport is one line:
///
/// ```
/// use hookwire::bytes::Bytes;
/// use hookwire::http::{Request, Response};
/// use hookwire::transport::{HttpClient, TransportError};
///
/// let transport = |_request: Request<Bytes>| async {
///     Ok::<_, TransportError>(Response::new(Bytes::from_static(b"{}")))
/// };
/// # fn check(_: impl HttpClient) {}
/// check(transport);
/// ```
///
/// Implementations read at most their configured body size and fail with
/// [`TransportErrorKind::TooLarge`] beyond it, while the body streams in.
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `request` and returns the response with its whole body.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] when no complete response arrived.
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError>;

    /// The [`AddressPolicy`] this transport enforces on every address it connects to, or
    /// `None` when it connects wherever a URL points. Guarded transports (`HyperClient::guarded`,
    /// `ReqwestClient::guarded`) return theirs; a webhook `Dispatcher` refuses a transport that
    /// returns `None` unless it is built with `Dispatcher::unguarded`.
    fn address_policy(&self) -> Option<&AddressPolicy> {
        None
    }
}

#[async_trait]
impl<F, Fut> HttpClient for F
where
    F: Fn(Request<Bytes>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Response<Bytes>, TransportError>> + Send,
{
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        self(request).await
    }
}

#[async_trait]
impl HttpClient for Arc<dyn HttpClient> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        (**self).send(request).await
    }

    fn address_policy(&self) -> Option<&AddressPolicy> {
        (**self).address_policy()
    }
}

#[async_trait]
impl HttpClient for Box<dyn HttpClient> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        (**self).send(request).await
    }

    fn address_policy(&self) -> Option<&AddressPolicy> {
        (**self).address_policy()
    }
}

/// What kind of failure a [`TransportError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (DNS, refused, TLS handshake).
    Connect,
    /// The [`AddressPolicy`] refused the destination: nothing was sent, and trying again
    /// changes nothing.
    Refused,
    /// The request or the response took longer than allowed.
    Timeout,
    /// The connection failed while the body was being sent or read.
    Body,
    /// The response body is larger than the configured limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Anything else, such as a malformed response.
    Other,
}

/// Why no complete response arrived.
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TransportError {
    /// An error of `kind`, described by `message`.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source`.
    #[must_use]
    pub fn caused_by(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// No connection could be made.
    pub fn connect(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(TransportErrorKind::Connect, "could not connect").caused_by(source)
    }

    /// The address policy refused the destination; [`TransportError::refusal`] returns why.
    pub fn refused(refusal: AddressError) -> Self {
        Self::new(
            TransportErrorKind::Refused,
            "the destination is refused by the address policy",
        )
        .caused_by(refusal)
    }

    /// Why the address policy refused the destination, when it did: looked up along the
    /// chain of causes, so that adapters that wrap the policy's error are covered too.
    pub fn refusal(&self) -> Option<&AddressError> {
        let mut cause: Option<&(dyn StdError + 'static)> = self.source();
        while let Some(error) = cause {
            if let Some(refusal) = error.downcast_ref::<AddressError>() {
                return Some(refusal);
            }
            cause = error.source();
        }
        None
    }

    /// This error, or a [`Refused`](TransportErrorKind::Refused) one when a cause along its
    /// chain is the address policy's refusal: what an adapter does with its client's error.
    #[cfg(any(feature = "hyper", feature = "reqwest"))]
    pub(crate) fn or_refused(self) -> Self {
        match self.refusal() {
            Some(refusal) => Self::refused(refusal.clone()),
            None => self,
        }
    }

    /// The request or response took too long.
    pub fn timeout() -> Self {
        Self::new(TransportErrorKind::Timeout, "timed out")
    }

    /// The connection failed during the body.
    pub fn body(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(
            TransportErrorKind::Body,
            "the body could not be transferred",
        )
        .caused_by(source)
    }

    /// The response body exceeded `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            TransportErrorKind::TooLarge { limit },
            format!("the response body is larger than the limit of {limit} bytes"),
        )
    }

    /// The kind of failure.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether it was a timeout.
    pub fn is_timeout(&self) -> bool {
        self.kind == TransportErrorKind::Timeout
    }

    /// Whether no connection could be made.
    pub fn is_connect(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }

    /// Whether the address policy refused the destination.
    pub fn is_refused(&self) -> bool {
        self.kind == TransportErrorKind::Refused
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause is the source, not part of this message: an error report that walks the
        // chain shows each level once.
        f.write_str(&self.message)
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

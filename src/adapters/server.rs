//! What every server-side adapter shares: reading a request body up to a limit, verifying it,
//! the rejections and their status codes, and the CloudEvents webhook validation handshake.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;

use super::body::{ReadError, read_limited};
use crate::clock::Clock;
#[cfg(feature = "tracing")]
use crate::observe::Level;
pub use crate::observe::Rejections;
use crate::transport::BodyLimit;
use crate::webhook::scheme::DynVerifyAsync;
use crate::webhook::{
    Claim, Diagnosis, Handshake, Inbound, MAX_ID_LEN, ReplayError, ReplayGuard, ReplayKey,
    Verified, Verify, VerifyAsync, VerifyError, diagnose,
};

/// The default deadline for reading a webhook body: 30 seconds.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of a webhook body is read, and for how long: at most
/// [`bytes`](ReadLimits::bytes) ([`BodyLimit::WEBHOOK`], 1 MiB, unless set; 413 past it, the
/// rest unread) within [`read_timeout`](ReadLimits::read_timeout) (408 past it), so that
/// neither a huge body nor one that trickles in a byte at a time can hold a server. A plain
/// `usize` converts into limits of that many bytes with the default deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    bytes: usize,
    read_timeout: Duration,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            bytes: BodyLimit::WEBHOOK.bytes(),
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

impl From<usize> for ReadLimits {
    fn from(bytes: usize) -> Self {
        ReadLimits {
            bytes,
            ..ReadLimits::default()
        }
    }
}

impl ReadLimits {
    /// At most `bytes`, within [`DEFAULT_READ_TIMEOUT`].
    pub fn new(bytes: usize) -> Self {
        Self::from(bytes)
    }

    /// The deadline for reading the whole body.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The most bytes read.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The deadline for reading the whole body.
    pub fn timeout(&self) -> Duration {
        self.read_timeout
    }
}

/// The scheme a configuration verifies with: a synchronous one, called as it is, or one that
/// waits, its futures on the heap.
#[derive(Clone)]
enum Scheme {
    Sync(Arc<dyn Verify>),
    Async(Arc<dyn DynVerifyAsync>),
}

/// A scheme borrowed for one request.
#[derive(Clone, Copy)]
enum SchemeRef<'s> {
    Sync(&'s dyn Verify),
    Async(&'s dyn DynVerifyAsync),
}

impl SchemeRef<'_> {
    fn name(&self) -> &str {
        match self {
            SchemeRef::Sync(scheme) => scheme.name(),
            SchemeRef::Async(scheme) => scheme.boxed_name(),
        }
    }
}

impl Scheme {
    fn as_ref(&self) -> SchemeRef<'_> {
        match self {
            Scheme::Sync(scheme) => SchemeRef::Sync(&**scheme),
            Scheme::Async(scheme) => SchemeRef::Async(&**scheme),
        }
    }
}

/// What a receiver verifies with: a scheme (any [`Verify`], or any [`VerifyAsync`] through
/// [`WebhookConfig::new_async`]), the body's [`ReadLimits`], and the clock timestamps are
/// checked against. axum's extractors take it from the router's state; tower's `VerifyLayer`
/// is built from it.
#[derive(Clone)]
pub struct WebhookConfig {
    scheme: Scheme,
    pub(crate) limit: ReadLimits,
    pub(crate) rejections: Rejections,
    clock: Option<Arc<dyn Clock>>,
    handshakes: bool,
}

impl WebhookConfig {
    /// Verification under `scheme`, with bodies up to [`BodyLimit::WEBHOOK`] (1 MiB) read within
    /// 30 seconds.
    pub fn new(scheme: impl Verify + 'static) -> Self {
        Self::with_scheme(Scheme::Sync(Arc::new(scheme)))
    }

    /// Verification under a scheme that may wait, such as one whose keys are fetched over HTTP
    /// (`Oidc`, `Sns`), with the same defaults as [`new`](WebhookConfig::new). Each request's
    /// verification is one future on the heap; a synchronous scheme is better given to `new`,
    /// which calls it as it is.
    ///
    /// ```
    /// # #[cfg(all(feature = "oidc", feature = "hyper", feature = "rustls"))]
    /// # {
    /// use hookwire::adapters::hyper::HyperClient;
    /// use hookwire::adapters::server::WebhookConfig;
    /// use hookwire::webhook::Oidc;
    ///
    /// let push = Oidc::google(HyperClient::https()?, "https://hooks.example.com/pubsub");
    /// let config = WebhookConfig::new_async(push);
    /// # let _ = config;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new_async(scheme: impl VerifyAsync + 'static) -> Self {
        Self::with_scheme(Scheme::Async(Arc::new(scheme)))
    }

    fn with_scheme(scheme: Scheme) -> Self {
        WebhookConfig {
            scheme,
            limit: ReadLimits::default(),
            rejections: Rejections::new(),
            clock: None,
            handshakes: false,
        }
    }

    /// Whether providers' handshakes are answered (off unless set): Slack's
    /// `url_verification`, Zoom's `endpoint.url_validation`, Twitch's
    /// `webhook_callback_verification`, Discord's `PING` and Microsoft Graph's
    /// `validationToken`, each by its scheme (see [`Verify::handshake`]), and SNS's
    /// `SubscriptionConfirmation` where its scheme confirms subscriptions (see
    /// [`VerifyAsync::handshake_async`]). A handshake is answered by the adapter (`200`, or
    /// the status its [`Handshake`] says), only once it verified where the provider signs it,
    /// and never reaches the handler.
    ///
    /// ```
    /// use hookwire::adapters::server::WebhookConfig;
    /// use hookwire::webhook::Slack;
    ///
    /// let config = WebhookConfig::new(Slack::new("8f742231b10e8888abcd99yyyzzz85a5")?).handshakes(true);
    /// # let _ = config;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn handshakes(mut self, answer: bool) -> Self {
        self.handshakes = answer;
        self
    }

    /// Verifies a request whose body the adapter read, at `now`, as this configuration says.
    #[cfg(feature = "actix")]
    pub(crate) async fn check_read(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        now: SystemTime,
    ) -> Result<VerifiedWebhook, Rejection> {
        verify_read(self.scheme.as_ref(), parts, body, now, self.handshakes).await
    }

    /// Reads and verifies `request` at `now` as this configuration says, answering
    /// handshakes where they are on.
    pub(crate) async fn check<B>(
        &self,
        request: http::Request<B>,
        now: SystemTime,
    ) -> Result<VerifiedWebhook, Rejection>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let body = read_body(&parts.headers, body, self.limit).await?;
        verify_read(self.scheme.as_ref(), parts, body, now, self.handshakes).await
    }

    /// How refused requests are reported and answered: at WARN, with a body that says only
    /// what the status says, unless set (see [`Rejections`]).
    #[must_use]
    pub fn rejections(mut self, rejections: Rejections) -> Self {
        self.rejections = rejections;
        self
    }

    /// The clock whose wall time timestamps are checked against and the replay guard
    /// remembers by; the system's unless set.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock
            .as_ref()
            .map_or_else(SystemTime::now, |clock| clock.now())
    }

    /// The largest body read, in bytes; larger ones get 413 and are not read further.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.limit = ReadLimits::new(bytes).read_timeout(self.limit.timeout());
        self
    }

    /// How long the whole body may take to arrive; 30 seconds unless set. A body that
    /// trickles in past it gets 408.
    #[must_use]
    pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limit = self.limit.read_timeout(timeout);
        self
    }

    /// Verifies `request`, or, under a `VerifyLayer` that verified it already, reads the
    /// body the layer passed on with the webhook it left in the extensions.
    #[cfg(feature = "axum")]
    pub(crate) async fn verify<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<VerifiedWebhook, Rejection>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (mut parts, body) = request.into_parts();
        let Some(mut webhook) = parts.extensions.remove::<VerifiedWebhook>() else {
            let request = http::Request::from_parts(parts, body);
            return self.check(request, self.now()).await;
        };
        webhook.body = read_body(&parts.headers, body, self.limit).await?;
        webhook.headers = parts.headers;
        Ok(webhook)
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("scheme", &self.scheme.as_ref().name())
            .field("limit", &self.limit)
            .field("rejections", &self.rejections)
            .field("handshakes", &self.handshakes)
            .finish()
    }
}

/// Reads `body` within `limits`.
pub(crate) async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limits: ReadLimits,
) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let reading = read_limited(headers, body, BodyLimit::refuse_over(limits.bytes));
    match tokio::time::timeout(limits.read_timeout, reading).await {
        Err(_) => Err(Rejection::Timeout {
            after: limits.read_timeout,
        }),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(ReadError::TooLarge)) => Err(Rejection::TooLarge {
            limit: limits.bytes,
        }),
        Ok(Err(ReadError::Body(error))) => Err(Rejection::Body(error.into())),
    }
}

/// A request whose signature checked out: its headers, its exact body, and what the scheme
/// verified.
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    /// The request headers.
    pub headers: HeaderMap,
    /// The body, exactly as it arrived.
    pub body: Bytes,
    scheme: String,
    id: Option<String>,
    timestamp: Option<i64>,
    key: Option<usize>,
    verifiable_until: Option<SystemTime>,
}

impl VerifiedWebhook {
    /// What the scheme verified: its name, the message id and timestamp where it has them.
    pub fn verified(&self) -> Verified<'_> {
        let verified = Verified::new(&self.scheme, self.id.as_deref(), self.timestamp);
        match self.key {
            Some(index) => verified.by_key(index),
            None => verified,
        }
    }

    /// The same webhook without its headers and body: what a layer leaves in a request's
    /// extensions, and what [`run_once`] needs.
    pub(crate) fn without_content(&self) -> VerifiedWebhook {
        VerifiedWebhook {
            headers: HeaderMap::new(),
            body: Bytes::new(),
            scheme: self.scheme.clone(),
            id: self.id.clone(),
            timestamp: self.timestamp,
            key: self.key,
            verifiable_until: self.verifiable_until,
        }
    }

    /// When this exact message stops verifying, where the scheme signs a timestamp (see
    /// [`Verified::verifiable_until`]).
    pub fn verifiable_until(&self) -> Option<SystemTime> {
        self.verifiable_until
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
    Body(Box<dyn std::error::Error + Send + Sync>),
    /// The body did not arrive within the read timeout (408); the connection should be closed.
    Timeout {
        /// The deadline.
        after: Duration,
    },
    /// Verification failed (401 for a bad signature or timestamp, 400 for a malformed request),
    /// with the likely causes ([`diagnose`]).
    Verify(Diagnosis),
    /// A message already handled (by its id), answered 200 so that the sender stops, and
    /// not handled again.
    Duplicate,
    /// Another delivery of the same message is being handled right now; answered 409 with
    /// `Retry-After`, so that the sender tries again once that handling has succeeded or
    /// failed.
    InFlight,
    /// The message id is longer than [`MAX_ID_LEN`] (400).
    IdTooLong {
        /// The id's length, in bytes.
        len: usize,
    },
    /// The replay guard could not be consulted (503 with `Retry-After`).
    Unavailable(ReplayError),
    /// Not a refusal: a provider's handshake, answered `200` with the scheme's answer instead
    /// of being handed to the handler (see [`WebhookConfig::handshakes`]).
    Handshake(Handshake),
}

impl Rejection {
    /// A short, stable name for the refusal, for logs and metric labels: `too_large`,
    /// `unreadable_body`, `body_timeout`, `duplicate`, `in_flight`, `id_too_long`,
    /// `guard_unavailable`, `handshake`, or the [`VerifyError::reason`] of a failed
    /// verification.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "too_large",
            Rejection::Body(_) => "unreadable_body",
            Rejection::Timeout { .. } => "body_timeout",
            Rejection::Verify(diagnosis) => diagnosis.error().reason(),
            Rejection::Duplicate => "duplicate",
            Rejection::InFlight => "in_flight",
            Rejection::IdTooLong { .. } => "id_too_long",
            Rejection::Unavailable(_) => "guard_unavailable",
            Rejection::Handshake(_) => "handshake",
        }
    }

    /// The answer the server adapters give, reported as `rejections` says (see
    /// [`observe`](crate::observe)): a bad request at the chosen level, a duplicate or a
    /// message in flight at DEBUG (senders repeat themselves), a replay guard that cannot be
    /// consulted at ERROR. With [`Rejections::explain`], the body says why.
    pub fn respond(&self, rejections: Rejections) -> Response<Bytes> {
        let handshake = matches!(self, Rejection::Handshake(_));
        #[cfg(feature = "tracing")]
        {
            let level = match self {
                Rejection::Duplicate | Rejection::InFlight => Level::Debug,
                Rejection::Handshake(answer) if answer.status().is_success() => Level::Debug,
                Rejection::Unavailable(_) => Level::Error,
                _ => rejections.current_level(),
            };
            let status = self.status().as_u16();
            let reason = self.reason();
            crate::observe::event_at!(
                level,
                target: "hookwire::adapters",
                { http.response.status_code = status, reason, "error.type" = reason },
                "webhook request refused: {self}{}",
                Explained(self)
            );
        }
        #[cfg(feature = "metrics")]
        if !handshake {
            metrics::counter!(crate::observe::names::REJECTIONS, "reason" => self.reason())
                .increment(1);
        }
        let mut response = self.to_response();
        if rejections.explains() && !self.status().is_success() && !handshake {
            let text = format!("{}: {self}{}\n", self.status(), Explained(self));
            *response.body_mut() = Bytes::from(text);
        }
        response
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Body(_) => StatusCode::BAD_REQUEST,
            Rejection::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Rejection::Duplicate => StatusCode::OK,
            Rejection::Handshake(answer) => answer.status(),
            Rejection::InFlight => StatusCode::CONFLICT,
            Rejection::IdTooLong { .. } => StatusCode::BAD_REQUEST,
            Rejection::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Verify(diagnosis) => match diagnosis.error() {
                VerifyError::KeysUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                VerifyError::TooOld { .. }
                | VerifyError::TooNew { .. }
                | VerifyError::NoMatchingSignature
                | VerifyError::NoSupportedSignature { .. } => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    /// A short response for the sender: the status and a one-line reason that reveals nothing
    /// about secrets or which check failed beyond the status' own meaning.
    pub fn to_response(&self) -> Response<Bytes> {
        if let Rejection::Handshake(answer) = self {
            let mut response = Response::new(Bytes::from(answer.body().to_owned()));
            *response.status_mut() = answer.status();
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type()),
            );
            headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            return response;
        }
        let text: &'static str = match self.status() {
            StatusCode::OK => "already received\n",
            StatusCode::CONFLICT => "this message is being handled; try again later\n",
            StatusCode::SERVICE_UNAVAILABLE => "temporarily unavailable; try again later\n",
            StatusCode::PAYLOAD_TOO_LARGE => "payload too large\n",
            StatusCode::REQUEST_TIMEOUT => "the body took too long to arrive\n",
            StatusCode::UNAUTHORIZED => "webhook signature or timestamp rejected\n",
            _ => "malformed webhook request\n",
        };
        let mut response = Response::new(Bytes::from_static(text.as_bytes()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let retry_after = match self {
            Rejection::InFlight => Some("5"),
            Rejection::Unavailable(_) => Some("30"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(seconds));
        }
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
            Rejection::Body(_) => f.write_str("the webhook body could not be read"),
            Rejection::Timeout { after } => {
                write!(f, "the webhook body did not arrive within {after:?}")
            }
            Rejection::Verify(_) => f.write_str("the webhook failed verification"),
            Rejection::Duplicate => f.write_str("the message was already handled"),
            Rejection::InFlight => {
                f.write_str("another delivery of the message is being handled right now")
            }
            Rejection::IdTooLong { len } => write!(
                f,
                "the message id is {len} bytes long, longer than the {MAX_ID_LEN} accepted"
            ),
            Rejection::Unavailable(_) => f.write_str("the replay guard could not be consulted"),
            Rejection::Handshake(_) => {
                f.write_str("the request was the provider's handshake, answered by the adapter")
            }
        }
    }
}

/// What a rejection's cause adds to its message, such as the verification error: `": …"`, or
/// nothing.
struct Explained<'a>(&'a Rejection);

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Rejection::Verify(diagnosis) => write!(f, ": {diagnosis}"),
            Rejection::Body(error) => write!(f, ": {error}"),
            Rejection::Unavailable(error) => write!(f, ": {error}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Body(error) => Some(&**error),
            Rejection::Verify(diagnosis) => Some(diagnosis),
            Rejection::Unavailable(error) => Some(error),
            _ => None,
        }
    }
}

/// Reads `request`'s body within `limits` (a byte count, or [`ReadLimits`]: stopping, unread,
/// at the first byte past the limit, and at the read deadline) and verifies it under `scheme`
/// at `now`.
///
/// # Errors
///
/// A [`Rejection`]: answer with [`Rejection::to_response`].
pub async fn verify_request<S, B>(
    scheme: &S,
    request: Request<B>,
    limits: impl Into<ReadLimits>,
    now: SystemTime,
) -> Result<VerifiedWebhook, Rejection>
where
    S: Verify + ?Sized,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body, limits.into()).await?;
    verify_read(SchemeRef::Sync(&scheme), parts, body, now, false).await
}

/// Verifies a request whose body was read (within its limits) by the caller, answering the
/// scheme's handshakes where `handshakes` is set (as [`Rejection::Handshake`]): what every
/// server adapter shares once it holds the body.
async fn verify_read(
    scheme: SchemeRef<'_>,
    parts: http::request::Parts,
    body: Bytes,
    now: SystemTime,
    handshakes: bool,
) -> Result<VerifiedWebhook, Rejection> {
    let inbound = Inbound::from_parts(&parts, &body);
    // An unsigned handshake (Microsoft Graph's) is answered before it counts as a refusal.
    let (result, answer) = match scheme {
        SchemeRef::Sync(scheme) => {
            let result = scheme.verify_at(inbound, now);
            let answer = handshakes
                .then(|| scheme.handshake(inbound, result.is_ok()))
                .flatten();
            (result, answer)
        }
        SchemeRef::Async(scheme) => {
            let result = scheme.verify_boxed(inbound, now).await;
            let answer = match handshakes {
                true => scheme.handshake_boxed(inbound, result.is_ok()).await,
                false => None,
            };
            (result, answer)
        }
    };
    if let Some(answer) = answer {
        return Err(Rejection::Handshake(answer));
    }
    #[cfg(feature = "tracing")]
    crate::webhook::trace_verification(scheme.name(), &result, now);
    #[cfg(feature = "metrics")]
    {
        let (outcome, reason) = match &result {
            Ok(_) => ("verified", "none"),
            Err(error) => ("rejected", error.reason()),
        };
        metrics::counter!(
            crate::observe::names::VERIFICATIONS,
            "scheme" => scheme.name().to_owned(),
            "outcome" => outcome,
            "reason" => reason
        )
        .increment(1);
    }
    let verified = result.map_err(|error| {
        Rejection::Verify(match scheme {
            SchemeRef::Sync(scheme) => diagnose(scheme, inbound, error),
            SchemeRef::Async(_) => Diagnosis::from(error),
        })
    })?;
    let (scheme, id, timestamp, key, verifiable_until) = (
        verified.scheme().to_owned(),
        verified.id().map(str::to_owned),
        verified.timestamp(),
        verified.key(),
        verified.verifiable_until(),
    );
    Ok(VerifiedWebhook {
        headers: parts.headers,
        body,
        scheme,
        id,
        timestamp,
        key,
        verifiable_until,
    })
}

/// Runs `handle` for a verified webhook at most once per message, with `guard`: the message is
/// claimed first; when `handle` answers 2xx the claim is committed, and when it answers
/// anything else (or panics) the claim is released, so that the sender's retry is handled and
/// nothing is lost. A message already handled is answered 200 without running `handle`; one
/// being handled right now, 409 with `Retry-After`. A webhook without an id runs `handle`
/// every time. What the server adapters use; call it from your own adapter.
///
/// HTTP servers drop a request's future when its client goes away. Dropped between the claim
/// and its commit, the claim lapses at the end of the guard's lease (so keep the lease a little
/// longer than handling can take); dropped after `handle` ran but before the commit, the
/// message may be handled again after the lease. Where that matters, run the handling in a task
/// of its own (`tokio::spawn`), which a departing client cannot cancel.
///
/// # Errors
///
/// What `handle` returns.
pub async fn run_once<R, E, Fut>(
    guard: &dyn ReplayGuard,
    webhook: &VerifiedWebhook,
    now: SystemTime,
    handle: impl FnOnce() -> Fut,
) -> Result<Response<R>, E>
where
    R: From<Bytes>,
    Fut: Future<Output = Result<Response<R>, E>>,
{
    let Some(id) = webhook.id.as_deref() else {
        return handle().await;
    };
    let refuse = |rejection: Rejection| Ok(rejection.respond(Rejections::new()).map(R::from));
    if id.len() > MAX_ID_LEN {
        return refuse(Rejection::IdTooLong { len: id.len() });
    }
    let key = ReplayKey {
        scheme: &webhook.scheme,
        id,
    };
    match guard.claim(key, now).await {
        Err(error) => return refuse(Rejection::Unavailable(error)),
        Ok(Claim::Done) => return refuse(Rejection::Duplicate),
        Ok(Claim::InFlight) => return refuse(Rejection::InFlight),
        Ok(_) => {}
    }
    let outcome = AssertUnwindSafe(handle()).catch_unwind().await;
    let handled = matches!(&outcome, Ok(Ok(response)) if response.status().is_success());
    // A failed commit leaves the claim to lapse at the end of its lease; a failed release
    // likewise: the sender's retry is handled then.
    if handled {
        let _ = guard.commit(key, now, webhook.verifiable_until).await;
    } else {
        let _ = guard.release(key).await;
    }
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
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

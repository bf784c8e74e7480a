//! axum 0.8: extractors that yield verified webhooks, and a tower layer that verifies before any
//! handler runs.
//!
//! Put a [`WebhookConfig`] (the scheme and the body limit) in the router's state (or make it
//! reachable with `FromRef`), then take [`Webhook`] (the verified raw request) or
//! [`WebhookEvent<T>`] (the verified request decoded as an [`Event<T>`]) in a handler.
//! Rejections answer 400, 401, 408 or 413 with a short message. To hand each message to the
//! handlers once, add a [`VerifyLayer`] with a replay guard: it sees the handler's answer, so a
//! message whose handler failed is released for the sender's retry.
//!
//! ```
//! use axum::{Router, routing::post};
//! use hookwire::adapters::axum::{Webhook, WebhookConfig};
//! use hookwire::webhook::StandardWebhooks;
//!
//! async fn receive(Webhook(webhook): Webhook) -> &'static str {
//!     println!("verified {:?}: {} bytes", webhook.verified().id(), webhook.body.len());
//!     "ok"
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let app: Router = Router::new()
//!     .route("/webhooks", post(receive))
//!     .with_state(WebhookConfig::new(verifier));
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

pub use super::server::{BodyLimits, DEFAULT_BODY_LIMIT, Rejection, VerifiedWebhook};
use super::server::{read_body, run_once, verify_request};
use crate::clock::Clock;
use crate::event::{Event, EventError, cloudevents};
use crate::webhook::{ReplayGuard, Verify};

/// What the extractors and the layer verify with: a scheme and a body limit.
#[derive(Clone)]
pub struct WebhookConfig {
    scheme: Arc<dyn Verify>,
    limit: BodyLimits,
    clock: Option<Arc<dyn Clock>>,
}

impl WebhookConfig {
    /// Verification under `scheme`, with bodies up to [`DEFAULT_BODY_LIMIT`] (1 MiB) read within
    /// 30 seconds.
    pub fn new(scheme: impl Verify + 'static) -> Self {
        WebhookConfig {
            scheme: Arc::new(scheme),
            limit: BodyLimits::default(),
            clock: None,
        }
    }

    /// The clock whose wall time timestamps are checked against and the replay guard
    /// remembers by; the system's unless set.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    fn now(&self) -> SystemTime {
        self.clock
            .as_ref()
            .map_or_else(SystemTime::now, |clock| clock.now())
    }

    /// The largest body read, in bytes; larger ones get 413 and are not read further.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.limit = BodyLimits::new(bytes).read_timeout(self.limit.timeout());
        self
    }

    /// How long the whole body may take to arrive; 30 seconds unless set. A body that
    /// trickles in past it gets 408.
    #[must_use]
    pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limit = self.limit.read_timeout(timeout);
        self
    }

    /// Verifies `request`, or, under a [`VerifyLayer`] that verified it already, reads the
    /// body the layer passed on with the webhook it left in the extensions.
    async fn verify<B>(&self, request: http::Request<B>) -> Result<VerifiedWebhook, Rejection>
    where
        B: http_body::Body,
        B::Error: fmt::Display,
    {
        let (mut parts, body) = request.into_parts();
        let Some(mut webhook) = parts.extensions.remove::<VerifiedWebhook>() else {
            let request = http::Request::from_parts(parts, body);
            return verify_request(&*self.scheme, request, self.limit, self.now()).await;
        };
        webhook.body = read_body(&parts.headers, body, self.limit).await?;
        webhook.headers = parts.headers;
        Ok(webhook)
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("scheme", &self.scheme.name())
            .field("limit", &self.limit)
            .finish()
    }
}

/// A verified webhook request: headers, exact body, and what was verified.
#[derive(Debug, Clone)]
pub struct Webhook(pub VerifiedWebhook);

/// Why an extractor refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// Verification failed, or the body was too large.
    Rejected(Rejection),
    /// The verified body is not an event of the expected type (400).
    Event(EventError),
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        match self {
            WebhookRejection::Rejected(rejection) => {
                rejection.to_response().map(axum::body::Body::from)
            }
            WebhookRejection::Event(_) => (
                StatusCode::BAD_REQUEST,
                "the webhook body is not a valid event\n",
            )
                .into_response(),
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookRejection::Rejected(rejection) => rejection.fmt(f),
            WebhookRejection::Event(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for WebhookRejection {}

impl<S> FromRequest<S> for Webhook
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        WebhookConfig::from_ref(state)
            .verify(request)
            .await
            .map(Webhook)
            .map_err(WebhookRejection::Rejected)
    }
}

/// A verified webhook request decoded as an [`Event<T>`]: a CloudEvent in any content mode,
/// or a Standard Webhooks payload (`{"type", "timestamp", "data"}`, its id from `webhook-id`
/// and its source `urn:hookwire:<scheme>`).
#[derive(Debug, Clone)]
pub struct WebhookEvent<T = serde_json::Value> {
    /// The event.
    pub event: Event<T>,
    /// The verified request it came in.
    pub webhook: VerifiedWebhook,
}

impl<S, T> FromRequest<S> for WebhookEvent<T>
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Webhook(webhook) = Webhook::from_request(request, state).await?;
        let event = decode_event(&webhook).map_err(WebhookRejection::Event)?;
        Ok(WebhookEvent { event, webhook })
    }
}

fn decode_event<T: DeserializeOwned>(webhook: &VerifiedWebhook) -> Result<Event<T>, EventError> {
    match cloudevents::decode(&webhook.headers, &webhook.body) {
        Err(EventError::NotAnEvent) => {
            let verified = webhook.verified();
            let id = verified.id().ok_or(EventError::MissingAttribute("id"))?;
            let source = format!("urn:hookwire:{}", verified.scheme());
            Event::from_standard_webhooks(id, &source, &webhook.body)
        }
        other => other,
    }
}

/// A tower layer that verifies every request before the inner service sees it: requests that
/// fail are answered (400, 401 or 413) without reaching it; those that pass reach it with their
/// body (read once, up to the limit) and a [`VerifiedWebhook`] in their extensions, its body
/// and headers empty (the request carries both). The [`Webhook`] and [`WebhookEvent`]
/// extractors under it take that webhook instead of verifying again.
///
/// With a [`replay_guard`](VerifyLayer::replay_guard), each message reaches the inner service
/// once: the layer sees the answer, so a message is committed as handled only when the service
/// answered 2xx, and released when it failed (an error status, a panic, an event that did not
/// decode), so that the sender's retry is handled and nothing is lost.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use hookwire::adapters::axum::{VerifiedWebhook, VerifyLayer, WebhookConfig};
/// use hookwire::webhook::StandardWebhooks;
///
/// async fn receive(Extension(webhook): Extension<VerifiedWebhook>, body: String) -> String {
///     format!("{:?}: {body}", webhook.verified().id())
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let app: Router = Router::new()
///     .route("/webhooks", post(receive))
///     .layer(VerifyLayer::new(WebhookConfig::new(verifier)));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct VerifyLayer {
    config: WebhookConfig,
    guard: Option<Arc<dyn ReplayGuard>>,
}

impl VerifyLayer {
    /// A layer that verifies with `config`.
    pub fn new(config: WebhookConfig) -> Self {
        VerifyLayer {
            config,
            guard: None,
        }
    }

    /// Hands each message to the inner service once, with `guard` (see the type's docs): a
    /// message already handled is answered 200 without reaching it, one being handled right
    /// now 409 with `Retry-After`.
    #[must_use]
    pub fn replay_guard(mut self, guard: impl ReplayGuard + 'static) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }
}

impl fmt::Debug for VerifyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyLayer")
            .field("config", &self.config)
            .field("replay_guard", &self.guard.is_some())
            .finish()
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            config: self.config.clone(),
            guard: self.guard.clone(),
        }
    }
}

/// The service [`VerifyLayer`] makes.
#[derive(Clone)]
pub struct VerifyService<S> {
    inner: S,
    config: WebhookConfig,
    guard: Option<Arc<dyn ReplayGuard>>,
}

impl<S: fmt::Debug> fmt::Debug for VerifyService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("replay_guard", &self.guard.is_some())
            .finish()
    }
}

impl<S, B, ResBody> Service<http::Request<B>> for VerifyService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: http_body::Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: fmt::Display,
    ResBody: From<Bytes> + Send,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The ready clone serves this call; a fresh clone waits for the next poll_ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        let guard = self.guard.clone();
        Box::pin(async move {
            // The headers travel through verification and come back with the webhook; the rest
            // of the request waits here.
            let (mut parts, body) = request.into_parts();
            let mut probe = http::Request::new(body);
            *probe.headers_mut() = std::mem::take(&mut parts.headers);
            *probe.method_mut() = parts.method.clone();
            *probe.uri_mut() = parts.uri.clone();
            let now = config.now();
            let mut webhook = match verify_request(&*config.scheme, probe, config.limit, now).await
            {
                Ok(webhook) => webhook,
                Err(rejection) => return Ok(rejection.to_response().map(ResBody::from)),
            };
            let body = std::mem::take(&mut webhook.body);
            parts.headers = std::mem::take(&mut webhook.headers);
            let meta = webhook.without_content();
            parts.extensions.insert(webhook);
            let request = http::Request::from_parts(parts, B::from(body));
            match guard {
                Some(guard) => run_once(&*guard, &meta, now, || inner.call(request)).await,
                None => inner.call(request).await,
            }
        })
    }
}

//! tower: any `tower::Service` over `http` types as an [`HttpClient`] ([`ServiceClient`]), and
//! [`VerifyLayer`], which verifies webhooks before any tower server's handlers run.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::server::{WebhookConfig, run_once};

use crate::transport::{HttpClient, TransportError, TransportErrorKind};
use crate::webhook::ReplayGuard;
/// The tower-layer crate, whose `Layer` [`VerifyLayer`] implements.
pub use tower_layer;
/// The tower-service crate, whose `Service` [`ServiceClient`] wraps and [`VerifyService`]
/// implements.
pub use tower_service;

/// An [`HttpClient`] over a `tower::Service<Request<Bytes>, Response = Response<Bytes>>`, such
/// as a client stack with tower middleware. Each request uses a clone of the service, as tower
/// services are meant to be used concurrently.
///
/// ```
/// use hookwire::adapters::tower::ServiceClient;
/// use hookwire::bytes::Bytes;
/// use hookwire::http::{Request, Response};
///
/// // Any Service; here one built from a function.
/// #[derive(Clone)]
/// struct Echo;
/// impl tower_service::Service<Request<Bytes>> for Echo {
///     type Response = Response<Bytes>;
///     type Error = std::convert::Infallible;
///     type Future = std::future::Ready<Result<Response<Bytes>, Self::Error>>;
///     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
///         std::task::Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, request: Request<Bytes>) -> Self::Future {
///         std::future::ready(Ok(Response::new(request.into_body())))
///     }
/// }
/// let transport = ServiceClient::new(Echo);
/// ```
#[derive(Debug, Clone)]
pub struct ServiceClient<S> {
    service: S,
}

impl<S> ServiceClient<S> {
    /// A transport over `service`.
    pub fn new(service: S) -> Self {
        ServiceClient { service }
    }
}

#[async_trait]
impl<S> HttpClient for ServiceClient<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let mut service = self.service.clone();
        let failed = |error: S::Error| {
            let error: Box<dyn std::error::Error + Send + Sync> = error.into();
            let kind = match error.downcast_ref::<TransportError>() {
                Some(inner) => inner.kind(),
                None => TransportErrorKind::Other,
            };
            TransportError::new(kind, "the service failed").caused_by(error)
        };
        poll_fn(|cx| service.poll_ready(cx)).await.map_err(failed)?;
        service.call(request).await.map_err(failed)
    }
}

/// A tower layer that verifies every request before the inner service sees it: requests that
/// fail are answered (400, 401 or 413) without reaching it; those that pass reach it with their
/// body (read once, up to the limit) and a [`VerifiedWebhook`](super::server::VerifiedWebhook) in their extensions, its body
/// and headers empty (the request carries both). axum's `Webhook` and `WebhookEvent`
/// extractors under it take that webhook instead of verifying again.
///
/// With a [`replay_guard`](VerifyLayer::replay_guard), each message reaches the inner service
/// once: the layer sees the answer, so a message is committed as handled only when the service
/// answered 2xx, and released when it failed (an error status, a panic, an event that did not
/// decode), so that the sender's retry is handled and nothing is lost.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use hookwire::adapters::server::{VerifiedWebhook, WebhookConfig};
/// use hookwire::adapters::tower::VerifyLayer;
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
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
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
            let mut webhook = match config.check(probe, now).await {
                Ok(webhook) => webhook,
                Err(rejection) => {
                    return Ok(rejection.respond(config.rejections).map(ResBody::from));
                }
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

//! hyper 1: a client ([`HyperClient`]) and server-side helpers for webhook receivers.
//!
//! The server side reads a `Request<Incoming>` (or any `http-body` body) within
//! [`BodyLimits`], answering 413 without reading the rest and 408 past the read deadline
//! ([`verify_request`]), verifies it under any `Verify` scheme, and maps failures to 400, 401, 408 or
//! 413 with a short message ([`handle`]); [`handle_once`] hands each message to the handler
//! once with a replay guard, releasing it when the handler fails; [`validation_response`]
//! answers the CloudEvents webhook validation handshake.
//!
//! The client side is [`HyperClient`]; for senders, [`HyperClient::guarded`] dials only what an
//! [`AddressPolicy`] permits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use super::body::{OverLimit, ReadError, read_limited};
use super::guard::Guard;
pub use super::server::{
    BodyLimits, DEFAULT_BODY_LIMIT, DEFAULT_READ_TIMEOUT, Rejection, VerifiedWebhook,
    validation_response, verify_request,
};
use super::{Resolve, SystemResolver};
use crate::api::DEFAULT_MAX_RESPONSE;
use crate::transport::{AddressPolicy, HttpClient, TransportError, TransportErrorKind};
use crate::webhook::{ReplayGuard, Verify};

/// An [`HttpClient`] over hyper-util's pooled client.
///
/// [`HyperClient::new`] speaks plain HTTP/1.1 over TCP. For HTTPS, enable the `rustls` feature
/// and use `HyperClient::https` (or `HyperClient::with_tls_config`), or pass any TLS connector
/// to [`HyperClient::with_connector`]; TLS negotiates HTTP/2 by ALPN where the server offers it; for HTTP/2 over plain TCP, build the hyper-util client
/// with `http2_only(true)` and pass it to [`HyperClient::from_client`]. Response bodies are read up to
/// [`max_body_size`](HyperClient::max_body_size) (10 MiB by default) and the read stops there;
/// an optional [`timeout`](HyperClient::timeout) bounds the whole exchange.
///
/// ```no_run
/// # async fn run() -> Result<(), hookwire::api::ApiError> {
/// use hookwire::adapters::hyper::HyperClient;
/// use hookwire::api::Client;
///
/// let transport = HyperClient::new().timeout(std::time::Duration::from_secs(15));
/// let client = Client::new(transport, "http://127.0.0.1:8080/v1")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HyperClient<C = HttpConnector> {
    client: Client<C, Full<Bytes>>,
    max_body: usize,
    over_limit: OverLimit,
    timeout: Option<Duration>,
    policy: Option<Arc<AddressPolicy>>,
}

/// How long a whole exchange may take unless set: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl HyperClient {
    /// A client over plain TCP with a connection pool.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self::with_connector(connector)
    }
}

#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
impl HyperClient<hyper_rustls::HttpsConnector<HttpConnector>> {
    /// A client for HTTPS (and plain HTTP) through rustls with the *ring* provider, trusting
    /// the Mozilla root certificates that webpki-roots bundles; HTTP/2 is negotiated by ALPN.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if the TLS configuration cannot be built.
    pub fn https() -> Result<Self, TransportError> {
        Ok(Self::with_tls_config(super::tls_config()?))
    }

    /// A client for HTTPS (and plain HTTP) with your own rustls configuration: other roots,
    /// client certificates, another provider.
    pub fn with_tls_config(config: rustls::ClientConfig) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Self::with_connector(connector)
    }
}

#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
impl HyperClient<hyper_rustls::HttpsConnector<GuardedConnector>> {
    /// [`HyperClient::guarded`] over HTTPS (and HTTP, unless the policy is https-only) through
    /// rustls with `config` (for instance [`tls_config`](super::tls_config)): what a sender
    /// delivering to its customers' URLs uses.
    pub fn guarded_https(policy: AddressPolicy, config: rustls::ClientConfig) -> Self {
        Self::guarded_https_by(GuardedConnector::new(policy), config)
    }

    /// [`HyperClient::guarded_https`] over a [`GuardedConnector`] you configured (another
    /// resolver).
    pub fn guarded_https_by(connector: GuardedConnector, config: rustls::ClientConfig) -> Self {
        let policy = connector.guard.policy.clone();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector.under_tls());
        Self::with_connector(connector).for_sender(policy)
    }
}

impl HyperClient<GuardedConnector> {
    /// A client for senders: every host name is resolved once, addresses that `policy`
    /// refuses are dropped, and the connection goes to a vetted address; URLs whose host is a
    /// refused IP address (in any form a URL parser reads as one) fail before any connection,
    /// as do `http` URLs under an https-only policy. It follows no redirects and reads at most
    /// the first 64 KiB of a response (all a delivery report keeps). Plain HTTP.
    pub fn guarded(policy: AddressPolicy) -> Self {
        Self::guarded_by(GuardedConnector::new(policy))
    }

    /// [`HyperClient::guarded`] over a [`GuardedConnector`] you configured (another resolver).
    pub fn guarded_by(connector: GuardedConnector) -> Self {
        let policy = connector.guard.policy.clone();
        Self::with_connector(connector).for_sender(policy)
    }
}

/// A resolver for hyper-util's connector that keeps only the addresses an [`AddressPolicy`]
/// permits.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Guard,
}

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move {
            // The port is set by the connector afterwards.
            let addresses = guard.resolve(name.as_str(), 0).await?;
            Ok(addresses.into_iter())
        })
    }
}

/// An HTTP connector that refuses URIs the policy refuses (a refused IP address as host, or
/// `http` under an https-only policy) and resolves host names through a [`GuardedResolver`].
#[derive(Debug, Clone)]
pub struct GuardedConnector {
    inner: HttpConnector<GuardedResolver>,
    guard: Guard,
}

impl GuardedConnector {
    /// A connector that dials only what `policy` permits, resolving names with the system's
    /// resolver ([`SystemResolver`]).
    pub fn new(policy: AddressPolicy) -> Self {
        Self::with_resolver(policy, SystemResolver::new())
    }

    /// A connector that dials only what `policy` permits, resolving names with `resolver`.
    pub fn with_resolver(policy: AddressPolicy, resolver: impl Resolve) -> Self {
        let guard = Guard::new(policy, Arc::new(resolver));
        let mut inner = HttpConnector::new_with_resolver(GuardedResolver {
            guard: guard.clone(),
        });
        inner.set_nodelay(true);
        GuardedConnector { inner, guard }
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &AddressPolicy {
        &self.guard.policy
    }

    /// The same connector, under a TLS connector that passes it `https` URIs.
    #[cfg(feature = "rustls")]
    fn under_tls(mut self) -> Self {
        self.inner.enforce_http(false);
        self
    }
}

impl tower_service::Service<http::Uri> for GuardedConnector {
    type Response = <HttpConnector<GuardedResolver> as tower_service::Service<http::Uri>>::Response;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        if let Err(refused) = self.guard.check(&uri) {
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        let connecting = self.inner.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

impl Default for HyperClient {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Connect + Clone + Send + Sync + 'static> HyperClient<C> {
    /// A client over `connector`: a TLS connector, or one that vets addresses.
    pub fn with_connector(connector: C) -> Self {
        Self::from_client(Client::builder(TokioExecutor::new()).build(connector))
    }

    /// A client over a hyper-util client built as you like.
    pub fn from_client(client: Client<C, Full<Bytes>>) -> Self {
        HyperClient {
            client,
            max_body: DEFAULT_MAX_RESPONSE,
            over_limit: OverLimit::Refuse,
            timeout: Some(DEFAULT_TIMEOUT),
            policy: None,
        }
    }

    /// What a sender's client reads: the first 64 KiB of an answer, and the policy it
    /// enforces, reported through [`HttpClient::address_policy`].
    fn for_sender(mut self, policy: Arc<AddressPolicy>) -> Self {
        self.policy = Some(policy);
        self.max_body_size(crate::deliver::KEPT_BODY)
            .truncate_over_limit()
    }

    /// The largest response body read, in bytes; 10 MiB unless set.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Keeps the first [`max_body_size`](HyperClient::max_body_size) bytes of a longer
    /// response, and reads no further, instead of failing: what a sender wants, which only
    /// keeps the start of what receivers answer.
    #[must_use]
    pub fn truncate_over_limit(mut self) -> Self {
        self.over_limit = OverLimit::Truncate;
        self
    }

    /// How long a whole exchange (connect, send, read) may take; [`DEFAULT_TIMEOUT`] (30 s)
    /// unless set.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets an exchange take as long as the server takes: only where something else bounds
    /// it (a dispatcher's attempt timeout does).
    #[must_use]
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let response = self
            .client
            .request(request.map(Full::new))
            .await
            .map_err(|error| {
                let kind = if error.is_connect() {
                    TransportErrorKind::Connect
                } else {
                    TransportErrorKind::Other
                };
                TransportError::new(kind, "the request failed")
                    .with_source(error)
                    .or_refused()
            })?;
        let (parts, body) = response.into_parts();
        let body = read_limited(&parts.headers, body, self.max_body, self.over_limit)
            .await
            .map_err(|error| match error {
                ReadError::TooLarge => TransportError::too_large(self.max_body),
                ReadError::Body(error) => TransportError::body(error),
            })?;
        Ok(Response::from_parts(parts, body))
    }
}

impl<C> std::fmt::Debug for HyperClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient")
            .field("max_body", &self.max_body)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<C: Connect + Clone + Send + Sync + 'static> HttpClient for HyperClient<C> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        super::within(self.timeout, self.exchange(request)).await
    }

    fn address_policy(&self) -> Option<&AddressPolicy> {
        self.policy.as_deref()
    }
}

/// A ready webhook handler: reads the body within `limits` (a byte count, or [`BodyLimits`]
/// with a read deadline, 30 s by default), verifies it under `scheme` and, if it passes,
/// answers with what `handler` returns; otherwise answers 400, 401, 408 or 413 with a short
/// message that reveals nothing more.
///
/// ```no_run
/// use std::sync::Arc;
/// use hookwire::adapters::hyper::{DEFAULT_BODY_LIMIT, handle};
/// use hookwire::bytes::Bytes;
/// use hookwire::http::Response;
/// use hookwire::webhook::StandardWebhooks;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Arc::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
/// let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
///     let verifier = verifier.clone();
///     async move {
///         Ok::<_, std::convert::Infallible>(
///             handle(&*verifier, DEFAULT_BODY_LIMIT, request, |webhook| async move {
///                 println!("{} bytes from {:?}", webhook.body.len(), webhook.verified().id());
///                 Response::new(Bytes::new())
///             })
///             .await,
///         )
///     }
/// });
/// # let _ = service; Ok(()) }
/// ```
pub async fn handle<S, B, F, Fut>(
    scheme: &S,
    limits: impl Into<BodyLimits>,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    S: Verify + ?Sized,
    B: Body,
    B::Error: std::fmt::Display,
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    match verify_request(scheme, request, limits, SystemTime::now()).await {
        Ok(webhook) => handler(webhook).await.map(Full::new),
        Err(rejection) => rejection.to_response().map(Full::new),
    }
}

/// [`handle`], handling each message once with `guard`: a message already handled is answered
/// 200 without calling `handler`; one being handled right now, 409 with `Retry-After`; and when
/// `handler` answers anything but 2xx (or panics), the message is released, so that the
/// sender's retry is handled and nothing is lost. Ids longer than
/// [`MAX_ID_LEN`](crate::webhook::MAX_ID_LEN) are refused with 400.
pub async fn handle_once<S, B, F, Fut>(
    scheme: &S,
    guard: &dyn ReplayGuard,
    limits: impl Into<BodyLimits>,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    S: Verify + ?Sized,
    B: Body,
    B::Error: std::fmt::Display,
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let now = SystemTime::now();
    let webhook = match verify_request(scheme, request, limits, now).await {
        Ok(webhook) => webhook,
        Err(rejection) => return rejection.to_response().map(Full::new),
    };
    let handled = super::server::run_once(guard, &webhook.without_content(), now, || async move {
        Ok::<_, std::convert::Infallible>(handler(webhook).await)
    })
    .await;
    match handled {
        Ok(response) => response.map(Full::new),
        Err(never) => match never {},
    }
}

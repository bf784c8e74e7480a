//! [`HyperClient`]: an `HttpClient` over hyper-util's pooled client, with HTTPS and the guarded
//! constructors for senders.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::TokioExecutor;

use super::connector::GuardedConnector;
use crate::adapters::body::{ReadError, read_limited};
use crate::adapters::guard::Guard;
use crate::adapters::{Resolve, SystemResolver};
use crate::transport::{AddressPolicy, BodyLimit, HttpClient, TransportError, TransportErrorKind};

/// An [`HttpClient`] over hyper-util's pooled client.
///
/// [`HyperClient::new`] speaks plain HTTP/1.1 over TCP; with the `rustls` feature,
/// [`HyperClient::https`] speaks HTTPS (and HTTP), negotiating HTTP/2 by ALPN. Senders use
/// [`HyperClient::guarded`] (or `guarded_https`), which dials only what an [`AddressPolicy`]
/// permits. [`HyperClient::builder`] combines these and more (another resolver, HTTP/2 over
/// plain TCP). Response bodies are read up to the [`body_limit`](HyperClient::body_limit)
/// ([`BodyLimit::RESPONSE`] by default) and the read stops there; an optional
/// [`timeout`](HyperClient::timeout) bounds the whole exchange.
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
pub struct HyperClient {
    exchange: Arc<dyn Fn(Request<Full<Bytes>>) -> ResponseFuture + Send + Sync>,
    limit: BodyLimit,
    timeout: Option<Duration>,
    policy: Option<Arc<AddressPolicy>>,
}

/// How long a whole exchange may take unless set: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`HyperClient`]: plain or HTTPS, guarded or not, HTTP/1.1 and HTTP/2 or HTTP/2
/// only.
///
/// ```
/// use hookwire::adapters::hyper::HyperClient;
/// use hookwire::transport::{AddressPolicy, HttpClient};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = HyperClient::builder().guarded(AddressPolicy::new()).http2_only().build();
/// assert!(client.address_policy().is_some());
/// # }
/// ```
#[must_use]
pub struct HyperClientBuilder {
    policy: Option<AddressPolicy>,
    resolver: Option<Arc<dyn Resolve>>,
    #[cfg(feature = "rustls")]
    tls: Option<rustls::ClientConfig>,
    http2_only: bool,
}

impl HyperClientBuilder {
    /// Dials only what `policy` permits: every host name is resolved once, refused addresses
    /// are dropped and the connection goes to a vetted one; URLs whose host is a refused IP
    /// address (in any form a URL parser reads as one) fail before any connection, as do
    /// `http` URLs under an https-only policy. A guarded client reads at most the first
    /// 64 KiB of a response ([`BodyLimit::DELIVERY_ANSWER`]), all a delivery report keeps.
    pub fn guarded(mut self, policy: AddressPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Resolves host names with `resolver` instead of the [`SystemResolver`] (for a guarded
    /// client).
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Speaks HTTPS (and HTTP, unless the policy is https-only) through rustls with `config`,
    /// such as [`tls_config`](crate::adapters::tls_config); HTTP/2 is negotiated by ALPN.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn tls(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Speaks HTTP/2 only, also over plain TCP (prior knowledge).
    pub fn http2_only(mut self) -> Self {
        self.http2_only = true;
        self
    }

    /// The client.
    pub fn build(self) -> HyperClient {
        let mut builder = Client::builder(TokioExecutor::new());
        builder.http2_only(self.http2_only);
        let resolver = self.resolver;
        let guard = self.policy.map(|policy| {
            Guard::new(
                policy,
                resolver.unwrap_or_else(|| Arc::new(SystemResolver::new())),
            )
        });
        let policy = guard.as_ref().map(|guard| guard.policy.clone());
        #[cfg(feature = "rustls")]
        if let Some(config) = self.tls {
            let tls = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_or_http()
                .enable_http1()
                .enable_http2();
            let exchange = match guard {
                Some(guard) => erase(
                    builder.build(tls.wrap_connector(GuardedConnector::new(guard).under_tls())),
                ),
                None => {
                    let mut http = HttpConnector::new();
                    http.set_nodelay(true);
                    http.enforce_http(false);
                    erase(builder.build(tls.wrap_connector(http)))
                }
            };
            return HyperClient::from_exchange(exchange, policy);
        }
        let exchange = match guard {
            Some(guard) => erase(builder.build(GuardedConnector::new(guard))),
            None => {
                let mut http = HttpConnector::new();
                http.set_nodelay(true);
                erase(builder.build(http))
            }
        };
        HyperClient::from_exchange(exchange, policy)
    }
}

impl std::fmt::Debug for HyperClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClientBuilder")
            .field("policy", &self.policy)
            .field("http2_only", &self.http2_only)
            .finish_non_exhaustive()
    }
}

/// The pooled client behind one function, whatever its connector.
fn erase<C>(
    client: Client<C, Full<Bytes>>,
) -> Arc<dyn Fn(Request<Full<Bytes>>) -> ResponseFuture + Send + Sync>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    Arc::new(move |request| client.request(request))
}

impl HyperClient {
    /// A builder, for clients the shortcuts below do not cover.
    pub fn builder() -> HyperClientBuilder {
        HyperClientBuilder {
            policy: None,
            resolver: None,
            #[cfg(feature = "rustls")]
            tls: None,
            http2_only: false,
        }
    }

    /// A client over plain TCP with a connection pool.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A client for senders over plain HTTP: see [`HyperClientBuilder::guarded`].
    pub fn guarded(policy: AddressPolicy) -> Self {
        Self::builder().guarded(policy).build()
    }

    /// A client for HTTPS (and plain HTTP) through rustls with
    /// [`tls_config`](crate::adapters::tls_config) (the chosen crypto provider, the Mozilla root
    /// certificates that webpki-roots bundles); HTTP/2 is negotiated by ALPN.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if the TLS configuration cannot be built.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn https() -> Result<Self, TransportError> {
        Ok(Self::with_tls_config(crate::adapters::tls_config()?))
    }

    /// A client for HTTPS (and plain HTTP) with your own rustls configuration: other roots,
    /// client certificates, another provider.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn with_tls_config(config: rustls::ClientConfig) -> Self {
        Self::builder().tls(config).build()
    }

    /// [`HyperClient::guarded`] over HTTPS (and HTTP, unless the policy is https-only) through
    /// rustls with `config` (for instance [`tls_config`](crate::adapters::tls_config)): what a
    /// sender delivering to its customers' URLs uses.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn guarded_https(policy: AddressPolicy, config: rustls::ClientConfig) -> Self {
        Self::builder().guarded(policy).tls(config).build()
    }

    fn from_exchange(
        exchange: Arc<dyn Fn(Request<Full<Bytes>>) -> ResponseFuture + Send + Sync>,
        policy: Option<Arc<AddressPolicy>>,
    ) -> Self {
        let limit = if policy.is_some() {
            BodyLimit::DELIVERY_ANSWER
        } else {
            BodyLimit::RESPONSE
        };
        HyperClient {
            exchange,
            limit,
            timeout: Some(DEFAULT_TIMEOUT),
            policy,
        }
    }
}

impl Default for HyperClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HyperClient {
    /// How much of a response body is read, and whether a longer one is refused or cut;
    /// [`BodyLimit::RESPONSE`] unless set ([`BodyLimit::DELIVERY_ANSWER`] for guarded
    /// clients).
    #[must_use]
    pub fn body_limit(mut self, limit: BodyLimit) -> Self {
        self.limit = limit;
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
        let response = (self.exchange)(request.map(Full::new))
            .await
            .map_err(|error| {
                let kind = if error.is_connect() {
                    TransportErrorKind::Connect
                } else {
                    TransportErrorKind::Other
                };
                TransportError::new(kind, "the request failed")
                    .caused_by(error)
                    .or_refused()
            })?;
        let (parts, body) = response.into_parts();
        let body = read_limited(&parts.headers, body, self.limit)
            .await
            .map_err(|error| match error {
                ReadError::TooLarge => TransportError::too_large(self.limit.bytes()),
                ReadError::Body(error) => TransportError::body(error),
            })?;
        Ok(Response::from_parts(parts, body))
    }
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient")
            .field("limit", &self.limit)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl HttpClient for HyperClient {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        crate::adapters::within(self.timeout, self.exchange(request)).await
    }

    fn address_policy(&self) -> Option<&AddressPolicy> {
        self.policy.as_deref()
    }
}

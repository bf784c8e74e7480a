//! [`HyperClient`]: an `HttpClient` over hyper-util's pooled client, with HTTPS and the guarded
//! constructors for senders.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use super::connector::GuardedConnector;
use crate::adapters::body::{ReadError, read_limited};
use crate::transport::{AddressPolicy, BodyLimit, HttpClient, TransportError, TransportErrorKind};

/// An [`HttpClient`] over hyper-util's pooled client.
///
/// [`HyperClient::new`] speaks plain HTTP/1.1 over TCP. For HTTPS, enable the `rustls` feature
/// and use `HyperClient::https` (or `HyperClient::with_tls_config`), or pass any TLS connector
/// to [`HyperClient::with_connector`]; TLS negotiates HTTP/2 by ALPN where the server offers it; for HTTP/2 over plain TCP, build the hyper-util client
/// with `http2_only(true)` and pass it to [`HyperClient::from_client`]. Response bodies are read up to
/// the [`body_limit`](HyperClient::body_limit) ([`BodyLimit::RESPONSE`] by default) and the read stops there;
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
    limit: BodyLimit,
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
    /// A client for HTTPS (and plain HTTP) through rustls with [`tls_config`](crate::adapters::tls_config)
    /// (the chosen crypto provider, the Mozilla root certificates that webpki-roots bundles);
    /// HTTP/2 is negotiated by ALPN.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if the TLS configuration cannot be built.
    pub fn https() -> Result<Self, TransportError> {
        Ok(Self::with_tls_config(crate::adapters::tls_config()?))
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
    /// rustls with `config` (for instance [`tls_config`](crate::adapters::tls_config)): what a sender
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
            limit: BodyLimit::RESPONSE,
            timeout: Some(DEFAULT_TIMEOUT),
            policy: None,
        }
    }

    /// What a sender's client reads: the first 64 KiB of an answer, and the policy it
    /// enforces, reported through [`HttpClient::address_policy`].
    fn for_sender(mut self, policy: Arc<AddressPolicy>) -> Self {
        self.policy = Some(policy);
        self.body_limit(BodyLimit::DELIVERY_ANSWER)
    }

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

impl<C> std::fmt::Debug for HyperClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient")
            .field("limit", &self.limit)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<C: Connect + Clone + Send + Sync + 'static> HttpClient for HyperClient<C> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        crate::adapters::within(self.timeout, self.exchange(request)).await
    }

    fn address_policy(&self) -> Option<&AddressPolicy> {
        self.policy.as_deref()
    }
}

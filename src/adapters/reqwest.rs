//! reqwest 0.13: [`ReqwestClient`], an [`HttpClient`] over a `reqwest::Client`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};

use super::body::{ReadError, read_limited};
use super::guard::Guard;
use super::{Resolve, SystemResolver};
use crate::transport::{AddressPolicy, BodyLimit, HttpClient, TransportError, TransportErrorKind};

/// The reqwest crate, whose `Client` and `ClientBuilder` this adapter wraps and takes.
pub use reqwest;

/// How long a whole exchange may take unless set: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An [`HttpClient`] over a `reqwest::Client`.
///
/// hookwire builds the `reqwest::Client` from a `reqwest::ClientBuilder` you configure
/// (timeouts, proxies, TLS), and turns redirects off whatever the builder said: hookwire's
/// adapters follow no redirect, since reqwest strips only `Authorization` and cookies when one
/// leaves the origin, and an API-key header or a webhook would follow it. hookwire turns off
/// reqwest's default features, so enable reqwest's TLS feature of your choice in your own
/// `Cargo.toml` for HTTPS; hookwire does not, because reqwest's provider-less rustls feature
/// would make every `reqwest::Client::new()` in the application panic.
///
/// Every header, repeated ones included, the status and the version cross unchanged; the
/// response body is read frame by frame and the read stops once it passes the
/// [`body_limit`](ReqwestClient::body_limit) ([`BodyLimit::RESPONSE`] by default); a whole exchange is
/// bounded by [`timeout`](ReqwestClient::timeout) (30 s by default). Errors never carry the
/// URL, which may hold credentials in its query.
///
/// ```
/// use hookwire::adapters::reqwest::ReqwestClient;
///
/// let builder = reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(5));
/// let transport = ReqwestClient::from_builder(builder)?;
/// # Ok::<(), hookwire::transport::TransportError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    limit: BodyLimit,
    timeout: Option<Duration>,
    guard: Option<Guard>,
}

impl ReqwestClient {
    /// A transport over reqwest's default client, without redirects.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if reqwest cannot build its client (its TLS back end failed to
    /// load).
    pub fn new() -> Result<Self, TransportError> {
        Self::from_builder(reqwest::Client::builder())
    }

    /// A transport over the client `builder` makes, with redirects turned off.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if reqwest cannot build the client.
    pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self, TransportError> {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(transport_error)?;
        Ok(ReqwestClient {
            client,
            limit: BodyLimit::RESPONSE,
            timeout: Some(DEFAULT_TIMEOUT),
            guard: None,
        })
    }

    /// A client for senders, which connects only to addresses that `policy` permits.
    ///
    /// hookwire builds this client whole, so that nothing can route around the policy: no
    /// proxy (neither `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` from the environment nor one
    /// set on a builder), no address override, no redirect. Every host name is resolved once by
    /// the system's resolver, refused addresses are dropped and the connection goes to a vetted
    /// one; URLs whose host is a refused IP address, in any form reqwest's URL parser reads as
    /// one (`http://0x7f.1/`), fail before any connection, as do `http` URLs under an
    /// https-only policy. It reads at most the first 64 KiB of a response (all a delivery
    /// report keeps).
    ///
    /// To deliver through an egress proxy that enforces its own policy (such as Smokescreen),
    /// build an ordinary client for that proxy with [`from_builder`](Self::from_builder) and
    /// hand it to `Dispatcher::unguarded`: the proxy, not hookwire, is then the guard.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if reqwest cannot build the client.
    pub fn guarded(policy: AddressPolicy) -> Result<Self, TransportError> {
        Self::guarded_with_resolver(policy, SystemResolver::new())
    }

    /// [`ReqwestClient::guarded`], resolving names with `resolver`.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] if reqwest cannot build the client.
    pub fn guarded_with_resolver(
        policy: AddressPolicy,
        resolver: impl Resolve,
    ) -> Result<Self, TransportError> {
        let guard = Guard::new(policy, Arc::new(resolver));
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                guard: guard.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(transport_error)?;
        Ok(ReqwestClient {
            client,
            limit: BodyLimit::DELIVERY_ANSWER,
            timeout: Some(DEFAULT_TIMEOUT),
            guard: Some(guard),
        })
    }

    /// How much of a response body is read, and whether a longer one is refused or cut;
    /// [`BodyLimit::RESPONSE`] unless set ([`BodyLimit::DELIVERY_ANSWER`] for
    /// [`guarded`](Self::guarded) clients).
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

    /// The `reqwest::Client`.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        if let Some(guard) = &self.guard {
            guard
                .check(request.uri())
                .map_err(TransportError::refused)?;
        }
        let request = reqwest::Request::try_from(request).map_err(transport_error)?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(transport_error)?;
        let (parts, body) = Response::<reqwest::Body>::from(response).into_parts();
        match read_limited(&parts.headers, body, self.limit).await {
            Ok(body) => Ok(Response::from_parts(parts, body)),
            Err(ReadError::TooLarge) => Err(TransportError::too_large(self.limit.bytes())),
            Err(ReadError::Body(error)) => Err(transport_error(error)),
        }
    }
}

/// A reqwest resolver that keeps only the addresses a policy permits.
struct GuardedResolver {
    guard: Guard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let addresses = guard.resolve(name.as_str(), 0).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// reqwest's error as a [`TransportError`], without the URL (its query may hold an API key).
fn transport_error(error: reqwest::Error) -> TransportError {
    let error = error.without_url();
    let kind = if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else if error.is_body() || error.is_decode() {
        TransportErrorKind::Body
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, "the request failed")
        .caused_by(error)
        .or_refused()
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        super::within(self.timeout, self.exchange(request)).await
    }

    fn address_policy(&self) -> Option<&AddressPolicy> {
        self.guard.as_ref().map(|guard| &*guard.policy)
    }
}

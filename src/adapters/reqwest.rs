//! reqwest 0.13: [`ReqwestClient`], an [`HttpClient`] over a `reqwest::Client` you build.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{Request, Response};

use std::sync::Arc;

use crate::api::DEFAULT_MAX_RESPONSE;
use crate::deliver::AddressPolicy;
use crate::transport::{HttpClient, TransportError, TransportErrorKind};

/// An [`HttpClient`] over a `reqwest::Client`.
///
/// Build the `reqwest::Client` as your application needs (timeouts, proxies, TLS: hookwire
/// turns off reqwest's default features, so enable reqwest's TLS feature of your choice in your
/// own `Cargo.toml` for HTTPS; hookwire does not, because reqwest's provider-less rustls
/// feature would make every `reqwest::Client::new()` in the application panic). Every header, repeated ones included, the status and the version cross
/// unchanged; the response body is read chunk by chunk and the read stops once it passes
/// [`max_body_size`](ReqwestClient::max_body_size) (10 MiB by default). reqwest's timeouts
/// surface as [`TransportErrorKind::Timeout`].
///
/// ```
/// use hookwire::adapters::reqwest::ReqwestClient;
///
/// let client = reqwest::Client::builder()
///     .timeout(std::time::Duration::from_secs(15))
///     .redirect(reqwest::redirect::Policy::none())
///     .build()?;
/// let transport = ReqwestClient::new(client);
/// # Ok::<(), reqwest::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    max_body: usize,
    truncate: bool,
    policy: Option<Arc<AddressPolicy>>,
}

impl ReqwestClient {
    /// A transport over `client`.
    pub fn new(client: reqwest::Client) -> Self {
        ReqwestClient {
            client,
            max_body: DEFAULT_MAX_RESPONSE,
            truncate: false,
            policy: None,
        }
    }

    /// A client for senders, built from `builder` with a resolver that drops the addresses
    /// `policy` refuses (one lookup; the connection goes to a vetted address) and with
    /// redirects off; URLs with refused IP addresses fail before any connection. It reads at
    /// most the first 64 KiB of a response (all a delivery report keeps).
    ///
    /// # Errors
    ///
    /// reqwest's, if the client cannot be built.
    pub fn guarded(
        builder: reqwest::ClientBuilder,
        policy: AddressPolicy,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = builder
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(ReqwestClient {
            client,
            max_body: crate::deliver::KEPT_BODY,
            truncate: true,
            policy: Some(policy),
        })
    }

    /// The largest response body read, in bytes; 10 MiB unless set.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Keeps the first [`max_body_size`](ReqwestClient::max_body_size) bytes of a longer
    /// response, and reads no further, instead of failing.
    #[must_use]
    pub fn truncate_over_limit(mut self) -> Self {
        self.truncate = true;
        self
    }

    /// The `reqwest::Client`.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }
}

/// A reqwest resolver that keeps only the addresses a policy permits.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addresses = super::guard::resolve(&policy, name.as_str(), 0).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

fn transport_error(error: reqwest::Error) -> TransportError {
    let kind = if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else if error.is_body() || error.is_decode() {
        TransportErrorKind::Body
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, "the request failed").with_source(error)
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        if let Some(policy) = &self.policy {
            super::guard::check_literal(policy, request.uri()).map_err(TransportError::connect)?;
        }
        let request = reqwest::Request::try_from(request).map_err(transport_error)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(transport_error)?;
        if !self.truncate
            && response
                .content_length()
                .is_some_and(|length| length > self.max_body as u64)
        {
            return Err(TransportError::too_large(self.max_body));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            let room = self.max_body.saturating_sub(body.len());
            if chunk.len() > room {
                if !self.truncate {
                    return Err(TransportError::too_large(self.max_body));
                }
                body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = Response::new(body.freeze());
        *out.status_mut() = response.status();
        *out.version_mut() = response.version();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}

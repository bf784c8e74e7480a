//! reqwest 0.13: [`ReqwestClient`], an [`HttpClient`] over a `reqwest::Client` you build.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{Request, Response};

use crate::api::DEFAULT_MAX_RESPONSE;
use crate::transport::{HttpClient, TransportError, TransportErrorKind};

/// An [`HttpClient`] over a `reqwest::Client`.
///
/// Build the `reqwest::Client` as your application needs (timeouts, proxies, TLS: enable
/// reqwest's `rustls` feature in your own `Cargo.toml` for HTTPS; hookwire turns off reqwest's
/// default features). Every header, repeated ones included, the status and the version cross
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
}

impl ReqwestClient {
    /// A transport over `client`.
    pub fn new(client: reqwest::Client) -> Self {
        ReqwestClient {
            client,
            max_body: DEFAULT_MAX_RESPONSE,
        }
    }

    /// The largest response body read, in bytes; 10 MiB unless set.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The `reqwest::Client`.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
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
        let request = reqwest::Request::try_from(request).map_err(transport_error)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(transport_error)?;
        if response
            .content_length()
            .is_some_and(|length| length > self.max_body as u64)
        {
            return Err(TransportError::too_large(self.max_body));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len().saturating_add(chunk.len()) > self.max_body {
                return Err(TransportError::too_large(self.max_body));
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

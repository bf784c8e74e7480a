//! Adapters to the HTTP clients and servers people run, each behind its feature. They only move
//! bytes: signing, verifying and decoding stay in the core.
//!
//! | feature | what |
//! |---|---|
//! | `hyper` | [`hyper::HyperClient`] (an [`HttpClient`](crate::transport::HttpClient) over hyper-util's pooled client), [`hyper::GuardedConnector`] for senders, and the ready receiver handlers [`hyper::handle`] and [`hyper::handle_once`] |
//! | `rustls` | HTTPS for `HyperClient` through rustls: [`tls_config`], `HyperClient::https`, `with_tls_config`, `guarded_https` |
//! | `reqwest` | [`reqwest::ReqwestClient`] |
//! | `tower` | [`tower::ServiceClient`] (any `tower::Service` over `http` types as an `HttpClient`) and [`tower::VerifyLayer`], which verifies webhooks for any tower server |
//! | `axum` | [`axum::Webhook`] and [`axum::WebhookEvent`] extractors |
//!
//! What every server-side adapter shares is in [`server`] (features `hyper` or `tower`): the
//! [`WebhookConfig`](server::WebhookConfig) receivers verify with, body reading within
//! [`ReadLimits`](server::ReadLimits), [`verify_request`](server::verify_request),
//! [`run_once`](server::run_once) and the [`Rejection`](server::Rejection) answers. Each type
//! has one path.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(any(feature = "hyper", feature = "reqwest", feature = "tower"))]
mod body;
#[cfg(any(feature = "hyper", feature = "reqwest"))]
mod guard;
#[cfg(any(feature = "hyper", feature = "reqwest"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "hyper", feature = "reqwest"))))]
pub use guard::{Resolve, SystemResolver};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;
#[cfg(any(feature = "hyper", feature = "tower"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "hyper", feature = "tower"))))]
pub mod server;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

/// `exchange`, bounded by `limit` when there is one: the client adapters' whole-exchange
/// deadline.
#[cfg(any(feature = "hyper", feature = "reqwest"))]
async fn within<T>(
    limit: Option<std::time::Duration>,
    exchange: impl std::future::Future<Output = Result<T, crate::transport::TransportError>>,
) -> Result<T, crate::transport::TransportError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| crate::transport::TransportError::timeout())?,
        None => exchange.await,
    }
}

/// The rustls client configuration hookwire's HTTPS clients use: the *ring* provider, its safe
/// default protocol versions, and the Mozilla root certificates that webpki-roots bundles.
///
/// # Errors
///
/// A [`TransportError`](crate::transport::TransportError) if no protocol version is available.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub fn tls_config() -> Result<rustls::ClientConfig, crate::transport::TransportError> {
    use hyper_rustls::ConfigBuilderExt;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| {
            crate::transport::TransportError::new(
                crate::transport::TransportErrorKind::Other,
                "no TLS protocol version available",
            )
            .with_source(error)
        })?
        .with_webpki_roots()
        .with_no_client_auth())
}

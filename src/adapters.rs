//! Adapters to the HTTP clients and servers people run, each behind its feature. They only move
//! bytes: signing, verifying and decoding stay in the core.
//!
//! | feature | what |
//! |---|---|
//! | `hyper` | [`hyper::HyperClient`] (an [`HttpClient`](crate::transport::HttpClient) over hyper-util's pooled client, guarded for senders, built by [`hyper::HyperClientBuilder`]), and the ready receiver handlers [`hyper::handle`] and [`hyper::handle_once`] |
//! | `rustls` | HTTPS for `HyperClient` through rustls: [`tls_config`], `HyperClient::https`, `with_tls_config`, `guarded_https` |
//! | `reqwest` | [`reqwest::ReqwestClient`] |
//! | `tower` | [`tower::ServiceClient`] (any `tower::Service` over `http` types as an `HttpClient`) and [`tower::VerifyLayer`], which verifies webhooks for any tower server |
//! | `axum` | [`axum::Webhook`] and [`axum::WebhookEvent`] extractors |
//! | `actix` | [`actix::Webhook`], an actix-web extractor (body within its limit, any scheme, handshakes) |
//!
//! What every server-side adapter shares is in [`server`] (features `hyper` or `tower`): the
//! [`WebhookConfig`](server::WebhookConfig) receivers verify with, body reading within
//! [`ReadLimits`](server::ReadLimits), [`verify_request`](server::verify_request),
//! [`run_once`](server::run_once) and the [`Rejection`](server::Rejection) answers. Each type
//! has one path.

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
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
/// The rustls crate, whose `ClientConfig` the HTTPS constructors take.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use rustls;
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

/// The rustls client configuration hookwire's HTTPS clients use: the provider's safe default
/// protocol versions, and the Mozilla root certificates that webpki-roots bundles.
///
/// The crypto provider is aws-lc-rs with the `rustls-aws-lc` feature, else *ring* with
/// `rustls-ring`, else the process default that the application installed
/// (`rustls::crypto::CryptoProvider::install_default`). hookwire never installs a process
/// default itself, so that it never decides for the other crates in the application. To trust
/// other roots (the platform's, with rustls-platform-verifier or rustls-native-certs, or a
/// private CA), build a `rustls::ClientConfig` and hand it to `HyperClient::with_tls_config` or
/// `HyperClient::guarded_https`.
///
/// # Errors
///
/// A [`TransportError`](crate::transport::TransportError) when no provider is chosen and none
/// is installed, or no protocol version is available.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub fn tls_config() -> Result<rustls::ClientConfig, crate::transport::TransportError> {
    use hyper_rustls::ConfigBuilderExt;
    #[cfg(feature = "rustls-aws-lc")]
    let provider = Some(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ));
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls-aws-lc")))]
    let provider = Some(std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc")))]
    let provider = rustls::crypto::CryptoProvider::get_default().cloned();
    let provider = provider.ok_or_else(|| {
        crate::transport::TransportError::new(
            crate::transport::TransportErrorKind::Other,
            "no rustls crypto provider: enable hookwire's `rustls-ring` or `rustls-aws-lc` feature, or install a process default with `rustls::crypto::CryptoProvider::install_default`",
        )
    })?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| {
            crate::transport::TransportError::new(
                crate::transport::TransportErrorKind::Other,
                "no TLS protocol version available",
            )
            .caused_by(error)
        })?
        .with_webpki_roots()
        .with_no_client_auth())
}

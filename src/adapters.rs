//! Adapters to the HTTP clients and servers people run, each behind its feature. They only move
//! bytes: signing, verifying and decoding stay in the core.
//!
//! | feature | what |
//! |---|---|
//! | `hyper` | [`hyper::HyperClient`] (an [`HttpClient`](crate::transport::HttpClient) over hyper-util's pooled client) and server helpers: bounded body reading, verification, a ready handler, the CloudEvents webhook validation handshake |
//! | `rustls` | `HyperClient::https` and `HyperClient::with_tls_config`: HTTPS through rustls |
//! | `reqwest` | [`reqwest::ReqwestClient`] |
//! | `axum` | [`axum::Webhook`] and [`axum::WebhookEvent`] extractors, and [`axum::VerifyLayer`] for any tower server |
//! | `tower` | [`tower::ServiceClient`]: any `tower::Service` over `http` types as an `HttpClient` |

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "body")]
mod body;
#[cfg(any(feature = "hyper", feature = "reqwest"))]
mod guard;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;
#[cfg(feature = "body")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "hyper", feature = "axum"))))]
pub mod server;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

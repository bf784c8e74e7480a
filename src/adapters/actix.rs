//! actix-web: an extractor that reads a webhook's body within its limits, verifies it with any
//! [`Verify`](crate::webhook::Verify) scheme, answers providers' handshakes, and hands the
//! verified body and id to the handler.
//!
//! The extractor reads its [`WebhookConfig`] from the app data
//! (`App::app_data(web::Data::new(config))`). A body longer than the limit is answered `413`
//! at the first byte past it (at once, where `Content-Length` says so) and not read further; a
//! body that does not arrive within the read timeout, `408`; a request that fails
//! verification, `400` or `401`, as the other server adapters answer them.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use hookwire::adapters::actix::Webhook;
//! use hookwire::adapters::server::WebhookConfig;
//! use hookwire::webhook::StandardWebhooks;
//!
//! async fn receive(Webhook(webhook): Webhook) -> String {
//!     format!("{} bytes, id {:?}", webhook.body.len(), webhook.verified().id())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = WebhookConfig::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?)
//!     .handshakes(true);
//! let config = web::Data::new(config);
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(config.clone())
//!         .route("/hooks", web::post().to(receive))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode as ActixStatus;
use actix_web::http::header::{HeaderName as ActixName, HeaderValue as ActixValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::server::{ReadLimits, Rejection, Rejections, VerifiedWebhook, WebhookConfig};

/// A webhook that verified, extracted from an actix-web request: its headers, its exact body,
/// and what the scheme verified ([`VerifiedWebhook::verified`]).
#[derive(Debug, Clone)]
pub struct Webhook(pub VerifiedWebhook);

/// Why [`Webhook`] did not extract: the refusal (or a handshake's answer), answered as the
/// [`WebhookConfig`]'s [`Rejections`] say; or no configuration in the app data (`500`).
#[derive(Debug)]
pub enum WebhookRejection {
    /// The request was refused, or answered as a handshake.
    Rejected(Rejection, Rejections),
    /// No `web::Data<WebhookConfig>` in the app data: a mistake in the application.
    NotConfigured,
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookRejection::Rejected(rejection, _) => rejection.fmt(f),
            WebhookRejection::NotConfigured => f.write_str(
                "no webhook configuration: add `App::app_data(web::Data::new(WebhookConfig::new(scheme)))`",
            ),
        }
    }
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> ActixStatus {
        match self {
            WebhookRejection::Rejected(rejection, _) => {
                ActixStatus::from_u16(rejection.status().as_u16())
                    .unwrap_or(ActixStatus::BAD_REQUEST)
            }
            WebhookRejection::NotConfigured => ActixStatus::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebhookRejection::Rejected(rejection, rejections) => {
                let response = rejection.respond(*rejections);
                let mut answer = HttpResponse::build(self.status_code());
                for (name, value) in response.headers() {
                    if let (Ok(name), Ok(value)) = (
                        ActixName::from_bytes(name.as_str().as_bytes()),
                        ActixValue::from_bytes(value.as_bytes()),
                    ) {
                        answer.append_header((name, value));
                    }
                }
                answer.body(response.into_body())
            }
            WebhookRejection::NotConfigured => {
                HttpResponse::InternalServerError().body("the webhook receiver is not configured\n")
            }
        }
    }
}

impl FromRequest for Webhook {
    type Error = WebhookRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = request
            .app_data::<web::Data<WebhookConfig>>()
            .map(|config| WebhookConfig::clone(config));
        let parts = parts(request);
        let payload = payload.take();
        Box::pin(async move {
            let config = config.ok_or(WebhookRejection::NotConfigured)?;
            let rejected = |rejection| WebhookRejection::Rejected(rejection, config.rejections);
            let parts = parts.map_err(|()| {
                rejected(Rejection::Body(
                    "the request line or a header could not be read".into(),
                ))
            })?;
            let body = read(payload, &parts.headers, config.limit)
                .await
                .map_err(rejected)?;
            let now = config.now();
            config
                .check_read(parts, body, now)
                .await
                .map(Webhook)
                .map_err(|rejection| WebhookRejection::Rejected(rejection, config.rejections))
        })
    }
}

/// The request line and headers of an actix-web request, as `http`'s types (actix-web 4 speaks
/// `http` 0.2).
fn parts(request: &HttpRequest) -> Result<http::request::Parts, ()> {
    let method = http::Method::from_bytes(request.method().as_str().as_bytes()).map_err(drop)?;
    let uri = http::Uri::try_from(request.uri().to_string()).map_err(drop)?;
    let mut headers = HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let name = HeaderName::from_bytes(name.as_str().as_bytes()).map_err(drop)?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(drop)?;
        headers.append(name, value);
    }
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.headers = headers;
    Ok(parts)
}

/// Reads `payload` within `limits`: refused at once where `Content-Length` is over the limit,
/// and at the first chunk past it otherwise, without reading on.
async fn read(
    mut payload: Payload,
    headers: &HeaderMap,
    limits: ReadLimits,
) -> Result<Bytes, Rejection> {
    let limit = limits.bytes();
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Rejection::TooLarge { limit });
    }
    let reading = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| Rejection::Body(error.to_string().into()))?;
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(Rejection::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    match tokio::time::timeout(limits.timeout(), reading).await {
        Ok(read) => read,
        Err(_) => Err(Rejection::Timeout {
            after: limits.timeout(),
        }),
    }
}

//! The ready handlers of a hyper webhook receiver.

use std::future::Future;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;

use crate::adapters::server::{
    ReadLimits, Rejection, Rejections, VerifiedWebhook, WebhookConfig, verify_request,
};
use crate::webhook::{ReplayGuard, Verify};

/// A ready webhook handler: reads the body within `limits` (a byte count, or [`ReadLimits`]
/// with a read deadline, 30 s by default), verifies it under `scheme` and, if it passes,
/// answers with what `handler` returns; otherwise answers 400, 401, 408 or 413 with a short
/// message that reveals nothing more.
///
/// ```no_run
/// use std::sync::Arc;
/// use hookwire::adapters::hyper::handle;
/// use hookwire::transport::BodyLimit;
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
///             handle(&*verifier, BodyLimit::WEBHOOK.bytes(), request, |webhook| async move {
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
    limits: impl Into<ReadLimits>,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    S: Verify + ?Sized,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let verified = verify_request(scheme, request, limits, SystemTime::now()).await;
    answer(verified, Rejections::new(), handler).await
}

/// [`handle`], as a [`WebhookConfig`] says: its scheme, body limits and clock, and how refused
/// requests are reported and answered ([`WebhookConfig::rejections`]: the level of the report,
/// and whether the response explains).
pub async fn handle_with<B, F, Fut>(
    config: &WebhookConfig,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let verified = config.check(request, config.now()).await;
    answer(verified, config.rejections, handler).await
}

/// The handler's answer to a verified webhook, or the refusal, reported as `rejections` say.
async fn answer<F, Fut>(
    verified: Result<VerifiedWebhook, Rejection>,
    rejections: Rejections,
    handler: F,
) -> Response<Full<Bytes>>
where
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    match verified {
        Ok(webhook) => handler(webhook).await.map(Full::new),
        Err(rejection) => rejection.respond(rejections).map(Full::new),
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
    limits: impl Into<ReadLimits>,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    S: Verify + ?Sized,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let now = SystemTime::now();
    let verified = verify_request(scheme, request, limits, now).await;
    answer_once(verified, guard, now, Rejections::new(), handler).await
}

/// [`handle_once`], as a [`WebhookConfig`] says (see [`handle_with`]).
pub async fn handle_once_with<B, F, Fut>(
    config: &WebhookConfig,
    guard: &dyn ReplayGuard,
    request: Request<B>,
    handler: F,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let now = config.now();
    let verified = config.check(request, now).await;
    answer_once(verified, guard, now, config.rejections, handler).await
}

/// [`answer`], each message once with `guard`.
async fn answer_once<F, Fut>(
    verified: Result<VerifiedWebhook, Rejection>,
    guard: &dyn ReplayGuard,
    now: SystemTime,
    rejections: Rejections,
    handler: F,
) -> Response<Full<Bytes>>
where
    F: FnOnce(VerifiedWebhook) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let webhook = match verified {
        Ok(webhook) => webhook,
        Err(rejection) => return rejection.respond(rejections).map(Full::new),
    };
    let handled =
        crate::adapters::server::run_once(guard, &webhook.without_content(), now, || async move {
            Ok::<_, std::convert::Infallible>(handler(webhook).await)
        })
        .await;
    match handled {
        Ok(response) => response.map(Full::new),
        Err(never) => match never {},
    }
}

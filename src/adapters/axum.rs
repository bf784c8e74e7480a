//! axum 0.8: extractors that yield verified webhooks.
//!
//! Put a [`WebhookConfig`] (the scheme and the body limit) in the router's state (or make it
//! reachable with `FromRef`), then take [`Webhook`] (the verified raw request) or
//! [`WebhookEvent<T>`] (the verified request decoded as an [`Event<T>`]) or [`WebhookEvents<T>`]
//! (a batch, or one event as a batch of one) in a handler.
//! Rejections answer 400, 401, 408 or 413 with a short message; a verified body that is not an
//! event is acknowledged (202) with the reason, never refused, since its sender would retry it
//! for days. To hand each message to the
//! handlers once, add tower's [`VerifyLayer`](super::tower::VerifyLayer) with a replay guard:
//! it sees the handler's answer, so a message whose handler failed is released for the sender's
//! retry.
//!
//! ```
//! use axum::{Router, routing::post};
//! use hookwire::adapters::axum::Webhook;
//! use hookwire::adapters::server::WebhookConfig;
//! use hookwire::webhook::StandardWebhooks;
//!
//! async fn receive(Webhook(webhook): Webhook) -> &'static str {
//!     println!("verified {:?}: {} bytes", webhook.verified().id(), webhook.body.len());
//!     "ok"
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let app: Router = Router::new()
//!     .route("/webhooks", post(receive))
//!     .with_state(WebhookConfig::new(verifier));
//! # Ok(()) }
//! ```

use std::fmt;

use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::server::{Rejection, Rejections, VerifiedWebhook, WebhookConfig};

use crate::event::{Event, EventError, cloudevents};
/// The axum crate, whose extractor traits these types implement.
pub use axum;

/// A verified webhook request: headers, exact body, and what was verified.
#[derive(Debug, Clone)]
pub struct Webhook(pub VerifiedWebhook);

/// Why an extractor refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// Verification failed, or the body was too large; answered and reported as the
    /// [`Rejections`] (from the [`WebhookConfig`]) say.
    Rejected(Rejection, Rejections),
    /// The verified body is not an event of the expected type: acknowledged (202), so that
    /// the sender does not retry what no retry can fix.
    Event(EventError),
}

impl WebhookRejection {
    /// The status the rejection answers with: the [`Rejection`]'s, or 202 for a verified body
    /// that is not an event.
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookRejection::Rejected(rejection, _) => rejection.status(),
            WebhookRejection::Event(_) => StatusCode::ACCEPTED,
        }
    }
}

impl IntoResponse for WebhookRejection {
    /// The [`Rejection`]'s short answer, or, for a verified body that is not an event, 202
    /// with the reason (the event error and its causes: they name attributes and positions,
    /// never a secret). The sender authenticated, and a retry would bring the same bytes: an
    /// error status would have it retry for days. To handle providers' own envelopes (GitHub,
    /// Stripe, Shopify, Slack), take [`Webhook`] and read it with
    /// [`consume::Envelope`](crate::consume::Envelope) and a
    /// [`consume::Router`](crate::consume::Router).
    fn into_response(self) -> Response {
        match self {
            WebhookRejection::Rejected(rejection, rejections) => {
                rejection.respond(rejections).map(axum::body::Body::from)
            }
            WebhookRejection::Event(error) => {
                let mut text = format!(
                    "verified, and acknowledged without handling: the webhook body is not a valid event: {error}"
                );
                let mut cause = std::error::Error::source(&error);
                while let Some(error) = cause {
                    text.push_str(": ");
                    text.push_str(&error.to_string());
                    cause = error.source();
                }
                text.push('\n');
                (StatusCode::ACCEPTED, text).into_response()
            }
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookRejection::Rejected(rejection, _) => rejection.fmt(f),
            WebhookRejection::Event(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for WebhookRejection {}

impl<S> FromRequest<S> for Webhook
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let config = WebhookConfig::from_ref(state);
        config
            .verify(request)
            .await
            .map(Webhook)
            .map_err(|rejection| WebhookRejection::Rejected(rejection, config.rejections))
    }
}

/// A verified webhook request decoded as an [`Event<T>`]: a CloudEvent in any content mode,
/// or a Standard Webhooks payload (`{"type", "timestamp", "data"}`, its id from `webhook-id`
/// and its source `urn:hookwire:<scheme>`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookEvent<T = serde_json::Value> {
    /// The event.
    pub event: Event<T>,
    /// The verified request it came in.
    pub webhook: VerifiedWebhook,
}

impl<S, T> FromRequest<S> for WebhookEvent<T>
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Webhook(webhook) = Webhook::from_request(request, state).await?;
        let event = decode_event(&webhook).map_err(WebhookRejection::Event)?;
        Ok(WebhookEvent { event, webhook })
    }
}

/// A verified webhook request decoded as one or more events: a CloudEvents batch
/// (`application/cloudevents-batch+json`), or a single event in any form [`WebhookEvent`]
/// reads, as a batch of one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookEvents<T = serde_json::Value> {
    /// The events, in the order they came.
    pub events: Vec<Event<T>>,
    /// The verified request they came in.
    pub webhook: VerifiedWebhook,
}

impl<S, T> FromRequest<S> for WebhookEvents<T>
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Webhook(webhook) = Webhook::from_request(request, state).await?;
        let events = match cloudevents::decode_batch(&webhook.headers, &webhook.body) {
            Err(EventError::NotAnEvent) => vec![decode_event(&webhook)?],
            other => other?,
        };
        Ok(WebhookEvents { events, webhook })
    }
}

impl From<EventError> for WebhookRejection {
    fn from(error: EventError) -> Self {
        WebhookRejection::Event(error)
    }
}

fn decode_event<T: DeserializeOwned>(webhook: &VerifiedWebhook) -> Result<Event<T>, EventError> {
    match cloudevents::decode(&webhook.headers, &webhook.body) {
        Err(EventError::NotAnEvent) => {
            let verified = webhook.verified();
            let id = verified.id().ok_or(EventError::MissingAttribute("id"))?;
            let source = format!("urn:hookwire:{}", verified.scheme());
            Event::from_standard_webhooks(id, &source, &webhook.body)
        }
        other => other,
    }
}

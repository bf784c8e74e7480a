//! How each provider wraps an event, read into the one [`Event`] envelope.

use std::borrow::Cow;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{Event, EventError, RawEvent, Timestamp, cloudevents};

/// How a sender wraps its events: where a verified delivery keeps the event's type, id, time
/// and data. [`Envelope::read`] turns any of them into a [`RawEvent`], so that one router (and
/// one inbox) serves every provider.
///
/// | envelope | type | id | data |
/// |---|---|---|---|
/// | `CloudEvents` | `type` (`ce-type` in binary mode) | `id` | `data` |
/// | `StandardWebhooks` | `type` | the `webhook-id` header | `data` |
/// | `Stripe` | `type` | `id` | `data.object` |
/// | `GitHub` | `X-GitHub-Event`, then `.` and the `action` member where there is one (`pull_request.opened`) | `X-GitHub-Delivery` | the whole body |
/// | `Shopify` | `X-Shopify-Topic` (`orders/create`) | `X-Shopify-Event-Id` (else `X-Shopify-Webhook-Id`) | the whole body |
/// | `Slack` (Events API) | `event.type` (`app_mention`) | `event_id` | `event` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Envelope {
    /// CloudEvents 1.0 over HTTP, binary or structured mode.
    CloudEvents,
    /// The Standard Webhooks payload, `{"type", "timestamp", "data"}`.
    StandardWebhooks,
    /// Stripe's event object.
    Stripe,
    /// GitHub's webhook payloads.
    GitHub,
    /// Shopify's webhook payloads.
    Shopify,
    /// Slack's Events API callbacks.
    Slack,
}

/// A verified delivery that does not hold an event in the envelope expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A header the envelope keeps the type or id in is missing or not text.
    #[error("the {envelope:?} envelope needs the {header} header, which is missing or not text")]
    MissingHeader {
        /// The envelope.
        envelope: Envelope,
        /// The header.
        header: &'static str,
    },
    /// The body is not the JSON the envelope has.
    #[error("the body is not a {envelope:?} event: {source}")]
    Body {
        /// The envelope.
        envelope: Envelope,
        /// What the JSON reader found.
        #[source]
        source: serde_json::Error,
    },
    /// A Slack callback that is not an event (a `url_verification` handshake, say).
    #[error("a Slack callback of type {0:?} is not an event")]
    NotAnEvent(String),
    /// The event the envelope holds is not a valid event (an empty id or type, say).
    #[error("the delivery's event is not valid")]
    Event(#[from] EventError),
}

fn header<'a>(
    headers: &'a HeaderMap,
    envelope: Envelope,
    name: &'static str,
) -> Result<&'a str, EnvelopeError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .ok_or(EnvelopeError::MissingHeader {
            envelope,
            header: name,
        })
}

fn json<'a, T: Deserialize<'a>>(envelope: Envelope, body: &'a [u8]) -> Result<T, EnvelopeError> {
    serde_json::from_slice(body).map_err(|source| EnvelopeError::Body { envelope, source })
}

fn raw(envelope: Envelope, text: &str) -> Result<Box<RawValue>, EnvelopeError> {
    RawValue::from_string(text.to_owned())
        .map_err(|source| EnvelopeError::Body { envelope, source })
}

#[derive(Deserialize)]
struct StripeEvent<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    created: Option<i64>,
    #[serde(borrow)]
    data: StripeData<'a>,
}

#[derive(Deserialize)]
struct StripeData<'a> {
    #[serde(borrow)]
    object: &'a RawValue,
}

#[derive(Deserialize)]
struct GitHubAction<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SlackCallback<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Option<Cow<'a, str>>,
    event_time: Option<i64>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SlackEvent<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
}

fn unix(seconds: Option<i64>) -> Option<Timestamp> {
    let seconds = u64::try_from(seconds?).ok()?;
    let time = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(seconds))?;
    Timestamp::try_from(time).ok()
}

impl Envelope {
    /// The event a verified delivery holds, with `source` (a URI naming the sender, such as
    /// `https://github.com`) where the envelope has none of its own.
    ///
    /// # Errors
    ///
    /// An [`EnvelopeError`] naming the header or member that is missing or malformed.
    pub fn read(
        self,
        source: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<RawEvent, EnvelopeError> {
        let built = |id: &str, ty: &str, time: Option<Timestamp>, data: Box<RawValue>| {
            Event::builder()
                .as_given()
                .id(id)
                .source(source)
                .ty(ty)
                .time(time)
                .datacontenttype("application/json")
                .data(data)
                .build()
                .map_err(EnvelopeError::from)
        };
        match self {
            Envelope::CloudEvents => Ok(cloudevents::decode(headers, body)?),
            Envelope::StandardWebhooks => {
                let id = header(headers, self, "webhook-id")
                    .or_else(|_| header(headers, self, "svix-id"))?;
                Ok(Event::from_standard_webhooks(id, source, body)?)
            }
            Envelope::Stripe => {
                let event: StripeEvent<'_> = json(self, body)?;
                built(
                    &event.id,
                    &event.ty,
                    unix(event.created),
                    raw(self, event.data.object.get())?,
                )
            }
            Envelope::GitHub => {
                let name = header(headers, self, "x-github-event")?;
                let id = header(headers, self, "x-github-delivery")?;
                let action: GitHubAction<'_> = json(self, body)?;
                let ty = match action.action {
                    Some(action) => format!("{name}.{action}"),
                    None => name.to_owned(),
                };
                let data = std::str::from_utf8(body).map_err(|_| EnvelopeError::Body {
                    envelope: self,
                    source: serde::de::Error::custom("the body is not UTF-8"),
                })?;
                built(id, &ty, None, raw(self, data)?)
            }
            Envelope::Shopify => {
                let topic = header(headers, self, "x-shopify-topic")?;
                let id = header(headers, self, "x-shopify-event-id")
                    .or_else(|_| header(headers, self, "x-shopify-webhook-id"))?;
                let time = headers
                    .get("x-shopify-triggered-at")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|text| Timestamp::parse(text).ok());
                let data: &RawValue = json(self, body)?;
                built(id, topic, time, raw(self, data.get())?)
            }
            Envelope::Slack => {
                let callback: SlackCallback<'_> = json(self, body)?;
                let (Some(id), Some(event)) = (callback.event_id, callback.event) else {
                    return Err(EnvelopeError::NotAnEvent(callback.ty.into_owned()));
                };
                if callback.ty != "event_callback" {
                    return Err(EnvelopeError::NotAnEvent(callback.ty.into_owned()));
                }
                let inner: SlackEvent<'_> = json(self, event.get().as_bytes())?;
                built(
                    &id,
                    &inner.ty,
                    unix(callback.event_time),
                    raw(self, event.get())?,
                )
            }
        }
    }
}

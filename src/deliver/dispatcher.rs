//! Delivering one message to one endpoint: sign each attempt, send, classify, wait, repeat.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use serde::Serialize;
use url::Url;

use super::outcome::{Attempt, Verdict, classify};
use super::schedule::Schedule;
use crate::clock::{Clock, within};
use crate::event::{Event, EventError};
use crate::transport::{AddressError, HttpClient, TransportError, redact_url};
use crate::webhook::{Message, Secret, Sign, SignError, StandardWebhooks};

/// Where deliveries go: a URL, the secrets to sign with, and extra headers.
#[derive(Clone)]
pub struct Destination {
    url: Url,
    signer: StandardWebhooks,
    headers: HeaderMap,
}

impl Destination {
    /// Deliveries to `url`, signed under Standard Webhooks with `secret`.
    ///
    /// # Errors
    ///
    /// [`DeliverError::Url`] for a URL that does not parse.
    pub fn new(url: &str, secret: &Secret) -> Result<Self, DeliverError> {
        let url = Url::parse(url).map_err(|error| DeliverError::Url(error.to_string()))?;
        Ok(Destination {
            url,
            signer: StandardWebhooks::from_secret(secret),
            headers: HeaderMap::new(),
        })
    }

    /// Signs with one more secret (during a rotation every attempt carries both signatures).
    #[must_use]
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.signer = self.signer.with_key_of(secret);
        self
    }

    /// An extra header on every attempt.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("url", &redact_url(&self.url))
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

/// What is delivered: a message id (the same on every attempt), an optional event type, and
/// the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The message id, sent as `webhook-id`.
    pub id: String,
    /// The event type, for reports and filtering.
    pub event_type: Option<String>,
    /// The content type of the body.
    pub content_type: HeaderValue,
    /// The body.
    pub body: Bytes,
}

impl Payload {
    /// `event` in the Standard Webhooks payload form, under the event's id.
    ///
    /// # Errors
    ///
    /// What [`Event::to_standard_webhooks`] reports.
    pub fn from_event<T: Serialize>(event: &Event<T>) -> Result<Self, EventError> {
        Ok(Payload {
            id: event.id().to_owned(),
            event_type: Some(event.ty().to_owned()),
            content_type: HeaderValue::from_static("application/json"),
            body: Bytes::from(event.to_standard_webhooks()?),
        })
    }

    /// Raw JSON bytes with an id and an event type.
    pub fn json(
        id: impl Into<String>,
        event_type: impl Into<String>,
        body: impl Into<Bytes>,
    ) -> Self {
        Payload {
            id: id.into(),
            event_type: Some(event_type.into()),
            content_type: HeaderValue::from_static("application/json"),
            body: body.into(),
        }
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A 2xx response.
    Delivered,
    /// 410 Gone: the endpoint wants nothing more; disable it.
    Gone,
    /// The schedule ran out without a 2xx response.
    Exhausted,
    /// The address policy refused the URL; nothing was sent.
    Refused(AddressError),
}

/// Every attempt of one delivery and how it ended: what a sender shows its customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The message id.
    pub id: String,
    /// The attempts, in order.
    pub attempts: Vec<Attempt>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Why a delivery could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The URL does not parse.
    #[error("the webhook URL is invalid: {0}")]
    Url(String),
    /// The message could not be signed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The address policy refuses the URL.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The transport connects wherever a URL points: it enforces no address policy.
    #[error(
        "the transport enforces no address policy, so deliveries could reach internal services; use a guarded transport (HyperClient::guarded, ReqwestClient::guarded), or Dispatcher::unguarded for tests and local development"
    )]
    Unguarded,
}

/// Sends webhooks: each attempt signed afresh (a new timestamp) under the message's stable
/// id, with `content-type` and a user agent; responses classified ([`classify`]); waits from
/// the [`Schedule`], stretched to a 429 or 503's `Retry-After` up to a cap; an attempt timeout
/// (15 s by default). Redirects are never followed: give it a transport that does not follow
/// them (hookwire's adapters don't).
///
/// The guard against server-side request forgery travels with the transport: a dispatcher is
/// built over a transport that enforces an [`AddressPolicy`](crate::transport::AddressPolicy)
/// where it dials (`HyperClient::guarded`, `ReqwestClient::guarded`), and checks each URL
/// against that same policy before signing. [`Dispatcher::unguarded`] says plainly that no
/// address is refused, for tests and local development.
pub struct Dispatcher<C> {
    client: C,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    timeout: Duration,
    retry_after_cap: Duration,
    user_agent: HeaderValue,
}

impl<C: HttpClient> Dispatcher<C> {
    /// A dispatcher sending through `client`, a guarded transport, waiting on `timer`.
    ///
    /// # Errors
    ///
    /// [`DeliverError::Unguarded`] when `client` enforces no address policy.
    pub fn new(client: C, clock: impl Clock + 'static) -> Result<Self, DeliverError> {
        if client.address_policy().is_none() {
            return Err(DeliverError::Unguarded);
        }
        Ok(Self::unguarded(client, clock))
    }

    /// A dispatcher that delivers wherever a URL points, through a transport that may enforce
    /// no address policy: for tests, local development, or an egress proxy that is the guard.
    /// Never for URLs that customers chose.
    pub fn unguarded(client: C, clock: impl Clock + 'static) -> Self {
        Dispatcher {
            client,
            clock: Arc::new(clock),
            schedule: Schedule::default(),
            timeout: Duration::from_secs(15),
            retry_after_cap: Duration::from_secs(24 * 60 * 60),
            user_agent: HeaderValue::from_static(concat!("hookwire/", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// The retry schedule; [`Schedule::default`] unless set.
    #[must_use]
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// How long one attempt may take; 15 seconds unless set.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest wait a `Retry-After` can ask for; a day unless set.
    #[must_use]
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// The `User-Agent`; `hookwire/<version>` unless set. Invalid header text is ignored.
    #[must_use]
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(user_agent) {
            self.user_agent = value;
        }
        self
    }

    /// How long one attempt may take.
    pub fn current_attempt_timeout(&self) -> Duration {
        self.timeout
    }

    /// The schedule, for outboxes that store the next attempt's time.
    pub fn current_schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// One attempt: checks the address, signs, sends with the attempt timeout, and classifies.
    ///
    /// # Errors
    ///
    /// A [`DeliverError`] when nothing could be sent (a refused address, an unsignable id): a
    /// permanent failure, which retrying would not change.
    pub async fn attempt(
        &self,
        destination: &Destination,
        payload: &Payload,
    ) -> Result<(Attempt, Verdict), DeliverError> {
        if let Some(policy) = self.client.address_policy() {
            policy.check_url(&destination.url)?;
        }
        let request = self.request(destination, payload)?;
        let at = self.clock.now();
        let started = self.clock.instant();
        let result = self.send_with_timeout(request).await;
        if let Some(refusal) = result.as_ref().err().and_then(TransportError::refusal) {
            return Err(DeliverError::Address(refusal.clone()));
        }
        let latency = self.clock.instant().saturating_duration_since(started);
        Ok((
            Attempt::new(at, latency, &result),
            classify(&result, self.clock.now()),
        ))
    }

    /// The clock the dispatcher reads and waits on; the worker shares it.
    #[cfg(feature = "tokio")]
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// How long to wait after attempt number `made` (1 after the first) ended in `verdict`, or
    /// `None` to stop: the schedule's next delay, stretched to the receiver's `Retry-After`
    /// (clamped between that delay and the cap).
    pub fn next_delay(&self, made: u32, verdict: Verdict) -> Option<Duration> {
        let Verdict::Retry { at_least } = verdict else {
            return None;
        };
        let scheduled = self.schedule.delay(made)?;
        Some(match at_least {
            Some(asked) => asked.min(self.retry_after_cap).max(scheduled),
            None => scheduled,
        })
    }

    /// Delivers `payload` to `destination`, attempt after attempt, waiting between them, until
    /// it is delivered, the endpoint is gone, or the schedule runs out.
    pub async fn deliver(&self, destination: &Destination, payload: &Payload) -> DeliveryReport {
        let mut attempts = Vec::new();
        let mut made = 0u32;
        if let Some(first) = self.schedule.delay(0).filter(|wait| !wait.is_zero()) {
            self.clock.sleep(first).await;
        }
        let outcome = loop {
            let (attempt, verdict) = match self.attempt(destination, payload).await {
                Ok(done) => done,
                Err(DeliverError::Address(error)) => break Outcome::Refused(error),
                Err(_) => break Outcome::Exhausted,
            };
            attempts.push(attempt);
            made += 1;
            match verdict {
                Verdict::Delivered => break Outcome::Delivered,
                Verdict::Gone => break Outcome::Gone,
                Verdict::Retry { .. } => match self.next_delay(made, verdict) {
                    Some(wait) => self.clock.sleep(wait).await,
                    None => break Outcome::Exhausted,
                },
            }
        };
        DeliveryReport {
            id: payload.id.clone(),
            attempts,
            outcome,
        }
    }

    fn request(
        &self,
        destination: &Destination,
        payload: &Payload,
    ) -> Result<Request<Bytes>, DeliverError> {
        let signed = destination
            .signer
            .sign(&Message::new(&payload.id, &payload.body).at(self.clock.now()))?;
        let mut request = Request::post(destination.url.as_str())
            .body(payload.body.clone())
            .map_err(|error| DeliverError::Url(error.to_string()))?;
        let headers = request.headers_mut();
        headers.extend(destination.headers.clone());
        headers.insert(CONTENT_TYPE, payload.content_type.clone());
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.extend(signed);
        Ok(request)
    }

    async fn send_with_timeout(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, TransportError> {
        within(&*self.clock, self.timeout, self.client.send(request))
            .await
            .unwrap_or_else(|| Err(TransportError::timeout()))
    }
}

impl<C: HttpClient> fmt::Debug for Dispatcher<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("schedule", &self.schedule)
            .field("timeout", &self.timeout)
            .field("policy", &self.client.address_policy())
            .finish_non_exhaustive()
    }
}

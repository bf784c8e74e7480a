//! Delivering one message to one endpoint: sign each attempt, send, classify, wait, repeat.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use serde::Serialize;
use url::Url;

use super::outcome::Attempt;
use crate::clock::{Clock, within};
use crate::event::{Event, EventError};
use crate::observe::AttemptOf;
use crate::retry::{RetryPolicy, Verdict};
use crate::transport::{AddressError, HttpClient, TransportError, redact_url};
use crate::webhook::{Message, SecretError, SecretInput, Sign, SignError, StandardWebhooks};

/// Where deliveries go: a URL, the secrets to sign with, and extra headers.
#[derive(Clone)]
pub struct Destination {
    url: Url,
    signer: StandardWebhooks,
    headers: HeaderMap,
    rate_limit: Option<NonZeroU32>,
    max_in_flight: Option<NonZeroU32>,
}

impl Destination {
    /// Deliveries to `url`, signed under Standard Webhooks with `secret`: a [`Secret`](crate::webhook::Secret), or its
    /// `whsec_<base64>` text.
    ///
    /// # Errors
    ///
    /// [`DeliverError::Url`] for a URL that does not parse, [`DeliverError::Secret`] for text
    /// that is not a Standard Webhooks secret.
    pub fn new<'s>(url: &str, secret: impl Into<SecretInput<'s>>) -> Result<Self, DeliverError> {
        let url = Url::parse(url).map_err(DeliverError::Url)?;
        Ok(Self::signed_by(url, StandardWebhooks::new(secret)?))
    }

    /// Deliveries to `url`, signed by `signer` with every key it holds (`v1` secrets, `v1a`
    /// signing keys, or both).
    pub fn signed_by(url: Url, signer: StandardWebhooks) -> Self {
        Destination {
            url,
            signer,
            headers: HeaderMap::new(),
            rate_limit: None,
            max_in_flight: None,
        }
    }

    /// At most `per_second` attempts a second to this destination, from each worker; a
    /// message over the limit waits for its turn without an attempt.
    #[must_use]
    pub fn rate_limit(mut self, per_second: NonZeroU32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// At most `attempts` in flight to this destination at once, in each worker, in place of
    /// the worker's [`per_endpoint`](super::Worker::per_endpoint) cap.
    #[must_use]
    pub fn max_in_flight(mut self, attempts: NonZeroU32) -> Self {
        self.max_in_flight = Some(attempts);
        self
    }

    /// Its rate limit, attempts per second.
    pub fn current_rate_limit(&self) -> Option<NonZeroU32> {
        self.rate_limit
    }

    /// Its cap on attempts in flight.
    pub fn current_max_in_flight(&self) -> Option<NonZeroU32> {
        self.max_in_flight
    }

    /// Signs with one more secret, read as [`Destination::new`] reads it: during a rotation
    /// every attempt carries both signatures.
    ///
    /// # Errors
    ///
    /// [`DeliverError::Secret`] for text that is not a Standard Webhooks secret.
    pub fn with_secret<'s>(
        mut self,
        secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, DeliverError> {
        self.signer = self.signer.with_secret(secret)?;
        Ok(self)
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
#[non_exhaustive]
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

    /// A payload from its parts: what a store reads back.
    pub fn new(
        id: impl Into<String>,
        event_type: Option<String>,
        content_type: HeaderValue,
        body: impl Into<Bytes>,
    ) -> Self {
        Payload {
            id: id.into(),
            event_type,
            content_type,
            body: body.into(),
        }
    }

    /// A JSON body with its event type.
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
    /// The retry policy ran out without a 2xx response.
    Exhausted,
    /// The address policy refused the URL; nothing was sent.
    Refused(AddressError),
    /// Nothing could be sent, for a reason no retry changes (the message id cannot be
    /// signed, the URL cannot stand in a request).
    Failed(DeliverError),
}

/// Every attempt of one delivery and how it ended: what a sender shows its customers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    #[error("the webhook URL is invalid")]
    Url(#[source] url::ParseError),
    /// The secret was refused.
    #[error("the delivery secret was refused")]
    Secret(#[from] SecretError),
    /// The URL parses but cannot stand in an HTTP request.
    #[error("the webhook URL cannot stand in an HTTP request")]
    Uri,
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
/// id, with `content-type` and a user agent; responses classified and waits taken from its
/// [`RetryPolicy`] ([`RetryPolicy::for_deliveries`] by default: the 28-hour schedule, stretched
/// to a receiver's `Retry-After` up to a day); an attempt timeout
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
    retry: RetryPolicy,
    timeout: Duration,
    user_agent: HeaderValue,
}

impl<C: HttpClient> Dispatcher<C> {
    /// A dispatcher sending through `client`, a guarded transport, reading the time and
    /// waiting on `clock`.
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
            retry: RetryPolicy::for_deliveries(),
            timeout: Duration::from_secs(15),
            user_agent: HeaderValue::from_static(concat!("hookwire/", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// When to try again; [`RetryPolicy::for_deliveries`] unless set. A
    /// [`budget`](RetryPolicy::budget) counts from the first attempt of
    /// [`deliver`](Self::deliver); the worker's jobs have none.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long one attempt may take; 15 seconds unless set.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `User-Agent`; `hookwire/<version>` unless set.
    #[must_use]
    pub fn user_agent(mut self, user_agent: HeaderValue) -> Self {
        self.user_agent = user_agent;
        self
    }

    /// How long one attempt may take.
    pub fn current_attempt_timeout(&self) -> Duration {
        self.timeout
    }

    /// The retry policy, for outboxes that store the next attempt's time.
    pub fn current_retry(&self) -> &RetryPolicy {
        &self.retry
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
        self.attempt_of(destination, payload, AttemptOf::default())
            .await
    }

    /// [`attempt`](Self::attempt), reported as the attempt `of` a delivery (see
    /// [`observe`](crate::observe)).
    pub(crate) async fn attempt_of(
        &self,
        destination: &Destination,
        payload: &Payload,
        of: AttemptOf<'_>,
    ) -> Result<(Attempt, Verdict), DeliverError> {
        let span = crate::observe::attempt_span(&payload.id, &destination.url, of);
        let result =
            crate::observe::within_span(&span, self.attempt_unreported(destination, payload)).await;
        if let Ok((attempt, verdict)) = &result {
            crate::observe::attempt_ended(&span, attempt, verdict);
        }
        result
    }

    async fn attempt_unreported(
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
            Attempt::from_result(at, latency, &result),
            self.retry.classify(&result, self.clock.now()),
        ))
    }

    /// The clock the dispatcher reads and waits on; the worker shares it.
    #[cfg(feature = "tokio")]
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn clock_arc(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// How long to wait after attempt number `made` (1 after the first) ended in `verdict`,
    /// `elapsed` after the first attempt; `None` to stop.
    pub fn next_delay(&self, made: u32, verdict: Verdict, elapsed: Duration) -> Option<Duration> {
        self.retry.next_delay(made, verdict, elapsed)
    }

    /// Delivers `payload` to `destination`, attempt after attempt, waiting between them, until
    /// it is delivered, the endpoint is gone, or the schedule runs out.
    pub async fn deliver(&self, destination: &Destination, payload: &Payload) -> DeliveryReport {
        let mut attempts = Vec::new();
        let mut made = 0u32;
        let backoff = self.retry.current_backoff();
        if let Some(first) = backoff.delay(0).filter(|wait| !wait.is_zero()) {
            self.clock.sleep(first).await;
        }
        let started = self.clock.instant();
        let outcome = loop {
            let of = AttemptOf {
                endpoint: None,
                number: Some(made.saturating_add(1)),
            };
            let (attempt, verdict) = match self.attempt_of(destination, payload, of).await {
                Ok(done) => done,
                Err(DeliverError::Address(error)) => break Outcome::Refused(error),
                Err(error) => break Outcome::Failed(error),
            };
            attempts.push(attempt);
            made += 1;
            let elapsed = self.clock.instant().saturating_duration_since(started);
            match verdict {
                Verdict::Success => break Outcome::Delivered,
                Verdict::Gone => break Outcome::Gone,
                _ => match self.next_delay(made, verdict, elapsed) {
                    Some(wait) => {
                        crate::observe::retry_scheduled(&payload.id, None, wait);
                        self.clock.sleep(wait).await;
                    }
                    None => break Outcome::Exhausted,
                },
            }
        };
        let (name, lag) = match &outcome {
            Outcome::Delivered => (
                "delivered",
                Some(self.clock.instant().saturating_duration_since(started)),
            ),
            Outcome::Gone => ("gone", None),
            Outcome::Exhausted => ("exhausted", None),
            Outcome::Refused(_) => ("refused", None),
            Outcome::Failed(_) => ("failed", None),
        };
        crate::observe::delivery_ended(&payload.id, None, name, lag);
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
            .map_err(|_| DeliverError::Uri)?;
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
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("policy", &self.client.address_policy())
            .finish_non_exhaustive()
    }
}

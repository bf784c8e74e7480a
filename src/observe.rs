//! What hookwire reports while it works: spans and events through [`tracing`] (feature
//! `tracing`) and metrics through the [`metrics`] facade (feature `metrics`), so that any
//! subscriber or exporter (a formatter, OpenTelemetry, Prometheus, StatsD) shows them. Both
//! are off by default, and cost nothing then; on, with no subscriber or recorder installed,
//! they cost a check of a static per call site.
//!
//! Nothing reported ever holds a secret, a signature, a token or a body: URLs are reported
//! with their user information and query values redacted
//! ([`redact_url`](crate::transport::redact_url)), and webhook ids, event types, scheme and
//! endpoint names are the only strings from outside.
//!
//! [`tracing`]: https://docs.rs/tracing
//! [`metrics`]: https://docs.rs/metrics
//!
//! # Tracing
//!
//! Field names follow the OpenTelemetry semantic conventions for HTTP where they apply, so an
//! OpenTelemetry exporter shows them without mapping.
//!
//! | target | span or event | level | fields |
//! |---|---|---|---|
//! | `hookwire::webhook` | event `webhook verified` / `webhook rejected` (every [`Verify::verify`](crate::webhook::Verify::verify), and every request the server adapters verify; not `verify_at`, which tests call with a fixed time) | DEBUG | `scheme`, `outcome` (`verified`, `rejected`), `reason` (see [`VerifyError::reason`](crate::webhook::VerifyError::reason)), `skew_seconds` (the signed timestamp's age; negative when ahead), `tolerance_seconds`, `key` (which secret matched, from 0) |
//! | `hookwire::adapters` | event `webhook request refused` (each refusal the server adapters answer) | WARN unless set ([`Rejections`], through `WebhookConfig::rejections` for axum, tower and hyper's `handle_with` and `handle_once_with`); DEBUG for a duplicate, ERROR when the replay guard is down | `http.response.status_code`, `reason` (see `Rejection::reason` in `adapters::server`), `error.type`; the message says why |
//! | `hookwire::deliver` | span `webhook attempt` around each delivery attempt | INFO | `webhook.id`, `endpoint` (the worker's), `attempt` (from 1), `http.request.method`, `url.full` (redacted), `server.address`, then `http.response.status_code`, `error.type`, `duration_ms` |
//! | `hookwire::deliver` | event `attempt ended` (inside the span) | DEBUG on 2xx, WARN otherwise | `verdict`, and on failure `http.response.status_code`, `error.type` |
//! | `hookwire::deliver` | event `retry scheduled` | DEBUG | `webhook.id`, `endpoint`, `next_attempt_in_ms` |
//! | `hookwire::deliver` | event `delivery ended` | DEBUG when delivered, WARN otherwise | `webhook.id`, `endpoint`, `outcome` (`delivered`, `gone`, `exhausted`, `dead_lettered`, `refused`, `failed`, `unknown_endpoint`, `endpoint_disabled`), `lag_ms` (from first due to delivered) |
//! | `hookwire::deliver` | event `endpoint disabled` (a 410, or failing for the worker's `disable_after`) | WARN | `endpoint`, `reason` (`gone`, `failing`) |
//! | `hookwire::deliver` | event `endpoint paused` (a 429 or 503 with `Retry-After`) | INFO | `endpoint`, `paused_for_ms` |
//! | `hookwire::deliver` | event `outbox store failed` | WARN | `operation` (`lease`, `settle`, `purge`, `next_due`, `count`, `oldest_pending`, `disable`, `pause`, `note_failing`), `error` |
//! | `hookwire::deliver` | event `leased` (a worker or processor took due jobs) | TRACE | `queue`, `leased`, `in_flight` |
//! | `hookwire::deliver` | event `drained` (a worker or processor stopped) | DEBUG | `queue` (`outbox`, `inbox`), `aborted` (runs cut short at the end of the grace period) |
//! | `hookwire::consume` | event `handler failed` / `event handled` | WARN / DEBUG | `event.source`, `event.id`, `event.type`, `attempt`; on failure `error` (the handler's) and `outcome` (`retry`, `parked`) |
//! | `hookwire::api` | span `api request` around each call, its retries inside | INFO | `http.request.method`, `url.full` (redacted), `server.address`, then `http.response.status_code`, `error.type` |
//! | `hookwire::api` | event `api attempt ended` | DEBUG | `attempt`, `http.response.status_code`, `error.type`, `retry_in_ms` |
//!
//! # Metrics
//!
//! | name | kind | unit | labels | what |
//! |---|---|---|---|---|
//! | `hookwire_webhook_verifications_total` | counter | | `scheme`, `outcome`, `reason` | requests the server adapters verified, by result |
//! | `hookwire_webhook_rejections_total` | counter | | `reason` | requests the server adapters refused, for any reason (verification, size, time, replay) |
//! | `hookwire_delivery_attempts_total` | counter | | `status_class` (`2xx`, `3xx`, `4xx`, `5xx`, `error`) | delivery attempts |
//! | `hookwire_delivery_attempt_duration_seconds` | histogram | seconds | | how long each attempt took |
//! | `hookwire_deliveries_total` | counter | | `outcome` (as in `delivery ended`) | deliveries that ended |
//! | `hookwire_delivery_lag_seconds` | histogram | seconds | | from a job's first due time (or the call to `deliver`) to its delivery |
//! | `hookwire_outbox_pending` | gauge | | `queue` (`outbox`, `inbox`) | pending jobs, as a worker (or an inbox's processor) last counted them |
//! | `hookwire_outbox_oldest_pending_age_seconds` | gauge | seconds | `queue` | how long the oldest pending job has been due, as a worker last looked (0 when none) |
//! | `hookwire_inbox_events_total` | counter | | `outcome` (`handled`, `retry`, `parked`) | events a processor ran a handler for |
//! | `hookwire_api_requests_total` | counter | | `status_class` | API calls that ended, after their retries |
//! | `hookwire_endpoints_disabled_total` | counter | | `reason` (`gone`, `failing`) | endpoints a worker disabled (list the disabled ones with `Subscriptions::subscriptions`) |
//!
//! Workers and processors refresh the two gauges when they start and then every 15 seconds.
//!
//! # Why a webhook was rejected
//!
//! The server adapters [`diagnose`](crate::webhook::diagnose) every request that fails
//! verification: the refusal's event (and, with [`Rejections::explain`], the response body)
//! says what was wrong and the likely causes, such as a body re-serialised before verifying, a
//! clock off by more than the tolerance, or a secret of the wrong kind.

// Each report compiles to nothing without its feature; with one feature of the two, the other's
// inputs go unused.
#![cfg_attr(
    not(all(feature = "tracing", feature = "metrics")),
    allow(dead_code, unused_variables, unused_macros, unused_imports)
)]

use std::time::Duration;

/// The level at which the server adapters report a refused webhook request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Level {
    /// Not reported.
    Off,
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`: the default, since a refused webhook is most often a misconfiguration.
    #[default]
    Warn,
    /// `ERROR`.
    Error,
}

/// How the server adapters report the webhook requests they refuse: a
/// `webhook request refused` event at a [`Level`] (WARN unless set), and, only when asked, the
/// reason in the response body.
///
/// The reason in the body helps whoever sends the request, an attacker as much as a partner,
/// so it is off by default; the reason never holds a secret, a signature or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rejections {
    level: Level,
    explain: bool,
}

impl Rejections {
    /// Reported at WARN, the response body saying only what the status says.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reported at `level`.
    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The response body carries the reason (for example "the webhook timestamp is 2h old,
    /// beyond the tolerance of 5m").
    #[must_use]
    pub fn explain(mut self) -> Self {
        self.explain = true;
        self
    }

    /// The level refusals are reported at.
    pub fn current_level(&self) -> Level {
        self.level
    }

    /// Whether response bodies carry the reason.
    pub fn explains(&self) -> bool {
        self.explain
    }
}

/// Emits a tracing event at a [`Level`] chosen at run time: `event_at!(level, target: "…",
/// { fields }, "message", args…)`.
#[cfg(feature = "tracing")]
macro_rules! event_at {
    ($level:expr, target: $target:literal, { $($fields:tt)* }, $($message:tt)+) => {
        match $level {
            $crate::observe::Level::Off => {}
            $crate::observe::Level::Trace => {
                ::tracing::trace!(target: $target, { $($fields)* }, $($message)+)
            }
            $crate::observe::Level::Debug => {
                ::tracing::debug!(target: $target, { $($fields)* }, $($message)+)
            }
            $crate::observe::Level::Info => {
                ::tracing::info!(target: $target, { $($fields)* }, $($message)+)
            }
            $crate::observe::Level::Warn => {
                ::tracing::warn!(target: $target, { $($fields)* }, $($message)+)
            }
            $crate::observe::Level::Error => {
                ::tracing::error!(target: $target, { $($fields)* }, $($message)+)
            }
        }
    };
}
#[cfg(feature = "tracing")]
pub(crate) use event_at;

/// The class of an attempt's answer: `2xx`, `3xx`, `4xx`, `5xx`, or `error` when there was
/// none.
pub(crate) fn status_class(status: Option<http::StatusCode>) -> &'static str {
    match status.map(|status| status.as_u16() / 100) {
        Some(1 | 2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "error",
    }
}

/// A duration in whole milliseconds, for fields.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The metric names, for dashboards and tests.
pub mod names {
    /// Requests the server adapters verified, by `scheme`, `outcome` and `reason`.
    pub const VERIFICATIONS: &str = "hookwire_webhook_verifications_total";
    /// Requests the server adapters refused, by `reason`.
    pub const REJECTIONS: &str = "hookwire_webhook_rejections_total";
    /// Delivery attempts, by `status_class`.
    pub const ATTEMPTS: &str = "hookwire_delivery_attempts_total";
    /// How long each delivery attempt took, in seconds.
    pub const ATTEMPT_DURATION: &str = "hookwire_delivery_attempt_duration_seconds";
    /// Deliveries that ended, by `outcome`.
    pub const DELIVERIES: &str = "hookwire_deliveries_total";
    /// From a job's first due time to its delivery, in seconds.
    pub const DELIVERY_LAG: &str = "hookwire_delivery_lag_seconds";
    /// Pending jobs, as a worker last counted them.
    pub const PENDING: &str = "hookwire_outbox_pending";
    /// How long the oldest pending job has been due, in seconds.
    pub const OLDEST_PENDING_AGE: &str = "hookwire_outbox_oldest_pending_age_seconds";
    /// Events a processor ran a handler for, by `outcome`.
    pub const INBOX_EVENTS: &str = "hookwire_inbox_events_total";
    /// API calls that ended, by `status_class`.
    pub const API_REQUESTS: &str = "hookwire_api_requests_total";
    /// Counter: endpoints a worker disabled, by `reason` (`gone`, `failing`).
    pub const ENDPOINTS_DISABLED: &str = "hookwire_endpoints_disabled_total";
}

/// A span that groups what happens during one operation; nothing without the `tracing`
/// feature.
#[cfg(feature = "tracing")]
pub(crate) type Span = tracing::Span;

/// A span that groups what happens during one operation; nothing without the `tracing`
/// feature.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Span;

/// Runs `future` inside `span`.
pub(crate) async fn within_span<F: std::future::Future>(span: &Span, future: F) -> F::Output {
    #[cfg(feature = "tracing")]
    {
        tracing::Instrument::instrument(future, span.clone()).await
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = span;
        future.await
    }
}

/// Where a delivery attempt stands in its delivery: the worker's endpoint name and the
/// attempt's number, where known.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AttemptOf<'a> {
    pub(crate) endpoint: Option<&'a str>,
    pub(crate) number: Option<u32>,
}

/// The span of one delivery attempt.
pub(crate) fn attempt_span(id: &str, url: &url::Url, of: AttemptOf<'_>) -> Span {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!(
            target: "hookwire::deliver",
            "webhook attempt",
            webhook.id = id,
            endpoint = of.endpoint,
            attempt = of.number,
            http.request.method = "POST",
            url.full = crate::transport::redact_url(url),
            server.address = url.host_str(),
            http.response.status_code = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        )
    }
    #[cfg(not(feature = "tracing"))]
    Span
}

/// Reports how an attempt ended, inside its span.
pub(crate) fn attempt_ended(
    span: &Span,
    attempt: &crate::deliver::Attempt,
    verdict: &crate::retry::Verdict,
) {
    #[cfg(feature = "tracing")]
    {
        let error = attempt.error.map(|kind| format!("{kind:?}"));
        span.record("duration_ms", millis(attempt.latency));
        if let Some(status) = attempt.status {
            span.record("http.response.status_code", status.as_u16());
        }
        if let Some(error) = &error {
            span.record("error.type", error.as_str());
        }
        let _entered = span.enter();
        if matches!(verdict, crate::retry::Verdict::Success) {
            tracing::debug!(target: "hookwire::deliver", { verdict = ?verdict }, "attempt ended");
        } else {
            tracing::warn!(
                target: "hookwire::deliver",
                {
                    verdict = ?verdict,
                    http.response.status_code = attempt.status.map(|s| s.as_u16()),
                    "error.type" = error.as_deref()
                },
                "attempt ended"
            );
        }
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(names::ATTEMPTS, "status_class" => status_class(attempt.status))
            .increment(1);
        metrics::histogram!(names::ATTEMPT_DURATION).record(attempt.latency.as_secs_f64());
    }
}

/// Reports that a delivery ended with `outcome`, `lag` after it was first due.
pub(crate) fn delivery_ended(
    id: &str,
    endpoint: Option<&str>,
    outcome: &'static str,
    lag: Option<Duration>,
) {
    #[cfg(feature = "tracing")]
    {
        if outcome == "delivered" {
            tracing::debug!(
                target: "hookwire::deliver",
                { webhook.id = id, endpoint, outcome, lag_ms = lag.map(millis) },
                "delivery ended"
            );
        } else {
            tracing::warn!(
                target: "hookwire::deliver",
                { webhook.id = id, endpoint, outcome },
                "delivery ended"
            );
        }
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(names::DELIVERIES, "outcome" => outcome).increment(1);
        if let (Some(lag), "delivered") = (lag, outcome) {
            metrics::histogram!(names::DELIVERY_LAG).record(lag.as_secs_f64());
        }
    }
}

/// Reports that another attempt follows in `wait`.
pub(crate) fn retry_scheduled(id: &str, endpoint: Option<&str>, wait: Duration) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "hookwire::deliver",
        { webhook.id = id, endpoint, next_attempt_in_ms = millis(wait) },
        "retry scheduled"
    );
}

/// Reports that a worker disabled `endpoint`.
#[cfg(feature = "tokio")]
pub(crate) fn endpoint_disabled(endpoint: &str, reason: &crate::deliver::DisabledReason) {
    let reason = match reason {
        crate::deliver::DisabledReason::Gone => "gone",
        crate::deliver::DisabledReason::Failing { .. } => "failing",
    };
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "hookwire::deliver", endpoint, reason, "endpoint disabled");
    #[cfg(feature = "metrics")]
    metrics::counter!(names::ENDPOINTS_DISABLED, "reason" => reason).increment(1);
    #[cfg(not(any(feature = "tracing", feature = "metrics")))]
    let _ = (endpoint, reason);
}

/// Reports that `endpoint` asked for a pause of `wait`.
#[cfg(feature = "tokio")]
pub(crate) fn endpoint_paused(endpoint: &str, wait: Duration) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "hookwire::deliver",
        endpoint,
        paused_for_ms = millis(wait),
        "endpoint paused"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (endpoint, wait);
}

/// Reports a store operation that failed; the work it concerned is left to its lease.
pub(crate) fn store_failed(operation: &'static str, error: &crate::deliver::OutboxError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "hookwire::deliver",
        operation,
        error = %crate::observe::Chain(error),
        "outbox store failed"
    );
}

/// An error and its causes on one line, `: `-separated.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// Reports the backlog of the queue named `queue` (`outbox` or `inbox`).
pub(crate) fn backlog(queue: &'static str, pending: usize, oldest: Option<Duration>) {
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!(names::PENDING, "queue" => queue).set(pending as f64);
        metrics::gauge!(names::OLDEST_PENDING_AGE, "queue" => queue)
            .set(oldest.map_or(0.0, |age| age.as_secs_f64()));
    }
}

/// Reports how a processor's run of a handler on an inbox event ended: `attempt` holds the
/// handler's error when it failed, and `next` what follows.
pub(crate) fn handled(
    lease: &crate::deliver::Lease,
    attempt: &crate::deliver::Attempt,
    next: crate::deliver::Next,
) {
    use crate::deliver::{Next, State};
    let outcome = match next {
        Next::Finish(State::Delivered) => "handled",
        Next::RetryAt(_) => "retry",
        _ => "parked",
    };
    #[cfg(feature = "tracing")]
    {
        let (source, id) = (&lease.job.endpoint, &lease.job.payload.id);
        let ty = lease.job.payload.event_type.as_deref();
        let number = lease.attempts.saturating_add(1);
        if outcome == "handled" {
            tracing::debug!(
                target: "hookwire::consume",
                { event.source = source, event.id = id, event.type = ty, attempt = number },
                "event handled"
            );
        } else {
            let error = String::from_utf8_lossy(&attempt.body);
            tracing::warn!(
                target: "hookwire::consume",
                {
                    event.source = source,
                    event.id = id,
                    event.type = ty,
                    attempt = number,
                    error = %error,
                    outcome
                },
                "handler failed"
            );
        }
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(names::INBOX_EVENTS, "outcome" => outcome).increment(1);
}

/// The span of one API call, its retries inside.
pub(crate) fn api_span(request: &http::Request<bytes::Bytes>) -> Span {
    #[cfg(feature = "tracing")]
    {
        // Field values are computed only when a subscriber wants the span.
        tracing::info_span!(
            target: "hookwire::api",
            "api request",
            http.request.method = %request.method(),
            url.full = url::Url::parse(&request.uri().to_string())
                .ok()
                .as_ref()
                .map(crate::transport::redact_url),
            server.address = request.uri().host(),
            http.response.status_code = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
        )
    }
    #[cfg(not(feature = "tracing"))]
    Span
}

/// Reports how one attempt of an API call ended, and the wait before the next, if one follows.
pub(crate) fn api_attempt_ended(
    number: u32,
    outcome: &Result<http::Response<bytes::Bytes>, crate::transport::TransportError>,
    retry_in: Option<Duration>,
) {
    #[cfg(feature = "tracing")]
    {
        let status = outcome
            .as_ref()
            .ok()
            .map(|response| response.status().as_u16());
        let error = outcome
            .as_ref()
            .err()
            .map(|error| format!("{:?}", error.kind()));
        tracing::debug!(
            target: "hookwire::api",
            {
                attempt = number,
                http.response.status_code = status,
                "error.type" = error.as_deref(),
                retry_in_ms = retry_in.map(millis)
            },
            "api attempt ended"
        );
    }
}

/// Reports how an API call ended, after its retries, on its span.
pub(crate) fn api_ended(
    span: &Span,
    outcome: &Result<http::Response<bytes::Bytes>, crate::transport::TransportError>,
) {
    let status = outcome.as_ref().ok().map(http::Response::status);
    #[cfg(feature = "tracing")]
    match outcome {
        Ok(response) => {
            span.record("http.response.status_code", response.status().as_u16());
            if !response.status().is_success() {
                span.record("error.type", response.status().as_str());
            }
        }
        Err(error) => {
            span.record("error.type", format!("{:?}", error.kind()).as_str());
        }
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(names::API_REQUESTS, "status_class" => status_class(status)).increment(1);
    let _ = status;
}

//! Endpoint health, as one worker sees it: pauses, a circuit breaker, a cap on attempts in
//! flight, a rate limit, and when to disable an endpoint for good.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use http::StatusCode;

use super::dispatcher::Destination;
use super::outcome::Attempt;
use crate::clock::Clock;
use crate::retry::Verdict;

/// Why an endpoint was disabled: what [`EndpointDisabled`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisabledReason {
    /// It answered `410 Gone`: it wants no more deliveries (as Standard Webhooks says).
    Gone,
    /// Every attempt failed, from `since` until the worker's
    /// [`disable_after`](super::Worker::disable_after) ran out.
    Failing {
        /// The first failure of the run.
        since: SystemTime,
    },
}

impl DisabledReason {
    /// The reason as a store keeps it.
    pub fn describe(&self) -> String {
        match self {
            DisabledReason::Gone => "the endpoint answered 410 Gone".to_owned(),
            DisabledReason::Failing { since } => {
                let since = crate::event::Timestamp::try_from(*since)
                    .map_or_else(|_| "long ago".to_owned(), |at| at.to_string());
                format!("every attempt failed since {since}")
            }
        }
    }
}

/// The operational notification a worker sends when it disables an endpoint: forward it to
/// the endpoint's owner (by email, or as a webhook to another of their endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointDisabled {
    /// The endpoint.
    pub endpoint: String,
    /// Why.
    pub reason: DisabledReason,
    /// When.
    pub at: SystemTime,
}

/// How a worker treats failing endpoints: see [`Worker`](super::Worker)'s setters.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) per_endpoint: u32,
    pub(crate) trip_after: u32,
    pub(crate) probe_after: Duration,
    pub(crate) probe_max: Duration,
    pub(crate) disable_after: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            per_endpoint: 4,
            trip_after: 5,
            probe_after: Duration::from_secs(30),
            probe_max: Duration::from_secs(10 * 60),
            disable_after: Duration::from_secs(5 * 24 * 60 * 60),
        }
    }
}

/// How long a message waits when its endpoint has as many attempts in flight as it may, and
/// as many messages parked as it may.
const BUSY_RECHECK: Duration = Duration::from_secs(1);

/// How many messages may wait in this process for a place at one endpoint, holding no slot:
/// they start the moment an attempt to it ends.
const PARK_DEPTH: u32 = 64;

/// A monotonic clock for the rate limiter, read from the worker's clock.
#[derive(Clone)]
struct LimiterClock {
    clock: Arc<dyn Clock>,
    origin: Instant,
}

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.clock.instant().saturating_duration_since(self.origin)
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, LimiterClock, NoOpMiddleware<Duration>>;

#[derive(Default)]
struct Endpoint {
    in_flight: u32,
    paused_until: Option<SystemTime>,
    /// Failures in a row.
    failures: u32,
    /// While the breaker is open: when the next probe may go.
    open_until: Option<SystemTime>,
    /// The wait before the next probe after this one fails.
    probe_wait: Duration,
    probing: bool,
    /// Since when it has failed without a success, as far as this worker knows.
    failing_since: Option<SystemTime>,
    /// Whether the store may hold a failing mark that a success must clear.
    marked: Option<bool>,
    disabled: bool,
    limiter: Option<(NonZeroU32, Limiter)>,
    /// Messages waiting here for a place.
    parked: u32,
    /// Woken once for each attempt that ends.
    places: Arc<tokio::sync::Notify>,
}

/// What the worker may do with a message now.
pub(crate) enum Gate {
    /// Attempt it, holding this permit until the attempt is settled.
    Go(Permit),
    /// Not yet: release it, due at this time, without an attempt.
    Wait(SystemTime),
    /// The endpoint was disabled here: dead-letter it.
    Disabled,
    /// The endpoint has as many attempts in flight as it may: wait for one to end (without a
    /// slot), then ask again.
    Busy(Parked),
}

/// A message waiting for a place at its endpoint.
pub(crate) struct Parked {
    health: Arc<Health>,
    endpoint: String,
    places: Arc<tokio::sync::Notify>,
}

impl Parked {
    /// Until an attempt to the endpoint ends.
    pub(crate) async fn wait(&self) {
        self.places.notified().await;
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.health.parked.fetch_sub(1, Ordering::Relaxed);
        if let Some(state) = self.health.endpoints().get_mut(&self.endpoint) {
            state.parked = state.parked.saturating_sub(1);
        }
    }
}

/// What an attempt's outcome asks the worker to write.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    /// Pause the endpoint until then, for every worker.
    pub(crate) pause: Option<SystemTime>,
    /// Note the failure (true) or clear the failing mark (false).
    pub(crate) failing: Option<bool>,
    /// Disable the endpoint.
    pub(crate) disable: Option<DisabledReason>,
}

/// One worker's view of its endpoints' health.
pub(crate) struct Health {
    clock: Arc<dyn Clock>,
    origin: Instant,
    settings: Settings,
    endpoints: Mutex<HashMap<String, Endpoint>>,
    /// Messages parked, across endpoints.
    parked: Arc<AtomicUsize>,
}

/// A place among an endpoint's attempts in flight, given back when dropped.
pub(crate) struct Permit {
    health: Arc<Health>,
    endpoint: String,
    probe: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut endpoints = self.health.endpoints();
        if let Some(state) = endpoints.get_mut(&self.endpoint) {
            state.in_flight = state.in_flight.saturating_sub(1);
            if self.probe {
                state.probing = false;
            }
            state.places.notify_one();
        }
    }
}

impl Health {
    pub(crate) fn new(clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Health {
            origin: clock.instant(),
            clock,
            settings,
            endpoints: Mutex::default(),
            parked: Arc::default(),
        }
    }

    /// The count of parked messages, which hold no slot.
    pub(crate) fn parked(&self) -> Arc<AtomicUsize> {
        self.parked.clone()
    }

    fn endpoints(&self) -> MutexGuard<'_, HashMap<String, Endpoint>> {
        self.endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a message for `endpoint`, going to `destination`, may be attempted now.
    pub(crate) fn admit(self: &Arc<Self>, endpoint: &str, destination: &Destination) -> Gate {
        let now = self.clock.now();
        let later = |wait: Duration| Gate::Wait(now.checked_add(wait).unwrap_or(now));
        let mut endpoints = self.endpoints();
        let state = endpoints.entry(endpoint.to_owned()).or_default();
        if state.disabled {
            return Gate::Disabled;
        }
        if let Some(until) = state.paused_until {
            if until > now {
                return Gate::Wait(until);
            }
            state.paused_until = None;
        }
        let mut probe = false;
        if let Some(until) = state.open_until {
            if until > now {
                return Gate::Wait(until);
            }
            if state.probing {
                // One probe at a time; the rest wait for its verdict.
                return later(state.probe_wait);
            }
            probe = true;
        }
        let cap = destination
            .current_max_in_flight()
            .map_or(self.settings.per_endpoint, NonZeroU32::get);
        if state.in_flight >= cap.max(1) {
            if state.parked >= PARK_DEPTH {
                return later(BUSY_RECHECK);
            }
            state.parked += 1;
            self.parked.fetch_add(1, Ordering::Relaxed);
            return Gate::Busy(Parked {
                health: self.clone(),
                endpoint: endpoint.to_owned(),
                places: state.places.clone(),
            });
        }
        if let Some(per_second) = destination.current_rate_limit() {
            if state
                .limiter
                .as_ref()
                .is_none_or(|(limit, _)| *limit != per_second)
            {
                let clock = LimiterClock {
                    clock: self.clock.clone(),
                    origin: self.origin,
                };
                state.limiter = Some((
                    per_second,
                    RateLimiter::direct_with_clock(Quota::per_second(per_second), clock),
                ));
            }
            if let Some((_, limiter)) = &state.limiter {
                if let Err(not_until) = limiter.check() {
                    let from = limiter.clock().now();
                    return later(not_until.wait_time_from(from));
                }
            }
        } else {
            state.limiter = None;
        }
        state.in_flight += 1;
        state.probing |= probe;
        Gate::Go(Permit {
            health: self.clone(),
            endpoint: endpoint.to_owned(),
            probe,
        })
    }

    /// Takes in the outcome of the attempt `permit` was given for, and says what to write.
    pub(crate) fn settle(&self, permit: &Permit, attempt: &Attempt, verdict: Verdict) -> Effects {
        let now = self.clock.now();
        let mut effects = Effects::default();
        let mut endpoints = self.endpoints();
        let state = endpoints.entry(permit.endpoint.clone()).or_default();
        match verdict {
            Verdict::Success => {
                state.failures = 0;
                state.open_until = None;
                state.failing_since = None;
                if state.marked != Some(false) {
                    effects.failing = Some(false);
                    state.marked = Some(false);
                }
            }
            Verdict::Gone => {
                state.disabled = true;
                effects.disable = Some(DisabledReason::Gone);
            }
            Verdict::Retry {
                at_least: Some(wait),
            } if matches!(
                attempt.status,
                Some(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE)
            ) =>
            {
                // The endpoint asked for a pause: not a failure, and for all its messages.
                let until = now.checked_add(wait).unwrap_or(now);
                state.paused_until = Some(until);
                effects.pause = Some(until);
            }
            Verdict::Retry { .. } | Verdict::Stop => {
                state.failures = state.failures.saturating_add(1);
                let since = *state.failing_since.get_or_insert(now);
                state.marked = Some(true);
                effects.failing = Some(true);
                if permit.probe {
                    state.probe_wait = state
                        .probe_wait
                        .saturating_mul(2)
                        .min(self.settings.probe_max);
                    state.open_until = now.checked_add(state.probe_wait);
                } else if state.open_until.is_none() && state.failures >= self.settings.trip_after {
                    state.probe_wait = self.settings.probe_after;
                    state.open_until = now.checked_add(state.probe_wait);
                }
                if self.failed_too_long(since, now) {
                    state.disabled = true;
                    effects.disable = Some(DisabledReason::Failing { since });
                }
            }
        }
        effects
    }

    /// With the store's word on since when `endpoint` has been failing: whether to disable
    /// it now.
    pub(crate) fn failing_since(
        &self,
        endpoint: &str,
        since: SystemTime,
    ) -> Option<DisabledReason> {
        let now = self.clock.now();
        let mut endpoints = self.endpoints();
        let state = endpoints.entry(endpoint.to_owned()).or_default();
        let since = state.failing_since.map_or(since, |known| known.min(since));
        state.failing_since = Some(since);
        if !state.disabled && self.failed_too_long(since, now) {
            state.disabled = true;
            return Some(DisabledReason::Failing { since });
        }
        None
    }

    fn failed_too_long(&self, since: SystemTime, now: SystemTime) -> bool {
        now.duration_since(since)
            .is_ok_and(|failing| failing >= self.settings.disable_after)
    }

    /// Forgets that `endpoint` was disabled here: the store enabled it again.
    pub(crate) fn enabled(&self, endpoint: &str) {
        if let Some(state) = self.endpoints().get_mut(endpoint) {
            if state.disabled {
                *state = Endpoint::default();
            }
        }
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;
    use crate::testing::FakeClock;
    use bytes::Bytes;

    fn setup() -> (FakeClock, Arc<Health>, Destination) {
        let clock = FakeClock::at(later(
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(1_700_000_000),
        ));
        let health = Arc::new(Health::new(Arc::new(clock.clone()), Settings::default()));
        let destination =
            Destination::new("https://a.example/", &crate::webhook::Secret::generate()).unwrap();
        (clock, health, destination)
    }

    fn answered(status: u16) -> Attempt {
        Attempt::new(
            SystemTime::UNIX_EPOCH,
            Some(StatusCode::from_u16(status).unwrap()),
            None,
            Duration::ZERO,
            Bytes::new(),
        )
    }

    fn go(health: &Arc<Health>, destination: &Destination) -> Permit {
        match health.admit("ep", destination) {
            Gate::Go(permit) => permit,
            Gate::Wait(at) => panic!("expected to go, told to wait until {at:?}"),
            Gate::Disabled => panic!("expected to go, found disabled"),
            Gate::Busy(_) => panic!("expected to go, found busy"),
        }
    }

    fn waits_until(health: &Arc<Health>, destination: &Destination) -> SystemTime {
        match health.admit("ep", destination) {
            Gate::Wait(at) => at,
            Gate::Go(_) => panic!("expected to wait, was let through"),
            Gate::Disabled => panic!("expected to wait, found disabled"),
            Gate::Busy(_) => panic!("expected to wait, found busy"),
        }
    }

    const FAIL: Verdict = Verdict::Retry { at_least: None };

    /// `duration` after `time`.
    fn later(time: SystemTime, duration: Duration) -> SystemTime {
        time.checked_add(duration).unwrap()
    }

    /// Whether `future` is ready at its first poll.
    fn futures_now(future: impl std::future::Future<Output = ()>) -> bool {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
            .is_ready()
    }

    #[test]
    fn the_breaker_trips_after_a_run_of_failures_and_lets_one_probe_through() {
        let (clock, health, destination) = setup();
        for _ in 0..5 {
            let permit = go(&health, &destination);
            health.settle(&permit, &answered(500), FAIL);
        }
        let tripped_at = clock.now();
        assert_eq!(
            waits_until(&health, &destination),
            later(tripped_at, Duration::from_secs(30))
        );
        clock.advance(Duration::from_secs(30));
        let probe = go(&health, &destination);
        // While the probe is out, the others wait.
        let other = waits_until(&health, &destination);
        assert!(other > clock.now());
        // A failed probe doubles the wait.
        health.settle(&probe, &answered(500), FAIL);
        drop(probe);
        assert_eq!(
            waits_until(&health, &destination),
            later(clock.now(), Duration::from_secs(60))
        );
        clock.advance(Duration::from_secs(60));
        let probe = go(&health, &destination);
        let effects = health.settle(&probe, &answered(200), Verdict::Success);
        assert_eq!(effects.failing, Some(false));
        drop(probe);
        // Closed again: attempts go in parallel, up to the cap; then messages park, up to
        // their depth, then wait.
        let mut permits: Vec<_> = (0..4).map(|_| go(&health, &destination)).collect();
        let parked: Vec<_> = (0..PARK_DEPTH)
            .map(|_| match health.admit("ep", &destination) {
                Gate::Busy(parked) => parked,
                _ => panic!("expected to park"),
            })
            .collect();
        assert_eq!(health.parked().load(Ordering::Relaxed), 64);
        assert_eq!(
            waits_until(&health, &destination),
            later(clock.now(), BUSY_RECHECK)
        );
        // An attempt that ends wakes one parked message, which then goes.
        drop(permits.pop());
        let woken = futures_now(parked[0].wait());
        assert!(woken, "a parked message is woken when a place frees");
        drop(parked);
        assert_eq!(health.parked().load(Ordering::Relaxed), 0);
        let _ = go(&health, &destination);
    }

    #[test]
    fn a_retry_after_pauses_the_endpoint_and_is_no_failure() {
        let (clock, health, destination) = setup();
        let permit = go(&health, &destination);
        let effects = health.settle(
            &permit,
            &answered(429),
            Verdict::Retry {
                at_least: Some(Duration::from_secs(90)),
            },
        );
        let until = later(clock.now(), Duration::from_secs(90));
        assert_eq!(
            effects,
            Effects {
                pause: Some(until),
                ..Effects::default()
            }
        );
        drop(permit);
        assert_eq!(waits_until(&health, &destination), until);
        clock.advance(Duration::from_secs(90));
        let _ = go(&health, &destination);
    }

    #[test]
    fn failing_for_the_whole_period_disables_and_a_410_disables_at_once() {
        let (clock, health, destination) = setup();
        let first = clock.now();
        let permit = go(&health, &destination);
        assert_eq!(health.settle(&permit, &answered(500), FAIL).disable, None);
        drop(permit);
        clock.advance(Duration::from_secs(5 * 24 * 3600 - 1));
        // The store remembers an earlier start than this worker saw.
        assert_eq!(health.failing_since("ep", first), None);
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            health.failing_since("ep", first),
            Some(DisabledReason::Failing { since: first })
        );
        assert!(matches!(health.admit("ep", &destination), Gate::Disabled));
        health.enabled("ep");
        let permit = go(&health, &destination);
        assert_eq!(
            health
                .settle(&permit, &answered(410), Verdict::Gone)
                .disable,
            Some(DisabledReason::Gone)
        );
    }

    #[test]
    fn the_rate_limit_spaces_attempts_on_the_worker_clock() {
        let (clock, health, destination) = setup();
        let destination = destination.rate_limit(NonZeroU32::new(2).unwrap());
        let (a, b) = (go(&health, &destination), go(&health, &destination));
        drop((a, b));
        let until = waits_until(&health, &destination);
        assert_eq!(until, later(clock.now(), Duration::from_millis(500)));
        clock.advance(Duration::from_millis(500));
        let _ = go(&health, &destination);
    }
}

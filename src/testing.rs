//! Test helpers for users' own tests: a scripted transport and a virtual clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::timer::Timer;
use crate::transport::{HttpClient, TransportError};

/// A transport that records every request and answers from a script, in order.
///
/// ```
/// # async fn run() -> Result<(), hookwire::api::ApiError> {
/// use hookwire::api::{Client, Endpoint};
/// use hookwire::testing::{MockClient, MockResponse};
///
/// struct Ping;
/// impl Endpoint for Ping {
///     type Response = serde_json::Value;
///     fn path(&self) -> String { "ping".into() }
/// }
///
/// let mock = MockClient::new().push(MockResponse::json(200, &serde_json::json!({"ok": true})));
/// let client = Client::new(mock.clone(), "https://api.example")?;
/// assert_eq!(client.send(&Ping).await?["ok"], true);
/// assert_eq!(mock.requests()[0].uri(), "https://api.example/ping");
/// # Ok(()) }
/// ```
///
/// Clones share the script and the record. When the script runs out, requests fail with a
/// transport error that says so.
#[derive(Clone, Default)]
pub struct MockClient {
    inner: Arc<Inner>,
    policy: Option<Arc<crate::transport::AddressPolicy>>,
}

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<Request<Bytes>>>,
    timer: Option<Arc<dyn Timer>>,
}

enum Step {
    Respond(MockResponse),
    Fail(TransportError),
}

impl MockClient {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty script whose delays wait on `timer` (a [`FakeTimer`] in fast tests).
    pub fn with_timer(timer: impl Timer + 'static) -> Self {
        MockClient {
            inner: Arc::new(Inner {
                timer: Some(Arc::new(timer)),
                ..Inner::default()
            }),
            policy: None,
        }
    }

    /// The same mock, acting as a guarded transport: it reports `policy` through
    /// [`HttpClient::address_policy`] and refuses, unrecorded, a request whose URL the policy
    /// refuses (host names are not resolved: only IP addresses and the scheme are judged), as
    /// `HyperClient::guarded` does before it connects.
    #[must_use]
    pub fn guarded(mut self, policy: crate::transport::AddressPolicy) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Adds a response to the script.
    #[must_use]
    pub fn push(self, response: MockResponse) -> Self {
        self.lock_script().push_back(Step::Respond(response));
        self
    }

    /// Adds a transport failure to the script.
    #[must_use]
    pub fn fail(self, error: TransportError) -> Self {
        self.lock_script().push_back(Step::Fail(error));
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request<Bytes>> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many scripted steps are left.
    pub fn remaining(&self) -> usize {
        self.lock_script().len()
    }

    fn lock_script(&self) -> std::sync::MutexGuard<'_, VecDeque<Step>> {
        self.inner
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClient")
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl HttpClient for MockClient {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        if let Some(policy) = &self.policy {
            policy
                .check_uri(request.uri())
                .map_err(TransportError::refused)?;
        }
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        let step = self.lock_script().pop_front();
        match step {
            None => Err(TransportError::new(
                crate::transport::TransportErrorKind::Other,
                "the mock's script has no response left for this request",
            )),
            Some(Step::Fail(error)) => Err(error),
            Some(Step::Respond(scripted)) => {
                if let (Some(delay), Some(timer)) = (scripted.delay, &self.inner.timer) {
                    timer.sleep(delay).await;
                }
                let mut response = Response::new(scripted.body);
                *response.status_mut() = scripted.status;
                *response.headers_mut() = scripted.headers;
                Ok(response)
            }
        }
    }

    fn address_policy(&self) -> Option<&crate::transport::AddressPolicy> {
        self.policy.as_deref()
    }
}

/// A scripted response: status, headers, body, and an optional delay.
#[derive(Debug, Clone)]
pub struct MockResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    delay: Option<Duration>,
}

impl MockResponse {
    /// A response with `status` and no body. An invalid status becomes 500.
    pub fn status(status: u16) -> Self {
        MockResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            delay: None,
        }
    }

    /// A response with `status` and `value` as its JSON body.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        Self::status(status)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(value).unwrap_or_default())
    }

    /// Adds a header; an invalid name or value is skipped.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.append(name, value);
        }
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Waits this long (on the mock's timer) before answering.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// A virtual clock: sleeping advances it at once and records the wait, so that tests of long
/// schedules run in microseconds.
#[derive(Clone)]
pub struct FakeTimer {
    inner: Arc<Mutex<FakeState>>,
}

struct FakeState {
    now: Instant,
    sleeps: Vec<Duration>,
}

impl Default for FakeTimer {
    fn default() -> Self {
        FakeTimer {
            inner: Arc::new(Mutex::new(FakeState {
                now: Instant::now(),
                sleeps: Vec::new(),
            })),
        }
    }
}

impl FakeTimer {
    /// A clock starting now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every wait requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sleeps
            .clone()
    }

    /// Moves the clock forward without a sleep being recorded.
    pub fn advance(&self, duration: Duration) {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.now += duration;
    }
}

impl std::fmt::Debug for FakeTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTimer")
            .field("sleeps", &self.sleeps())
            .finish()
    }
}

#[async_trait]
impl Timer for FakeTimer {
    async fn sleep(&self, duration: Duration) {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.now += duration;
        state.sleeps.push(duration);
    }

    fn now(&self) -> Instant {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .now
    }
}

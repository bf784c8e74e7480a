//! Test helpers for users' own tests: a scripted transport and a virtual clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::clock::Clock;
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
    clock: Option<Arc<dyn Clock>>,
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

    /// An empty script whose delays wait on `clock` (a [`FakeClock`] in fast tests).
    pub fn with_clock(clock: impl Clock + 'static) -> Self {
        MockClient {
            inner: Arc::new(Inner {
                clock: Some(Arc::new(clock)),
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
                if let (Some(delay), Some(clock)) = (scripted.delay, &self.inner.clock) {
                    clock.sleep(delay).await;
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
    /// A response with `status` and no body.
    ///
    /// # Panics
    ///
    /// If `status` is not a valid HTTP status (100 to 999): a mistake in the test's script.
    pub fn status(status: u16) -> Self {
        let Ok(status) = StatusCode::from_u16(status) else {
            panic!("MockResponse::status({status}): not a valid HTTP status (100 to 999)");
        };
        MockResponse {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            delay: None,
        }
    }

    /// A response with `status` and `value` as its JSON body.
    ///
    /// # Panics
    ///
    /// If `status` is invalid, or `value` cannot be serialised as JSON.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        let body = match serde_json::to_vec(value) {
            Ok(body) => body,
            Err(error) => panic!("MockResponse::json: the value cannot be serialised: {error}"),
        };
        Self::status(status)
            .header("content-type", "application/json")
            .body(body)
    }

    /// Adds a header (repeating a name adds another value).
    ///
    /// # Panics
    ///
    /// If `name` or `value` cannot stand in an HTTP header: a mistake in the test's script.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            panic!("MockResponse::header: `{name}` is not a valid header name");
        };
        let Ok(value) = HeaderValue::from_str(value) else {
            panic!("MockResponse::header: the value for `{name}` is not a valid header value");
        };
        self.headers.append(header, value);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Waits this long (on the mock's clock) before answering.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// A virtual clock: sleeping advances it at once (and yields to other tasks once), so that
/// tests of long schedules run in milliseconds. Its wall time and its monotonic time move
/// together; it records every wait.
///
/// Clones share one clock: hand a clone to each component under test. Every sleep advances
/// it, even one that a `select` abandons (a deadline beside an answer that came first), so
/// virtual time can run ahead of what a real clock would show; assert on the order and the
/// spacing of events, not on the total.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::clock::Clock;
/// use hookwire::testing::FakeClock;
///
/// let clock = FakeClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// clock.sleep(Duration::from_secs(28 * 3600)).await;
/// # });
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 28 * 3600));
/// assert_eq!(clock.sleeps(), [Duration::from_secs(28 * 3600)]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct FakeClock {
    inner: Arc<Mutex<FakeState>>,
}

struct FakeState {
    wall: SystemTime,
    instant: Instant,
    sleeps: Vec<Duration>,
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::at(SystemTime::now())
    }
}

impl FakeClock {
    /// A clock whose wall time starts at the system's now.
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock whose wall time starts at `wall`.
    pub fn at(wall: SystemTime) -> Self {
        FakeClock {
            inner: Arc::new(Mutex::new(FakeState {
                wall,
                instant: Instant::now(),
                sleeps: Vec::new(),
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every wait requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }

    /// Moves the clock forward without a sleep being recorded.
    pub fn advance(&self, duration: Duration) {
        let mut state = self.state();
        state.wall += duration;
        state.instant += duration;
    }
}

impl std::fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("FakeClock")
            .field("wall", &state.wall)
            .field("sleeps", &state.sleeps.len())
            .finish()
    }
}

#[async_trait]
impl Clock for FakeClock {
    async fn sleep(&self, duration: Duration) {
        {
            let mut state = self.state();
            state.wall += duration;
            state.instant += duration;
            state.sleeps.push(duration);
        }
        // Let the other tasks run, as a real sleep would.
        YieldOnce(false).await;
    }

    fn now(&self) -> SystemTime {
        self.state().wall
    }

    fn instant(&self) -> Instant {
        self.state().instant
    }
}

/// A future that is pending once, waking itself, then ready.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

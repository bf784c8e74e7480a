//! The client: endpoints in, typed responses out, over any [`HttpClient`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use url::Url;

use super::endpoint::{Body, Endpoint, FromResponse};
use super::error::{ApiError, BuildError, StatusError};
use super::page::Paginated;
use super::{Authenticate, Problem};
use crate::clock::Clock;
use crate::retry::RetryPolicy;
use crate::transport::{BodyLimit, HttpClient, TransportError};

/// The default page limit of [`Client::paged`].
pub const DEFAULT_MAX_PAGES: usize = 1000;

/// Sends [`Endpoint`]s to an API over a transport `T` and decodes their responses.
///
/// Each attempt is bounded by the transport's deadline (hookwire's adapters default to 30
/// seconds for a whole exchange), and retries by the [`RetryPolicy`]'s attempt and time
/// budgets. Credentials go only to the base URL's origin; paths with `.` or `..` segments are
/// refused.
///
/// ```
/// # async fn run() -> Result<(), hookwire::api::ApiError> {
/// use hookwire::api::{Bearer, Client, Endpoint};
/// # let transport = |_: hookwire::http::Request<hookwire::bytes::Bytes>| async {
/// #     Ok::<_, hookwire::transport::TransportError>(hookwire::http::Response::new(hookwire::bytes::Bytes::from_static(b"[]")))
/// # };
///
/// struct ListAccounts;
/// impl Endpoint for ListAccounts {
///     type Response = Vec<serde_json::Value>;
///     fn path(&self) -> String { "accounts".into() }
/// }
///
/// let client = Client::new(transport, "https://api.bank.example/v1")?
///     .user_agent(hookwire::http::HeaderValue::from_static("treasury-sync/1.0"))
///     .auth(Bearer::new("token"));
/// let accounts = client.send(&ListAccounts).await?;
/// # Ok(()) }
/// ```
pub struct Client<T> {
    transport: T,
    base: Url,
    /// The base URL's own query, kept for every relative path (joining would drop it).
    base_query: Option<String>,
    headers: HeaderMap,
    auth: Option<Arc<dyn Authenticate>>,
    /// Origins besides the base URL's that credentials may go to.
    trusted: Vec<url::Origin>,
    retry: RetryPolicy,
    clock: Option<Arc<dyn Clock>>,
    max_response: usize,
    max_pages: usize,
}

impl<T: HttpClient> Client<T> {
    /// A client for the API at `base_url`. Paths join onto it whether or not it ends with `/`:
    /// `https://api.example/v1` and `https://api.example/v1/` both give
    /// `https://api.example/v1/accounts`.
    ///
    /// # Errors
    ///
    /// [`ApiError::Build`] when `base_url` is not an absolute URL.
    pub fn new(transport: T, base_url: &str) -> Result<Self, ApiError> {
        let mut base = Url::parse(base_url).map_err(|source| BuildError::BaseUrl {
            url: base_url.to_owned(),
            source,
        })?;
        if base.cannot_be_a_base() {
            return Err(BuildError::NotABase {
                url: base_url.to_owned(),
            }
            .into());
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let base_query = base.query().filter(|q| !q.is_empty()).map(str::to_owned);
        base.set_query(None);
        base.set_fragment(None);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("hookwire/", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Client {
            transport,
            base,
            base_query,
            headers,
            auth: None,
            trusted: Vec::new(),
            retry: RetryPolicy::none(),
            clock: None,
            max_response: BodyLimit::RESPONSE.bytes(),
            max_pages: DEFAULT_MAX_PAGES,
        })
    }

    /// A header sent with every request (an endpoint's own headers win).
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The `User-Agent`; `hookwire/<version>` unless set.
    #[must_use]
    pub fn user_agent(mut self, user_agent: HeaderValue) -> Self {
        self.headers.insert(USER_AGENT, user_agent);
        self
    }

    /// Credentials added to every request to the base URL's origin (its scheme, host and
    /// port), before each attempt. A request to any other origin (an absolute URL from a
    /// `Link` header, a plain-`http` downgrade) goes without them unless that origin is
    /// trusted with [`send_credentials_to`](Client::send_credentials_to).
    #[must_use]
    pub fn auth(mut self, auth: impl Authenticate + 'static) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Trusts the origin of `url` (scheme, host and port) with the credentials too, such as
    /// an API that pages through a separate host.
    ///
    /// # Errors
    ///
    /// [`ApiError::Build`] when `url` is not an absolute URL.
    pub fn send_credentials_to(mut self, url: &str) -> Result<Self, ApiError> {
        let url = Url::parse(url).map_err(|source| BuildError::Url {
            url: url.to_owned(),
            source,
        })?;
        self.trusted.push(url.origin());
        Ok(self)
    }

    /// Whether credentials may go with `request`: to the base URL's origin, or a trusted one.
    fn trusts(&self, request: &Request<Bytes>) -> bool {
        let Ok(url) = Url::parse(&request.uri().to_string()) else {
            return false;
        };
        let origin = url.origin();
        origin == self.base.origin() || self.trusted.contains(&origin)
    }

    /// Retries under `policy` (start from [`RetryPolicy::for_requests`]), waiting on `clock`.
    /// Only requests that are safe to repeat are retried: `GET`, `HEAD`, `PUT`, `DELETE`,
    /// `OPTIONS` and `TRACE`, and any request with an [`IDEMPOTENCY_KEY`] header. Without
    /// this, each call makes one attempt.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy, clock: impl Clock + 'static) -> Self {
        self.retry = policy;
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The largest response body accepted, in bytes; [`BodyLimit::RESPONSE`] (10 MiB) unless set. Transports enforce
    /// their own limit while reading; the client refuses anything larger than this one too.
    #[must_use]
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// The most pages [`Client::paged`] fetches before it stops with
    /// [`ApiError::PageLimit`]; 1000 unless set.
    #[must_use]
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages;
        self
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Sends `endpoint` and decodes its 2xx response.
    ///
    /// # Errors
    ///
    /// [`ApiError::Status`] for another status (with the body, and a [`Problem`] when the
    /// server sent one), [`ApiError::Decode`], [`ApiError::Transport`], [`ApiError::Build`] or
    /// [`ApiError::Auth`].
    pub async fn send<E: Endpoint>(&self, endpoint: &E) -> Result<E::Response, ApiError> {
        let response = self.checked(endpoint).await?;
        E::Response::from_response(response)
    }

    /// Sends `endpoint` and returns the whole response, whatever its status.
    ///
    /// # Errors
    ///
    /// [`ApiError::Transport`], [`ApiError::Build`] or [`ApiError::Auth`].
    pub async fn raw<E: Endpoint>(&self, endpoint: &E) -> Result<Response<Bytes>, ApiError> {
        self.execute(endpoint).await
    }

    /// Sends `endpoint` and checks only that the status is 2xx.
    ///
    /// # Errors
    ///
    /// As [`Client::send`], but never [`ApiError::Decode`].
    pub async fn ignore<E: Endpoint>(&self, endpoint: &E) -> Result<(), ApiError> {
        self.checked(endpoint).await.map(drop)
    }

    /// The items of every page of `endpoint`, as a stream: each page is fetched when the
    /// previous one's items have been taken.
    ///
    /// ```
    /// # async fn run(client: hookwire::api::Client<impl hookwire::transport::HttpClient>, first_page: impl hookwire::api::Paginated<Item = String> + 'static) -> Result<(), hookwire::api::ApiError> {
    /// use futures_util::TryStreamExt;
    ///
    /// let all: Vec<String> = client.paged(first_page).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn paged<E>(&self, first: E) -> impl Stream<Item = Result<E::Item, ApiError>> + Send + '_
    where
        E: Paginated + 'static,
        E::Item: Send,
    {
        let max_pages = self.max_pages;
        stream::try_unfold((Some(first), 0usize), move |(next, fetched)| async move {
            let Some(endpoint) = next else {
                return Ok(None);
            };
            if fetched >= max_pages {
                return Err(ApiError::PageLimit { limit: max_pages });
            }
            let response = self.checked(&endpoint).await?;
            let mut headers = response.headers().clone();
            let context = self
                .target(&endpoint.path())
                .ok()
                .and_then(|target| Url::parse(&target).ok());
            if let Some(context) = context {
                super::page::resolve_links(&mut headers, &context);
            }
            let page = E::Response::from_response(response)?;
            let following = endpoint.next(&page, &headers);
            let items = E::items(page);
            Ok(Some((items, (following, fetched + 1))))
        })
        .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// Sends and turns a non-2xx status into [`ApiError::Status`].
    async fn checked<E: Endpoint>(&self, endpoint: &E) -> Result<Response<Bytes>, ApiError> {
        let response = self.execute(endpoint).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(status_error(response))
        }
    }

    /// Builds, authenticates and sends, retrying under the policy.
    async fn execute<E: Endpoint>(&self, endpoint: &E) -> Result<Response<Bytes>, ApiError> {
        let request = self.build(endpoint)?;
        let span = crate::observe::api_span(&request);
        crate::observe::within_span(&span, self.attempts(request, &span)).await
    }

    /// Sends `request`, retrying under the policy.
    async fn attempts(
        &self,
        request: Request<Bytes>,
        span: &crate::observe::Span,
    ) -> Result<Response<Bytes>, ApiError> {
        let mut request = Some(request);
        let started = self.clock.as_ref().map(|clock| clock.instant());
        let mut retry = 0u32;
        loop {
            // Keep a copy only while another attempt may follow.
            let last = self.clock.is_none() || retry.saturating_add(1) >= self.retry.attempts();
            let mut attempt = match (&request, last) {
                (Some(_), true) => request.take(),
                (Some(kept), false) => Some(kept.clone()),
                (None, _) => None,
            }
            .ok_or(BuildError::AlreadySent)?;
            if let Some(auth) = self.auth.as_ref().filter(|_| self.trusts(&attempt)) {
                auth.authenticate(&mut attempt)
                    .await
                    .map_err(ApiError::Auth)?;
            }
            let outcome = self.transport.send(attempt).await.and_then(|response| {
                if response.body().len() > self.max_response {
                    Err(TransportError::too_large(self.max_response))
                } else {
                    Ok(response)
                }
            });
            // While another attempt may follow, the kept request answers for method and headers.
            let wait = match (&self.clock, started, &request) {
                (Some(clock), Some(started), Some(kept))
                    if repeatable(kept.method(), kept.headers()) =>
                {
                    let verdict = self.retry.classify(&outcome, clock.now());
                    let elapsed = clock.instant().saturating_duration_since(started);
                    self.retry
                        .next_delay(retry.saturating_add(1), verdict, elapsed)
                }
                _ => None,
            };
            crate::observe::api_attempt_ended(retry.saturating_add(1), &outcome, wait);
            match (wait, &self.clock) {
                (Some(wait), Some(clock)) => {
                    clock.sleep(wait).await;
                    retry += 1;
                }
                _ => {
                    crate::observe::api_ended(span, &outcome);
                    return outcome.map_err(ApiError::Transport);
                }
            }
        }
    }

    /// The request for `endpoint`, before credentials.
    fn build<E: Endpoint>(&self, endpoint: &E) -> Result<Request<Bytes>, ApiError> {
        let mut target = self.target(&endpoint.path())?;
        let query = serde_urlencoded::to_string(endpoint.query())
            .map_err(|error| BuildError::Query(Box::new(error)))?;
        if !query.is_empty() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&query);
        }
        let (content_type, body) = match endpoint.body()? {
            Body::Empty => (None, Bytes::new()),
            Body::Bytes {
                content_type,
                bytes,
            } => (Some(content_type), bytes),
        };
        let mut request = Request::builder()
            .method(endpoint.method())
            .uri(target)
            .body(body)
            .map_err(BuildError::Request)?;
        let headers = request.headers_mut();
        *headers = self.headers.clone();
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, content_type);
        }
        let own = endpoint.headers();
        if !own.is_empty() {
            headers.extend(own);
        }
        Ok(request)
    }
}

impl<T> Client<T> {
    /// The URL for `path`: an absolute `http(s)` URL as it is, or a path joined onto the base
    /// URL as the url crate joins `./{path}` (always a path, even with a colon in its first
    /// segment), with the base URL's query in front of the path's own.
    fn target(&self, path: &str) -> Result<String, ApiError> {
        let scheme = path.get(..8).unwrap_or(path).to_ascii_lowercase();
        if scheme.starts_with("http://") || scheme.starts_with("https://") {
            return Url::parse(path).map(String::from).map_err(|source| {
                BuildError::Url {
                    url: path.to_owned(),
                    source,
                }
                .into()
            });
        }
        let relative = path.trim_start_matches('/');
        if has_dot_segment(relative) {
            return Err(BuildError::DotSegment {
                path: path.to_owned(),
            }
            .into());
        }
        let mut target = if is_plain(relative) {
            // Nothing for the url crate to encode or resolve: appending gives what joining
            // would, without parsing the base again.
            let mut target = String::with_capacity(self.base.as_str().len() + relative.len() + 32);
            target.push_str(self.base.as_str());
            target.push_str(relative);
            target
        } else {
            // `./` keeps a first segment with a colon (`things:batchGet`) a path, not a scheme.
            self.base
                .join(&format!("./{relative}"))
                .map(String::from)
                .map_err(|source| BuildError::Url {
                    url: path.to_owned(),
                    source,
                })?
        };
        if let Some(base_query) = &self.base_query {
            match target.find('?') {
                Some(index) => target.insert_str(index + 1, &format!("{base_query}&")),
                None => {
                    target.push('?');
                    target.push_str(base_query);
                }
            }
        }
        Ok(target)
    }
}

/// Whether `relative` needs nothing from a URL parser: only characters that stand as they are
/// in a path or query, well-formed percent escapes, no fragment, and no `.` or `..` segment.
fn is_plain(relative: &str) -> bool {
    let bytes = relative.as_bytes();
    let chars_ok = bytes.iter().enumerate().all(|(i, &b)| match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => true,
        b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' => true,
        b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' => true,
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        _ => false,
    });
    let path = relative.split('?').next().unwrap_or_default();
    chars_ok
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// Whether the path part of `relative` has a segment that a URL parser resolves as `.` or
/// `..`, written plainly or percent-encoded (`%2e`, `.%2E`, …).
fn has_dot_segment(relative: &str) -> bool {
    let path = relative.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

fn status_error(response: Response<Bytes>) -> ApiError {
    let (parts, body) = response.into_parts();
    let problem = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            value.split(';').next().is_some_and(|essence| {
                essence
                    .trim()
                    .eq_ignore_ascii_case("application/problem+json")
            })
        })
        .and_then(|_| serde_json::from_slice::<Problem>(&body).ok());
    ApiError::Status(Box::new(StatusError {
        status: parts.status,
        headers: parts.headers,
        body,
        problem,
    }))
}

impl<T> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("retry", &self.retry)
            .field("max_response", &self.max_response)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

/// `Idempotency-Key`: a request that carries it may be retried whatever its method.
pub const IDEMPOTENCY_KEY: http::HeaderName = http::HeaderName::from_static("idempotency-key");

/// Whether a request with `method` and `headers` can be sent twice without harm: `GET`,
/// `HEAD`, `PUT`, `DELETE`, `OPTIONS` and `TRACE`, and any request with an `Idempotency-Key`.
fn repeatable(method: &http::Method, headers: &http::HeaderMap) -> bool {
    use http::Method;
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key(IDEMPOTENCY_KEY)
}

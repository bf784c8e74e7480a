//! Credentials: static ones, and tokens that refresh.

use crate::clock::{Clock, within};
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::lock::Mutex;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::transport::HttpClient;

/// Adds credentials to a request just before it is sent (and before each retry).
#[async_trait]
pub trait Authenticate: Send + Sync {
    /// Adds credentials to `request`.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] when no credentials could be obtained.
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<(), AuthError>;
}

/// Why credentials could not be obtained. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AuthError {
    /// An error described by `message`, which must not contain a secret.
    pub fn new(message: impl Into<String>) -> Self {
        AuthError {
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source`.
    #[must_use]
    pub fn caused_by(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// A header value that holds a secret: marked sensitive, so that HTTP/2 never indexes it and
/// well-behaved loggers hide it.
fn secret_value(text: &str) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::from_str(text)
        .map_err(|_| AuthError::new("the credential holds characters not allowed in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// `Authorization: Bearer <token>`.
pub struct Bearer(Zeroizing<String>);

impl Bearer {
    /// A bearer token.
    pub fn new(token: impl Into<String>) -> Self {
        Bearer(Zeroizing::new(token.into()))
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer([REDACTED])")
    }
}

#[async_trait]
impl Authenticate for Bearer {
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<(), AuthError> {
        let value = secret_value(&format!("Bearer {}", self.0.as_str()))?;
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }
}

/// `Authorization: Basic <base64(user:password)>`.
pub struct Basic {
    value: Zeroizing<String>,
}

impl Basic {
    /// Basic credentials.
    pub fn new(user: &str, password: &str) -> Self {
        let pair = Zeroizing::new(format!("{user}:{password}"));
        Basic {
            value: Zeroizing::new(format!("Basic {}", STANDARD.encode(pair.as_bytes()))),
        }
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Basic([REDACTED])")
    }
}

#[async_trait]
impl Authenticate for Basic {
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<(), AuthError> {
        let value = secret_value(&self.value)?;
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }
}

/// An API key, in a header or in the query.
pub struct ApiKey {
    place: Place,
    key: Zeroizing<String>,
}

enum Place {
    Header(HeaderName),
    Query(String),
}

impl ApiKey {
    /// The key in header `name`, such as `x-api-key`.
    pub fn header(name: HeaderName, key: impl Into<String>) -> Self {
        ApiKey {
            place: Place::Header(name),
            key: Zeroizing::new(key.into()),
        }
    }

    /// The key in query parameter `name`, such as `api_key`. Keys in URLs end up in logs;
    /// prefer a header where the API allows it.
    pub fn query(name: impl Into<String>, key: impl Into<String>) -> Self {
        ApiKey {
            place: Place::Query(name.into()),
            key: Zeroizing::new(key.into()),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.place {
            Place::Header(name) => format!("header {name}"),
            Place::Query(name) => format!("query {name}"),
        };
        write!(f, "ApiKey({place}, [REDACTED])")
    }
}

#[async_trait]
impl Authenticate for ApiKey {
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<(), AuthError> {
        match &self.place {
            Place::Header(name) => {
                let value = secret_value(&self.key)?;
                request.headers_mut().insert(name.clone(), value);
            }
            Place::Query(name) => {
                let mut url = url::Url::parse(&request.uri().to_string())
                    .map_err(|_| AuthError::new("the request URI is not absolute"))?;
                url.query_pairs_mut().append_pair(name, &self.key);
                *request.uri_mut() = url
                    .as_str()
                    .parse()
                    .map_err(|_| AuthError::new("the request URI with the API key is invalid"))?;
            }
        }
        Ok(())
    }
}

/// An access token and how long it lives.
#[non_exhaustive]
pub struct Token {
    /// The token.
    pub access_token: Zeroizing<String>,
    /// How long it is valid from when it was issued; `None` for "until refused".
    pub expires_in: Option<Duration>,
}

impl Token {
    /// A token that lives until it is refused.
    pub fn new(access_token: impl Into<String>) -> Self {
        Token {
            access_token: Zeroizing::new(access_token.into()),
            expires_in: None,
        }
    }

    /// The same token, valid for `lifetime` from when it was issued.
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Obtains a new access token, for a [`RefreshingToken`].
///
/// Async closures returning `Result<Token, AuthError>` implement it.
#[async_trait]
pub trait FetchToken: Send + Sync {
    /// Fetches a new token.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] when none could be obtained.
    async fn fetch(&self) -> Result<Token, AuthError>;
}

#[async_trait]
impl<F, Fut> FetchToken for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<Token, AuthError>> + Send,
{
    async fn fetch(&self) -> Result<Token, AuthError> {
        self().await
    }
}

/// A bearer token that is fetched when first needed, cached, and fetched again shortly before
/// it expires. However many requests need a token at once, one fetch runs while the others
/// wait for its result.
///
/// ```
/// use std::time::Duration;
/// use hookwire::api::{AuthError, RefreshingToken, Token};
///
/// let token = RefreshingToken::new(|| async {
///     Ok::<_, AuthError>(
///         Token::new("from-the-identity-provider").expires_in(Duration::from_secs(3600)),
///     )
/// });
/// ```
pub struct RefreshingToken {
    fetch: Box<dyn FetchToken>,
    margin: Duration,
    timeout: Option<(Duration, std::sync::Arc<dyn Clock>)>,
    /// Counts finished fetches, so that a request knows whether one ended while it waited.
    finished: std::sync::atomic::AtomicU64,
    cached: Mutex<State>,
}

#[derive(Default)]
struct State {
    token: Option<Cached>,
    /// The last fetch's failure (its number among finished fetches, and its message), shared
    /// with the requests that waited on it.
    failed: Option<(u64, String)>,
}

struct Cached {
    header: HeaderValue,
    refresh_at: Option<Instant>,
}

impl RefreshingToken {
    /// A token obtained by `fetch`, refreshed 60 seconds before it expires.
    pub fn new(fetch: impl FetchToken + 'static) -> Self {
        RefreshingToken {
            fetch: Box::new(fetch),
            margin: Duration::from_secs(60),
            timeout: None,
            finished: std::sync::atomic::AtomicU64::new(0),
            cached: Mutex::new(State::default()),
        }
    }

    /// Bounds each fetch by `timeout`, waiting on `clock`, which then also tells the time by
    /// which tokens expire. The client-credentials grant is bounded by its transport's own
    /// timeout already (hookwire's adapters default to 30 s).
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration, clock: impl Clock + 'static) -> Self {
        self.timeout = Some((timeout, std::sync::Arc::new(clock)));
        self
    }

    /// The monotonic time, on the clock given to [`fetch_timeout`](Self::fetch_timeout), else
    /// the system's.
    fn instant(&self) -> Instant {
        self.timeout
            .as_ref()
            .map_or_else(Instant::now, |(_, clock)| clock.instant())
    }

    /// An OAuth 2.0 client-credentials token (RFC 6749 §4.4) from `token_url`, authenticated
    /// with HTTP Basic as the RFC recommends, with the space-separated `scopes` if any.
    pub fn client_credentials<C: HttpClient + 'static>(
        transport: C,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        scopes: &[&str],
    ) -> Self {
        Self::new(ClientCredentials {
            transport,
            token_url: token_url.into(),
            basic: Basic::new(&client_id.into(), &client_secret.into()),
            scope: scopes.join(" "),
        })
    }

    /// How long before expiry the token is refreshed; 60 seconds unless set, and at most half
    /// of a token's lifetime (so that a short-lived token is not fetched on every request).
    #[must_use]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Forgets the cached token, so that the next request fetches a new one (after a 401, say).
    pub async fn invalidate(&self) {
        self.cached.lock().await.token = None;
    }

    async fn fetch_bounded(&self) -> Result<Token, AuthError> {
        let Some((timeout, clock)) = &self.timeout else {
            return self.fetch.fetch().await;
        };
        within(&**clock, *timeout, self.fetch.fetch())
            .await
            .unwrap_or_else(|| {
                Err(AuthError::new(format!(
                    "fetching the token took longer than {timeout:?}"
                )))
            })
    }
}

impl fmt::Debug for RefreshingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshingToken")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Authenticate for RefreshingToken {
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<(), AuthError> {
        // A failure of a fetch that finished while this request waited is this request's
        // failure too: each waiter does not fetch again in turn.
        let seen = self.finished.load(std::sync::atomic::Ordering::SeqCst);
        let mut state = self.cached.lock().await;
        let fresh = state
            .token
            .as_ref()
            .is_some_and(|c| c.refresh_at.is_none_or(|at| self.instant() < at));
        if !fresh {
            if let Some((failed_at, message)) = &state.failed {
                if *failed_at > seen {
                    return Err(AuthError::new(message.clone()));
                }
            }
            let requested = self.instant();
            let fetched = self.fetch_bounded().await.and_then(|token| {
                let header = secret_value(&format!("Bearer {}", token.access_token.as_str()))?;
                Ok((header, token.expires_in))
            });
            let number = self
                .finished
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            let (header, lifetime) = match fetched {
                Ok(fetched) => fetched,
                Err(error) => {
                    state.failed = Some((number, error.to_string()));
                    state.token = None;
                    return Err(error);
                }
            };
            state.failed = None;
            // A lifetime from outside may be anything: too long to add means "no expiry".
            let refresh_at = lifetime.and_then(|lifetime| {
                let margin = self.margin.min(lifetime / 2);
                requested.checked_add(lifetime.saturating_sub(margin))
            });
            state.token = Some(Cached { header, refresh_at });
        }
        if let Some(cached) = state.token.as_ref() {
            request
                .headers_mut()
                .insert(AUTHORIZATION, cached.header.clone());
        }
        Ok(())
    }
}

/// The OAuth 2.0 client-credentials grant.
struct ClientCredentials<C> {
    transport: C,
    token_url: String,
    basic: Basic,
    scope: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

#[async_trait]
impl<C: HttpClient> FetchToken for ClientCredentials<C> {
    async fn fetch(&self) -> Result<Token, AuthError> {
        let mut form = vec![("grant_type", "client_credentials")];
        if !self.scope.is_empty() {
            form.push(("scope", &self.scope));
        }
        let body = serde_urlencoded::to_string(&form).map_err(|error| {
            AuthError::new("the token request could not be encoded").caused_by(error)
        })?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&self.token_url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(Bytes::from(body))
            .map_err(|error| AuthError::new("the token URL is invalid").caused_by(error))?;
        self.basic.authenticate(&mut request).await?;
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|error| AuthError::new("the token request failed").caused_by(error))?;
        if !response.status().is_success() {
            let detail = serde_json::from_slice::<OAuthError>(response.body())
                .map(|e| {
                    format!(
                        ": {}{}",
                        e.error,
                        e.error_description
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            return Err(AuthError::new(format!(
                "the token endpoint answered {}{detail}",
                response.status()
            )));
        }
        let token: TokenResponse = serde_json::from_slice(response.body()).map_err(|error| {
            AuthError::new("the token endpoint's answer is not a token response").caused_by(error)
        })?;
        Ok(Token {
            access_token: Zeroizing::new(token.access_token),
            expires_in: token.expires_in.map(Duration::from_secs),
        })
    }
}

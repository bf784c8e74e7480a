//! Pull meeting push: a poller that turns an events API into the same stream of events the
//! webhooks bring, into the same inbox.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::Serialize;

use super::inbox::{Inbox, InboxError};
use super::router::HandlerError;
use crate::api::{ApiError, Body, Client, Endpoint, FromResponse};
use crate::clock::Clock;
use crate::deliver::{Outbox, OutboxError};
use crate::event::RawEvent;
use crate::transport::HttpClient;

/// Where a poller stands in a feed: the cursor after the last event it stored, and the
/// `ETag` of the last answer for that cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Position {
    /// The feed's cursor; `None` before the first page.
    pub cursor: Option<String>,
    /// The entity tag the feed sent with its last answer for this cursor, sent back as
    /// `If-None-Match`.
    pub etag: Option<String>,
}

impl Position {
    /// A position at `cursor`, with no entity tag.
    pub fn at(cursor: impl Into<String>) -> Self {
        Position {
            cursor: Some(cursor.into()),
            etag: None,
        }
    }
}

/// Where pollers keep their positions: the inbox's own store (memory, SQLite, PostgreSQL
/// implement it), so that a restart resumes where the last run left off.
#[async_trait]
pub trait Cursors: Send + Sync {
    /// The position saved under `name`, if any.
    async fn load_cursor(&self, name: &str) -> Result<Option<Position>, OutboxError>;

    /// Saves `position` under `name`.
    async fn save_cursor(&self, name: &str, position: &Position) -> Result<(), OutboxError>;
}

/// One page of a feed, as [`Feed::read`] gives it.
#[derive(Debug)]
#[non_exhaustive]
pub struct FeedPage {
    /// The events, oldest first.
    pub events: Vec<RawEvent>,
    /// The cursor after the last of them; `None` keeps the current one.
    pub cursor: Option<String>,
    /// Whether more events wait after this page: the poller asks again at once.
    pub more: bool,
}

impl FeedPage {
    /// A page of `events`, ending at `cursor`, with `more` after it or not.
    pub fn new(events: Vec<RawEvent>, cursor: Option<String>, more: bool) -> Self {
        FeedPage {
            events,
            cursor,
            more,
        }
    }
}

/// An events API: which request lists the events after a cursor, and how its answer reads.
pub trait Feed: Send + Sync {
    /// The request, a typed [`Endpoint`].
    type Request: Endpoint;

    /// The request for the events after `cursor` (`None`: from the feed's start).
    fn request(&self, cursor: Option<&str>) -> Self::Request;

    /// The events in an answer, the cursor after them, and whether more wait.
    ///
    /// # Errors
    ///
    /// Whatever makes the answer unreadable; the poll fails and is tried again.
    fn read(
        &self,
        response: <Self::Request as Endpoint>::Response,
    ) -> Result<FeedPage, HandlerError>;
}

/// Why a poll failed. The poller waits and tries again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The request failed, or its answer did not decode.
    #[error("the events API call failed")]
    Api(#[source] ApiError),
    /// The feed answered with a status other than 2xx or 304.
    #[error("the events API answered {status}")]
    Status {
        /// The status.
        status: StatusCode,
        /// How long it asked to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// [`Feed::read`] could not read the answer.
    #[error("the events API's answer could not be read")]
    Feed(#[source] HandlerError),
    /// The inbox or the cursor store failed.
    #[error("the inbox's store failed")]
    Store(#[source] InboxError),
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Polled {
    /// Events stored in the inbox (some may have been there already, from a webhook).
    pub accepted: usize,
    /// Whether the feed said more events wait.
    pub more: bool,
    /// Whether the feed answered 304 Not Modified.
    pub not_modified: bool,
    /// How long the feed asked the poller to wait before the next request (`Retry-After`, or
    /// a spent rate limit's reset), if it did.
    pub wait: Option<Duration>,
}

/// The feed's request, sent conditionally when the poller holds an entity tag for it.
struct Conditional<'a, E> {
    inner: &'a E,
    etag: Option<&'a str>,
}

impl<E: Endpoint> Endpoint for Conditional<'_, E> {
    type Response = E::Response;
    fn method(&self) -> Method {
        self.inner.method()
    }
    fn path(&self) -> String {
        self.inner.path()
    }
    fn query(&self) -> impl Serialize {
        self.inner.query()
    }
    fn headers(&self) -> HeaderMap {
        let mut headers = self.inner.headers();
        if let Some(etag) = self.etag.and_then(|etag| HeaderValue::from_str(etag).ok()) {
            headers.insert(IF_NONE_MATCH, etag);
        }
        headers
    }
    fn body(&self) -> Result<Body, ApiError> {
        self.inner.body()
    }
}

/// How long a spent rate limit asks to wait: `RateLimit-Remaining` (or `X-RateLimit-Remaining`)
/// at 0, and `RateLimit-Reset` (or `X-RateLimit-Reset`) in seconds (a Unix time when larger
/// than a year of seconds, as GitHub sends).
fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let number = |names: [&str; 2]| {
        names.iter().find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
    };
    if number(["ratelimit-remaining", "x-ratelimit-remaining"])? > 0 {
        return None;
    }
    let reset = number(["ratelimit-reset", "x-ratelimit-reset"])?;
    if reset > 365 * 24 * 60 * 60 {
        let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    } else {
        Some(Duration::from_secs(reset))
    }
}

/// Polls an events API into an [`Inbox`]: the pull side of a consumer, beside the webhooks
/// (the push side) that feed the same inbox, so that each event is handled once whichever way
/// it came, and polling catches up whatever the webhooks missed.
///
/// Each poll asks for the events after the saved cursor (with `If-None-Match` when the last
/// answer had an `ETag`), stores them in the inbox, then saves the new cursor: a crash between
/// the two stores some events twice, which the inbox's dedupe absorbs. Between polls it waits
/// the interval, doubling it (up to the maximum) while pages come back empty and asking again
/// at once while the feed says more wait; it honours `Retry-After` and a spent rate limit.
pub struct Poller<F, T, O: ?Sized> {
    name: String,
    feed: F,
    client: Arc<Client<T>>,
    inbox: Inbox<O>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    max_interval: Duration,
}

impl<F, T, O: ?Sized> std::fmt::Debug for Poller<F, T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("name", &self.name)
            .field("interval", &self.interval)
            .field("max_interval", &self.max_interval)
            .finish_non_exhaustive()
    }
}

impl<F, T, O> Poller<F, T, O>
where
    F: Feed,
    T: HttpClient,
    O: Outbox + Cursors + ?Sized + 'static,
{
    /// A poller named `name` (its cursor is saved under that name) reading `feed` through
    /// `client` into `inbox`; it polls every 5 s, up to every 5 minutes while nothing comes.
    pub fn new(
        name: impl Into<String>,
        client: Arc<Client<T>>,
        feed: F,
        inbox: Inbox<O>,
        clock: impl Clock + 'static,
    ) -> Self {
        Poller {
            name: name.into(),
            feed,
            client,
            inbox,
            clock: Arc::new(clock),
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(300),
        }
    }

    /// Polls every `interval`, backing off to `max` while pages come back empty.
    #[must_use]
    pub fn interval(mut self, interval: Duration, max: Duration) -> Self {
        self.interval = interval;
        self.max_interval = max.max(interval);
        self
    }

    /// One poll: fetch the page after the saved cursor, store its events, save the cursor.
    ///
    /// # Errors
    ///
    /// A [`PollError`]; nothing is saved, and the next poll asks for the same page.
    pub async fn poll_once(&self) -> Result<Polled, PollError> {
        let store = self.inbox.store();
        let position = store
            .load_cursor(&self.name)
            .await
            .map_err(|error| PollError::Store(InboxError::Store(error)))?
            .unwrap_or_default();
        let request = self.feed.request(position.cursor.as_deref());
        let conditional = Conditional {
            inner: &request,
            etag: position.etag.as_deref(),
        };
        let response: Response<Bytes> = self
            .client
            .raw(&conditional)
            .await
            .map_err(PollError::Api)?;
        let now = self.clock.now();
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Polled {
                accepted: 0,
                more: false,
                not_modified: true,
                wait: rate_limit_wait(response.headers(), now),
            });
        }
        if !status.is_success() {
            let retry_after = crate::retry::retry_after(response.headers(), now)
                .ok()
                .flatten()
                .or_else(|| rate_limit_wait(response.headers(), now));
            return Err(PollError::Status {
                status,
                retry_after,
            });
        }
        let wait = rate_limit_wait(response.headers(), now);
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let decoded = <<F::Request as Endpoint>::Response as FromResponse>::from_response(response)
            .map_err(PollError::Api)?;
        let page = self.feed.read(decoded).map_err(PollError::Feed)?;
        for event in &page.events {
            self.inbox
                .accept(event, now)
                .await
                .map_err(PollError::Store)?;
        }
        // The entity tag belongs to the request for this cursor: kept only while the cursor
        // stays.
        let moved = page.cursor.is_some() && page.cursor != position.cursor;
        let next = Position {
            cursor: page.cursor.or(position.cursor),
            etag: if moved { None } else { etag },
        };
        store
            .save_cursor(&self.name, &next)
            .await
            .map_err(|error| PollError::Store(InboxError::Store(error)))?;
        Ok(Polled {
            accepted: page.events.len(),
            more: page.more,
            not_modified: false,
            wait,
        })
    }

    /// Polls until `shutdown` completes. A failed poll is tried again after the interval,
    /// doubling while it keeps failing, or after what the feed asked for (`Retry-After`), never
    /// sooner than the interval.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown);
        // The wait after a poll that brought nothing: the interval, doubling up to the
        // maximum while nothing comes.
        let mut idle = self.interval;
        loop {
            let wait = match self.poll_once().await {
                Ok(polled) => {
                    let base = if polled.more {
                        idle = self.interval;
                        Duration::ZERO
                    } else if polled.accepted > 0 {
                        idle = self.interval;
                        self.interval
                    } else {
                        let base = idle;
                        idle = idle.saturating_mul(2).min(self.max_interval);
                        base
                    };
                    base.max(polled.wait.unwrap_or(Duration::ZERO))
                }
                Err(PollError::Status {
                    retry_after: Some(wait),
                    ..
                }) => {
                    // Never sooner than the interval: a feed that keeps answering
                    // `Retry-After: 0` is not polled in a loop.
                    wait.max(self.interval)
                }
                Err(_) => {
                    let base = idle;
                    idle = idle.saturating_mul(2).min(self.max_interval);
                    base
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.clock.sleep(wait) => {}
            }
        }
    }
}

//! Subscribed endpoints: the registry a sender's customers manage, and publishing to it.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use url::Url;

use super::dispatcher::{DeliverError, Destination, Payload};
use super::outbox::OutboxError;
use crate::webhook::Secret;
#[cfg(feature = "ed25519")]
use crate::webhook::SigningKey;

/// How long an old key keeps signing beside its successor after a rotation, unless told: 24
/// hours, so that receivers have a day to switch.
pub const ROTATION_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// A key an endpoint's deliveries are signed with: a Standard Webhooks secret (`v1`,
/// HMAC-SHA256) or, with the `ed25519` feature, a signing key (`v1a`, ed25519).
#[derive(Clone)]
#[non_exhaustive]
pub enum SubscriptionKey {
    /// A `whsec_` secret: `v1` signatures.
    Hmac(Secret),
    /// A `whsk_` signing key: `v1a` signatures, which receivers verify with its public key.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    Ed25519(SigningKey),
}

impl SubscriptionKey {
    /// The key as text (`whsec_…` or `whsk_…`), for a store to keep. Handle it as the
    /// secret it is.
    pub fn expose(&self) -> zeroize::Zeroizing<String> {
        match self {
            SubscriptionKey::Hmac(secret) => secret.expose_whsec(),
            #[cfg(feature = "ed25519")]
            SubscriptionKey::Ed25519(key) => key.expose_whsk(),
        }
    }

    /// A key from its text, as [`expose`](Self::expose) wrote it.
    ///
    /// # Errors
    ///
    /// [`SubscriptionError::Key`] for text that is neither (or a `whsk_` key without the
    /// `ed25519` feature).
    pub fn parse(text: &str) -> Result<Self, SubscriptionError> {
        if text.starts_with("whsk_") {
            #[cfg(feature = "ed25519")]
            return SigningKey::parse(text)
                .map(SubscriptionKey::Ed25519)
                .map_err(|_| SubscriptionError::Key);
            #[cfg(not(feature = "ed25519"))]
            return Err(SubscriptionError::Key);
        }
        Secret::parse(text)
            .map(SubscriptionKey::Hmac)
            .map_err(|_| SubscriptionError::Key)
    }
}

impl PartialEq for SubscriptionKey {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SubscriptionKey::Hmac(a), SubscriptionKey::Hmac(b)) => a == b,
            // A signing key is its public key's: compare those (nothing secret is compared).
            #[cfg(feature = "ed25519")]
            (SubscriptionKey::Ed25519(a), SubscriptionKey::Ed25519(b)) => {
                a.public_key().to_whpk() == b.public_key().to_whpk()
            }
            #[cfg(feature = "ed25519")]
            _ => false,
        }
    }
}

impl Eq for SubscriptionKey {}

impl ActiveKey {
    /// A current key: one no rotation has retired.
    pub fn new(key: SubscriptionKey) -> Self {
        ActiveKey {
            key,
            expires_at: None,
        }
    }
}

impl From<Secret> for SubscriptionKey {
    fn from(secret: Secret) -> Self {
        SubscriptionKey::Hmac(secret)
    }
}

#[cfg(feature = "ed25519")]
impl From<SigningKey> for SubscriptionKey {
    fn from(key: SigningKey) -> Self {
        SubscriptionKey::Ed25519(key)
    }
}

impl fmt::Debug for SubscriptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionKey::Hmac(_) => f.write_str("Hmac([REDACTED])"),
            #[cfg(feature = "ed25519")]
            SubscriptionKey::Ed25519(_) => f.write_str("Ed25519([REDACTED])"),
        }
    }
}

/// One of an endpoint's keys, and when it stops signing (`None`: the current key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveKey {
    /// The key.
    pub key: SubscriptionKey,
    /// When a rotation retires it.
    pub expires_at: Option<SystemTime>,
}

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// It does.
    Enabled,
    /// It does not: its queued messages are dead-lettered without an attempt, and `publish`
    /// skips it, until it is enabled again.
    Disabled {
        /// Why: `410 Gone`, failing since a time, or what the application said.
        reason: String,
        /// When.
        at: SystemTime,
    },
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The URL does not parse, or is not `http` or `https`.
    #[error("the endpoint URL is invalid; give an absolute http or https URL")]
    Url,
    /// The key is not a `whsec_` secret or a `whsk_` signing key.
    #[error(
        "the signing key is neither a `whsec_` secret nor a `whsk_` ed25519 key (which needs the `ed25519` feature)"
    )]
    Key,
    /// An event-type pattern has a `*` anywhere but at its end, or is empty.
    #[error(
        "an event-type pattern may end with `*` (`transfer.*`) and have none elsewhere, and may not be empty"
    )]
    Pattern,
    /// An id or owner is empty, longer than 256 bytes, or has control characters.
    #[error("ids and owners are 1 to 256 bytes of printable text")]
    Id,
}

/// A registered endpoint: where one owner's (a customer's, an application's) webhooks go,
/// which of them, signed with which keys, and how hard it may be pushed.
///
/// Kept in a [`Subscriptions`] store; a worker reads it again before each attempt, so that a
/// new key, a disable or a new URL takes effect on the next one.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use hookwire::deliver::Subscription;
/// use hookwire::webhook::Secret;
///
/// let mut subscription = Subscription::new("ep_1", "acme", "https://acme.example/hooks", Secret::generate())?
///     .event_types(["transfer.*", "account.closed"])?
///     .description("Acme's treasury");
/// assert!(subscription.wants("transfer.settled", &[]));
/// assert!(!subscription.wants("account.opened", &[]));
///
/// // A new key signs beside the old one for a day, then alone.
/// let now = SystemTime::now();
/// subscription.rotate(Secret::generate(), now, Duration::from_secs(24 * 3600));
/// assert_eq!(subscription.keys_at(now).count(), 2);
/// assert_eq!(subscription.keys_at(now + Duration::from_secs(25 * 3600)).count(), 1);
/// # Ok::<(), hookwire::deliver::SubscriptionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    id: String,
    owner: String,
    url: Url,
    keys: Vec<ActiveKey>,
    event_types: Vec<String>,
    channels: Vec<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    description: String,
    metadata: BTreeMap<String, String>,
    status: Status,
    rate_limit: Option<NonZeroU32>,
    max_in_flight: Option<NonZeroU32>,
    ordered: bool,
}

fn check_id(id: &str) -> Result<(), SubscriptionError> {
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(SubscriptionError::Id);
    }
    Ok(())
}

impl Subscription {
    /// An enabled endpoint `id` of `owner`, receiving every event type at `url`, signed with
    /// `key`.
    ///
    /// # Errors
    ///
    /// [`SubscriptionError::Id`] for an empty or overlong id or owner,
    /// [`SubscriptionError::Url`] for a URL that is not absolute `http` or `https`.
    pub fn new(
        id: impl Into<String>,
        owner: impl Into<String>,
        url: &str,
        key: impl Into<SubscriptionKey>,
    ) -> Result<Self, SubscriptionError> {
        let (id, owner) = (id.into(), owner.into());
        check_id(&id)?;
        check_id(&owner)?;
        let url = Url::parse(url).map_err(|_| SubscriptionError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(SubscriptionError::Url);
        }
        Ok(Subscription {
            id,
            owner,
            url,
            keys: vec![ActiveKey {
                key: key.into(),
                expires_at: None,
            }],
            event_types: Vec::new(),
            channels: Vec::new(),
            headers: Vec::new(),
            description: String::new(),
            metadata: BTreeMap::new(),
            status: Status::Enabled,
            rate_limit: None,
            max_in_flight: None,
            ordered: false,
        })
    }

    /// Only these event types: exact names, or prefixes ending in `*` (`transfer.*` takes
    /// `transfer.settled` and `transfer.failed.final`; `*` takes everything). None (the
    /// default) takes every type.
    ///
    /// # Errors
    ///
    /// [`SubscriptionError::Pattern`] for an empty pattern or a `*` before the end.
    pub fn event_types<I, S>(mut self, patterns: I) -> Result<Self, SubscriptionError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let patterns: Vec<String> = patterns.into_iter().map(Into::into).collect();
        for pattern in &patterns {
            let stem = pattern.strip_suffix('*').unwrap_or(pattern);
            if pattern.is_empty()
                || stem.contains('*')
                || pattern.contains('\n')
                || pattern.chars().any(char::is_control)
            {
                return Err(SubscriptionError::Pattern);
            }
        }
        self.event_types = patterns;
        Ok(self)
    }

    /// Only messages published on one of these channels (labels such as a project or a
    /// region). None (the default) takes messages on any channel or none.
    ///
    /// # Errors
    ///
    /// [`SubscriptionError::Id`] for an empty, overlong or unprintable channel.
    pub fn channels<I, S>(mut self, channels: I) -> Result<Self, SubscriptionError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let channels: Vec<String> = channels.into_iter().map(Into::into).collect();
        for channel in &channels {
            check_id(channel)?;
        }
        self.channels = channels;
        Ok(self)
    }

    /// An extra header on every delivery.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(old, _)| *old != name);
        self.headers.push((name, value));
        self
    }

    /// A description, for the owner's dashboard.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A piece of metadata, for the application.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// At most `per_second` attempts a second to this endpoint (from each worker).
    #[must_use]
    pub fn rate_limit(mut self, per_second: NonZeroU32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// At most `attempts` in flight to this endpoint at once (in each worker), in place of the
    /// worker's [`per_endpoint`](super::Worker::per_endpoint) default.
    #[must_use]
    pub fn max_in_flight(mut self, attempts: NonZeroU32) -> Self {
        self.max_in_flight = Some(attempts);
        self
    }

    /// Delivers this endpoint's messages one at a time, in the order they were published: a
    /// message waits until the one before it is delivered (or found gone); a dead-lettered one
    /// holds back the rest until it is resent. Off by default: messages go in parallel.
    #[must_use]
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// The subscription as a store read it: with its status.
    #[must_use]
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// The keys as a store read them, replacing the one given to [`new`](Self::new).
    #[must_use]
    pub fn with_keys(mut self, keys: Vec<ActiveKey>) -> Self {
        if !keys.is_empty() {
            self.keys = keys;
        }
        self
    }

    /// Starts signing with `key`: each current key keeps signing beside it until `now +
    /// grace` ([`ROTATION_GRACE`], a day, is the usual grace), so that receivers holding
    /// either verify; keys whose grace is over at `now` are dropped.
    pub fn rotate(&mut self, key: impl Into<SubscriptionKey>, now: SystemTime, grace: Duration) {
        let until = now.checked_add(grace).unwrap_or(now);
        self.keys
            .retain(|old| old.expires_at.is_none_or(|expires| expires > now));
        for old in &mut self.keys {
            old.expires_at = Some(old.expires_at.map_or(until, |at| at.min(until)));
        }
        self.keys.push(ActiveKey {
            key: key.into(),
            expires_at: None,
        });
    }

    /// The endpoint's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whose endpoint it is.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Where its deliveries go.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Every key, retired ones included until a rotation or a store drops them.
    pub fn keys(&self) -> &[ActiveKey] {
        &self.keys
    }

    /// The keys that sign at `now`.
    pub fn keys_at(&self, now: SystemTime) -> impl Iterator<Item = &SubscriptionKey> {
        self.keys
            .iter()
            .filter(move |key| key.expires_at.is_none_or(|at| at > now))
            .map(|key| &key.key)
    }

    /// The event-type patterns; empty: every type.
    pub fn event_type_patterns(&self) -> &[String] {
        &self.event_types
    }

    /// The channels; empty: any.
    pub fn channel_names(&self) -> &[String] {
        &self.channels
    }

    /// The extra headers.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The description.
    pub fn description_text(&self) -> &str {
        &self.description
    }

    /// The metadata.
    pub fn metadata_map(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Whether it receives deliveries.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Whether it is enabled.
    pub fn is_enabled(&self) -> bool {
        self.status == Status::Enabled
    }

    /// Its rate limit, attempts per second.
    pub fn current_rate_limit(&self) -> Option<NonZeroU32> {
        self.rate_limit
    }

    /// Its cap on attempts in flight.
    pub fn current_max_in_flight(&self) -> Option<NonZeroU32> {
        self.max_in_flight
    }

    /// Whether its messages go one at a time, in order.
    pub fn is_ordered(&self) -> bool {
        self.ordered
    }

    /// Whether a message of `event_type` published on `channels` is for this endpoint (its
    /// status aside).
    pub fn wants(&self, event_type: &str, channels: &[String]) -> bool {
        wants(
            self.event_types.iter().map(String::as_str),
            self.channels.iter().map(String::as_str),
            event_type,
            channels,
        )
    }

    /// Where and how to deliver at `now`: the URL, the keys that sign at `now`, the headers
    /// and the limits.
    ///
    /// # Errors
    ///
    /// [`DeliverError`] when no key signs at `now` (every one retired), or a key is refused.
    pub fn destination(&self, now: SystemTime) -> Result<Destination, DeliverError> {
        let mut signer: Option<crate::webhook::StandardWebhooks> = None;
        for key in self.keys_at(now) {
            signer = Some(match (signer, key) {
                (None, SubscriptionKey::Hmac(secret)) => {
                    crate::webhook::StandardWebhooks::new(secret)?
                }
                (Some(signer), SubscriptionKey::Hmac(secret)) => signer.with_secret(secret)?,
                #[cfg(feature = "ed25519")]
                (None, SubscriptionKey::Ed25519(key)) => {
                    crate::webhook::StandardWebhooks::from_signing_key(key)
                }
                #[cfg(feature = "ed25519")]
                (Some(signer), SubscriptionKey::Ed25519(key)) => signer.with_signing_key(key),
            });
        }
        let signer = signer.ok_or(DeliverError::Secret(crate::webhook::SecretError::Empty))?;
        let mut destination = Destination::signed_by(self.url.clone(), signer);
        for (name, value) in &self.headers {
            destination = destination.header(name.clone(), value.clone());
        }
        if let Some(limit) = self.rate_limit {
            destination = destination.rate_limit(limit);
        }
        if let Some(cap) = self.max_in_flight {
            destination = destination.max_in_flight(cap);
        }
        Ok(destination)
    }
}

/// Whether a message of `event_type` on `channels` matches these patterns and subscribed
/// channels (none of either: any).
pub(crate) fn wants<'a, 'c, C: AsRef<str> + 'c>(
    patterns: impl IntoIterator<Item = &'a str>,
    subscribed: impl IntoIterator<Item = &'a str>,
    event_type: &str,
    channels: &'c [C],
) -> bool {
    let mut patterns = patterns.into_iter().peekable();
    let type_matches = patterns.peek().is_none()
        || patterns.any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => pattern == event_type,
        });
    let mut subscribed = subscribed.into_iter().peekable();
    let channel_matches = subscribed.peek().is_none()
        || subscribed.any(|wanted| channels.iter().any(|channel| channel.as_ref() == wanted));
    type_matches && channel_matches
}

/// The entries of a list stored one per line (patterns and channels hold no line breaks).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|line| !line.is_empty())
}

/// A subscription as the database stores keep it: text and numbers; patterns and channels one
/// per line (publish matches them without parsing), keys, headers and metadata as JSON.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) url: String,
    pub(crate) keys: String,
    pub(crate) event_types: String,
    pub(crate) channels: String,
    pub(crate) headers: String,
    pub(crate) description: String,
    pub(crate) metadata: String,
    pub(crate) rate_limit: Option<i64>,
    pub(crate) max_in_flight: Option<i64>,
    pub(crate) ordered: bool,
    pub(crate) disabled_at: Option<SystemTime>,
    pub(crate) disabled_reason: Option<String>,
}

/// A stored subscription that no longer reads back.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug, thiserror::Error)]
#[error("the stored endpoint {0:?} no longer reads back ({1}); save it again")]
pub(crate) struct Unreadable(String, &'static str);

/// Milliseconds since the epoch, as the stored keys' expiry is kept.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Stored {
    /// `subscription` as stored.
    pub(crate) fn new(subscription: &Subscription) -> Self {
        let keys: Vec<serde_json::Value> = subscription
            .keys
            .iter()
            .map(|key| serde_json::json!([&*key.key.expose(), key.expires_at.map(epoch_millis)]))
            .collect();
        let headers: Vec<(&str, &str)> = subscription
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let (disabled_at, disabled_reason) = match &subscription.status {
            Status::Disabled { reason, at } => (Some(*at), Some(reason.clone())),
            Status::Enabled => (None, None),
        };
        Stored {
            id: subscription.id.clone(),
            owner: subscription.owner.clone(),
            url: subscription.url.to_string(),
            keys: serde_json::Value::Array(keys).to_string(),
            event_types: subscription.event_types.join("\n"),
            channels: subscription.channels.join("\n"),
            headers: serde_json::json!(headers).to_string(),
            description: subscription.description.clone(),
            metadata: serde_json::json!(subscription.metadata).to_string(),
            rate_limit: subscription.rate_limit.map(|n| i64::from(n.get())),
            max_in_flight: subscription.max_in_flight.map(|n| i64::from(n.get())),
            ordered: subscription.ordered,
            disabled_at,
            disabled_reason,
        }
    }

    /// The subscription this stored form holds.
    pub(crate) fn read(self) -> Result<Subscription, Unreadable> {
        let unreadable = |what| Unreadable(self.id.clone(), what);
        let keys: serde_json::Value =
            serde_json::from_str(&self.keys).map_err(|_| unreadable("keys"))?;
        let mut active = Vec::new();
        for key in keys.as_array().into_iter().flatten() {
            let parsed = key
                .get(0)
                .and_then(serde_json::Value::as_str)
                .map(SubscriptionKey::parse)
                .and_then(Result::ok)
                .ok_or_else(|| unreadable("keys"))?;
            let expires_at = key
                .get(1)
                .and_then(serde_json::Value::as_u64)
                .and_then(|ms| SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms)));
            active.push(ActiveKey {
                key: parsed,
                expires_at,
            });
        }
        let first = active
            .first()
            .map(|key| key.key.clone())
            .ok_or_else(|| unreadable("keys"))?;
        let mut subscription =
            Subscription::new(self.id.clone(), self.owner.clone(), &self.url, first)
                .map_err(|_| unreadable("url"))?
                .with_keys(active)
                .event_types(lines(&self.event_types))
                .map_err(|_| unreadable("event_types"))?
                .channels(lines(&self.channels))
                .map_err(|_| unreadable("channels"))?
                .description(self.description.clone())
                .ordered(self.ordered);
        let headers: Vec<(String, String)> =
            serde_json::from_str(&self.headers).unwrap_or_default();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                subscription = subscription.header(name, value);
            }
        }
        let metadata: BTreeMap<String, String> =
            serde_json::from_str(&self.metadata).unwrap_or_default();
        subscription.metadata = metadata;
        let limit = |n: Option<i64>| {
            n.and_then(|n| u32::try_from(n).ok())
                .and_then(NonZeroU32::new)
        };
        subscription.rate_limit = limit(self.rate_limit);
        subscription.max_in_flight = limit(self.max_in_flight);
        if let Some(at) = self.disabled_at {
            subscription.status = Status::Disabled {
                reason: self.disabled_reason.unwrap_or_default(),
                at,
            };
        }
        Ok(subscription)
    }
}

/// What [`Subscriptions::publish`] queued.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Published {
    /// The endpoints a delivery was queued for, in id order.
    pub endpoints: Vec<String>,
    /// Whether the message was published before: then nothing was queued.
    pub duplicate: bool,
}

impl Published {
    /// A result, for implementers.
    pub fn new(endpoints: Vec<String>, duplicate: bool) -> Self {
        Published {
            endpoints,
            duplicate,
        }
    }
}

/// A store of [`Subscription`]s that publishes to them: the memory, SQLite and PostgreSQL
/// outboxes keep their endpoints beside their jobs, so that publishing a message and queuing
/// its deliveries is one transaction.
#[async_trait]
pub trait Subscriptions: Send + Sync {
    /// Registers `subscription`, or updates the one with its id: its URL, keys, filters,
    /// headers, description, metadata and limits. Its status is kept (a new one starts as
    /// `subscription` says); [`disable`](Self::disable) and [`enable`](Self::enable) change
    /// it.
    async fn save(&self, subscription: &Subscription) -> Result<(), OutboxError>;

    /// The endpoint `id`, if registered.
    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, OutboxError>;

    /// One page of `owner`'s endpoints in id order, after the id `after`, at most `limit`.
    async fn subscriptions(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Subscription>, OutboxError>;

    /// Removes the endpoint `id` (its queued jobs are dead-lettered at their next lease);
    /// whether there was one.
    async fn remove(&self, id: &str) -> Result<bool, OutboxError>;

    /// Stops deliveries to `id` at `now`, saying why; whether it was enabled.
    async fn disable(&self, id: &str, reason: &str, now: SystemTime) -> Result<bool, OutboxError>;

    /// Lets deliveries to `id` go again, its failure history forgotten; whether it was
    /// disabled. What it missed while disabled is dead-lettered: send it with
    /// [`Outbox::recover`](super::Outbox::recover).
    async fn enable(&self, id: &str) -> Result<bool, OutboxError>;

    /// Health bookkeeping for workers: with `Some(now)`, notes that `id` failed at `now` and
    /// returns since when it has been failing without a success in between; with `None`,
    /// notes that it succeeded (and returns `None`).
    async fn failing(
        &self,
        id: &str,
        now: Option<SystemTime>,
    ) -> Result<Option<SystemTime>, OutboxError>;

    /// Pauses deliveries to `id` until `until` (a `Retry-After`), for every worker.
    async fn pause(&self, id: &str, until: SystemTime) -> Result<(), OutboxError>;

    /// Until when `id` is paused, if it is.
    async fn paused_until(&self, id: &str) -> Result<Option<SystemTime>, OutboxError>;

    /// Publishes `payload` for `owner` on `channels` at `now`: stores it once, and queues one
    /// delivery (due at `now`) for each of `owner`'s enabled endpoints that wants its event
    /// type and channels, in one transaction. Publishing the same message id again queues
    /// nothing and says [`duplicate`](Published::duplicate).
    async fn publish(
        &self,
        owner: &str,
        payload: &Payload,
        channels: &[String],
        now: SystemTime,
    ) -> Result<Published, OutboxError>;
}

/// What a worker finds for an endpoint name.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // Found is the common case: boxing it would cost a call.
#[non_exhaustive]
pub enum Lookup {
    /// Deliver here.
    Found(Destination),
    /// The endpoint is paused until then (it asked with `Retry-After`): the message waits.
    Paused(SystemTime),
    /// The endpoint is disabled: its message is dead-lettered without an attempt.
    Disabled,
    /// No such endpoint: its message is dead-lettered without an attempt.
    Unknown,
}

/// Where a worker finds each job's destination, and where it keeps what it learns of an
/// endpoint's health.
///
/// Implemented for any `Fn(&str) -> Option<Destination>` (no health kept beyond the
/// worker's memory), and for the stores that keep [`Subscriptions`] (reads the endpoint
/// before each attempt; a 410 or a long failure disables it there; a `Retry-After` pauses it
/// there, for every worker).
#[async_trait]
pub trait Destinations: Send + Sync {
    /// The destination of `endpoint` at `now`.
    async fn lookup(&self, endpoint: &str, now: SystemTime) -> Result<Lookup, OutboxError>;

    /// Disables `endpoint` at `now`, saying why; whether it was enabled. The default keeps
    /// nothing and says `true`.
    async fn disable_endpoint(
        &self,
        endpoint: &str,
        reason: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        let _ = (endpoint, reason, now);
        Ok(true)
    }

    /// See [`Subscriptions::failing`]. The default keeps nothing and says `None`: such an
    /// endpoint is never disabled for failing.
    async fn note_failing(
        &self,
        endpoint: &str,
        now: Option<SystemTime>,
    ) -> Result<Option<SystemTime>, OutboxError> {
        let _ = (endpoint, now);
        Ok(None)
    }

    /// Whether [`lookup`](Self::lookup) reports disabled endpoints itself (a store does),
    /// so that a worker forgets one it disabled once the store says it is enabled again.
    /// `false` (the default): what the worker disabled stays disabled until it restarts.
    fn keeps_status(&self) -> bool {
        false
    }

    /// See [`Subscriptions::pause`]. The default keeps nothing: the worker's own memory
    /// pauses the endpoint.
    async fn pause_endpoint(&self, endpoint: &str, until: SystemTime) -> Result<(), OutboxError> {
        let _ = (endpoint, until);
        Ok(())
    }
}

#[async_trait]
impl<F> Destinations for F
where
    F: Fn(&str) -> Option<Destination> + Send + Sync,
{
    async fn lookup(&self, endpoint: &str, _now: SystemTime) -> Result<Lookup, OutboxError> {
        Ok(self(endpoint).map_or(Lookup::Unknown, Lookup::Found))
    }
}

/// A store's [`Destinations`], read from its [`Subscriptions`].
pub(crate) async fn lookup_subscription<S: Subscriptions + ?Sized>(
    store: &S,
    endpoint: &str,
    now: SystemTime,
) -> Result<Lookup, OutboxError> {
    let Some(subscription) = store.subscription(endpoint).await? else {
        return Ok(Lookup::Unknown);
    };
    if !subscription.is_enabled() {
        return Ok(Lookup::Disabled);
    }
    if let Some(until) = store
        .paused_until(endpoint)
        .await?
        .filter(|until| *until > now)
    {
        return Ok(Lookup::Paused(until));
    }
    match subscription.destination(now) {
        Ok(destination) => Ok(Lookup::Found(destination)),
        // Every key retired: nothing can be signed, which only a new key changes.
        Err(_) => Ok(Lookup::Disabled),
    }
}

/// Implements [`Destinations`] for a store that keeps [`Subscriptions`].
macro_rules! destinations_from_subscriptions {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::deliver::Destinations for $store {
            async fn lookup(
                &self,
                endpoint: &str,
                now: std::time::SystemTime,
            ) -> Result<$crate::deliver::Lookup, $crate::deliver::OutboxError> {
                $crate::deliver::subscription::lookup_subscription(self, endpoint, now).await
            }

            fn keeps_status(&self) -> bool {
                true
            }

            async fn disable_endpoint(
                &self,
                endpoint: &str,
                reason: &str,
                now: std::time::SystemTime,
            ) -> Result<bool, $crate::deliver::OutboxError> {
                $crate::deliver::Subscriptions::disable(self, endpoint, reason, now).await
            }

            async fn note_failing(
                &self,
                endpoint: &str,
                now: Option<std::time::SystemTime>,
            ) -> Result<Option<std::time::SystemTime>, $crate::deliver::OutboxError> {
                $crate::deliver::Subscriptions::failing(self, endpoint, now).await
            }

            async fn pause_endpoint(
                &self,
                endpoint: &str,
                until: std::time::SystemTime,
            ) -> Result<(), $crate::deliver::OutboxError> {
                $crate::deliver::Subscriptions::pause(self, endpoint, until).await
            }
        }
    };
}
pub(crate) use destinations_from_subscriptions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_exact_types_and_prefixes_and_channels_narrow_them() {
        let wants = |patterns: &[&str], subscribed: &[&str], ty: &str, channels: &[&str]| {
            let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
            wants(
                patterns.iter().copied(),
                subscribed.iter().copied(),
                ty,
                &channels,
            )
        };
        let patterns = ["transfer.*", "account.closed"];
        assert!(wants(&patterns, &[], "transfer.settled", &[]));
        assert!(wants(&patterns, &[], "transfer.", &[]));
        assert!(!wants(&patterns, &[], "transfers.settled", &[]));
        assert!(wants(&patterns, &[], "account.closed", &[]));
        assert!(!wants(&patterns, &[], "account.closed.late", &[]));
        assert!(wants(&["*"], &[], "anything", &[]));
        assert!(wants(&[], &[], "anything", &["eu"]));
        assert!(!wants(&[], &["eu"], "x", &[]));
        assert!(!wants(&[], &["eu"], "x", &["us"]));
        assert!(wants(&[], &["eu"], "x", &["us", "eu"]));
    }

    #[test]
    fn bad_patterns_ids_and_urls_are_refused() {
        let key = || Secret::generate();
        assert_eq!(
            Subscription::new("", "o", "https://a.example", key()).unwrap_err(),
            SubscriptionError::Id
        );
        assert_eq!(
            Subscription::new("e", "o", "ftp://a.example", key()).unwrap_err(),
            SubscriptionError::Url
        );
        assert_eq!(
            Subscription::new("e", "o", "not a url", key()).unwrap_err(),
            SubscriptionError::Url
        );
        let ok = Subscription::new("e", "o", "https://a.example", key()).unwrap();
        for bad in ["", "a*b", "**", "a\nb"] {
            assert_eq!(
                ok.clone().event_types([bad]).unwrap_err(),
                SubscriptionError::Pattern,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rotation_keeps_the_old_key_for_its_grace_then_drops_it() {
        let now = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(1_700_000_000))
            .unwrap();
        let (old, new, newer) = (Secret::generate(), Secret::generate(), Secret::generate());
        let mut subscription =
            Subscription::new("e", "o", "https://a.example", old.clone()).unwrap();
        subscription.rotate(new.clone(), now, ROTATION_GRACE);
        let at = |s: &Subscription, t| s.keys_at(t).cloned().collect::<Vec<_>>();
        assert_eq!(
            at(&subscription, now),
            [
                SubscriptionKey::Hmac(old.clone()),
                SubscriptionKey::Hmac(new.clone())
            ]
        );
        let after = now
            .checked_add(ROTATION_GRACE + Duration::from_secs(1))
            .unwrap();
        assert_eq!(
            at(&subscription, after),
            [SubscriptionKey::Hmac(new.clone())]
        );
        // A second rotation after the grace drops the retired key for good.
        subscription.rotate(newer.clone(), after, ROTATION_GRACE);
        assert_eq!(subscription.keys().len(), 2);
        assert_eq!(
            at(&subscription, after),
            [SubscriptionKey::Hmac(new), SubscriptionKey::Hmac(newer)]
        );
    }

    #[test]
    fn a_key_reads_back_from_its_text_and_never_prints() {
        let secret = Secret::generate();
        let key = SubscriptionKey::Hmac(secret.clone());
        assert_eq!(SubscriptionKey::parse(&key.expose()).unwrap(), key);
        assert_eq!(format!("{key:?}"), "Hmac([REDACTED])");
        assert!(!format!("{key:?}").contains(&*secret.expose_whsec()));
        assert_eq!(
            SubscriptionKey::parse("whsec_???").unwrap_err(),
            SubscriptionError::Key
        );
    }
}

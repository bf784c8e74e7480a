//! A [`ReplayGuard`] in Redis, shared by every receiver instance.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::replay::{Claim, ReplayError, ReplayGuard, ReplayKey};

/// Claims atomically: `SET NX` with the lease, or says who has the key.
const CLAIM: &str = "
if redis.call('SET', KEYS[1], 'claimed', 'NX', 'PX', ARGV[1]) then
    return 'claimed'
end
if redis.call('GET', KEYS[1]) == 'done' then
    return 'done'
end
return 'in_flight'
";

/// Forgets a claim, never a handled message.
const RELEASE: &str = "
if redis.call('GET', KEYS[1]) == 'claimed' then
    return redis.call('DEL', KEYS[1])
end
return 0
";

/// A [`ReplayGuard`] in Redis: several receivers share one memory of what was handled, so
/// each repeat is dropped exactly once, whichever instance it reaches.
///
/// A claim is `SET key claimed NX PX lease` (in one script with the check of who holds the
/// key), so two instances receiving the same delivery at the same moment cannot both claim
/// it; a claim whose holder vanished expires with its lease (60 seconds unless set). A
/// handled id is kept for the time to live and at least until its message stops verifying,
/// by Redis's own expiry. Keys are `hookwire:replay:` (or the chosen prefix), the scheme, a
/// line feed and the id.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hookwire::webhook::RedisReplayGuard;
///
/// let guard = RedisReplayGuard::connect("redis://127.0.0.1/", Duration::from_secs(86_400)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisReplayGuard {
    connection: ConnectionManager,
    prefix: String,
    ttl: Duration,
    lease: Duration,
    claim: Script,
    release: Script,
}

impl std::fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

fn failed(error: redis::RedisError) -> ReplayError {
    ReplayError::new(error)
}

/// Milliseconds for Redis's `PX`: at least one, at most what it accepts.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64 / 2)
}

impl RedisReplayGuard {
    /// A guard on `connection` (which reconnects by itself), remembering handled ids for
    /// `ttl` (and at least until their message stops verifying).
    pub fn new(connection: ConnectionManager, ttl: Duration) -> Self {
        RedisReplayGuard {
            connection,
            prefix: "hookwire:replay:".to_owned(),
            ttl,
            lease: Duration::from_secs(60),
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
        }
    }

    /// Connects to the Redis server at `url` (`redis://host:port/db`), trying three times
    /// within about a second, each answer bounded by 5 seconds; once connected, the connection
    /// comes back by itself after a failure.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] when the URL is not a Redis URL or the server does not answer.
    pub async fn connect(url: &str, ttl: Duration) -> Result<Self, ReplayError> {
        let client = redis::Client::open(url).map_err(failed)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(failed)?;
        Ok(Self::new(connection, ttl))
    }

    /// Starts every key with `prefix` instead of `hookwire:replay:`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a claim lasts when its holder neither commits nor releases it (a crash): make
    /// it longer than a handler can take. 60 seconds unless set.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn key(&self, key: ReplayKey<'_>) -> String {
        // Header values hold no line feed, so the join is unambiguous.
        format!("{}{}\n{}", self.prefix, key.scheme, key.id)
    }
}

#[async_trait]
impl ReplayGuard for RedisReplayGuard {
    async fn claim(&self, key: ReplayKey<'_>, _now: SystemTime) -> Result<Claim, ReplayError> {
        let mut connection = self.connection.clone();
        let answer: String = self
            .claim
            .key(self.key(key))
            .arg(millis(self.lease))
            .invoke_async(&mut connection)
            .await
            .map_err(failed)?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed,
            "done" => Claim::Done,
            _ => Claim::InFlight,
        })
    }

    async fn commit(
        &self,
        key: ReplayKey<'_>,
        now: SystemTime,
        verifiable_until: Option<SystemTime>,
    ) -> Result<(), ReplayError> {
        let keep = verifiable_until
            .and_then(|until| until.duration_since(now).ok())
            .unwrap_or_default()
            .max(self.ttl);
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg("done")
            .arg("PX")
            .arg(millis(keep))
            .query_async::<()>(&mut connection)
            .await
            .map_err(failed)
    }

    async fn release(&self, key: ReplayKey<'_>) -> Result<(), ReplayError> {
        let mut connection = self.connection.clone();
        self.release
            .key(self.key(key))
            .invoke_async::<i64>(&mut connection)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

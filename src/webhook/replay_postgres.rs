//! A [`ReplayGuard`] in PostgreSQL, shared by every receiver instance on one database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;

use super::replay::{Claim, ReplayError, ReplayGuard, ReplayKey, later};
use crate::postgres::{InvalidSchema, Schema};

/// How many claims pass between two sweeps of expired entries.
const SWEEP_EVERY: u64 = 256;

/// A [`ReplayGuard`] in PostgreSQL: several receivers behind a load balancer share one
/// memory of what was handled, so each repeat is dropped exactly once, whichever instance it
/// reaches.
///
/// A claim is one `INSERT … ON CONFLICT` (it takes over an expired entry, never a live one),
/// so two instances receiving the same delivery at the same moment cannot both claim it.
/// Handled ids are remembered for the time to live and at least until their message stops
/// verifying; claims last a lease (60 seconds unless set) when their holder neither commits
/// nor releases them. Every 256th claim sweeps up to 1 000 expired entries; call
/// [`purge`](PostgresReplayGuard::purge) to sweep them all.
///
/// Its table lives in the same schema as [`PostgresOutbox`](crate::deliver::PostgresOutbox)'s
/// and is created by the same [`migrate`](PostgresReplayGuard::migrate).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hookwire::webhook::PostgresReplayGuard;
///
/// let pool = hookwire::sqlx::PgPool::connect("postgres://app@localhost/app").await?;
/// let guard = PostgresReplayGuard::new(pool, Duration::from_secs(24 * 60 * 60));
/// guard.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresReplayGuard {
    pool: PgPool,
    schema: Schema,
    statements: Arc<Statements>,
    ttl: Duration,
    lease: Duration,
    claims: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Statements {
    claim: String,
    commit: String,
    release: String,
    sweep: String,
    purge: String,
}

impl Statements {
    fn new(schema: &Schema) -> Self {
        let sql = |text: &str| schema.sql(text);
        Statements {
            // The entry is ours when the insert (or the takeover of an expired entry) returns
            // it; otherwise the entry as the statement found it says who has it. Nothing found
            // means another instance inserted it while this statement ran: in flight.
            claim: sql("WITH claimed AS (
                     INSERT INTO {schema}.hookwire_replay AS r (scheme, id, done, until)
                     VALUES ($1, $2, false, $3)
                     ON CONFLICT (scheme, id) DO UPDATE SET done = false, until = EXCLUDED.until
                         WHERE r.until <= $4
                     RETURNING 'claimed'::text AS claim)
                 SELECT claim FROM claimed
                 UNION ALL
                 SELECT CASE WHEN done THEN 'done' ELSE 'in_flight' END
                 FROM {schema}.hookwire_replay
                 WHERE scheme = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM claimed)"),
            commit: sql(
                "INSERT INTO {schema}.hookwire_replay AS r (scheme, id, done, until)
                 VALUES ($1, $2, true, $3)
                 ON CONFLICT (scheme, id) DO UPDATE SET done = true, until = EXCLUDED.until",
            ),
            release: sql("DELETE FROM {schema}.hookwire_replay
                 WHERE scheme = $1 AND id = $2 AND NOT done"),
            sweep: sql("DELETE FROM {schema}.hookwire_replay WHERE ctid IN (
                     SELECT ctid FROM {schema}.hookwire_replay WHERE until <= $1 LIMIT 1000)"),
            purge: sql("DELETE FROM {schema}.hookwire_replay WHERE until <= $1"),
        }
    }
}

fn failed(error: sqlx::Error) -> ReplayError {
    ReplayError::new(error)
}

impl PostgresReplayGuard {
    /// A guard in `pool`'s database, in the `public` schema, remembering handled ids for
    /// `ttl` (and at least until their message stops verifying). Call
    /// [`migrate`](PostgresReplayGuard::migrate) once before use.
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        let schema = Schema::public();
        PostgresReplayGuard {
            statements: Arc::new(Statements::new(&schema)),
            pool,
            schema,
            ttl,
            lease: Duration::from_secs(60),
            claims: Arc::default(),
        }
    }

    /// Keeps the table in the schema `name`.
    ///
    /// # Errors
    ///
    /// [`InvalidSchema`] when `name` is not 1 to 63 lowercase ASCII letters, digits and
    /// underscores, not starting with a digit.
    pub fn schema(self, name: &str) -> Result<Self, InvalidSchema> {
        let schema = Schema::new(name)?;
        Ok(PostgresReplayGuard {
            statements: Arc::new(Statements::new(&schema)),
            schema,
            ..self
        })
    }

    /// How long a claim lasts when its holder neither commits nor releases it (a crash): make
    /// it longer than a handler can take. 60 seconds unless set.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Creates the schema and its tables, or brings them up to this version (the same
    /// migrations as the outbox's): idempotent and safe to call from several processes.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] when the database refuses.
    pub async fn migrate(&self) -> Result<(), ReplayError> {
        self.schema.migrate(&self.pool).await.map_err(failed)
    }

    /// Deletes every entry expired at `now`; returns how many.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] when the database cannot be reached.
    pub async fn purge(&self, now: SystemTime) -> Result<u64, ReplayError> {
        let done = sqlx::query(&self.statements.purge)
            .bind(OffsetDateTime::from(now))
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl ReplayGuard for PostgresReplayGuard {
    async fn claim(&self, key: ReplayKey<'_>, now: SystemTime) -> Result<Claim, ReplayError> {
        if self.claims.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // A failed sweep is tried again at the next one; the claim does not depend on it.
            let _ = sqlx::query(&self.statements.sweep)
                .bind(OffsetDateTime::from(now))
                .execute(&self.pool)
                .await;
        }
        let claim: Option<String> = sqlx::query_scalar(&self.statements.claim)
            .bind(key.scheme)
            .bind(key.id)
            .bind(OffsetDateTime::from(later(now, self.lease)))
            .bind(OffsetDateTime::from(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        Ok(match claim.as_deref() {
            Some("claimed") => Claim::Claimed,
            Some("done") => Claim::Done,
            _ => Claim::InFlight,
        })
    }

    async fn commit(
        &self,
        key: ReplayKey<'_>,
        now: SystemTime,
        verifiable_until: Option<SystemTime>,
    ) -> Result<(), ReplayError> {
        let until = later(now, self.ttl).max(verifiable_until.unwrap_or(now));
        sqlx::query(&self.statements.commit)
            .bind(key.scheme)
            .bind(key.id)
            .bind(OffsetDateTime::from(until))
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn release(&self, key: ReplayKey<'_>) -> Result<(), ReplayError> {
        sqlx::query(&self.statements.release)
            .bind(key.scheme)
            .bind(key.id)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

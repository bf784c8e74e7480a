//! An [`Outbox`] in an SQLite file: durable across restarts, with no server to run.
//!
//! It uses rusqlite with SQLite built in, on tokio's blocking threads: SQLite is an embedded,
//! synchronous library, so a synchronous binding with one connection is the simplest correct
//! use of it, and it keeps sqlx's compile-time query machinery and its own runtime glue out of
//! the build.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::dispatcher::Payload;
use super::outbox::{
    Entry, HELD_RECHECK, Job, Lease, ListQuery, Next, Outbox, OutboxError, Sequence, State,
};
use super::outcome::{Attempt, parse_kind};
use super::subscription::{
    Published, Stored, Subscription, Subscriptions, Unreadable, lines, wants,
};
use super::wakeup::Wakeup;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS hookwire_outbox (
    endpoint     TEXT NOT NULL,
    id           TEXT NOT NULL,
    event_type   TEXT,
    content_type TEXT NOT NULL,
    body         BLOB NOT NULL,
    state        TEXT NOT NULL,
    next_at      INTEGER NOT NULL,
    lease_until  INTEGER,
    token        INTEGER NOT NULL DEFAULT 0,
    round_start  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint, id)
);
CREATE INDEX IF NOT EXISTS hookwire_outbox_due ON hookwire_outbox (state, next_at);
CREATE TABLE IF NOT EXISTS hookwire_attempts (
    endpoint   TEXT NOT NULL,
    id         TEXT NOT NULL,
    n          INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    status     INTEGER,
    error      TEXT,
    latency_us INTEGER NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (endpoint, id, n)
);
CREATE TABLE IF NOT EXISTS hookwire_cursors (
    name       TEXT PRIMARY KEY,
    cursor     TEXT,
    etag       TEXT,
    updated_at INTEGER NOT NULL
);
";

/// The changes to a file made by an earlier version, in order: the `n`th brings a file from
/// `user_version` `n - 1` to `n`. Each is applied once, in a transaction.
const MIGRATIONS: &[&str] = &[
    "
ALTER TABLE hookwire_outbox ADD COLUMN seq_key TEXT;
ALTER TABLE hookwire_outbox ADD COLUMN seq_number INTEGER;
CREATE TABLE hookwire_sequences (
    endpoint TEXT NOT NULL,
    key      TEXT NOT NULL,
    next     INTEGER NOT NULL,
    PRIMARY KEY (endpoint, key)
);
-- What a finished job reads to let the next of its key go.
CREATE INDEX hookwire_outbox_sequence ON hookwire_outbox (endpoint, seq_key, seq_number)
    WHERE state = 'pending' AND seq_key IS NOT NULL;
-- What `lease` reads to set aside the jobs that must wait.
CREATE INDEX hookwire_outbox_held ON hookwire_outbox (next_at)
    WHERE state = 'pending' AND seq_key IS NOT NULL;
",
    "
ALTER TABLE hookwire_outbox ADD COLUMN enqueued_at INTEGER;
-- What `oldest_pending` reads.
CREATE INDEX hookwire_outbox_waiting ON hookwire_outbox (enqueued_at)
    WHERE state = 'pending';
",
    "
CREATE TABLE hookwire_endpoints (
    id              TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    url             TEXT NOT NULL,
    keys            TEXT NOT NULL,
    event_types     TEXT NOT NULL,
    channels        TEXT NOT NULL,
    headers         TEXT NOT NULL,
    description     TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    rate_limit      INTEGER,
    max_in_flight   INTEGER,
    ordered         INTEGER NOT NULL,
    disabled_at     INTEGER,
    disabled_reason TEXT,
    failing_since   INTEGER,
    paused_until    INTEGER,
    next_number     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX hookwire_endpoints_owner ON hookwire_endpoints (owner, id);
CREATE TABLE hookwire_published (
    owner TEXT NOT NULL,
    id    TEXT NOT NULL,
    at    INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
);
",
    "
-- A published message's body is stored once, with its id; its jobs point at it.
ALTER TABLE hookwire_published ADD COLUMN body BLOB;
ALTER TABLE hookwire_outbox ADD COLUMN message_owner TEXT;
-- What purging reads to find whether a message still has jobs.
CREATE INDEX hookwire_outbox_message ON hookwire_outbox (id, message_owner)
    WHERE message_owner IS NOT NULL;
",
];

/// Creates the tables, or brings those of an earlier version up to date.
fn prepare(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    connection.execute_batch(SCHEMA)?;
    // Taken up front, so that two processes opening one new file migrate it once.
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (n, migration) in MIGRATIONS.iter().enumerate() {
        let n = n as i64 + 1;
        if version < n {
            transaction.execute_batch(migration)?;
            transaction.pragma_update(None, "user_version", n)?;
        }
    }
    transaction.commit()
}

/// Whether a pending job may be leased: it has no sequence, or the jobs before it in its key
/// have finished.
macro_rules! in_turn {
    () => {
        "(o.seq_key IS NULL OR o.seq_number <= COALESCE(
            (SELECT s.next FROM hookwire_sequences s
              WHERE s.endpoint = o.endpoint AND s.key = o.seq_key), 1))"
    };
}

/// A job's body: its own, or its published message's, stored once for all its endpoints.
macro_rules! body_of {
    ($o:literal) => {
        concat!(
            "CASE WHEN ",
            $o,
            ".message_owner IS NULL THEN ",
            $o,
            ".body ELSE
                (SELECT p.body FROM hookwire_published p
                  WHERE p.owner = ",
            $o,
            ".message_owner AND p.id = ",
            $o,
            ".id) END"
        )
    };
}

/// The jobs `lease` takes: due pending ones in their turn, in order of due time, read from
/// the `(state, next_at)` index, whatever the number of finished jobs.
const LEASE: &str = concat!(
    "SELECT o.endpoint, o.id, o.event_type, o.content_type, ",
    body_of!("o"),
    ", o.token,
        (SELECT COUNT(*) FROM hookwire_attempts a
          WHERE a.endpoint = o.endpoint AND a.id = o.id) - o.round_start,
        o.seq_key, o.seq_number, o.enqueued_at
    FROM hookwire_outbox o
    WHERE o.state = 'pending' AND o.next_at <= ?1 AND ",
    in_turn!(),
    " ORDER BY o.next_at LIMIT ?2"
);

/// Sets aside the due jobs that must wait for an earlier one of their key, until `?2`: run
/// before [`LEASE`], so that a key's waiting jobs are not read again by every lease.
const HOLD_BACK: &str = concat!(
    "UPDATE hookwire_outbox AS o INDEXED BY hookwire_outbox_held SET next_at = ?2
    WHERE o.state = 'pending' AND o.seq_key IS NOT NULL AND o.next_at <= ?1 AND NOT ",
    in_turn!()
);

/// When `lease` will next find a job: the first entry of the same index (a job set aside
/// counts at the end of its wait, when `lease` looks at it again).
const NEXT_DUE: &str = "SELECT MIN(next_at) FROM hookwire_outbox WHERE state = 'pending'";

/// When the pending job first due earliest was due.
const OLDEST_PENDING: &str = "SELECT MIN(enqueued_at) FROM hookwire_outbox WHERE state = 'pending'";

/// Lets the jobs of a key after number `?3` go, once it finished.
const ADVANCE: &str = "INSERT INTO hookwire_sequences (endpoint, key, next) VALUES (?1, ?2, ?3 + 1)
    ON CONFLICT (endpoint, key) DO UPDATE SET next = MAX(next, excluded.next)";

/// Makes the next job of the key (set aside, or due before `?5`) due at `?4`: its wait is
/// over.
const RELEASE: &str = "UPDATE hookwire_outbox INDEXED BY hookwire_outbox_sequence
    SET next_at = MIN(next_at, ?4)
    WHERE endpoint = ?1 AND seq_key = ?2 AND state = 'pending' AND seq_number <= ?3 + 1
      AND next_at <= ?5";

/// Releases a leased job, due again at `?4`.
const RESCHEDULE: &str = "UPDATE hookwire_outbox SET next_at = ?4, lease_until = NULL
    WHERE endpoint = ?1 AND id = ?2 AND token = ?3 AND state = 'pending'";

/// Ends a leased job in state `?4` at `?5`; a finished job's `next_at` holds when it
/// finished, which retention reads.
const FINISH: &str = "UPDATE hookwire_outbox SET state = ?4, next_at = ?5, lease_until = NULL
    WHERE endpoint = ?1 AND id = ?2 AND token = ?3 AND state = 'pending'";

/// How durable an acknowledged write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// SQLite's `synchronous = FULL`: once `enqueue` returns, the job survives a power loss.
    #[default]
    Full,
    /// SQLite's `synchronous = NORMAL` in WAL mode: faster commits; a process crash loses
    /// nothing, but a power loss or an operating-system crash may lose the last acknowledged
    /// writes.
    Normal,
}

/// An [`Outbox`] in an SQLite file, in WAL mode. Writes are durable when acknowledged unless
/// opened with [`Durability::Normal`]; several outboxes (and processes) may share one file.
///
/// Its workers start a job the moment it is enqueued through this outbox or one of its clones
/// (see [`Wakeup`]), and sleep until the next job falls due; a job another process enqueues
/// into the same file is seen at the worker's
/// [`poll_interval`](super::Worker::poll_interval). Finished jobs stay out of `lease`'s way: it
/// reads the `(state, next_at)` index from its start, pending jobs only.
#[derive(Debug, Clone)]
pub struct SqliteOutbox {
    connection: Arc<Mutex<Connection>>,
    wakeup: Wakeup,
}

/// A lease duration too long to add to the current time.
#[derive(Debug, thiserror::Error)]
#[error("a lease of {0:?} reaches past the end of representable time")]
struct LeaseTooLong(Duration);

fn store<E: std::error::Error + Send + Sync + 'static>(error: E) -> OutboxError {
    OutboxError::Store(Box::new(error))
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn time(millis: i64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
        .unwrap_or(UNIX_EPOCH)
}

impl SqliteOutbox {
    /// Opens (or creates) the outbox in the file at `path`.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the file cannot be opened or the schema created.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OutboxError> {
        Self::open_with(path, Durability::Full).await
    }

    /// Opens (or creates) the outbox in the file at `path`, with the given durability.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the file cannot be opened or the schema created.
    pub async fn open_with(
        path: impl AsRef<Path>,
        durability: Durability,
    ) -> Result<Self, OutboxError> {
        let path = path.as_ref().to_owned();
        let connection = tokio::task::spawn_blocking(move || -> Result<Connection, OutboxError> {
            let mut connection = Connection::open(path).map_err(store)?;
            connection
                .busy_timeout(Duration::from_secs(5))
                .map_err(store)?;
            prepare(&mut connection).map_err(store)?;
            register_wants(&connection).map_err(store)?;
            let synchronous = match durability {
                Durability::Full => "FULL",
                Durability::Normal => "NORMAL",
            };
            connection
                .pragma_update(None, "synchronous", synchronous)
                .map_err(store)?;
            Ok(connection)
        })
        .await
        .map_err(store)??;
        Ok(SqliteOutbox {
            connection: Arc::new(Mutex::new(connection)),
            wakeup: Wakeup::new(),
        })
    }

    /// The `synchronous` setting the store's connection commits with: 2 for `FULL`, 1 for
    /// `NORMAL` (SQLite's numbering).
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when SQLite cannot be asked.
    pub async fn synchronous(&self) -> Result<i64, OutboxError> {
        self.with(|connection| {
            connection
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .map_err(store)
        })
        .await
    }

    /// Makes the job pending again, due at `now`, if its state is in `states` (an SQL list).
    async fn again(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
        states: &'static str,
    ) -> Result<bool, OutboxError> {
        let (endpoint, id) = (endpoint.to_owned(), id.to_owned());
        let changed = self
            .with(move |connection| {
                let changed = connection
                    .execute(
                        &format!(
                            "UPDATE hookwire_outbox SET state = 'pending', next_at = ?3,
                                 lease_until = NULL,
                                 round_start = (SELECT COUNT(*) FROM hookwire_attempts
                                                WHERE endpoint = ?1 AND id = ?2)
                             WHERE endpoint = ?1 AND id = ?2 AND state IN {states}"
                        ),
                        params![endpoint, id, millis(now)],
                    )
                    .map_err(store)?;
                Ok(changed == 1)
            })
            .await?;
        if changed {
            self.wakeup.wake();
        }
        Ok(changed)
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, OutboxError> + Send + 'static,
    ) -> Result<T, OutboxError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut connection)
        })
        .await
        .map_err(store)?
    }
}

/// Runs `statement` for the leased row; a changed token or state means the lease was lost.
fn fenced(
    connection: &Connection,
    lease: &Lease,
    statement: &str,
    extra: &[&dyn rusqlite::ToSql],
) -> Result<(), OutboxError> {
    let token = lease.token as i64;
    let fixed: [&dyn rusqlite::ToSql; 3] = [&lease.job.endpoint, &lease.job.payload.id, &token];
    let changed = connection
        .prepare_cached(statement)
        .and_then(|mut statement| {
            statement.execute(rusqlite::params_from_iter(fixed.iter().chain(extra)))
        })
        .map_err(store)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(OutboxError::LeaseLost)
    }
}

/// Ends the leased job in `state` at `now`; a finished sequenced job lets the next of its key
/// go. Whether it did.
fn finish_leased(
    connection: &Connection,
    lease: &Lease,
    state: State,
    now: SystemTime,
) -> Result<bool, OutboxError> {
    fenced(connection, lease, FINISH, &[&state.as_str(), &millis(now)])?;
    match &lease.job.sequence {
        Some(sequence) if state != State::DeadLettered => {
            let number = i64::try_from(sequence.number).unwrap_or(i64::MAX - 1);
            connection
                .prepare_cached(ADVANCE)
                .and_then(|mut advance| {
                    advance.execute(params![lease.job.endpoint, sequence.key, number])
                })
                .map_err(store)?;
            let set_aside_until = now.checked_add(HELD_RECHECK).unwrap_or(now);
            connection
                .prepare_cached(RELEASE)
                .and_then(|mut release| {
                    release.execute(params![
                        lease.job.endpoint,
                        sequence.key,
                        number,
                        millis(now),
                        millis(set_aside_until)
                    ])
                })
                .map_err(store)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The job in a row read by `lease` or `list`: its columns from `first` on are endpoint,
/// id, event type, content type and body; `sequence` those of its sequence.
fn job(row: &rusqlite::Row<'_>, first: usize, sequence: usize) -> rusqlite::Result<Job> {
    let content_type: String = row.get(first + 3)?;
    let key: Option<String> = row.get(sequence)?;
    let number: Option<i64> = row.get(sequence + 1)?;
    Ok(Job {
        endpoint: row.get(first)?,
        payload: Payload {
            id: row.get(first + 1)?,
            event_type: row.get(first + 2)?,
            content_type: HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            body: Bytes::from(row.get::<_, Vec<u8>>(first + 4)?),
        },
        sequence: key
            .map(|key| Sequence::new(key, u64::try_from(number.unwrap_or(0)).unwrap_or(0))),
    })
}

/// Appends `attempt` to the leased job's history.
fn insert_attempt(
    connection: &Connection,
    lease: &Lease,
    attempt: &Attempt,
) -> Result<(), OutboxError> {
    connection
        .prepare_cached(
            "INSERT INTO hookwire_attempts (endpoint, id, n, at, status, error, latency_us, body)
             VALUES (?1, ?2, (SELECT COUNT(*) FROM hookwire_attempts WHERE endpoint = ?1 AND id = ?2),
                     ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                lease.job.endpoint,
                lease.job.payload.id,
                millis(attempt.at),
                attempt.status.map(|s| i64::from(s.as_u16())),
                attempt.error.map(|kind| format!("{kind:?}")),
                i64::try_from(attempt.latency.as_micros()).unwrap_or(i64::MAX),
                &attempt.body[..]
            ])
        })
        .map_err(store)?;
    Ok(())
}

#[async_trait]
impl Outbox for SqliteOutbox {
    async fn enqueue(&self, job: Job, at: SystemTime) -> Result<(), OutboxError> {
        self.with(move |connection| insert_job(connection, &job, at).map(|_| ()))
            .await?;
        self.wakeup.wake();
        Ok(())
    }

    async fn lease(
        &self,
        now: SystemTime,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, OutboxError> {
        let until = now
            .checked_add(lease_for)
            .ok_or_else(|| store(LeaseTooLong(lease_for)))?;
        let recheck = millis(now.checked_add(HELD_RECHECK).unwrap_or(now));
        let (now, until) = (millis(now), millis(until));
        self.with(move |connection| {
            // The write lock is taken up front: a deferred transaction that reads, then
            // writes, fails at once with "database is locked" in WAL mode when another
            // connection wrote in between, whatever the busy timeout.
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store)?;
            transaction
                .prepare_cached(HOLD_BACK)
                .and_then(|mut hold| hold.execute(params![now, recheck]))
                .map_err(store)?;
            let mut leases = Vec::new();
            {
                let mut select = transaction.prepare_cached(LEASE).map_err(store)?;
                let rows = select
                    .query_map(params![now, limit as i64], |row| {
                        Ok(Lease {
                            job: job(row, 0, 7)?,
                            attempts: u32::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
                            token: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0) + 1,
                            enqueued_at: row.get::<_, Option<i64>>(9)?.map(time),
                        })
                    })
                    .map_err(store)?;
                for lease in rows {
                    leases.push(lease.map_err(store)?);
                }
            }
            {
                let mut stamp = transaction
                    .prepare_cached(
                        "UPDATE hookwire_outbox
                         SET lease_until = ?3, next_at = MAX(next_at, ?3), token = token + 1
                         WHERE endpoint = ?1 AND id = ?2",
                    )
                    .map_err(store)?;
                for lease in &leases {
                    stamp
                        .execute(params![lease.job.endpoint, lease.job.payload.id, until])
                        .map_err(store)?;
                }
            }
            transaction.commit().map_err(store)?;
            Ok(leases)
        })
        .await
    }

    async fn record(&self, lease: &Lease, attempt: &Attempt) -> Result<(), OutboxError> {
        let (lease, attempt) = (lease.clone(), attempt.clone());
        self.with(move |connection| {
            let current: Option<i64> = connection
                .prepare_cached(
                    "SELECT token FROM hookwire_outbox
                     WHERE endpoint = ?1 AND id = ?2 AND state = 'pending'",
                )
                .and_then(|mut select| {
                    select.query_row(params![lease.job.endpoint, lease.job.payload.id], |row| {
                        row.get(0)
                    })
                })
                .optional()
                .map_err(store)?;
            if current != Some(lease.token as i64) {
                return Err(OutboxError::LeaseLost);
            }
            insert_attempt(connection, &lease, &attempt)
        })
        .await
    }

    async fn settle(
        &self,
        lease: &Lease,
        attempt: &Attempt,
        next: Next,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let (lease, attempt) = (lease.clone(), attempt.clone());
        let wake = self
            .with(move |connection| {
                // One transaction, one commit: the job's fate and its attempt.
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(store)?;
                let wake = match next {
                    Next::RetryAt(at) => {
                        fenced(&transaction, &lease, RESCHEDULE, &[&millis(at)])?;
                        true
                    }
                    Next::Finish(state) => finish_leased(&transaction, &lease, state, now)?,
                };
                insert_attempt(&transaction, &lease, &attempt)?;
                transaction.commit().map_err(store)?;
                Ok(wake)
            })
            .await?;
        if wake {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn reschedule(&self, lease: &Lease, at: SystemTime) -> Result<(), OutboxError> {
        let lease = lease.clone();
        self.with(move |connection| fenced(connection, &lease, RESCHEDULE, &[&millis(at)]))
            .await?;
        self.wakeup.wake();
        Ok(())
    }

    async fn finish(
        &self,
        lease: &Lease,
        state: State,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let lease = lease.clone();
        let released = self
            .with(move |connection| {
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(store)?;
                let released = finish_leased(&transaction, &lease, state, now)?;
                transaction.commit().map_err(store)?;
                Ok(released)
            })
            .await?;
        if released {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError> {
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT COUNT(*) FROM hookwire_outbox WHERE ?1 IS NULL OR state = ?1",
                    params![state.map(State::as_str)],
                    |row| row.get::<_, i64>(0),
                )
                .map(|count| usize::try_from(count).unwrap_or(0))
                .map_err(store)
        })
        .await
    }

    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let before = millis(finished_before);
        self.with(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store)?;
            transaction
                .execute(
                    "DELETE FROM hookwire_attempts WHERE (endpoint, id) IN (
                         SELECT endpoint, id FROM hookwire_outbox
                         WHERE state IN ('delivered', 'gone') AND next_at < ?1)",
                    params![before],
                )
                .map_err(store)?;
            let purged = transaction
                .execute(
                    "DELETE FROM hookwire_outbox
                     WHERE state IN ('delivered', 'gone') AND next_at < ?1",
                    params![before],
                )
                .map_err(store)?;
            // A message goes with the last of its jobs.
            transaction
                .execute(
                    "DELETE FROM hookwire_published
                     WHERE at < ?1 AND NOT EXISTS (
                         SELECT 1 FROM hookwire_outbox o INDEXED BY hookwire_outbox_message
                         WHERE o.id = hookwire_published.id
                           AND o.message_owner = hookwire_published.owner)",
                    params![before],
                )
                .map_err(store)?;
            transaction.commit().map_err(store)?;
            Ok(purged)
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError> {
        let state = query.wanted_state().map(State::as_str);
        let (after_endpoint, after_id) = match query.start_after() {
            Some((endpoint, id)) => (Some(endpoint.to_owned()), Some(id.to_owned())),
            None => (None, None),
        };
        let limit = i64::try_from(query.max()).unwrap_or(i64::MAX);
        let endpoint = query.wanted_endpoint().map(str::to_owned);
        let event_type = query.wanted_event_type().map(str::to_owned);
        let (since, before) = (
            query.enqueued_since().map(millis),
            query.enqueued_before().map(millis),
        );
        self.with(move |connection| {
            let mut select = connection
                .prepare(concat!(
                    "SELECT o.endpoint, o.id, o.event_type, o.content_type, ",
                    body_of!("o"),
                    ", o.state, o.next_at,
                            seq_key, seq_number
                     FROM hookwire_outbox o
                     WHERE (?1 IS NULL OR state = ?1)
                       AND (?2 IS NULL OR (endpoint, id) > (?2, ?3))
                       AND (?5 IS NULL OR endpoint = ?5)
                       AND (?6 IS NULL OR event_type = ?6)
                       AND (?7 IS NULL OR enqueued_at >= ?7)
                       AND (?8 IS NULL OR enqueued_at < ?8)
                     ORDER BY endpoint, id LIMIT ?4"
                ))
                .map_err(store)?;
            let filters = (endpoint, event_type, since, before);
            let rows: Vec<_> = select
                .query_map(
                    params![
                        state,
                        after_endpoint,
                        after_id,
                        limit,
                        filters.0,
                        filters.1,
                        filters.2,
                        filters.3
                    ],
                    |row| {
                        Ok((
                            job(row, 0, 7)?,
                            row.get::<_, String>(5)?,
                            row.get::<_, i64>(6)?,
                        ))
                    },
                )
                .map_err(store)?
                .collect::<Result<_, _>>()
                .map_err(store)?;
            let mut attempts_of = connection
                .prepare(
                    "SELECT at, status, error, latency_us, body FROM hookwire_attempts
                     WHERE endpoint = ?1 AND id = ?2 ORDER BY n",
                )
                .map_err(store)?;
            let mut entries = Vec::with_capacity(rows.len());
            for (job, state, next_at) in rows {
                let attempts = attempts_of
                    .query_map(params![job.endpoint, job.payload.id], |row| {
                        Ok(Attempt {
                            at: time(row.get(0)?),
                            status: row
                                .get::<_, Option<i64>>(1)?
                                .and_then(|s| u16::try_from(s).ok())
                                .and_then(|s| StatusCode::from_u16(s).ok()),
                            error: row
                                .get::<_, Option<String>>(2)?
                                .map(|kind| parse_kind(&kind)),
                            latency: Duration::from_micros(
                                u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
                            ),
                            body: Bytes::from(row.get::<_, Vec<u8>>(4)?),
                        })
                    })
                    .map_err(store)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(store)?;
                let state = State::parse(&state).unwrap_or(State::Pending);
                entries.push(Entry {
                    job,
                    state,
                    attempts,
                    next_at: (state == State::Pending).then(|| time(next_at)),
                    finished_at: (state != State::Pending).then(|| time(next_at)),
                });
            }
            Ok(entries)
        })
        .await
    }

    async fn purge_payloads(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let before = millis(finished_before);
        self.with(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store)?;
            let own = transaction
                .execute(
                    "UPDATE hookwire_outbox SET body = x''
                     WHERE state IN ('delivered', 'gone') AND next_at < ?1 AND length(body) > 0",
                    params![before],
                )
                .map_err(store)?;
            // A published body goes once every job of its message finished that long ago.
            let shared = transaction
                .execute(
                    "UPDATE hookwire_published SET body = x''
                     WHERE at < ?1 AND length(body) > 0 AND NOT EXISTS (
                         SELECT 1 FROM hookwire_outbox o INDEXED BY hookwire_outbox_message
                         WHERE o.id = hookwire_published.id
                           AND o.message_owner = hookwire_published.owner
                           AND (o.state NOT IN ('delivered', 'gone') OR o.next_at >= ?1))",
                    params![before],
                )
                .map_err(store)?;
            transaction.commit().map_err(store)?;
            Ok(own + shared)
        })
        .await
    }

    async fn redrive(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        self.again(endpoint, id, now, "('dead', 'gone')").await
    }

    async fn resend(&self, endpoint: &str, id: &str, now: SystemTime) -> Result<bool, OutboxError> {
        self.again(endpoint, id, now, "('dead', 'gone', 'delivered')")
            .await
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, OutboxError> {
        self.with(|connection| {
            connection
                .prepare_cached(NEXT_DUE)
                .and_then(|mut select| select.query_row([], |row| row.get::<_, Option<i64>>(0)))
                .map(|at| at.map(time))
                .map_err(store)
        })
        .await
    }

    fn wakeup(&self) -> Option<&Wakeup> {
        Some(&self.wakeup)
    }

    async fn start_sequence(
        &self,
        endpoint: &str,
        key: &str,
        first: u64,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let (endpoint, key) = (endpoint.to_owned(), key.to_owned());
        let first = i64::try_from(first).unwrap_or(i64::MAX);
        let set_aside_until = millis(now.checked_add(HELD_RECHECK).unwrap_or(now));
        let released = self
            .with(move |connection| {
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(store)?;
                transaction
                    .execute(
                        "INSERT OR IGNORE INTO hookwire_sequences (endpoint, key, next)
                         VALUES (?1, ?2, ?3)",
                        params![endpoint, key, first],
                    )
                    .map_err(store)?;
                let next: i64 = transaction
                    .query_row(
                        "SELECT next FROM hookwire_sequences WHERE endpoint = ?1 AND key = ?2",
                        params![endpoint, key],
                        |row| row.get(0),
                    )
                    .map_err(store)?;
                let released = transaction
                    .prepare_cached(RELEASE)
                    .and_then(|mut release| {
                        release.execute(params![
                            endpoint,
                            key,
                            next - 1,
                            millis(now),
                            set_aside_until
                        ])
                    })
                    .map_err(store)?;
                transaction.commit().map_err(store)?;
                Ok(released > 0)
            })
            .await?;
        if released {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn oldest_pending(&self) -> Result<Option<SystemTime>, OutboxError> {
        self.with(|connection| {
            connection
                .prepare_cached(OLDEST_PENDING)
                .and_then(|mut select| select.query_row([], |row| row.get::<_, Option<i64>>(0)))
                .map(|at| at.map(time))
                .map_err(store)
        })
        .await
    }

    fn keeps_sequences(&self) -> bool {
        true
    }
}

/// Registers `hookwire_wants(event_types, channels, event_type, published_channels)`: whether
/// an endpoint's patterns and channels (one per line) take a message of `event_type` published
/// on `published_channels` (one per line). `publish` matches every endpoint inside SQLite with
/// it, in one statement.
fn register_wants(connection: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    connection.create_scalar_function(
        "hookwire_wants",
        4,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            let text = |n| -> rusqlite::Result<&str> {
                Ok(context.get_raw(n).as_str_or_null()?.unwrap_or(""))
            };
            let published: Vec<&str> = lines(text(3)?).collect();
            Ok(wants(
                lines(text(0)?),
                lines(text(1)?),
                text(2)?,
                &published,
            ))
        },
    )
}

/// The columns a subscription is kept in.
const ENDPOINT_COLUMNS: &str = "id, owner, url, keys, event_types, channels, headers, description,
    metadata, rate_limit, max_in_flight, ordered, disabled_at, disabled_reason";

/// The subscription in a row of [`ENDPOINT_COLUMNS`].
fn endpoint(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Subscription, Unreadable>> {
    let stored = Stored {
        id: row.get(0)?,
        owner: row.get(1)?,
        url: row.get(2)?,
        keys: row.get(3)?,
        event_types: row.get(4)?,
        channels: row.get(5)?,
        headers: row.get(6)?,
        description: row.get(7)?,
        metadata: row.get(8)?,
        rate_limit: row.get(9)?,
        max_in_flight: row.get(10)?,
        ordered: row.get(11)?,
        disabled_at: row.get::<_, Option<i64>>(12)?.map(time),
        disabled_reason: row.get(13)?,
    };
    Ok(stored.read())
}

/// Reads the subscriptions `sql` selects with `params`.
fn endpoints(
    connection: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Subscription>, OutboxError> {
    let mut select = connection.prepare_cached(sql).map_err(store)?;
    let rows = select.query_map(params, endpoint).map_err(store)?;
    let mut subscriptions = Vec::new();
    for row in rows {
        subscriptions.push(row.map_err(store)?.map_err(store)?);
    }
    Ok(subscriptions)
}

/// Adds a job, unless one with its (endpoint, id) is there: endpoint, id, event type, content
/// type, body, due time, sequence key and number.
const INSERT_JOB: &str = "INSERT OR IGNORE INTO hookwire_outbox
    (endpoint, id, event_type, content_type, body, state, next_at, seq_key, seq_number,
     enqueued_at)
    VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?6)";

/// Adds a job for `endpoint` due at `at`, unless it is there.
fn insert_job(connection: &Connection, job: &Job, at: SystemTime) -> Result<usize, OutboxError> {
    connection
        .prepare_cached(INSERT_JOB)
        .and_then(|mut insert| {
            insert.execute(params![
                job.endpoint,
                job.payload.id,
                job.payload.event_type,
                job.payload
                    .content_type
                    .to_str()
                    .unwrap_or("application/octet-stream"),
                &job.payload.body[..],
                millis(at),
                job.sequence.as_ref().map(|s| &s.key),
                job.sequence
                    .as_ref()
                    .map(|s| i64::try_from(s.number).unwrap_or(i64::MAX))
            ])
        })
        .map_err(store)
}

#[async_trait]
impl Subscriptions for SqliteOutbox {
    async fn save(&self, subscription: &Subscription) -> Result<(), OutboxError> {
        let subscription = subscription.clone();
        self.with(move |connection| {
            let stored = Stored::new(&subscription);
            let values: [&dyn rusqlite::ToSql; 14] = [
                &stored.id,
                &stored.owner,
                &stored.url,
                &stored.keys,
                &stored.event_types,
                &stored.channels,
                &stored.headers,
                &stored.description,
                &stored.metadata,
                &stored.rate_limit,
                &stored.max_in_flight,
                &stored.ordered,
                &stored.disabled_at.map(millis),
                &stored.disabled_reason,
            ];
            connection
                .prepare_cached(&format!(
                    "INSERT INTO hookwire_endpoints ({ENDPOINT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                     ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, url = excluded.url,
                         keys = excluded.keys, event_types = excluded.event_types,
                         channels = excluded.channels, headers = excluded.headers,
                         description = excluded.description, metadata = excluded.metadata,
                         rate_limit = excluded.rate_limit, max_in_flight = excluded.max_in_flight,
                         ordered = excluded.ordered"
                ))
                .and_then(|mut upsert| upsert.execute(&values[..]))
                .map_err(store)?;
            Ok(())
        })
        .await
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, OutboxError> {
        let id = id.to_owned();
        self.with(move |connection| {
            let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM hookwire_endpoints WHERE id = ?1");
            Ok(endpoints(connection, &sql, &[&id])?.pop())
        })
        .await
    }

    async fn subscriptions(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Subscription>, OutboxError> {
        let (owner, after) = (owner.to_owned(), after.map(str::to_owned));
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        self.with(move |connection| {
            let sql = format!(
                "SELECT {ENDPOINT_COLUMNS} FROM hookwire_endpoints
                 WHERE owner = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
            );
            endpoints(connection, &sql, &[&owner, &after, &limit])
        })
        .await
    }

    async fn remove(&self, id: &str) -> Result<bool, OutboxError> {
        let id = id.to_owned();
        self.with(move |connection| {
            connection
                .execute("DELETE FROM hookwire_endpoints WHERE id = ?1", params![id])
                .map(|removed| removed == 1)
                .map_err(store)
        })
        .await
    }

    async fn disable(&self, id: &str, reason: &str, now: SystemTime) -> Result<bool, OutboxError> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.with(move |connection| {
            connection
                .execute(
                    "UPDATE hookwire_endpoints SET disabled_at = ?2, disabled_reason = ?3
                     WHERE id = ?1 AND disabled_at IS NULL",
                    params![id, millis(now), reason],
                )
                .map(|changed| changed == 1)
                .map_err(store)
        })
        .await
    }

    async fn enable(&self, id: &str) -> Result<bool, OutboxError> {
        let id = id.to_owned();
        self.with(move |connection| {
            connection
                .execute(
                    "UPDATE hookwire_endpoints SET disabled_at = NULL, disabled_reason = NULL,
                         failing_since = NULL, paused_until = NULL
                     WHERE id = ?1 AND disabled_at IS NOT NULL",
                    params![id],
                )
                .map(|changed| changed == 1)
                .map_err(store)
        })
        .await
    }

    async fn failing(
        &self,
        id: &str,
        now: Option<SystemTime>,
    ) -> Result<Option<SystemTime>, OutboxError> {
        let id = id.to_owned();
        self.with(move |connection| match now {
            Some(now) => connection
                .query_row(
                    "UPDATE hookwire_endpoints SET failing_since = COALESCE(failing_since, ?2)
                     WHERE id = ?1 RETURNING failing_since",
                    params![id, millis(now)],
                    |row| row.get::<_, i64>(0),
                )
                .optional()
                .map(|since| since.map(time))
                .map_err(store),
            None => connection
                .execute(
                    "UPDATE hookwire_endpoints SET failing_since = NULL
                     WHERE id = ?1 AND failing_since IS NOT NULL",
                    params![id],
                )
                .map(|_| None)
                .map_err(store),
        })
        .await
    }

    async fn pause(&self, id: &str, until: SystemTime) -> Result<(), OutboxError> {
        let id = id.to_owned();
        self.with(move |connection| {
            connection
                .execute(
                    "UPDATE hookwire_endpoints
                     SET paused_until = MAX(COALESCE(paused_until, 0), ?2) WHERE id = ?1",
                    params![id, millis(until)],
                )
                .map(|_| ())
                .map_err(store)
        })
        .await
    }

    async fn paused_until(&self, id: &str) -> Result<Option<SystemTime>, OutboxError> {
        let id = id.to_owned();
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT paused_until FROM hookwire_endpoints WHERE id = ?1",
                    params![id],
                    |row| row.get::<_, Option<i64>>(0),
                )
                .optional()
                .map(|until| until.flatten().map(time))
                .map_err(store)
        })
        .await
    }

    async fn publish(
        &self,
        owner: &str,
        payload: &Payload,
        channels: &[String],
        now: SystemTime,
    ) -> Result<Published, OutboxError> {
        let (owner, payload, channels) = (owner.to_owned(), payload.clone(), channels.to_vec());
        let published = self
            .with(move |connection| {
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(store)?;
                let new = transaction
                    .prepare_cached(
                        "INSERT OR IGNORE INTO hookwire_published (owner, id, at, body)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|mut insert| {
                        insert.execute(params![owner, payload.id, millis(now), &payload.body[..]])
                    })
                    .map_err(store)?;
                if new == 0 {
                    return Ok(Published::new(Vec::new(), true));
                }
                let content_type = payload
                    .content_type
                    .to_str()
                    .unwrap_or("application/octet-stream");
                let published_channels = channels.join("\n");
                // Every endpoint that keeps no order, matched and queued in one statement.
                let mut endpoints = transaction
                    .prepare_cached(
                        "INSERT OR IGNORE INTO hookwire_outbox
                         (endpoint, id, event_type, content_type, body, state, next_at,
                          enqueued_at, message_owner)
                         SELECT e.id, ?2, ?3, ?4, x'', 'pending', ?5, ?5, ?1
                         FROM hookwire_endpoints e
                         WHERE e.owner = ?1 AND e.disabled_at IS NULL AND NOT e.ordered
                           AND hookwire_wants(e.event_types, e.channels, COALESCE(?3, ''), ?6)
                         RETURNING endpoint",
                    )
                    .and_then(|mut insert| {
                        insert
                            .query_map(
                                params![
                                    owner,
                                    payload.id,
                                    payload.event_type,
                                    content_type,
                                    millis(now),
                                    published_channels
                                ],
                                |row| row.get::<_, String>(0),
                            )?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(store)?;
                // The ordered ones, each numbered.
                let ordered: Vec<(String, i64)> = transaction
                    .prepare_cached(
                        "UPDATE hookwire_endpoints SET next_number = next_number + 1
                         WHERE owner = ?1 AND disabled_at IS NULL AND ordered
                           AND hookwire_wants(event_types, channels, COALESCE(?2, ''), ?3)
                         RETURNING id, next_number - 1",
                    )
                    .and_then(|mut number| {
                        number
                            .query_map(
                                params![owner, payload.event_type, published_channels],
                                |row| Ok((row.get(0)?, row.get(1)?)),
                            )?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(store)?;
                if !ordered.is_empty() {
                    let mut insert = transaction
                        .prepare_cached(
                            "INSERT OR IGNORE INTO hookwire_outbox
                             (endpoint, id, event_type, content_type, body, state, next_at,
                              seq_key, seq_number, enqueued_at, message_owner)
                             VALUES (?1, ?2, ?3, ?4, x'', 'pending', ?5, ?6, ?7, ?5, ?8)",
                        )
                        .map_err(store)?;
                    for (endpoint, number) in ordered {
                        insert
                            .execute(params![
                                endpoint,
                                payload.id,
                                payload.event_type,
                                content_type,
                                millis(now),
                                super::memory::ORDERED_KEY,
                                number,
                                owner
                            ])
                            .map_err(store)?;
                        endpoints.push(endpoint);
                    }
                }
                endpoints.sort_unstable();
                transaction.commit().map_err(store)?;
                Ok(Published::new(endpoints, false))
            })
            .await?;
        if !published.endpoints.is_empty() {
            self.wakeup.wake();
        }
        Ok(published)
    }
}

super::subscription::destinations_from_subscriptions!(SqliteOutbox);

#[async_trait]
impl crate::consume::Cursors for SqliteOutbox {
    async fn load_cursor(
        &self,
        name: &str,
    ) -> Result<Option<crate::consume::Position>, OutboxError> {
        let name = name.to_owned();
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT cursor, etag FROM hookwire_cursors WHERE name = ?1",
                    params![name],
                    |row| {
                        Ok(crate::consume::Position {
                            cursor: row.get(0)?,
                            etag: row.get(1)?,
                        })
                    },
                )
                .optional()
                .map_err(store)
        })
        .await
    }

    async fn save_cursor(
        &self,
        name: &str,
        position: &crate::consume::Position,
    ) -> Result<(), OutboxError> {
        let (name, position) = (name.to_owned(), position.clone());
        self.with(move |connection| {
            connection
                .execute(
                    "INSERT INTO hookwire_cursors (name, cursor, etag, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE
                     SET cursor = excluded.cursor, etag = excluded.etag,
                         updated_at = excluded.updated_at",
                    params![
                        name,
                        position.cursor,
                        position.etag,
                        millis(SystemTime::now())
                    ],
                )
                .map_err(store)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_from_before_sequences_is_migrated_and_keeps_its_jobs() {
        let dir = std::env::temp_dir().join(format!("hookwire-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        {
            // What the first version wrote: its schema, a pending job, user_version 0.
            let connection = Connection::open(&path).unwrap();
            connection.execute_batch(SCHEMA).unwrap();
            connection
                .execute(
                    "INSERT INTO hookwire_outbox (endpoint, id, content_type, body, state, next_at)
                     VALUES ('ep', 'msg_old', 'application/json', x'7b7d', 'pending', 0)",
                    [],
                )
                .unwrap();
        }
        // Two opens: the second finds the file migrated and changes nothing.
        let _ = SqliteOutbox::open(&path).await.unwrap();
        let outbox = SqliteOutbox::open(&path).await.unwrap();
        let version: i64 = outbox
            .with(|c| {
                c.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(store)
            })
            .await
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let leases = outbox
            .lease(SystemTime::now(), 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].job.payload.id, "msg_old");
        assert_eq!(leases[0].job.sequence, None);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// SQLite's plan for `sql`, one line per step.
    fn plan(connection: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let mut explain = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = explain
            .query_map(params, |row| row.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn lease_and_next_due_read_the_due_index_and_never_scan_finished_jobs() {
        let mut connection = Connection::open_in_memory().unwrap();
        prepare(&mut connection).unwrap();
        // A long history: the planner sees the table as it is after months of sending.
        connection
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO hookwire_outbox (endpoint, id, content_type, body, state, next_at)
                 SELECT 'ep', 'old_' || i, 'application/json', x'7b7d',
                        CASE WHEN i % 100 = 0 THEN 'pending' ELSE 'delivered' END, i FROM n;
                 ANALYZE;",
            )
            .unwrap();
        let lease = plan(&connection, LEASE, &[&0i64, &16i64]);
        assert!(
            lease.contains("SEARCH o USING INDEX hookwire_outbox_due (state=? AND next_at<?)"),
            "lease reads the due index from its start:\n{lease}"
        );
        assert!(
            !lease.contains("SCAN o") && !lease.contains("TEMP B-TREE"),
            "lease neither scans the table nor sorts:\n{lease}"
        );
        assert!(
            lease.contains("USING COVERING INDEX sqlite_autoindex_hookwire_attempts_1"),
            "attempts are counted from their key:\n{lease}"
        );
        assert!(
            lease.contains(
                "SEARCH s USING INDEX sqlite_autoindex_hookwire_sequences_1 (endpoint=? AND key=?)"
            ),
            "a job's turn is read from its key's row:\n{lease}"
        );
        let next_due = plan(&connection, NEXT_DUE, &[]);
        assert!(
            next_due.contains(
                "SEARCH hookwire_outbox USING COVERING INDEX hookwire_outbox_due (state=?)"
            ),
            "next_due reads the due index:\n{next_due}"
        );
        let hold_back = plan(&connection, HOLD_BACK, &[&0i64, &5000i64]);
        assert!(
            hold_back.contains("SEARCH o USING INDEX hookwire_outbox_held (next_at<?)"),
            "only sequenced due jobs are looked at to be set aside:\n{hold_back}"
        );
        let oldest = plan(&connection, OLDEST_PENDING, &[]);
        assert!(
            oldest.contains("SEARCH hookwire_outbox USING COVERING INDEX hookwire_outbox_waiting"),
            "oldest_pending reads its index:\n{oldest}"
        );
        let release = plan(
            &connection,
            RELEASE,
            &[&"ep", &"acct", &1i64, &0i64, &5000i64],
        );
        assert!(
            release.contains(
                "SEARCH hookwire_outbox USING INDEX hookwire_outbox_sequence (endpoint=? AND seq_key=? AND seq_number<?)"
            ),
            "a finished job finds the next of its key from the key:\n{release}"
        );
    }
}

//! An [`Outbox`] in PostgreSQL: the application's own database, for many workers on many
//! machines.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use sqlx::postgres::{PgListener, PgPool, PgRow};
use sqlx::{PgExecutor, Row};
use time::OffsetDateTime;

use super::dispatcher::Payload;
use super::outbox::{
    Entry, HELD_RECHECK, Job, Lease, ListQuery, Next, Outbox, OutboxError, Sequence, State,
};
use super::outcome::{Attempt, parse_kind};
use super::subscription::{Published, Stored, Subscription, Subscriptions, lines, wants};
use super::wakeup::Wakeup;
use crate::postgres::Schema;

/// The SQL of every statement, written once for the schema.
#[derive(Debug)]
struct Statements {
    enqueue: String,
    lease: String,
    record: String,
    settle: String,
    reschedule: String,
    finish: String,
    list: String,
    attempts: String,
    count: String,
    purge: String,
    redrive: String,
    resend: String,
    next_due: String,
    oldest_pending: String,
    start_sequence: String,
}

/// Whether the pending job `o` may be leased: it has no sequence, or the jobs before it in
/// its key have finished.
const IN_TURN: &str = "(o.seq_key IS NULL OR o.seq_number <= coalesce(
    (SELECT s.next FROM {schema}.hookwire_sequences s
     WHERE s.endpoint = o.endpoint AND s.key = o.seq_key), 1))";

/// A job's body: its own, or its published message's, stored once for all its endpoints.
const BODY_OF: &str = "CASE WHEN {job}.message_owner IS NULL THEN {job}.body ELSE
    (SELECT p.body FROM {schema}.hookwire_published p
     WHERE p.owner = {job}.message_owner AND p.id = {job}.id) END AS body";

/// After a job `$1` finishes in state `$4` (`NULL` while it is still pending) at `$5`, lets the
/// jobs of its key (`$13`) after its number (`$14`) go, and makes the next one (set aside, or
/// due within the recheck time) due at `$5`. Used inside a statement that has a `job` CTE
/// with the finished row.
const ADVANCE: &str = "advanced AS (
    INSERT INTO {schema}.hookwire_sequences (endpoint, key, next)
    SELECT endpoint, $13, $14 + 1 FROM job
    WHERE $13::text IS NOT NULL AND $4::text IS NOT NULL AND $4::text <> 'dead'
    ON CONFLICT (endpoint, key) DO UPDATE
    SET next = greatest({schema}.hookwire_sequences.next, excluded.next)
    RETURNING 1),
released AS (
    UPDATE {schema}.hookwire_outbox SET next_at = least(next_at, $5)
    WHERE endpoint = $1 AND seq_key = $13 AND state = 'pending' AND seq_number <= $14 + 1
      AND next_at <= $5 + {recheck} AND EXISTS (SELECT 1 FROM advanced)
    RETURNING 1)";

impl Statements {
    fn new(schema: &Schema) -> Self {
        let sql = |text: &str| {
            schema.sql(
                &text
                    .replace("{in_turn}", IN_TURN)
                    .replace("{advance}", ADVANCE)
                    .replace("{body_of_j}", &BODY_OF.replace("{job}", "j"))
                    .replace("{body_of_o}", &BODY_OF.replace("{job}", "o"))
                    .replace(
                        "{recheck}",
                        &format!("interval '{} seconds'", HELD_RECHECK.as_secs()),
                    ),
            )
        };
        Statements {
            // One statement: the job and, when it is new, the notification, which PostgreSQL
            // sends when (and only if) the surrounding transaction commits.
            enqueue: sql("WITH inserted AS (
                     INSERT INTO {schema}.hookwire_outbox
                         (endpoint, id, event_type, content_type, body, next_at, seq_key,
                          seq_number, enqueued_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $8, $9, $6)
                     ON CONFLICT (endpoint, id) DO NOTHING
                     RETURNING 1)
                 SELECT pg_notify($7, '') FROM inserted"),
            // One statement, so that workers never block each other: the due jobs in their
            // turn that no other transaction holds, stamped with a lease that moves their due
            // time to its end.
            // First, the due jobs that must wait for an earlier one of their key are set
            // aside until the recheck time, so that every lease does not read them again.
            lease: sql("WITH held AS (
                     UPDATE {schema}.hookwire_outbox h SET next_at = $1 + {recheck}
                     FROM (SELECT endpoint, id FROM {schema}.hookwire_outbox o
                           WHERE state = 'pending' AND seq_key IS NOT NULL AND next_at <= $1
                             AND NOT {in_turn}
                           FOR UPDATE SKIP LOCKED) waiting
                     WHERE h.endpoint = waiting.endpoint AND h.id = waiting.id)
                 UPDATE {schema}.hookwire_outbox j
                 SET lease_until = $2, next_at = greatest(j.next_at, $2), token = j.token + 1
                 FROM (SELECT endpoint, id FROM {schema}.hookwire_outbox o
                       WHERE state = 'pending' AND next_at <= $1 AND {in_turn}
                       ORDER BY next_at LIMIT $3
                       FOR UPDATE SKIP LOCKED) due
                 WHERE j.endpoint = due.endpoint AND j.id = due.id
                 RETURNING j.endpoint, j.id, j.event_type, j.content_type, {body_of_j}, j.token,
                     (SELECT count(*) FROM {schema}.hookwire_attempts a
                      WHERE a.endpoint = j.endpoint AND a.id = j.id) - j.round_start,
                     j.seq_key, j.seq_number, j.enqueued_at"),
            record: sql("INSERT INTO {schema}.hookwire_attempts
                     (endpoint, id, n, at, status, error, latency_us, body)
                 SELECT $1, $2,
                     (SELECT count(*) FROM {schema}.hookwire_attempts WHERE endpoint = $1 AND id = $2),
                     $4, $5, $6, $7, $8
                 WHERE EXISTS (SELECT 1 FROM {schema}.hookwire_outbox
                     WHERE endpoint = $1 AND id = $2 AND token = $3 AND state = 'pending')"),
            // One statement, one commit: the attempt and what follows it. The job's row is
            // fenced by its token; the attempt is written, and the job's key advanced, only if
            // the row was.
            settle: sql("WITH job AS (
                     UPDATE {schema}.hookwire_outbox SET
                         state = coalesce($4, state),
                         finished_at = CASE WHEN $4::text IS NULL THEN NULL ELSE $5 END,
                         next_at = coalesce($6, next_at),
                         lease_until = NULL
                     WHERE endpoint = $1 AND id = $2 AND token = $3 AND state = 'pending'
                     RETURNING endpoint, id),
                 {advance},
                 attempt AS (
                     INSERT INTO {schema}.hookwire_attempts
                         (endpoint, id, n, at, status, error, latency_us, body)
                     SELECT endpoint, id,
                         (SELECT count(*) FROM {schema}.hookwire_attempts a
                          WHERE a.endpoint = $1 AND a.id = $2),
                         $7, $8, $9, $10, $11
                     FROM job)
                 SELECT (SELECT count(*) FROM job) AS settled,
                     (SELECT count(*) FROM advanced) AS advanced,
                     (SELECT count(*) FROM (SELECT pg_notify($12, '') FROM job
                                            WHERE $6::timestamptz IS NOT NULL
                                               OR EXISTS (SELECT 1 FROM advanced)) n)
                         AS notified"),
            reschedule: sql("WITH released AS (
                     UPDATE {schema}.hookwire_outbox SET next_at = $4, lease_until = NULL
                     WHERE endpoint = $1 AND id = $2 AND token = $3 AND state = 'pending'
                     RETURNING 1)
                 SELECT pg_notify($5, '') FROM released"),
            finish: sql("WITH job AS (
                     UPDATE {schema}.hookwire_outbox
                     SET state = $4, finished_at = $5, lease_until = NULL
                     WHERE endpoint = $1 AND id = $2 AND token = $3 AND state = 'pending'
                     RETURNING endpoint, id),
                 {advance}
                 SELECT (SELECT count(*) FROM job) AS settled,
                     (SELECT count(*) FROM advanced) AS advanced,
                     (SELECT count(*) FROM (SELECT pg_notify($12, '') FROM advanced) n)
                         AS notified"),
            list: sql("SELECT endpoint, id, event_type, content_type, {body_of_o}, state, next_at,
                     finished_at, seq_key, seq_number
                 FROM {schema}.hookwire_outbox o
                 WHERE ($1::text IS NULL OR state = $1)
                   AND ($2::text IS NULL OR (endpoint, id) > ($2, $3))
                   AND ($5::text IS NULL OR endpoint = $5)
                   AND ($6::text IS NULL OR event_type = $6)
                   AND ($7::timestamptz IS NULL OR enqueued_at >= $7)
                   AND ($8::timestamptz IS NULL OR enqueued_at < $8)
                 ORDER BY endpoint, id LIMIT $4"),
            attempts: sql("SELECT endpoint, id, at, status, error, latency_us, body
                 FROM {schema}.hookwire_attempts
                 WHERE (endpoint, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                 ORDER BY endpoint, id, n"),
            count: sql("SELECT count(*) FROM {schema}.hookwire_outbox
                 WHERE $1::text IS NULL OR state = $1"),
            purge: sql("DELETE FROM {schema}.hookwire_outbox
                 WHERE state IN ('delivered', 'gone') AND finished_at < $1"),
            redrive: sql("WITH redriven AS (
                     UPDATE {schema}.hookwire_outbox SET state = 'pending', next_at = $3,
                         lease_until = NULL, finished_at = NULL,
                         round_start = (SELECT count(*) FROM {schema}.hookwire_attempts
                                        WHERE endpoint = $1 AND id = $2)
                     WHERE endpoint = $1 AND id = $2 AND state IN ('dead', 'gone')
                     RETURNING 1)
                 SELECT pg_notify($4, '') FROM redriven"),
            resend: sql("WITH redriven AS (
                     UPDATE {schema}.hookwire_outbox SET state = 'pending', next_at = $3,
                         lease_until = NULL, finished_at = NULL,
                         round_start = (SELECT count(*) FROM {schema}.hookwire_attempts
                                        WHERE endpoint = $1 AND id = $2)
                     WHERE endpoint = $1 AND id = $2 AND state IN ('dead', 'gone', 'delivered')
                     RETURNING 1)
                 SELECT pg_notify($4, '') FROM redriven"),
            // A job set aside counts at the end of its wait, when `lease` looks at it again.
            next_due: sql("SELECT min(next_at) FROM {schema}.hookwire_outbox
                 WHERE state = 'pending'"),
            oldest_pending: sql("SELECT min(enqueued_at) FROM {schema}.hookwire_outbox
                 WHERE state = 'pending'"),
            // The key's position: the one it had, or `$3` when it had none (the insert's row is
            // not visible to the rest of the statement, so it is read from `started`).
            start_sequence: sql("WITH started AS (
                     INSERT INTO {schema}.hookwire_sequences (endpoint, key, next)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (endpoint, key) DO NOTHING
                     RETURNING next),
                 position AS (
                     SELECT next FROM started
                     UNION ALL
                     SELECT next FROM {schema}.hookwire_sequences
                     WHERE endpoint = $1 AND key = $2),
                 released AS (
                     UPDATE {schema}.hookwire_outbox SET next_at = least(next_at, $4)
                     WHERE endpoint = $1 AND seq_key = $2 AND state = 'pending'
                       AND seq_number <= (SELECT max(next) FROM position)
                       AND next_at <= $4 + {recheck}
                     RETURNING 1)
                 SELECT (SELECT count(*) FROM released) AS released,
                     (SELECT count(*) FROM (SELECT pg_notify($5, '')
                                            WHERE EXISTS (SELECT 1 FROM released)) n) AS notified"),
        }
    }
}

/// An [`Outbox`] in PostgreSQL, for any number of workers on any number of machines.
///
/// - **Transactional enqueue**: [`enqueue_in`](PostgresOutbox::enqueue_in) writes the job in
///   the caller's own transaction, so that a business write and its webhook commit together
///   or not at all (the transactional outbox pattern).
/// - **Leasing** is one statement (`UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`), so
///   that workers never wait for each other; a lease moves the job's due time to its end, so
///   that a job whose worker died is taken by another once its lease runs out; the fencing
///   token refuses the late writes of a worker whose lease was lost.
/// - **Wake-ups**: every write that makes work due sends `NOTIFY` on commit; each outbox
///   listens (one connection, from the first [`wakeup`](Outbox::wakeup) call in a tokio
///   runtime) and wakes its workers, whichever process wrote. Workers also sleep until
///   [`next_due`](Outbox::next_due), and poll as a safety net.
/// - No connection is held while an HTTP attempt is in flight: each call takes a connection
///   from the pool for one statement.
///
/// The tables live in a schema (`public` unless [`schema`](PostgresOutbox::schema) says
/// otherwise), created by [`migrate`](PostgresOutbox::migrate).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::SystemTime;
/// use hookwire::deliver::{Job, Payload, PostgresOutbox};
///
/// let pool = hookwire::sqlx::PgPool::connect("postgres://app@localhost/app").await?;
/// let outbox = PostgresOutbox::new(pool.clone()).schema("webhooks")?;
/// outbox.migrate().await?;
///
/// // The order and its webhook commit together, or neither does.
/// let mut transaction = pool.begin().await?;
/// hookwire::sqlx::query("INSERT INTO orders (id) VALUES ($1)")
///     .bind("ord_1")
///     .execute(&mut *transaction)
///     .await?;
/// let payload = Payload::json("evt_1", "order.created", r#"{"id":"ord_1"}"#);
/// outbox
///     .enqueue_in(&mut *transaction, &Job::new("customer-7", payload), SystemTime::now())
///     .await?;
/// transaction.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresOutbox {
    pool: PgPool,
    schema: Schema,
    statements: Arc<Statements>,
    wakeup: Wakeup,
    listening: Arc<OnceLock<Listening>>,
}

/// The task that turns notifications into wake-ups; it ends when the last clone of the
/// outbox is dropped.
#[derive(Debug)]
struct Listening(tokio::task::JoinHandle<()>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn store(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> OutboxError {
    OutboxError::Store(error.into())
}

fn timestamp(time: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(time)
}

impl PostgresOutbox {
    /// An outbox in `pool`'s database, in the `public` schema. Call
    /// [`migrate`](PostgresOutbox::migrate) once before use.
    pub fn new(pool: PgPool) -> Self {
        let schema = Schema::public();
        PostgresOutbox {
            statements: Arc::new(Statements::new(&schema)),
            pool,
            schema,
            wakeup: Wakeup::new(),
            listening: Arc::default(),
        }
    }

    /// Keeps the tables in the schema `name` (created by [`migrate`](Self::migrate)).
    ///
    /// # Errors
    ///
    /// [`InvalidSchema`](crate::deliver::InvalidSchema) when `name` is not 1 to 63 lowercase ASCII letters, digits and
    /// underscores, not starting with a digit.
    pub fn schema(self, name: &str) -> Result<Self, crate::postgres::InvalidSchema> {
        let schema = Schema::new(name)?;
        Ok(PostgresOutbox {
            statements: Arc::new(Statements::new(&schema)),
            schema,
            listening: Arc::default(),
            ..self
        })
    }

    /// Creates the schema and its tables, or brings them up to this version: idempotent,
    /// versioned (in `hookwire_migrations`), and safe to call from several processes at once.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the database refuses (for example, the role may not create
    /// the schema).
    pub async fn migrate(&self) -> Result<(), OutboxError> {
        self.schema.migrate(&self.pool).await.map_err(store)
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Adds a job due at `at` through `executor`: the caller's transaction (`&mut *transaction`)
    /// or a connection. Inside a transaction, the job exists (and its workers are woken) only
    /// if the transaction commits. Enqueuing the same (endpoint, id) again changes nothing.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when the statement fails; the caller's transaction is then
    /// aborted, as after any failed statement.
    pub async fn enqueue_in<'c>(
        &self,
        executor: impl PgExecutor<'c>,
        job: &Job,
        at: SystemTime,
    ) -> Result<(), OutboxError> {
        sqlx::query(&self.statements.enqueue)
            .bind(&job.endpoint)
            .bind(&job.payload.id)
            .bind(job.payload.event_type.as_deref())
            .bind(
                job.payload
                    .content_type
                    .to_str()
                    .unwrap_or("application/octet-stream"),
            )
            .bind(&job.payload.body[..])
            .bind(timestamp(at))
            .bind(self.schema.channel())
            .bind(job.sequence.as_ref().map(|s| &s.key))
            .bind(job.sequence.as_ref().map(|s| number(s.number)))
            .execute(executor)
            .await
            .map_err(store)?;
        Ok(())
    }

    /// Runs `statement` (redrive or resend) for the job; whether it changed it.
    async fn again(
        &self,
        statement: &str,
        endpoint: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        let done = sqlx::query(statement)
            .bind(endpoint)
            .bind(id)
            .bind(timestamp(now))
            .bind(self.schema.channel())
            .execute(&self.pool)
            .await
            .map_err(store)?;
        let redriven = done.rows_affected() == 1;
        if redriven {
            self.wakeup.wake();
        }
        Ok(redriven)
    }

    /// Starts the task that turns notifications into wake-ups, once, where a tokio runtime
    /// runs.
    fn listen(&self) {
        if self.listening.get().is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (pool, channel, wakeup) = (
            self.pool.clone(),
            self.schema.channel(),
            self.wakeup.clone(),
        );
        let _ = self.listening.get_or_init(|| {
            Listening(runtime.spawn(async move {
                loop {
                    let mut listener = match PgListener::connect_with(&pool).await {
                        Ok(listener) => listener,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    };
                    if listener.listen(&channel).await.is_err() {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    // Whatever was written while nobody listened is found by the next lease.
                    wakeup.wake();
                    // `Ok(None)`: the connection was lost; listen again on a new one.
                    while let Ok(Some(_)) = listener.try_recv().await {
                        wakeup.wake();
                    }
                }
            }))
        });
    }
}

/// A sequence number as stored.
fn number(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX - 1)
}

/// The job in a row read by `lease` or `list`.
fn job(row: &PgRow) -> Result<Job, sqlx::Error> {
    let job = Job::new(row.try_get::<String, _>("endpoint")?, payload(row)?);
    let key: Option<String> = row.try_get("seq_key")?;
    let number: Option<i64> = row.try_get("seq_number")?;
    Ok(match key {
        Some(key) => job.in_sequence(Sequence::new(
            key,
            u64::try_from(number.unwrap_or(0)).unwrap_or(0),
        )),
        None => job,
    })
}

fn payload(row: &PgRow) -> Result<Payload, sqlx::Error> {
    let content_type: String = row.try_get("content_type")?;
    Ok(Payload {
        id: row.try_get("id")?,
        event_type: row.try_get("event_type")?,
        content_type: HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        body: Bytes::from(row.try_get::<Vec<u8>, _>("body")?),
    })
}

/// What `settle` and `finish` answer: whether the fenced row was written (if not, the lease
/// was lost), then whether the job's key let later jobs go.
fn settled(row: &PgRow) -> Result<bool, OutboxError> {
    let settled: i64 = row.try_get("settled").map_err(store)?;
    fenced(u64::try_from(settled).unwrap_or(0))?;
    let advanced: i64 = row.try_get("advanced").map_err(store)?;
    Ok(advanced > 0)
}

/// Runs a fenced statement; no row changed means the lease was lost.
fn fenced(changed: u64) -> Result<(), OutboxError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(OutboxError::LeaseLost)
    }
}

#[async_trait]
impl Outbox for PostgresOutbox {
    async fn enqueue(&self, job: Job, at: SystemTime) -> Result<(), OutboxError> {
        self.enqueue_in(&self.pool, &job, at).await?;
        self.wakeup.wake();
        Ok(())
    }

    async fn lease(
        &self,
        now: SystemTime,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, OutboxError> {
        let until = now.checked_add(lease_for).ok_or_else(|| {
            store(format!(
                "a lease of {lease_for:?} reaches past representable time"
            ))
        })?;
        let rows = sqlx::query(&self.statements.lease)
            .bind(timestamp(now))
            .bind(timestamp(until))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store)?;
        rows.iter()
            .map(|row| {
                let lease = Lease::new(
                    job(row)?,
                    u32::try_from(row.try_get::<i64, _>(6)?).unwrap_or(0),
                    u64::try_from(row.try_get::<i64, _>("token")?).unwrap_or(0),
                );
                let enqueued_at: Option<OffsetDateTime> = row.try_get("enqueued_at")?;
                Ok(match enqueued_at {
                    Some(at) => lease.enqueued_at(at.into()),
                    None => lease,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(store)
    }

    async fn record(&self, lease: &Lease, attempt: &Attempt) -> Result<(), OutboxError> {
        let done = sqlx::query(&self.statements.record)
            .bind(&lease.job.endpoint)
            .bind(&lease.job.payload.id)
            .bind(lease.token as i64)
            .bind(timestamp(attempt.at))
            .bind(attempt.status.map(|s| s.as_u16() as i16))
            .bind(attempt.error.map(|kind| format!("{kind:?}")))
            .bind(i64::try_from(attempt.latency.as_micros()).unwrap_or(i64::MAX))
            .bind(&attempt.body[..])
            .execute(&self.pool)
            .await
            .map_err(store)?;
        fenced(done.rows_affected())
    }

    async fn settle(
        &self,
        lease: &Lease,
        attempt: &Attempt,
        next: Next,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let (state, retry_at) = match next {
            Next::RetryAt(at) => (None, Some(timestamp(at))),
            Next::Finish(state) => (Some(state.as_str()), None),
        };
        let row = sqlx::query(&self.statements.settle)
            .bind(&lease.job.endpoint)
            .bind(&lease.job.payload.id)
            .bind(lease.token as i64)
            .bind(state)
            .bind(timestamp(now))
            .bind(retry_at)
            .bind(timestamp(attempt.at))
            .bind(attempt.status.map(|s| s.as_u16() as i16))
            .bind(attempt.error.map(|kind| format!("{kind:?}")))
            .bind(i64::try_from(attempt.latency.as_micros()).unwrap_or(i64::MAX))
            .bind(&attempt.body[..])
            .bind(self.schema.channel())
            .bind(lease.job.sequence.as_ref().map(|s| &s.key))
            .bind(lease.job.sequence.as_ref().map(|s| number(s.number)))
            .fetch_one(&self.pool)
            .await
            .map_err(store)?;
        if settled(&row)? || retry_at.is_some() {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn reschedule(&self, lease: &Lease, at: SystemTime) -> Result<(), OutboxError> {
        let done = sqlx::query(&self.statements.reschedule)
            .bind(&lease.job.endpoint)
            .bind(&lease.job.payload.id)
            .bind(lease.token as i64)
            .bind(timestamp(at))
            .bind(self.schema.channel())
            .execute(&self.pool)
            .await
            .map_err(store)?;
        fenced(done.rows_affected())?;
        self.wakeup.wake();
        Ok(())
    }

    async fn finish(
        &self,
        lease: &Lease,
        state: State,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        // `finish` shares its numbering with `settle`: $6 to $11 are unused.
        let row = sqlx::query(&self.statements.finish)
            .bind(&lease.job.endpoint)
            .bind(&lease.job.payload.id)
            .bind(lease.token as i64)
            .bind(state.as_str())
            .bind(timestamp(now))
            .bind(None::<OffsetDateTime>)
            .bind(None::<OffsetDateTime>)
            .bind(None::<i16>)
            .bind(None::<String>)
            .bind(None::<i64>)
            .bind(None::<Vec<u8>>)
            .bind(self.schema.channel())
            .bind(lease.job.sequence.as_ref().map(|s| &s.key))
            .bind(lease.job.sequence.as_ref().map(|s| number(s.number)))
            .fetch_one(&self.pool)
            .await
            .map_err(store)?;
        if settled(&row)? {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, OutboxError> {
        let (after_endpoint, after_id) = query.start_after().unzip();
        let rows = sqlx::query(&self.statements.list)
            .bind(query.wanted_state().map(State::as_str))
            .bind(after_endpoint)
            .bind(after_id)
            .bind(i64::try_from(query.max()).unwrap_or(i64::MAX))
            .bind(query.wanted_endpoint())
            .bind(query.wanted_event_type())
            .bind(query.enqueued_since().map(timestamp))
            .bind(query.enqueued_before().map(timestamp))
            .fetch_all(&self.pool)
            .await
            .map_err(store)?;
        let keys: (Vec<String>, Vec<String>) = rows
            .iter()
            .map(|row| Ok((row.try_get("endpoint")?, row.try_get("id")?)))
            .collect::<Result<Vec<(String, String)>, sqlx::Error>>()
            .map_err(store)?
            .into_iter()
            .unzip();
        let attempts = sqlx::query(&self.statements.attempts)
            .bind(&keys.0)
            .bind(&keys.1)
            .fetch_all(&self.pool)
            .await
            .map_err(store)?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let endpoint: String = row.try_get("endpoint").map_err(store)?;
            let id: String = row.try_get("id").map_err(store)?;
            let state: String = row.try_get("state").map_err(store)?;
            let state = State::parse(&state).unwrap_or(State::Pending);
            let history = attempts
                .iter()
                .filter(|a| {
                    a.try_get::<&str, _>("endpoint").ok() == Some(endpoint.as_str())
                        && a.try_get::<&str, _>("id").ok() == Some(id.as_str())
                })
                .map(attempt)
                .collect::<Result<Vec<_>, _>>()
                .map_err(store)?;
            let next_at: OffsetDateTime = row.try_get("next_at").map_err(store)?;
            let finished_at: Option<OffsetDateTime> = row.try_get("finished_at").map_err(store)?;
            entries.push(Entry::new(
                job(row).map_err(store)?,
                state,
                history,
                (state == State::Pending).then(|| next_at.into()),
                finished_at
                    .filter(|_| state != State::Pending)
                    .map(Into::into),
            ));
        }
        Ok(entries)
    }

    async fn count(&self, state: Option<State>) -> Result<usize, OutboxError> {
        let count: i64 = sqlx::query_scalar(&self.statements.count)
            .bind(state.map(State::as_str))
            .fetch_one(&self.pool)
            .await
            .map_err(store)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn purge(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let done = sqlx::query(&self.statements.purge)
            .bind(timestamp(finished_before))
            .execute(&self.pool)
            .await
            .map_err(store)?;
        // A message goes with the last of its jobs (a second statement: it must see the first).
        sqlx::query(&self.schema.sql(
            "DELETE FROM {schema}.hookwire_published p
             WHERE at < $1 AND NOT EXISTS (
                 SELECT 1 FROM {schema}.hookwire_outbox o
                 WHERE o.id = p.id AND o.message_owner = p.owner)",
        ))
        .bind(timestamp(finished_before))
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn purge_payloads(&self, finished_before: SystemTime) -> Result<usize, OutboxError> {
        let own = sqlx::query(&self.schema.sql(
            "UPDATE {schema}.hookwire_outbox SET body = ''::bytea
             WHERE state IN ('delivered', 'gone') AND finished_at < $1 AND octet_length(body) > 0",
        ))
        .bind(timestamp(finished_before))
        .execute(&self.pool)
        .await
        .map_err(store)?;
        // A published body goes once every job of its message finished that long ago.
        let shared = sqlx::query(&self.schema.sql(
            "UPDATE {schema}.hookwire_published p SET body = ''::bytea
             WHERE at < $1 AND octet_length(body) > 0 AND NOT EXISTS (
                 SELECT 1 FROM {schema}.hookwire_outbox o
                 WHERE o.id = p.id AND o.message_owner = p.owner
                   AND (o.state NOT IN ('delivered', 'gone') OR o.finished_at >= $1))",
        ))
        .bind(timestamp(finished_before))
        .execute(&self.pool)
        .await
        .map_err(store)?;
        let purged = own.rows_affected().saturating_add(shared.rows_affected());
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }

    async fn redrive(
        &self,
        endpoint: &str,
        id: &str,
        now: SystemTime,
    ) -> Result<bool, OutboxError> {
        self.again(&self.statements.redrive, endpoint, id, now)
            .await
    }

    async fn resend(&self, endpoint: &str, id: &str, now: SystemTime) -> Result<bool, OutboxError> {
        self.again(&self.statements.resend, endpoint, id, now).await
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, OutboxError> {
        let due: Option<OffsetDateTime> = sqlx::query_scalar(&self.statements.next_due)
            .fetch_one(&self.pool)
            .await
            .map_err(store)?;
        Ok(due.map(Into::into))
    }

    fn wakeup(&self) -> Option<&Wakeup> {
        self.listen();
        Some(&self.wakeup)
    }

    async fn start_sequence(
        &self,
        endpoint: &str,
        key: &str,
        first: u64,
        now: SystemTime,
    ) -> Result<(), OutboxError> {
        let row = sqlx::query(&self.statements.start_sequence)
            .bind(endpoint)
            .bind(key)
            .bind(number(first))
            .bind(timestamp(now))
            .bind(self.schema.channel())
            .fetch_one(&self.pool)
            .await
            .map_err(store)?;
        let released: i64 = row.try_get("released").map_err(store)?;
        if released > 0 {
            self.wakeup.wake();
        }
        Ok(())
    }

    async fn oldest_pending(&self) -> Result<Option<SystemTime>, OutboxError> {
        let oldest: Option<OffsetDateTime> = sqlx::query_scalar(&self.statements.oldest_pending)
            .fetch_one(&self.pool)
            .await
            .map_err(store)?;
        Ok(oldest.map(Into::into))
    }

    fn keeps_sequences(&self) -> bool {
        true
    }
}

fn attempt(row: &PgRow) -> Result<Attempt, sqlx::Error> {
    let at: OffsetDateTime = row.try_get("at")?;
    Ok(Attempt::new(
        at.into(),
        row.try_get::<Option<i16>, _>("status")?
            .and_then(|s| u16::try_from(s).ok())
            .and_then(|s| StatusCode::from_u16(s).ok()),
        row.try_get::<Option<String>, _>("error")?
            .map(|kind| parse_kind(&kind)),
        Duration::from_micros(u64::try_from(row.try_get::<i64, _>("latency_us")?).unwrap_or(0)),
        Bytes::from(row.try_get::<Vec<u8>, _>("body")?),
    ))
}

/// The columns a subscription is kept in.
const ENDPOINT_COLUMNS: &str = "id, owner, url, keys, event_types, channels, headers, description,
    metadata, rate_limit, max_in_flight, ordered, disabled_at, disabled_reason";

/// The subscription in a row of [`ENDPOINT_COLUMNS`].
fn endpoint(row: &PgRow) -> Result<Subscription, OutboxError> {
    let stored = Stored {
        id: row.try_get("id").map_err(store)?,
        owner: row.try_get("owner").map_err(store)?,
        url: row.try_get("url").map_err(store)?,
        keys: row.try_get("keys").map_err(store)?,
        event_types: row.try_get("event_types").map_err(store)?,
        channels: row.try_get("channels").map_err(store)?,
        headers: row.try_get("headers").map_err(store)?,
        description: row.try_get("description").map_err(store)?,
        metadata: row.try_get("metadata").map_err(store)?,
        rate_limit: row.try_get("rate_limit").map_err(store)?,
        max_in_flight: row.try_get("max_in_flight").map_err(store)?,
        ordered: row.try_get("ordered").map_err(store)?,
        disabled_at: row
            .try_get::<Option<OffsetDateTime>, _>("disabled_at")
            .map_err(store)?
            .map(SystemTime::from),
        disabled_reason: row.try_get("disabled_reason").map_err(store)?,
    };
    stored.read().map_err(store)
}

impl PostgresOutbox {
    fn endpoints_sql(&self, tail: &str) -> String {
        self.schema.sql(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM {{schema}}.hookwire_endpoints {tail}"
        ))
    }

    /// [`Subscriptions::publish`] through `connection`: the caller's transaction
    /// (`&mut *transaction`), so that a business write and the deliveries it publishes commit
    /// together or not at all. Workers are woken when (and if) it commits.
    ///
    /// ```no_run
    /// # async fn run(pool: hookwire::sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::SystemTime;
    /// use hookwire::deliver::{Payload, PostgresOutbox};
    ///
    /// let outbox = PostgresOutbox::new(pool.clone());
    /// let mut transaction = pool.begin().await?;
    /// hookwire::sqlx::query("UPDATE transfers SET state = 'settled' WHERE id = $1")
    ///     .bind("tr_1")
    ///     .execute(&mut *transaction)
    ///     .await?;
    /// let payload = Payload::json("evt_tr_1_settled", "transfer.settled", r#"{"id":"tr_1"}"#);
    /// let published = outbox
    ///     .publish_in(&mut transaction, "acme", &payload, &[], SystemTime::now())
    ///     .await?;
    /// transaction.commit().await?;
    /// println!("queued for {:?}", published.endpoints);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`OutboxError::Store`] when a statement fails; the caller's transaction is then aborted.
    pub async fn publish_in(
        &self,
        connection: &mut sqlx::PgConnection,
        owner: &str,
        payload: &Payload,
        channels: &[String],
        now: SystemTime,
    ) -> Result<Published, OutboxError> {
        let sql = |text: &str| self.schema.sql(text);
        let new = sqlx::query(&sql(
            "INSERT INTO {schema}.hookwire_published (owner, id, at, body)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (owner, id) DO NOTHING",
        ))
        .bind(owner)
        .bind(&payload.id)
        .bind(timestamp(now))
        .bind(&payload.body[..])
        .execute(&mut *connection)
        .await
        .map_err(store)?;
        if new.rows_affected() == 0 {
            return Ok(Published::new(Vec::new(), true));
        }
        let event_type = payload.event_type.as_deref().unwrap_or("");
        let rows = sqlx::query(&sql(
            "SELECT id, event_types, channels, ordered FROM {schema}.hookwire_endpoints
             WHERE owner = $1 AND disabled_at IS NULL ORDER BY id",
        ))
        .bind(owner)
        .fetch_all(&mut *connection)
        .await
        .map_err(store)?;
        let (mut endpoints, mut ordered) = (Vec::new(), Vec::new());
        for row in &rows {
            let types: String = row.try_get("event_types").map_err(store)?;
            let subscribed: String = row.try_get("channels").map_err(store)?;
            if wants(lines(&types), lines(&subscribed), event_type, channels) {
                let id: String = row.try_get("id").map_err(store)?;
                if row.try_get::<bool, _>("ordered").map_err(store)? {
                    ordered.push(id.clone());
                }
                endpoints.push(id);
            }
        }
        if endpoints.is_empty() {
            return Ok(Published::new(endpoints, false));
        }
        // The ordered endpoints' next numbers, taken under their rows' locks.
        let numbered = sqlx::query(&sql(
            "UPDATE {schema}.hookwire_endpoints SET next_number = next_number + 1
             WHERE id = ANY($1) RETURNING id, next_number - 1 AS number",
        ))
        .bind(&ordered)
        .fetch_all(&mut *connection)
        .await
        .map_err(store)?;
        let mut numbers = std::collections::HashMap::new();
        for row in &numbered {
            numbers.insert(
                row.try_get::<String, _>("id").map_err(store)?,
                row.try_get::<i64, _>("number").map_err(store)?,
            );
        }
        let sequence: Vec<Option<i64>> =
            endpoints.iter().map(|e| numbers.get(e).copied()).collect();
        sqlx::query(&sql("WITH inserted AS (
                 INSERT INTO {schema}.hookwire_outbox
                     (endpoint, id, event_type, content_type, body, next_at, seq_key,
                      seq_number, enqueued_at, message_owner)
                 SELECT e, $2, $3, $4, ''::bytea, $5, CASE WHEN n IS NULL THEN NULL ELSE $6 END,
                     n, $5, $9
                 FROM unnest($1::text[], $7::bigint[]) AS t(e, n)
                 ON CONFLICT (endpoint, id) DO NOTHING
                 RETURNING 1)
             SELECT pg_notify($8, '') WHERE EXISTS (SELECT 1 FROM inserted)"))
        .bind(&endpoints)
        .bind(&payload.id)
        .bind(payload.event_type.as_deref())
        .bind(
            payload
                .content_type
                .to_str()
                .unwrap_or("application/octet-stream"),
        )
        .bind(timestamp(now))
        .bind(super::memory::ORDERED_KEY)
        .bind(&sequence)
        .bind(self.schema.channel())
        .bind(owner)
        .execute(&mut *connection)
        .await
        .map_err(store)?;
        Ok(Published::new(endpoints, false))
    }
}

#[async_trait]
impl Subscriptions for PostgresOutbox {
    async fn save(&self, subscription: &Subscription) -> Result<(), OutboxError> {
        let stored = Stored::new(subscription);
        sqlx::query(&self.schema.sql(&format!(
            "INSERT INTO {{schema}}.hookwire_endpoints ({ENDPOINT_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, url = excluded.url,
                 keys = excluded.keys, event_types = excluded.event_types,
                 channels = excluded.channels, headers = excluded.headers,
                 description = excluded.description, metadata = excluded.metadata,
                 rate_limit = excluded.rate_limit, max_in_flight = excluded.max_in_flight,
                 ordered = excluded.ordered"
        )))
        .bind(&stored.id)
        .bind(&stored.owner)
        .bind(&stored.url)
        .bind(&stored.keys)
        .bind(&stored.event_types)
        .bind(&stored.channels)
        .bind(&stored.headers)
        .bind(&stored.description)
        .bind(&stored.metadata)
        .bind(stored.rate_limit)
        .bind(stored.max_in_flight)
        .bind(stored.ordered)
        .bind(stored.disabled_at.map(timestamp))
        .bind(&stored.disabled_reason)
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(())
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, OutboxError> {
        sqlx::query(&self.endpoints_sql("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store)?
            .as_ref()
            .map(endpoint)
            .transpose()
    }

    async fn subscriptions(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Subscription>, OutboxError> {
        sqlx::query(&self.endpoints_sql(
            "WHERE owner = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3",
        ))
        .bind(owner)
        .bind(after)
        .bind(i64::try_from(limit.max(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(store)?
        .iter()
        .map(endpoint)
        .collect()
    }

    async fn remove(&self, id: &str) -> Result<bool, OutboxError> {
        let removed = sqlx::query(
            &self
                .schema
                .sql("DELETE FROM {schema}.hookwire_endpoints WHERE id = $1"),
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(removed.rows_affected() == 1)
    }

    async fn disable(&self, id: &str, reason: &str, now: SystemTime) -> Result<bool, OutboxError> {
        let changed = sqlx::query(&self.schema.sql(
            "UPDATE {schema}.hookwire_endpoints SET disabled_at = $2, disabled_reason = $3
             WHERE id = $1 AND disabled_at IS NULL",
        ))
        .bind(id)
        .bind(timestamp(now))
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn enable(&self, id: &str) -> Result<bool, OutboxError> {
        let changed = sqlx::query(&self.schema.sql(
            "UPDATE {schema}.hookwire_endpoints SET disabled_at = NULL, disabled_reason = NULL,
                 failing_since = NULL, paused_until = NULL
             WHERE id = $1 AND disabled_at IS NOT NULL",
        ))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn failing(
        &self,
        id: &str,
        now: Option<SystemTime>,
    ) -> Result<Option<SystemTime>, OutboxError> {
        match now {
            Some(now) => Ok(sqlx::query_scalar::<_, OffsetDateTime>(&self.schema.sql(
                "UPDATE {schema}.hookwire_endpoints SET failing_since = coalesce(failing_since, $2)
                 WHERE id = $1 RETURNING failing_since",
            ))
            .bind(id)
            .bind(timestamp(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(store)?
            .map(SystemTime::from)),
            None => {
                sqlx::query(&self.schema.sql(
                    "UPDATE {schema}.hookwire_endpoints SET failing_since = NULL
                     WHERE id = $1 AND failing_since IS NOT NULL",
                ))
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(store)?;
                Ok(None)
            }
        }
    }

    async fn pause(&self, id: &str, until: SystemTime) -> Result<(), OutboxError> {
        sqlx::query(&self.schema.sql(
            "UPDATE {schema}.hookwire_endpoints
             SET paused_until = greatest(paused_until, $2) WHERE id = $1",
        ))
        .bind(id)
        .bind(timestamp(until))
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(())
    }

    async fn paused_until(&self, id: &str) -> Result<Option<SystemTime>, OutboxError> {
        Ok(sqlx::query_scalar::<_, Option<OffsetDateTime>>(
            &self
                .schema
                .sql("SELECT paused_until FROM {schema}.hookwire_endpoints WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store)?
        .flatten()
        .map(SystemTime::from))
    }

    async fn publish(
        &self,
        owner: &str,
        payload: &Payload,
        channels: &[String],
        now: SystemTime,
    ) -> Result<Published, OutboxError> {
        let mut transaction = self.pool.begin().await.map_err(store)?;
        let published = self
            .publish_in(&mut transaction, owner, payload, channels, now)
            .await?;
        transaction.commit().await.map_err(store)?;
        if !published.endpoints.is_empty() {
            self.wakeup.wake();
        }
        Ok(published)
    }
}

super::subscription::destinations_from_subscriptions!(PostgresOutbox);

#[async_trait]
impl crate::consume::Cursors for PostgresOutbox {
    async fn load_cursor(
        &self,
        name: &str,
    ) -> Result<Option<crate::consume::Position>, OutboxError> {
        let row = sqlx::query(
            &self
                .schema
                .sql("SELECT cursor, etag FROM {schema}.hookwire_cursors WHERE name = $1"),
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(store)?;
        row.map(|row| {
            Ok(crate::consume::Position {
                cursor: row.try_get("cursor")?,
                etag: row.try_get("etag")?,
            })
        })
        .transpose()
        .map_err(|error: sqlx::Error| store(error))
    }

    async fn save_cursor(
        &self,
        name: &str,
        position: &crate::consume::Position,
    ) -> Result<(), OutboxError> {
        sqlx::query(&self.schema.sql(
            "INSERT INTO {schema}.hookwire_cursors (name, cursor, etag) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
             SET cursor = EXCLUDED.cursor, etag = EXCLUDED.etag, updated_at = now()",
        ))
        .bind(name)
        .bind(position.cursor.as_deref())
        .bind(position.etag.as_deref())
        .execute(&self.pool)
        .await
        .map_err(store)?;
        Ok(())
    }
}

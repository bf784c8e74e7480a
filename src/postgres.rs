//! What the PostgreSQL stores share: the schema they live in and its migrations.

use sqlx::Executor;
use sqlx::postgres::PgPool;

/// The schema's versions, in order: each is applied once, in a transaction, by
/// [`PostgresOutbox::migrate`]. `{schema}` stands for the quoted schema name.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "
CREATE TABLE {schema}.hookwire_outbox (
    endpoint     text        NOT NULL,
    id           text        NOT NULL,
    event_type   text,
    content_type text        NOT NULL,
    body         bytea       NOT NULL,
    state        text        NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'delivered', 'gone', 'dead')),
    next_at      timestamptz NOT NULL,
    lease_until  timestamptz,
    token        bigint      NOT NULL DEFAULT 0,
    round_start  integer     NOT NULL DEFAULT 0,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint, id)
);
-- What `lease` and `next_due` read: pending jobs only, by due time.
CREATE INDEX hookwire_outbox_due ON {schema}.hookwire_outbox (next_at)
    WHERE state = 'pending';
-- What retention reads.
CREATE INDEX hookwire_outbox_finished ON {schema}.hookwire_outbox (finished_at)
    WHERE state IN ('delivered', 'gone');
-- What `list` and `count` by state read.
CREATE INDEX hookwire_outbox_state ON {schema}.hookwire_outbox (state, endpoint, id);
CREATE TABLE {schema}.hookwire_attempts (
    endpoint   text        NOT NULL,
    id         text        NOT NULL,
    n          integer     NOT NULL,
    at         timestamptz NOT NULL,
    status     smallint,
    error      text,
    latency_us bigint      NOT NULL,
    body       bytea       NOT NULL,
    PRIMARY KEY (endpoint, id, n),
    FOREIGN KEY (endpoint, id) REFERENCES {schema}.hookwire_outbox ON DELETE CASCADE
);
CREATE TABLE {schema}.hookwire_replay (
    scheme text        NOT NULL,
    id     text        NOT NULL,
    done   boolean     NOT NULL,
    until  timestamptz NOT NULL,
    PRIMARY KEY (scheme, id)
);
CREATE INDEX hookwire_replay_until ON {schema}.hookwire_replay (until);
",
    ),
    (
        2,
        "
CREATE TABLE {schema}.hookwire_cursors (
    name       text        PRIMARY KEY,
    cursor     text,
    etag       text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
",
    ),
    (
        3,
        "
ALTER TABLE {schema}.hookwire_outbox ADD COLUMN seq_key text, ADD COLUMN seq_number bigint;
-- The next number each key lets go; absent means 1.
CREATE TABLE {schema}.hookwire_sequences (
    endpoint text   NOT NULL,
    key      text   NOT NULL,
    next     bigint NOT NULL,
    PRIMARY KEY (endpoint, key)
);
-- What a finished job reads to let the next of its key go.
CREATE INDEX hookwire_outbox_sequence ON {schema}.hookwire_outbox (endpoint, seq_key, seq_number)
    WHERE state = 'pending' AND seq_key IS NOT NULL;
-- What `lease` reads to set aside the jobs that must wait.
CREATE INDEX hookwire_outbox_held ON {schema}.hookwire_outbox (next_at)
    WHERE state = 'pending' AND seq_key IS NOT NULL;
",
    ),
    (
        4,
        "
ALTER TABLE {schema}.hookwire_outbox ADD COLUMN enqueued_at timestamptz;
-- What `oldest_pending` reads.
CREATE INDEX hookwire_outbox_waiting ON {schema}.hookwire_outbox (enqueued_at)
    WHERE state = 'pending';
",
    ),
    (
        5,
        "
-- Subscribed endpoints; the lists are JSON text, as the SQLite store keeps them.
CREATE TABLE {schema}.hookwire_endpoints (
    id              text        PRIMARY KEY,
    owner           text        NOT NULL,
    url             text        NOT NULL,
    keys            text        NOT NULL,
    event_types     text        NOT NULL,
    channels        text        NOT NULL,
    headers         text        NOT NULL,
    description     text        NOT NULL,
    metadata        text        NOT NULL,
    rate_limit      bigint,
    max_in_flight   bigint,
    ordered         boolean     NOT NULL,
    disabled_at     timestamptz,
    disabled_reason text,
    failing_since   timestamptz,
    paused_until    timestamptz,
    next_number     bigint      NOT NULL DEFAULT 1
);
CREATE INDEX hookwire_endpoints_owner ON {schema}.hookwire_endpoints (owner, id);
-- Every message published, so that publishing one twice queues nothing.
CREATE TABLE {schema}.hookwire_published (
    owner text        NOT NULL,
    id    text        NOT NULL,
    at    timestamptz NOT NULL,
    PRIMARY KEY (owner, id)
);
",
    ),
    (
        6,
        "
-- A published message's body is stored once, with its id; its jobs point at it.
ALTER TABLE {schema}.hookwire_published ADD COLUMN body bytea;
ALTER TABLE {schema}.hookwire_outbox ADD COLUMN message_owner text;
-- What purging reads to find whether a message still has jobs.
CREATE INDEX hookwire_outbox_message ON {schema}.hookwire_outbox (id, message_owner)
    WHERE message_owner IS NOT NULL;
",
    ),
];

/// A schema name that is not a plain SQL identifier.
#[derive(Debug, thiserror::Error)]
#[error(
    "the schema name {0:?} is not a plain identifier: use 1 to 63 lowercase ASCII letters, digits and underscores, not starting with a digit"
)]
pub struct InvalidSchema(String);

/// Where hookwire's tables live in a database: a schema, `public` unless chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schema {
    name: String,
}

impl Schema {
    /// The `public` schema, where tables go unless told otherwise.
    pub(crate) fn public() -> Self {
        Schema {
            name: "public".to_owned(),
        }
    }

    pub(crate) fn new(name: &str) -> Result<Self, InvalidSchema> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Schema {
                name: name.to_owned(),
            })
        } else {
            Err(InvalidSchema(name.to_owned()))
        }
    }

    /// `sql` with `{schema}` replaced by the quoted schema name.
    pub(crate) fn sql(&self, sql: &str) -> String {
        sql.replace("{schema}", &format!("\"{}\"", self.name))
    }

    /// The channel `NOTIFY` wakes workers on.
    pub(crate) fn channel(&self) -> String {
        format!("hookwire_outbox_{}", self.name)
    }

    /// Creates the schema and applies the migrations it lacks, under a lock that serializes
    /// concurrent callers.
    pub(crate) async fn migrate(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut transaction = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("hookwire migrations {}", self.name))
            .execute(&mut *transaction)
            .await?;
        // Several statements at once go through `Executor::execute`: the future of
        // `RawSql::execute` on a transaction is not provably `Send` (launchbadge/sqlx#3150).
        let ledger = self.sql(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.hookwire_migrations (
                 version    integer     PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        );
        (&mut *transaction).execute(sqlx::raw_sql(&ledger)).await?;
        let applied: Option<i32> =
            sqlx::query_scalar(&self.sql("SELECT max(version) FROM {schema}.hookwire_migrations"))
                .fetch_one(&mut *transaction)
                .await?;
        for &(version, sql) in MIGRATIONS {
            if applied.is_some_and(|applied| applied >= version) {
                continue;
            }
            let sql = self.sql(sql);
            (&mut *transaction).execute(sqlx::raw_sql(&sql)).await?;
            sqlx::query(
                &self.sql("INSERT INTO {schema}.hookwire_migrations (version) VALUES ($1)"),
            )
            .bind(version)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await
    }
}

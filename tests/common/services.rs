//! The servers the database tests use, named by environment variables:
//!
//! - `HOOKWIRE_TEST_POSTGRES_URL`, for example `postgres://postgres@127.0.0.1:5432/test`;
//! - `HOOKWIRE_TEST_REDIS_URL`, for example `redis://127.0.0.1:6379/`.
//!
//! `.ci/run` sets both. Where one is unset, the tests that need it say so and pass without
//! running (except under CI, where an unset variable fails them). Each test keeps its rows
//! apart: a schema of its own in Postgres, a key prefix of its own in Redis.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the PostgreSQL server.
pub const POSTGRES_URL: &str = "HOOKWIRE_TEST_POSTGRES_URL";
/// The variable naming the Redis server.
pub const REDIS_URL: &str = "HOOKWIRE_TEST_REDIS_URL";

/// The URL in `variable`, or `None` after saying that `test` was skipped and why.
pub fn url(variable: &str, test: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{variable} is unset under CI: {test} must run against the real server"
            );
            eprintln!("SKIPPED {test}: set {variable} to run it against a real server");
            None
        }
    }
}

/// A name no other test run uses: lowercase letters, digits and underscores.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A pool on the test database, or `None` (with a note) where none is configured.
#[cfg(feature = "postgres")]
pub async fn postgres(test: &str) -> Option<hookwire::sqlx::PgPool> {
    let url = url(POSTGRES_URL, test)?;
    Some(
        hookwire::sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect(&url)
            .await
            .unwrap_or_else(|error| panic!("{POSTGRES_URL} is set but unreachable: {error}")),
    )
}

/// Drops a test's schema and everything in it.
#[cfg(feature = "postgres")]
pub async fn drop_schema(pool: &hookwire::sqlx::PgPool, schema: &str) {
    hookwire::sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(pool)
        .await
        .unwrap();
}

//! `hookwire outbox`: the backlog, dead letters, redrive and retention of an outbox.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::deliver::{ListQuery, Outbox, PostgresOutbox, SqliteOutbox, State};

use crate::Failure;
use crate::mock::duration;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The outbox: an SQLite file's path, or a postgres:// URL.
    #[arg(long, global = true, value_name = "PATH or URL")]
    db: Option<String>,
    /// The PostgreSQL schema the tables live in.
    #[arg(long, global = true, default_value = "public")]
    schema: String,
}

#[derive(clap::Subcommand)]
enum Command {
    /// How many jobs wait, by endpoint and state.
    Status,
    /// The jobs in a state, with their attempts.
    List {
        #[arg(long, value_enum, default_value = "dead")]
        state: StateName,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Make the dead-lettered jobs that finished since a time pending again.
    Redrive {
        /// How far back, such as 2h or 1d.
        #[arg(long, value_parser = duration)]
        since: Duration,
    },
    /// Delete the delivered and gone jobs older than this, such as 30d.
    Purge {
        #[arg(long, value_parser = duration)]
        older_than: Duration,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StateName {
    Pending,
    Delivered,
    Gone,
    Dead,
}

impl StateName {
    fn state(self) -> State {
        match self {
            StateName::Pending => State::Pending,
            StateName::Delivered => State::Delivered,
            StateName::Gone => State::Gone,
            StateName::Dead => State::DeadLettered,
        }
    }
}

async fn open(args: &Args) -> Result<Box<dyn Outbox>, Failure> {
    let Some(db) = &args.db else {
        return Err(Failure(
            "give the outbox: --db <SQLite path or postgres:// URL>".into(),
        ));
    };
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let pool = hookwire::sqlx::PgPool::connect(db)
            .await
            .map_err(|error| Failure(format!("cannot connect to PostgreSQL: {error}")))?;
        let outbox = PostgresOutbox::new(pool).schema(&args.schema)?;
        outbox.migrate().await?;
        Ok(Box::new(outbox))
    } else {
        if !std::path::Path::new(db).exists() {
            return Err(Failure(format!(
                "{db} does not exist: give the path of an outbox's SQLite file"
            )));
        }
        Ok(Box::new(SqliteOutbox::open(db).await?))
    }
}

/// Every job in `state` (or all), page after page.
async fn all(
    outbox: &dyn Outbox,
    state: Option<State>,
) -> Result<Vec<hookwire::deliver::Entry>, Failure> {
    let mut query = ListQuery::new().limit(500);
    if let Some(state) = state {
        query = query.state(state);
    }
    let mut entries = Vec::new();
    loop {
        let page = outbox.list(&query).await?;
        match page.last() {
            Some(last) => query = query.after(last),
            None => return Ok(entries),
        }
        entries.extend(page);
    }
}

fn seconds(time: Option<SystemTime>) -> String {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or("-".into(), |d| d.as_secs().to_string())
}

pub async fn run(args: Args, json: bool) -> Result<bool, Failure> {
    let outbox = open(&args).await?;
    match args.command {
        Command::Status => {
            let mut by_endpoint: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
            for entry in all(&*outbox, None).await? {
                *by_endpoint
                    .entry(entry.job.endpoint.clone())
                    .or_default()
                    .entry(entry.state.as_str())
                    .or_default() += 1;
            }
            let oldest = outbox.oldest_pending().await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "endpoints": by_endpoint,
                        "oldest_pending_since": seconds(oldest),
                    })
                );
            } else {
                println!(
                    "{:<32} {:>8} {:>10} {:>6} {:>6}",
                    "endpoint", "pending", "delivered", "gone", "dead"
                );
                for (endpoint, counts) in &by_endpoint {
                    let n = |state: &str| counts.get(state).copied().unwrap_or(0);
                    println!(
                        "{endpoint:<32} {:>8} {:>10} {:>6} {:>6}",
                        n("pending"),
                        n("delivered"),
                        n("gone"),
                        n("dead")
                    );
                }
                if let Some(age) = oldest.and_then(|at| SystemTime::now().duration_since(at).ok()) {
                    println!("the oldest pending job has waited {} s", age.as_secs());
                }
            }
        }
        Command::List { state, limit } => {
            let entries = outbox
                .list(&ListQuery::new().state(state.state()).limit(limit))
                .await?;
            for entry in &entries {
                let last = entry.attempts.last();
                let status = last.and_then(|a| a.status).map(|s| s.as_u16());
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "endpoint": entry.job.endpoint,
                            "id": entry.job.payload.id,
                            "type": entry.job.payload.event_type,
                            "state": entry.state.as_str(),
                            "attempts": entry.attempts.len(),
                            "last_status": status,
                            "finished_at": seconds(entry.finished_at),
                        })
                    );
                } else {
                    println!(
                        "{} {} {} attempts, last answer {}",
                        entry.job.endpoint,
                        entry.job.payload.id,
                        entry.attempts.len(),
                        status.map_or("none".into(), |s| s.to_string())
                    );
                }
            }
        }
        Command::Redrive { since } => {
            let from = SystemTime::now() - since;
            let mut redriven = 0;
            for entry in all(&*outbox, Some(State::DeadLettered)).await? {
                if entry.finished_at.is_some_and(|at| at >= from)
                    && outbox
                        .redrive(
                            &entry.job.endpoint,
                            &entry.job.payload.id,
                            SystemTime::now(),
                        )
                        .await?
                {
                    redriven += 1;
                }
            }
            if json {
                println!("{}", serde_json::json!({ "redriven": redriven }));
            } else {
                println!("{redriven} dead-lettered job(s) pending again");
            }
        }
        Command::Purge { older_than } => {
            let purged = outbox.purge(SystemTime::now() - older_than).await?;
            if json {
                println!("{}", serde_json::json!({ "purged": purged }));
            } else {
                println!("{purged} finished job(s) purged");
            }
        }
    }
    Ok(true)
}

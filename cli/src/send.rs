//! `hookwire send`: deliver events through hookwire's dispatcher.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookwire::adapters::hyper::HyperClient;
use hookwire::clock::TokioClock;
use hookwire::deliver::{Destination, Dispatcher, Outcome, Payload};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::message_id;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The endpoint's URL.
    url: String,
    /// The endpoint's secret (`whsec_<base64>`): deliveries are signed under Standard Webhooks.
    #[arg(long)]
    secret: String,
    /// One event: a JSON file (its `id` and `type` members name the message).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "events",
        required_unless_present = "events"
    )]
    event: Option<PathBuf>,
    /// Many events: one JSON object per line.
    #[arg(long, value_name = "FILE.jsonl")]
    events: Option<PathBuf>,
    /// How many deliveries run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// At most this many deliveries start per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Attempts per delivery, 0.5 s apart and doubling, honouring `Retry-After` up to a minute.
    #[arg(long, default_value_t = 5)]
    attempts: usize,
    /// Deliver to loopback addresses too (local testing); every other non-public address stays
    /// refused.
    #[arg(long)]
    allow_loopback: bool,
}

/// One delivery's result, for the report.
struct Delivered {
    id: String,
    outcome: Outcome,
    attempts: usize,
    last_status: Option<u16>,
}

pub async fn run(args: Args, json: bool) -> Result<bool, Failure> {
    let payloads = read_events(&args)?;
    let mut policy = AddressPolicy::new();
    if args.allow_loopback {
        policy = policy.allow("127.0.0.0/8")?.allow("::1/128")?;
    }
    let delays: Vec<Duration> = std::iter::once(Duration::ZERO)
        .chain((0..args.attempts.max(1) - 1).map(|n| Duration::from_millis(500 << n.min(6))))
        .collect();
    let dispatcher = Arc::new(
        Dispatcher::new(HyperClient::guarded(policy), TokioClock)?.retry(
            RetryPolicy::for_deliveries()
                .backoff(Backoff::list(delays))
                .retry_after_cap(Duration::from_secs(60)),
        ),
    );
    let destination = Arc::new(Destination::new(&args.url, args.secret.as_str())?);
    let total = payloads.len();
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let spacing = args
        .rate
        .filter(|r| *r > 0.0)
        .map(|rate| Duration::from_secs_f64(1.0 / rate));
    let mut running = JoinSet::new();
    let mut results = Vec::with_capacity(total);
    for (n, payload) in payloads.into_iter().enumerate() {
        while running.len() >= args.concurrency.max(1) {
            if let Some(Ok(done)) = running.join_next().await {
                record(&bar, json, &done);
                results.push(done);
            }
        }
        if let Some(spacing) = spacing {
            let due = started + spacing.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let (dispatcher, destination) = (dispatcher.clone(), destination.clone());
        running.spawn(async move {
            let report = dispatcher.deliver(&destination, &payload).await;
            Delivered {
                id: payload.id.clone(),
                attempts: report.attempts.len(),
                last_status: report
                    .attempts
                    .last()
                    .and_then(|attempt| attempt.status)
                    .map(|status| status.as_u16()),
                outcome: report.outcome,
            }
        });
    }
    while let Some(done) = running.join_next().await {
        if let Ok(done) = done {
            record(&bar, json, &done);
            results.push(done);
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let delivered = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Delivered))
        .count();
    let attempts: usize = results.iter().map(|r| r.attempts).sum();
    let elapsed = started.elapsed();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "events": total,
                "delivered": delivered,
                "failed": total - delivered,
                "attempts": attempts,
                "seconds": elapsed.as_secs_f64(),
            })
        );
    } else {
        println!("events     {total}");
        println!("delivered  {delivered}");
        println!("failed     {}", total - delivered);
        println!("attempts   {attempts}");
        println!("time       {:.2} s", elapsed.as_secs_f64());
    }
    Ok(delivered == total)
}

/// One line per finished delivery, where no progress bar shows them.
fn record(bar: &Option<ProgressBar>, json: bool, done: &Delivered) {
    let outcome = match &done.outcome {
        Outcome::Delivered => "delivered".to_owned(),
        Outcome::Gone => "gone (410)".to_owned(),
        Outcome::Exhausted => "failed: the attempts ran out".to_owned(),
        Outcome::Refused(error) => format!("refused: {error}"),
        Outcome::Failed(error) => format!("failed: {error}"),
        other => format!("{other:?}"),
    };
    match bar {
        Some(bar) => bar.inc(1),
        None if json => println!(
            "{}",
            serde_json::json!({
                "id": done.id,
                "outcome": outcome,
                "attempts": done.attempts,
                "status": done.last_status,
            })
        ),
        None => println!(
            "{} {outcome} after {} attempt(s){}",
            done.id,
            done.attempts,
            done.last_status
                .map_or(String::new(), |s| format!(", last answer {s}"))
        ),
    }
}

/// The events to send, as payloads.
fn read_events(args: &Args) -> Result<Vec<Payload>, Failure> {
    let (path, many) = match (&args.event, &args.events) {
        (Some(path), _) => (path, false),
        (None, Some(path)) => (path, true),
        (None, None) => return Err(Failure("give --event FILE or --events FILE.jsonl".into())),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| Failure(format!("cannot read {}: {error}", path.display())))?;
    let documents: Vec<&str> = if many {
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .collect()
    } else {
        vec![text.as_str()]
    };
    documents
        .into_iter()
        .enumerate()
        .map(|(n, document)| {
            let value: serde_json::Value = serde_json::from_str(document).map_err(|error| {
                Failure(format!(
                    "{} (event {}): not JSON: {error}",
                    path.display(),
                    n + 1
                ))
            })?;
            let id = value
                .get("id")
                .and_then(serde_json::Value::as_str)
                .map_or_else(message_id, str::to_owned);
            let ty = value
                .get("type")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("event")
                .to_owned();
            Ok(Payload::json(id, ty, document.trim().to_owned()))
        })
        .collect()
}

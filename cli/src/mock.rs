//! `hookwire mock-receiver`: a receiver that fails on purpose.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hookwire::http::StatusCode;
use hookwire::http::header::RETRY_AFTER;
use hookwire::webhook::{Inbound, Verify};

use crate::Failure;
use crate::schemes::{self, SchemeName};
use crate::serve::{Received, clock, serve, status};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// The share of requests answered 500 (or --status), from 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// How long each answer takes, such as 50ms or 2s.
    #[arg(long, value_parser = duration, default_value = "0ms")]
    latency: Duration,
    /// The status failing requests get (500 unless set).
    #[arg(long, default_value_t = 500)]
    status: u16,
    /// The `Retry-After` (seconds) failing requests get.
    #[arg(long)]
    retry_after: Option<u64>,
    /// Verify requests under this scheme (unverified ones get 401).
    #[arg(long, value_enum, requires = "secret")]
    scheme: Option<SchemeName>,
    #[arg(long)]
    secret: Option<String>,
    /// The seed of the failures' pseudo-random choice, for a repeatable run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// A duration such as `50ms`, `2s` or `1m`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let number = |digits: &str| {
        digits
            .parse::<u64>()
            .map_err(|_| format!("`{text}` is not a duration such as 50ms, 2s or 1m"))
    };
    if let Some(ms) = text.strip_suffix("ms") {
        Ok(Duration::from_millis(number(ms)?))
    } else if let Some(s) = text.strip_suffix('s') {
        Ok(Duration::from_secs(number(s)?))
    } else if let Some(m) = text.strip_suffix('m') {
        Ok(Duration::from_secs(number(m)? * 60))
    } else if let Some(h) = text.strip_suffix('h') {
        Ok(Duration::from_secs(number(h)? * 3600))
    } else if let Some(d) = text.strip_suffix('d') {
        Ok(Duration::from_secs(number(d)? * 86_400))
    } else {
        Err(format!("`{text}` is not a duration such as 50ms, 2s or 1m"))
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    verified: u64,
    failed_on_purpose: u64,
    /// How often each message id arrived answered 2xx.
    accepted: HashMap<String, u64>,
}

pub async fn run(args: Args, json: bool) -> Result<bool, Failure> {
    if !(0.0..=1.0).contains(&args.fail_rate) {
        return Err(Failure("--fail-rate is a share, from 0 to 1".into()));
    }
    let failing = StatusCode::from_u16(args.status)
        .map_err(|_| Failure(format!("{} is not an HTTP status", args.status)))?;
    let verifier: Option<Arc<dyn Verify>> = match (args.scheme, &args.secret) {
        (Some(scheme), Some(secret)) => Some(Arc::from(schemes::verifier(
            &[scheme],
            std::slice::from_ref(secret),
        )?)),
        _ => None,
    };
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let seed = Arc::new(AtomicU64::new(args.seed.max(1)));
    let (latency, fail_rate, retry_after) = (args.latency, args.fail_rate, args.retry_after);
    let counting = tally.clone();
    serve(args.port, move |received: Received| {
        let (tally, verifier, seed) = (counting.clone(), verifier.clone(), seed.clone());
        async move {
            tokio::time::sleep(latency).await;
            let inbound = Inbound::from_parts(&received.parts, &received.body);
            let id = received
                .parts
                .headers
                .get("webhook-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let mut tally = tally
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            tally.requests += 1;
            if let Some(verifier) = &verifier {
                if let Err(error) = verifier.verify_at(inbound, SystemTime::now()) {
                    println!("{} {} 401 ({error})", clock(), id.as_deref().unwrap_or("-"));
                    return status(StatusCode::UNAUTHORIZED, "signature rejected\n");
                }
                tally.verified += 1;
            }
            if next_unit(&seed) < fail_rate {
                tally.failed_on_purpose += 1;
                println!(
                    "{} {} {} (on purpose)",
                    clock(),
                    id.as_deref().unwrap_or("-"),
                    failing.as_u16()
                );
                let mut response = status(failing, "failing on purpose\n");
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert(RETRY_AFTER, seconds.into());
                }
                return response;
            }
            if let Some(id) = &id {
                *tally.accepted.entry(id.clone()).or_default() += 1;
            }
            println!("{} {} 204", clock(), id.as_deref().unwrap_or("-"));
            status(StatusCode::NO_CONTENT, "")
        }
    })
    .await?;
    let tally = tally
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let duplicates = tally.accepted.values().filter(|&&n| n > 1).count();
    let distinct = tally.accepted.len();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "requests": tally.requests,
                "verified": tally.verified,
                "failed_on_purpose": tally.failed_on_purpose,
                "accepted_ids": distinct,
                "duplicate_ids": duplicates,
            })
        );
    } else {
        println!("requests           {}", tally.requests);
        if args.scheme.is_some() {
            println!("verified           {}", tally.verified);
        }
        println!("failed on purpose  {}", tally.failed_on_purpose);
        println!("accepted ids       {distinct}");
        println!("duplicate ids      {duplicates}");
    }
    Ok(true)
}

/// The next number in [0, 1) of a xorshift sequence: failures chosen repeatably.
fn next_unit(state: &AtomicU64) -> f64 {
    let mut x = state.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

//! The outbox and worker under load, each beside a raw loop in the same run, to a loopback
//! hyper receiver answering 204:
//!
//! 1. **Latency**: messages enqueued at a steady 500 per second; the time from `enqueue` to
//!    arrival at the receiver (p50, p99, max) and the process CPU per message, for the memory
//!    and SQLite outboxes with a worker on default settings, beside a raw loop that signs and
//!    POSTs each message directly at the same moments (no outbox).
//! 2. **Drain**: a backlog of 5 000 and of 20 000 messages, in a store already holding 100 000
//!    finished ones, drained by a worker at concurrency 64; time and CPU per message, beside a
//!    raw loop of 64 tasks sending the same signed POSTs. Draining 20 000 should cost no more
//!    per message than draining 5 000.
//!
//! Criterion does not fit a latency distribution at a fixed rate, so this is a bench binary
//! with its own load generator. `cargo bench --bench outbox --features hyper,sqlite` runs the
//! full load and prints the figures; `cargo test --benches` runs a small load once, checking
//! that every message arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hookwire::adapters::hyper::HyperClient;
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    Destination, Dispatcher, Durability, Job, MemoryOutbox, Outbox, Payload, SqliteOutbox, State,
    Worker,
};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Secret, StandardWebhooks};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

#[path = "support/mod.rs"]
mod support;

use support::{BODY, Raw, arrivals, cpu, ms, percentile, receiver, us};

/// How much load: the full one under `cargo bench`, a small one under `cargo test`.
struct Load {
    rate: u32,
    steady: usize,
    finished: usize,
    backlogs: [usize; 2],
}

const FULL: Load = Load {
    rate: 500,
    steady: 5_000,
    finished: 100_000,
    backlogs: [5_000, 20_000],
};

const SMOKE: Load = Load {
    rate: 500,
    steady: 100,
    finished: 500,
    backlogs: [100, 400],
};

fn payload(prefix: &str, n: usize) -> Payload {
    Payload::json(
        format!("{prefix}_{n:06}"),
        "transfer.settled",
        Bytes::from_static(BODY),
    )
}

struct Bench {
    address: SocketAddr,
    arrivals: mpsc::UnboundedReceiver<(String, Instant)>,
    secret: Secret,
    raw: Arc<Raw>,
    dir: PathBuf,
}

impl Bench {
    async fn new() -> Self {
        let (address, arrivals) = receiver().await;
        let secret = Secret::generate();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let raw = Arc::new(Raw {
            client: Client::builder(TokioExecutor::new()).build(connector),
            signer: StandardWebhooks::new(&secret).expect("a key"),
            url: format!("http://{address}/hooks"),
        });
        let dir = std::env::temp_dir().join(format!(
            "hookwire-bench-outbox-{}",
            hookwire::webhook::message_id()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Bench {
            address,
            arrivals,
            secret,
            raw,
            dir,
        }
    }

    /// A worker on `outbox` with default settings (but `concurrency`), delivering through the
    /// guarded client the README recommends, allowing the loopback receiver.
    fn worker<O: Outbox + 'static>(
        &self,
        outbox: Arc<O>,
        concurrency: Option<usize>,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let policy = AddressPolicy::new().allow("127.0.0.0/8").expect("cidr");
        let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock).expect("guard");
        let destination =
            Destination::new(&format!("http://{}/hooks", self.address), &self.secret).expect("url");
        let mut worker = Worker::new(outbox, Arc::new(dispatcher), move |_: &str| {
            Some(destination.clone())
        });
        if let Some(concurrency) = concurrency {
            worker = worker
                .concurrency(concurrency)
                // One endpoint takes every attempt: no per-endpoint cap or breaker in the way.
                .per_endpoint(u32::try_from(concurrency).unwrap_or(u32::MAX))
                .circuit_breaker(u32::MAX, std::time::Duration::from_secs(1));
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the worker runs");
        });
        (stop, running)
    }

    async fn sqlite(&self, name: &str) -> Arc<SqliteOutbox> {
        Arc::new(
            SqliteOutbox::open(self.dir.join(name))
                .await
                .expect("opens"),
        )
    }
}

/// Latency figures for one row.
struct Latency {
    p50: Duration,
    p99: Duration,
    max: Duration,
    cpu_per_message: Duration,
}

/// Sends `load.steady` messages at `load.rate` per second through `send`, which is given each
/// message's number; measures enqueue-to-arrival.
async fn steady<F, Fut>(bench: &mut Bench, load: &Load, prefix: &str, send: F) -> Latency
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let started: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let cpu_before = cpu();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / load.rate);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..load.steady {
        ticks.tick().await;
        started
            .lock()
            .expect("lock")
            .insert(format!("{prefix}_{n:06}"), Instant::now());
        tokio::spawn(send(n));
    }
    let arrived = arrivals(&mut bench.arrivals, load.steady).await;
    let cpu = cpu().saturating_sub(cpu_before);
    let started = started.lock().expect("lock");
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .map(|(id, at)| at.saturating_duration_since(started[id]))
        .collect();
    latencies.sort();
    Latency {
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: *latencies.last().expect("messages"),
        cpu_per_message: cpu / load.steady as u32,
    }
}

async fn latency(bench: &mut Bench, load: &Load) {
    println!(
        "latency: {} messages at {} per second, enqueue to arrival",
        load.steady, load.rate
    );
    let mut rows = Vec::new();

    let raw = bench.raw.clone();
    let figures = steady(bench, load, "raw", move |n| {
        let raw = raw.clone();
        async move { raw.send(&format!("raw_{n:06}")).await }
    })
    .await;
    rows.push(("raw_direct_send", figures));

    let memory = Arc::new(MemoryOutbox::new());
    let (stop, running) = bench.worker(memory.clone(), None);
    let figures = steady(bench, load, "mem", move |n| {
        let memory = memory.clone();
        async move {
            memory
                .enqueue(Job::new("ep", payload("mem", n)), SystemTime::now())
                .await
                .expect("enqueued");
        }
    })
    .await;
    let _ = stop.send(());
    running.await.expect("worker");
    rows.push(("memory_worker", figures));

    let sqlite = bench.sqlite("latency.db").await;
    let (stop, running) = bench.worker(sqlite.clone(), None);
    let figures = steady(bench, load, "sql", move |n| {
        let sqlite = sqlite.clone();
        async move {
            sqlite
                .enqueue(Job::new("ep", payload("sql", n)), SystemTime::now())
                .await
                .expect("enqueued");
        }
    })
    .await;
    let _ = stop.send(());
    running.await.expect("worker");
    rows.push(("sqlite_worker", figures));

    for (name, row) in &rows {
        println!(
            "  {name:<18} p50 {:>9}  p99 {:>9}  max {:>9}  cpu/msg {:>9}",
            ms(row.p50),
            ms(row.p99),
            ms(row.max),
            us(row.cpu_per_message)
        );
    }
    for (name, row) in &rows[1..] {
        let met = row.p99 < Duration::from_millis(10);
        println!(
            "  target {name}: p99 under 10 ms: {}",
            if met { "met" } else { "NOT MET" }
        );
    }
}

/// Stores `count` delivered jobs in `outbox`: the history a long-running sender has.
async fn finished_history(outbox: &dyn Outbox, count: usize) {
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    for n in 0..count {
        outbox
            .enqueue(Job::new("ep", payload("old", n)), t0)
            .await
            .expect("enqueued");
    }
    loop {
        let leased = outbox
            .lease(SystemTime::now(), 1000, Duration::from_secs(60))
            .await
            .expect("leased");
        if leased.is_empty() {
            break;
        }
        for lease in &leased {
            outbox
                .finish(lease, State::Delivered, SystemTime::now())
                .await
                .expect("finished");
        }
    }
    assert_eq!(
        outbox.count(Some(State::Delivered)).await.expect("count"),
        count
    );
}

/// Drain figures for one backlog.
struct Drain {
    per_message: Duration,
    cpu_per_message: Duration,
}

async fn drain_with_worker<O: Outbox + 'static>(
    bench: &mut Bench,
    outbox: Arc<O>,
    prefix: &str,
    backlog: usize,
) -> Drain {
    for n in 0..backlog {
        outbox
            .enqueue(Job::new("ep", payload(prefix, n)), SystemTime::now())
            .await
            .expect("enqueued");
    }
    let (cpu_before, started) = (cpu(), Instant::now());
    let (stop, running) = bench.worker(outbox.clone(), Some(64));
    arrivals(&mut bench.arrivals, backlog).await;
    let elapsed = started.elapsed();
    // Every attempt is recorded once the last message has arrived.
    while outbox.count(Some(State::Pending)).await.expect("count") > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    running.await.expect("worker");
    Drain {
        per_message: elapsed / backlog as u32,
        cpu_per_message: cpu().saturating_sub(cpu_before) / backlog as u32,
    }
}

async fn drain_raw(bench: &mut Bench, prefix: &str, backlog: usize) -> Drain {
    let (cpu_before, started) = (cpu(), Instant::now());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (raw, next, prefix) = (bench.raw.clone(), next.clone(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= backlog {
                    break;
                }
                raw.send(&format!("{prefix}_{n:06}")).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    arrivals(&mut bench.arrivals, backlog).await;
    Drain {
        per_message: started.elapsed() / backlog as u32,
        cpu_per_message: cpu().saturating_sub(cpu_before) / backlog as u32,
    }
}

/// Copies the SQLite file at `from` (closed, checkpointed) to `to`.
fn copy_database(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copies the prepared database");
}

async fn drain(bench: &mut Bench, load: &Load) {
    println!(
        "drain: backlogs of {:?} at concurrency 64, {} finished jobs already stored",
        load.backlogs, load.finished
    );
    // One SQLite file with the finished history, copied for each run; built with
    // `synchronous = NORMAL` to be quick, and reopened with the default for the runs.
    let prepared = bench.dir.join("prepared.db");
    {
        let outbox = SqliteOutbox::open_with(&prepared, Durability::Normal)
            .await
            .expect("opens");
        finished_history(&outbox, load.finished).await;
        // Closing the last connection checkpoints the write-ahead log into the file.
    }
    let mut rows: Vec<(&str, Vec<Drain>)> = Vec::new();
    let mut raw = Vec::new();
    for (i, &backlog) in load.backlogs.iter().enumerate() {
        raw.push(drain_raw(bench, &format!("raw{i}"), backlog).await);
    }
    rows.push(("raw_direct_send", raw));
    let mut memory = Vec::new();
    for (i, &backlog) in load.backlogs.iter().enumerate() {
        let outbox = Arc::new(MemoryOutbox::new());
        finished_history(&*outbox, load.finished).await;
        memory.push(drain_with_worker(bench, outbox, &format!("mem{i}"), backlog).await);
    }
    rows.push(("memory_worker", memory));
    let mut sqlite = Vec::new();
    for (i, &backlog) in load.backlogs.iter().enumerate() {
        let name = format!("drain{i}.db");
        copy_database(&prepared, &bench.dir.join(&name));
        let outbox = bench.sqlite(&name).await;
        assert_eq!(
            outbox.count(Some(State::Delivered)).await.expect("count"),
            load.finished,
            "the copy holds the finished history"
        );
        sqlite.push(drain_with_worker(bench, outbox, &format!("sql{i}"), backlog).await);
    }
    rows.push(("sqlite_worker", sqlite));

    for (name, runs) in &rows {
        let cells: Vec<String> = runs
            .iter()
            .zip(load.backlogs)
            .map(|(run, backlog)| {
                format!(
                    "{backlog}: {:>8}/msg (cpu {:>8}/msg, {:>6.0} msg/s)",
                    us(run.per_message),
                    us(run.cpu_per_message),
                    1.0 / run.per_message.as_secs_f64()
                )
            })
            .collect();
        let growth = runs[1].per_message.as_secs_f64() / runs[0].per_message.as_secs_f64();
        println!("  {name:<16} {}  ratio {growth:.2}", cells.join("  "));
    }
    for (name, runs) in &rows[1..] {
        let growth = runs[1].per_message.as_secs_f64() / runs[0].per_message.as_secs_f64();
        // "No slower per message", with 10 % for the noise of one run.
        println!(
            "  target {name}: {} per message no slower than {}: {}",
            load.backlogs[1],
            load.backlogs[0],
            if growth <= 1.10 { "met" } else { "NOT MET" }
        );
    }
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let load = if full { FULL } else { SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut bench = Bench::new().await;
        if let Ok(model) = std::fs::read_to_string("/proc/cpuinfo") {
            if let Some(line) = model.lines().find(|l| l.starts_with("model name")) {
                println!("cpu: {}", line.split(':').nth(1).unwrap_or("").trim());
            }
        }
        latency(&mut bench, &load).await;
        drain(&mut bench, &load).await;
        let _ = std::fs::remove_dir_all(&bench.dir);
    });
}

//! Reading and writing a 1 KiB structured CloudEvent beside plain serde_json on an equivalent
//! struct, in the same group, so that the ratio is read from one run.
//!
//! After `cargo bench --bench event`, read the ratios to `raw_serde_json`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookwire::event::{Event, RawEvent, Timestamp};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct Line {
    account: String,
    amount: String,
    memo: String,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct Transfer {
    transfer_id: String,
    currency: String,
    settled: bool,
    lines: Vec<Line>,
}

/// What an application would write with serde alone for the same event.
#[derive(Serialize, Deserialize)]
struct Plain {
    specversion: String,
    id: String,
    source: String,
    #[serde(rename = "type")]
    ty: String,
    datacontenttype: String,
    subject: String,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    tenant: String,
    data: Transfer,
}

fn sample() -> Event<Transfer> {
    let lines = (0..8)
        .map(|i| Line {
            account: format!("DE89370400440532013{i:03}"),
            amount: format!("{}.{:02}", 100 + i * 37, i * 7 % 100),
            memo: format!("invoice 2026-11-{:02} settlement batch", i + 1),
        })
        .collect();
    Event::builder()
        .id("evt_01a21c102e217044af3889c1c9855234")
        .ty("transfer.settled")
        .source("/treasury/transfers")
        .subject("tr_8841")
        .extension("tenant", "bank-eu-west")
        .time(
            Timestamp::try_from(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_765_148),
            )
            .expect("valid time"),
        )
        .data(Transfer {
            transfer_id: "tr_8841".into(),
            currency: "EUR".into(),
            settled: true,
            lines,
        })
        .build()
        .expect("valid event")
}

fn event(c: &mut Criterion) {
    let event = sample();
    let json = event.to_json().expect("writes");
    assert!((900..1200).contains(&json.len()), "{} bytes", json.len());
    let plain: Plain = serde_json::from_slice(&json).expect("plain serde reads it");

    let mut group = c.benchmark_group("event_parse/1KiB");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("raw_serde_json", |b| {
        b.iter(|| serde_json::from_slice::<Plain>(black_box(&json)).expect("reads"))
    });
    group.bench_function("hookwire_typed", |b| {
        b.iter(|| Event::<Transfer>::from_json(black_box(&json)).expect("reads"))
    });
    group.bench_function("hookwire_dispatch_then_decode", |b| {
        b.iter(|| {
            RawEvent::from_json(black_box(&json))
                .expect("reads")
                .decode::<Transfer>()
                .expect("decodes")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("event_serialize/1KiB");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("raw_serde_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&plain)).expect("writes"))
    });
    group.bench_function("hookwire", |b| {
        b.iter(|| black_box(&event).to_json().expect("writes"))
    });
    group.finish();
}

criterion_group!(benches, event);
criterion_main!(benches);

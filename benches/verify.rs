//! Standard Webhooks verification beside its anchor and its peer, one group per body size.
//!
//! - `raw_hmac`: HMAC-SHA256 with hmac + sha2 over the same signed content (id, timestamp,
//!   body) from a state keyed once and cloned per message: the least any verifier must do.
//! - `raw_hmac_keyed_per_call`: the same, keying on every message.
//! - `hookwire_verify_at`: `StandardWebhooks::verify_at` with an explicit `now` (no clock read).
//! - `hookwire_verify`: `StandardWebhooks::verify`, which reads the system clock.
//! - `peer_standardwebhooks`: the `standardwebhooks` crate's `Webhook::verify`.
//! - `peer_bare_hmac`: the HMAC that peer uses (`hmac-sha256`, a portable SHA-256 without the
//!   CPU's SHA instructions) over the same bytes, which separates its hashing from the rest.
//!
//! After `cargo bench --bench verify`, read the ratios to `raw_hmac` from one run. The CPU
//! model is printed first: SHA instructions decide much of the peer's distance.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use hookwire::webhook::{Inbound, Message, Secret, Sign, StandardWebhooks, Verify};
use sha2::Sha256;

mod machine;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SIZES: [(usize, &str); 4] = [
    (256, "256B"),
    (4 * 1024, "4KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

fn verify(c: &mut Criterion) {
    eprintln!("CPU: {}", machine::cpu_model());
    let secret = Secret::parse(SECRET).expect("the bench secret parses");
    let key = secret.expose_bytes().to_vec();
    let verifier = StandardWebhooks::new(&secret).expect("a key");
    let peer = standardwebhooks::Webhook::new(SECRET).expect("the peer accepts the secret");

    for (size, label) in SIZES {
        // A JSON-looking body, so that the peer (which signs text only) takes it too.
        let body: Vec<u8> = std::iter::repeat_n(b'a', size).collect();
        let now = SystemTime::now();
        // The headers of a typical webhook request, proxy headers included, not just the three.
        let mut headers = hookwire::http::HeaderMap::new();
        for (name, value) in [
            ("host", "hooks.example.com"),
            ("user-agent", "Svix-Webhooks/1.21.0"),
            ("content-type", "application/json"),
            ("content-length", "256"),
            ("accept", "*/*"),
            ("accept-encoding", "gzip"),
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-request-id", "2f1c9a0e-5b7d-4c1e-9f3a-8d6b2e4a1c70"),
        ] {
            headers.insert(name, value.parse().expect("valid header"));
        }
        headers.extend(
            StandardWebhooks::new(&secret)
                .expect("a key")
                .sign(&Message::new(ID, &body).at(now))
                .expect("the bench message signs"),
        );
        let timestamp = headers["webhook-timestamp"]
            .to_str()
            .expect("ASCII timestamp")
            .to_owned();

        let mut group = c.benchmark_group(format!("verify/{label}"));
        group.throughput(Throughput::Bytes(size as u64));

        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length");
        group.bench_function(BenchmarkId::from_parameter("raw_hmac"), |b| {
            b.iter(|| {
                let mut mac = black_box(&keyed).clone();
                mac.update(black_box(ID.as_bytes()));
                mac.update(b".");
                mac.update(black_box(timestamp.as_bytes()));
                mac.update(b".");
                mac.update(black_box(&body));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function(
            BenchmarkId::from_parameter("raw_hmac_keyed_per_call"),
            |b| {
                b.iter(|| {
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&key))
                        .expect("any key length");
                    mac.update(black_box(ID.as_bytes()));
                    mac.update(b".");
                    mac.update(black_box(timestamp.as_bytes()));
                    mac.update(b".");
                    mac.update(black_box(&body));
                    black_box(mac.finalize().into_bytes())
                })
            },
        );
        group.bench_function(BenchmarkId::from_parameter("hookwire_verify_at"), |b| {
            b.iter(|| {
                verifier
                    .verify_at(Inbound::new(black_box(&headers), black_box(&body)), now)
                    .expect("verifies")
                    .timestamp()
            })
        });
        group.bench_function(BenchmarkId::from_parameter("hookwire_verify"), |b| {
            b.iter(|| {
                verifier
                    .verify(Inbound::new(black_box(&headers), black_box(&body)))
                    .expect("verifies")
                    .timestamp()
            })
        });
        group.bench_function(BenchmarkId::from_parameter("peer_standardwebhooks"), |b| {
            b.iter(|| {
                peer.verify(black_box(&body), black_box(&headers))
                    .expect("the peer verifies")
            })
        });
        let mut content = format!("{ID}.{timestamp}.").into_bytes();
        content.extend_from_slice(&body);
        group.bench_function(BenchmarkId::from_parameter("peer_bare_hmac"), |b| {
            b.iter(|| hmac_sha256::HMAC::mac(black_box(&content), black_box(&key)))
        });
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);

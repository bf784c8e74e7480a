//! Each scheme's verification at 4 KiB beside raw HMAC over the same bytes, one group a scheme
//! (Stripe, GitHub, Slack, Shopify, the configurable scheme, PagerDuty, Twitch, Square, HubSpot
//! and Linear):
//! `raw_hmac` from a state keyed once and cloned per message (the least any verifier must do),
//! and `raw_hmac_keyed_per_call`; for Linear, whose timestamp lives in the JSON body, also
//! `raw_hmac_and_json_timestamp`, the MAC and that read. With the `ed25519` feature, `v1a` beside raw ed25519
//! verification, and the worst case of a header stuffed with junk `v1a` entries.
//!
//! After `cargo bench --bench schemes --all-features`, read the ratios to `raw_*` from one run.
//! The CPU model is printed first.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use hookwire::http::HeaderMap;
use hookwire::http::Request;
use hookwire::webhook::{
    Encoding, GitHub, HmacScheme, HubSpot, Inbound, Linear, Message, PagerDuty, Shopify, Sign,
    Slack, Square, Stripe, Twitch,
};
use sha2::Sha256;

mod machine;

const SECRET: &str = "whsec_benchmark_signing_secret_0123456789";
const SIZE: usize = 4 * 1024;
const SENT: u64 = 1_700_000_000;

/// Raw HMAC-SHA256 of the concatenation of `parts` under `key`: from a state keyed once and
/// cloned per message, and keyed on every message.
struct Raw {
    keyed: Hmac<Sha256>,
    key: Vec<u8>,
    parts: Vec<Vec<u8>>,
    /// Work besides the MAC that no verifier of the scheme can skip, with the name of its row:
    /// the anchor plus that work is the least any verifier of it must do.
    inherent: Option<(&'static str, Inherent)>,
}

/// Work a scheme's verifier must do besides the MAC, over the signed parts.
type Inherent = fn(&[Vec<u8>]) -> i64;

impl Raw {
    fn prekeyed(&self) -> [u8; 32] {
        let mut mac = black_box(&self.keyed).clone();
        for part in &self.parts {
            mac.update(black_box(part));
        }
        mac.finalize().into_bytes().into()
    }

    fn keyed_per_call(&self) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&self.key))
            .expect("any key length");
        for part in &self.parts {
            mac.update(black_box(part));
        }
        mac.finalize().into_bytes().into()
    }
}

fn raw_hmac(key: &[u8], parts: &[&[u8]]) -> Raw {
    Raw {
        keyed: <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length"),
        key: key.to_vec(),
        parts: parts.iter().map(|part| part.to_vec()).collect(),
        inherent: None,
    }
}

fn bench_scheme(c: &mut Criterion, scheme: &dyn Both, headers: &HeaderMap, body: &[u8], raw: Raw) {
    let request = Request::post("/").body(()).expect("a request");
    bench_request(c, scheme, headers, body, raw, &request);
}

/// As [`bench_scheme`], for a scheme that signs the request line too: `line` holds the method
/// and URI.
fn bench_request(
    c: &mut Criterion,
    scheme: &dyn Both,
    headers: &HeaderMap,
    body: &[u8],
    raw: Raw,
    line: &Request<()>,
) {
    let now = UNIX_EPOCH + Duration::from_secs(SENT);
    let (method, uri) = (line.method(), line.uri());
    scheme
        .verify_at(Inbound::from_components(method, uri, headers, body), now)
        .expect("the bench message verifies");
    let mut group = c.benchmark_group(format!("{}/4KiB", scheme.name()));
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.bench_function("raw_hmac", |b| b.iter(|| raw.prekeyed()));
    group.bench_function("raw_hmac_keyed_per_call", |b| {
        b.iter(|| raw.keyed_per_call())
    });
    if let Some((name, work)) = raw.inherent {
        group.bench_function(name, |b| {
            b.iter(|| (raw.prekeyed(), work(black_box(&raw.parts))))
        });
    }
    group.bench_function(format!("{}_verify_at", scheme.name()), |b| {
        b.iter(|| {
            scheme
                .verify_at(
                    Inbound::from_components(method, uri, black_box(headers), black_box(body)),
                    now,
                )
                .expect("verifies")
                .timestamp()
        })
    });
    group.finish();
}

fn schemes(c: &mut Criterion) {
    eprintln!("CPU: {}", machine::cpu_model());
    let body = vec![b'{'; SIZE];
    let key = SECRET.as_bytes();
    let ts = SENT.to_string();
    let message = Message::new("delivery-1", &body).at(UNIX_EPOCH + Duration::from_secs(SENT));

    let stripe = Stripe::new(SECRET).expect("secret");
    let headers = stripe.sign(&message).expect("signs");
    bench_scheme(
        c,
        &stripe,
        &headers,
        &body,
        raw_hmac(key, &[ts.as_bytes(), b".", &body]),
    );

    let github = GitHub::new(SECRET).expect("secret");
    let headers = github.sign(&message).expect("signs");
    bench_scheme(c, &github, &headers, &body, raw_hmac(key, &[&body]));

    let slack = Slack::new(SECRET).expect("secret");
    let headers = slack.sign(&message).expect("signs");
    let raw = raw_hmac(key, &[b"v0:", ts.as_bytes(), b":", &body]);
    bench_scheme(c, &slack, &headers, &body, raw);

    let shopify = Shopify::new(SECRET).expect("secret");
    let headers = shopify.sign(&message).expect("signs");
    bench_scheme(c, &shopify, &headers, &body, raw_hmac(key, &[&body]));

    let configurable = HmacScheme::builder("X-Acme-Signature")
        .name("configurable")
        .encoding(Encoding::Base64)
        .timestamp("X-Acme-Timestamp", "", ".")
        .build(SECRET)
        .expect("secret");
    let headers = configurable.sign(&message).expect("signs");
    let raw = raw_hmac(key, &[ts.as_bytes(), b".", &body]);
    bench_scheme(c, &configurable, &headers, &body, raw);

    let pagerduty = PagerDuty::new(SECRET).expect("secret");
    let headers = pagerduty.sign(&message).expect("signs");
    bench_scheme(c, &pagerduty, &headers, &body, raw_hmac(key, &[&body]));

    let twitch = Twitch::new(SECRET).expect("secret");
    let headers = twitch.sign(&message).expect("signs");
    let raw = raw_hmac(key, &[b"delivery-1", b"2023-11-14T22:13:20Z", &body]);
    bench_scheme(c, &twitch, &headers, &body, raw);

    let url = "https://example.com/hooks/square";
    let square = Square::new(SECRET, url).expect("secret");
    let headers = square.sign(&message).expect("signs");
    bench_scheme(
        c,
        &square,
        &headers,
        &body,
        raw_hmac(key, &[url.as_bytes(), &body]),
    );

    let hubspot = HubSpot::new(SECRET).expect("secret");
    let url = "https://example.com/hooks/hubspot?portal=62515";
    let headers = hubspot.sign(&message.to("POST", url)).expect("signs");
    let millis = format!("{SENT}000");
    let raw = raw_hmac(key, &[b"POST", url.as_bytes(), &body, millis.as_bytes()]);
    let line = Request::post(url).body(()).expect("a request");
    bench_request(c, &hubspot, &headers, &body, raw, &line);

    // Linear reads its timestamp from the (JSON) body once the signature holds.
    let mut json = format!(r#"{{"webhookTimestamp":{SENT}000,"data":""#).into_bytes();
    json.resize(SIZE - 2, b'x');
    json.extend_from_slice(b"\"}");
    let linear = Linear::new(SECRET).expect("secret");
    let headers = linear
        .sign(&Message::new("delivery-1", &json))
        .expect("signs");
    // No verifier of Linear can skip reading `webhookTimestamp` from the JSON body: a second
    // anchor does that read beside the MAC, as Linear's verifier does it.
    #[derive(serde::Deserialize)]
    struct LinearStamp {
        #[serde(rename = "webhookTimestamp")]
        webhook_timestamp: i64,
    }
    let raw = Raw {
        inherent: Some(("raw_hmac_and_json_timestamp", |parts| {
            parts.first().map_or(0, |json| {
                serde_json::from_slice::<LinearStamp>(json)
                    .map_or(0, |stamp| stamp.webhook_timestamp)
            })
        })),
        ..raw_hmac(key, &[&json])
    };
    bench_scheme(c, &linear, &headers, &json, raw);

    #[cfg(feature = "ed25519")]
    v1a(c, &body);
    #[cfg(feature = "ed25519")]
    v1a_junk_entries(c);
}

/// The worst an unauthenticated `v1a` request can cost: a 1 MiB body and 1 000 `v1a` entries
/// signed by other keys, beside one genuine verification of the same body. The bound on
/// candidates keeps the ratio near `MAX_V1A_CANDIDATES` (4), not near 1 000.
#[cfg(feature = "ed25519")]
fn v1a_junk_entries(c: &mut Criterion) {
    use hookwire::webhook::{Inbound, Message, Sign, SigningKey, StandardWebhooks, Verify};

    let body = vec![b'x'; 1024 * 1024];
    let key = SigningKey::generate();
    let at = UNIX_EPOCH + Duration::from_secs(SENT);
    let genuine = StandardWebhooks::from_signing_key(&key)
        .sign(&Message::new("msg_1", &body).at(at))
        .expect("signs");
    // Genuine signatures of the same message by other keys: each passes every cheap check
    // (a canonical `s`, an `R` of large order) and costs a full verification over the body.
    let others: Vec<String> = (0..8)
        .map(|_| {
            StandardWebhooks::from_signing_key(&SigningKey::generate())
                .sign(&Message::new("msg_1", &body).at(at))
                .expect("signs")["webhook-signature"]
                .to_str()
                .expect("text")
                .to_owned()
        })
        .collect();
    let junk = (0..1000)
        .map(|n| others[n % others.len()].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut flooded = genuine.clone();
    flooded.insert("webhook-signature", junk.parse().expect("header"));
    let verifier = StandardWebhooks::from_public_key(&key.public_key());

    let mut group = c.benchmark_group("v1a_1000_junk_entries/1MiB");
    group.sample_size(10);
    group.bench_function("one_genuine_verification", |b| {
        b.iter(|| {
            verifier
                .verify_at(Inbound::new(black_box(&genuine), black_box(&body)), at)
                .expect("verifies")
                .timestamp()
        })
    });
    group.bench_function("junk_entries_refused", |b| {
        b.iter(|| {
            verifier
                .verify_at(Inbound::new(black_box(&flooded), black_box(&body)), at)
                .expect_err("refused")
        })
    });
    group.finish();
}

/// `v1a` beside ed25519-dalek verifying the same concatenated content.
#[cfg(feature = "ed25519")]
fn v1a(c: &mut Criterion, body: &[u8]) {
    use base64::Engine;
    use hookwire::webhook::{Inbound, Message, Sign, SigningKey, StandardWebhooks, Verify};

    let key = SigningKey::generate();
    let at = UNIX_EPOCH + Duration::from_secs(SENT);
    let signed = StandardWebhooks::from_signing_key(&key)
        .sign(&Message::new("msg_1", body).at(at))
        .expect("signs");
    let headers = signed.clone();
    let verifier = StandardWebhooks::from_public_key(&key.public_key());

    let mut content = format!("msg_1.{SENT}.").into_bytes();
    content.extend_from_slice(body);
    let public = key.public_key().to_whpk();
    let mut public_bytes = [0u8; 32];
    base64::engine::general_purpose::STANDARD
        .decode_slice(public.trim_start_matches("whpk_"), &mut public_bytes)
        .expect("32 bytes");
    let raw_key = ed25519_dalek::VerifyingKey::from_bytes(&public_bytes).expect("valid key");
    let mut signature_bytes = [0u8; 64];
    base64::engine::general_purpose::STANDARD
        .decode_slice(
            signed["webhook-signature"]
                .to_str()
                .expect("text")
                .trim_start_matches("v1a,"),
            &mut signature_bytes,
        )
        .expect("64 bytes");
    let raw_signature = ed25519_dalek::Signature::from_bytes(&signature_bytes);

    let mut group = c.benchmark_group("v1a/4KiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.bench_function("raw_ed25519", |b| {
        b.iter(|| {
            use ed25519_dalek::Verifier as _;
            raw_key
                .verify(black_box(&content), black_box(&raw_signature))
                .expect("verifies")
        })
    });
    group.bench_function("v1a_verify_at", |b| {
        b.iter(|| {
            verifier
                .verify_at(Inbound::new(black_box(&headers), black_box(body)), at)
                .expect("verifies")
                .timestamp()
        })
    });
    group.finish();
}

criterion_group!(benches, schemes);
criterion_main!(benches);

/// A scheme that both verifies and signs, so that a bench can sign with it and verify with it.
trait Both: hookwire::webhook::Verify + hookwire::webhook::Sign {}
impl<T: hookwire::webhook::Verify + hookwire::webhook::Sign> Both for T {}

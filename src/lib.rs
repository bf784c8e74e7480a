//! Webhooks and typed API clients for Rust, in one transport-agnostic vocabulary.
//!
//! Applications talk in two ways. An **API** is *pull*: a client asks, a server answers. A
//! **webhook** is *push*: the server calls the client when something happens. hookwire covers
//! both sides of both, over plain [`http`] types and byte slices, so that it works with whatever
//! HTTP client or server you already run.
//!
//! # The map
//!
//! Three layers; each depends only on the ones above it.
//!
//! **Core** (no runtime, no HTTP stack, every feature off):
//!
//! - [`webhook`]: verifying and signing webhooks. One [`Verify`](webhook::Verify) trait sees the
//!   request ([`Inbound`](webhook::Inbound): method, URI, headers, the raw body);
//!   [`Sign`](webhook::Sign) signs for the schemes that are symmetric. Schemes:
//!   [Standard Webhooks](https://www.standardwebhooks.com/) (`v1`, and `v1a` ed25519 with the
//!   `ed25519` feature), Stripe, GitHub, Slack, Shopify, Twilio, Square, HubSpot, Twitch,
//!   PagerDuty, Linear, Mailgun, Zoom, Paddle, Calendly and more (Discord with `ed25519`,
//!   SendGrid with `p256`; the [`webhook`] docs hold the table) and a configurable HMAC scheme;
//!   a [`MultiVerifier`](webhook::MultiVerifier) for endpoints several providers call (and
//!   [`MultiVerifierAsync`](webhook::MultiVerifierAsync) where SNS or OIDC is among them); a
//!   [`ReplayGuard`](webhook::ReplayGuard). Constant-time, and no heap allocation while
//!   verifying (but for the URL that Twilio signs, and a HubSpot URL with escapes).
//! - [`event`]: one envelope, [`Event<T>`](event::Event), compatible with CloudEvents 1.0:
//!   the JSON format, the HTTP binding (binary, structured and batch modes), the Standard
//!   Webhooks payload form, typed data, dispatch by type without parsing the data twice.
//! - [`transport`]: [`HttpClient`](transport::HttpClient), the one trait all HTTP I/O goes
//!   through, the [`AddressPolicy`](transport::AddressPolicy) that guards senders against SSRF,
//!   and the one [`BodyLimit`](transport::BodyLimit) concept.
//! - [`clock`]: the one [`Clock`](clock::Clock) every component reads time from and waits on.
//! - [`retry`]: the one retry engine ([`RetryPolicy`](retry::RetryPolicy)), shared by the API
//!   client and the dispatcher with their own defaults.
//! - [`observe`]: what hookwire reports through `tracing` and `metrics` (features of those
//!   names): every span, event and metric, in tables.
//!
//! **Features on the core**:
//!
//! - [`api`]: the typed API client. Endpoints are types; a [`Client`](api::Client) sends them
//!   with credentials (static, or a token that refreshes once however many requests wait),
//!   retries that honour `Retry-After`, pagination as a stream; errors keep the raw body and
//!   decode RFC 9457 problems.
//! - [`deliver`]: sending webhooks: a [`Dispatcher`](deliver::Dispatcher) that signs each
//!   attempt, retries, classifies responses and refuses non-public addresses; a durable
//!   [`Outbox`](deliver::Outbox) (in memory, or SQLite) drained by a worker.
//!
//! **Adapters** ([`adapters`], each behind its feature): hyper, reqwest, tower and axum; they
//! move bytes and depend on the core only. [`testing`] (feature `test-util`) has a scripted
//! transport and a [`FakeClock`](testing::FakeClock).
//!
//! # Conventions
//!
//! - Every scheme is built from its secret exactly as the provider shows it, or from a
//!   [`Secret`](webhook::Secret): `Scheme::new(secret)`, and `with_secret` for one more.
//! - Builders: a plain name sets a value (`timeout(duration)`); `with_*` adds one more of
//!   something held several times (secrets, keys, schemes); an option that is off by default
//!   is switched on by a method without arguments (`https_only()`, `no_timeout()`,
//!   `keep_forever()`, `allow_sha1()`). Setters take typed values and never drop input; where
//!   input can be invalid, they return a `Result`.
//! - Errors: `Display` says what went wrong at its own level; the cause is the
//!   [`source`](std::error::Error::source). Causes callers match on are typed variants.
//! - Time comes from a [`Clock`](clock::Clock) wherever a component reads it or waits.

//! # Verifying a webhook
//!
//! ```
//! use std::time::Duration;
//! use hookwire::webhook::{Inbound, Message, Sign, StandardWebhooks, Verify};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
//!     .tolerance(Duration::from_secs(300));
//!
//! // The sender signs the body and sends three headers with it.
//! let body = br#"{"type":"transfer.settled","data":{"amount":"125.00"}}"#;
//! let headers = scheme.sign(&Message::new("msg_2a1b", body))?;
//!
//! // The receiver verifies the raw body against those headers.
//! let verified = scheme.verify(Inbound::new(&headers, body))?;
//! assert_eq!(verified.id(), Some("msg_2a1b"));
//!
//! // A tampered body is rejected, with the reason.
//! let error = scheme.verify(Inbound::new(&headers, b"{}")).unwrap_err();
//! assert!(error.to_string().contains("no signature"));
//! # Ok(())
//! # }
//! ```
//!
//! # What hookwire is not
//!
//! - It is not an HTTP client or server. It builds and checks [`http`] requests and responses;
//!   moving bytes is the job of the client or server you choose, through optional adapters.
//! - It does not pick an async runtime for you: the core runs on none.
//! - It does not parse your event payloads into your types by itself: it verifies the exact bytes
//!   that arrived, and you decode them afterwards (verifying re-serialised JSON would fail).
//!
//! # Feature flags
//!
//! No feature is on by default; the default build has no async runtime and no HTTP stack.
//!
//! | feature | what it adds |
//! |---|---|
//! | `hyper` | `adapters::hyper`: `HyperClient` (hyper-util's pooled client as an `HttpClient`) and server helpers (bounded body reading, verification, a ready handler, the CloudEvents validation handshake) |
//! | `reqwest` | `adapters::reqwest::ReqwestClient`: a `reqwest::Client` as an `HttpClient` |
//! | `axum` | `adapters::axum`: `Webhook` and `WebhookEvent<T>` extractors (brings `tower`) |
//! | `actix` | `adapters::actix`: the `Webhook` extractor for actix-web 4 (brings `tower`) |
//! | `rustls` | HTTPS through rustls (webpki roots): `adapters::tls_config`, `HyperClient::https`, `HyperClient::with_tls_config`, `HyperClient::guarded_https`; the crypto provider is the process default the application installed |
//! | `rustls-ring`, `rustls-aws-lc` | `rustls` with that crypto provider. Pick the one the rest of the application uses (reqwest 0.13's default is aws-lc-rs): with two providers compiled in, rustls cannot choose a process default for other crates |
//! | `tower` | `adapters::tower`: `ServiceClient` (any `tower::Service` over `http` types as an `HttpClient`) and `VerifyLayer` (verifies webhooks for any tower server) |
//! | `tokio` | `clock::TokioClock` and `deliver::Worker` (the adapter features bring it) |
//! | `sqlite` | `deliver::SqliteOutbox`: a durable outbox in an SQLite file (rusqlite, SQLite built in), and `deliver::Worker` |
//! | `test-util` | `testing::MockClient` (a scripted transport that records requests) and `testing::FakeClock` (a virtual clock) for users' own tests |
//! | `time`, `chrono`, `jiff` | conversions between `event::Timestamp` and those crates' types |
//! | `ed25519` | Standard Webhooks `v1a` signatures: `SigningKey` (`whsk_`), `PublicKey` (`whpk_`), and Discord's, through `ed25519-dalek` |
//! | `p256` | SendGrid's ECDSA P-256 signatures (`SendGrid`), through RustCrypto's `p256` |
//! | `sns` | AWS SNS notifications (`Sns`, a `VerifyAsync` scheme): certificates from SNS's own hosts, fetched and cached |
//! | `oidc` | Google Pub/Sub push and other OpenID Connect pushes (`Oidc`, a `VerifyAsync` scheme): RS256 through RustCrypto's `rsa`, key sets fetched and cached |
//! | `tracing` | spans and events on every path through the `tracing` crate: verification, the server adapters' refusals, delivery attempts, workers, inbox handlers, API calls (see [`observe`]) |
//! | `metrics` | counters, histograms and gauges through the `metrics` facade, for any exporter (see [`observe`]) |
//!
//! # Writing an adapter
//!
//! A client adapter implements one trait, [`HttpClient`](transport::HttpClient): take an
//! `http::Request<Bytes>` whose URI is absolute, return the whole `http::Response<Bytes>`. Four
//! rules make it a good one:
//!
//! 1. carry every header (repeated ones too), the status and the version unchanged;
//! 2. read the response body up to a limit *while it streams in*, and fail with
//!    [`TransportError::too_large`](transport::TransportError::too_large) past it;
//! 3. map failures to their [`TransportErrorKind`](transport::TransportErrorKind): a refused or
//!    failed connection is `Connect`, a deadline `Timeout`, a broken body `Body`, keeping the
//!    source error;
//! 4. follow no redirects and add no retries: the core decides those.
//!
//! Test it against a real server on `127.0.0.1:0`: a round trip, the limit, a refused port.
//! A server-side adapter reads the body up to a limit (413 past it, without reading the rest),
//! then calls [`Verify::verify_at`](webhook::Verify::verify_at) with an
//! [`Inbound`](webhook::Inbound) of the method, URI, headers and the exact bytes;
//! `adapters::server` has the pieces.
//!
//! Here is a complete client adapter over a plain tokio `TcpStream`, speaking HTTP/1.1 through
//! hyper's low-level `conn` API, with those checks (`examples/build_adapter.rs`, compiled and
//! run in CI):
//!
#![cfg_attr(feature = "hyper", doc = "```no_run")]
#![cfg_attr(feature = "hyper", doc = include_str!("../examples/build_adapter.rs"))]
#![cfg_attr(feature = "hyper", doc = "```")]
#![cfg_attr(
    not(feature = "hyper"),
    doc = "(The example is shown when the `hyper` feature is on, as on docs.rs.)"
)]
//!
//! The [`http`], [`bytes`] and [`url`] crates are re-exported (and `sqlx` and `redis` with their
//! features), so that your code can name the exact versions hookwire uses.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use bytes;
pub use http;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use sqlx;
pub use url;

pub mod adapters;
pub mod api;
pub mod clock;
pub mod consume;
pub mod deliver;
pub mod event;
pub mod observe;
#[cfg(feature = "postgres")]
mod postgres;
pub mod retry;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
pub mod transport;
pub mod webhook;

pub use async_trait::async_trait;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! Signing and verifying webhooks.
//!
//! Every scheme implements [`Verify`], which checks a received request ([`Inbound`]: method,
//! URI, headers and the raw body), and, where the scheme is symmetric, [`Sign`], which signs a
//! [`Message`] as the provider would. Schemes here:
//!
//! | scheme | type | signature header | signed content |
//! |---|---|---|---|
//! | [Standard Webhooks] (and Svix) | [`StandardWebhooks`] | `webhook-signature: v1,<base64>` | `{id}.{timestamp}.{body}` |
//! | Stripe | [`Stripe`] | `Stripe-Signature: t=…,v1=<hex>` | `{t}.{body}` |
//! | Calendly | [`Calendly`] | `Calendly-Webhook-Signature: t=…,v1=<hex>` (3-minute window) | `{t}.{body}` |
//! | Paddle Billing | [`Paddle`] | `Paddle-Signature: ts=…;h1=<hex>` (5-second window) | `{ts}:{body}` |
//! | GitHub | [`GitHub`] | `X-Hub-Signature-256: sha256=<hex>` | `{body}` |
//! | Slack | [`Slack`] | `X-Slack-Signature: v0=<hex>` | `v0:{timestamp}:{body}` |
//! | Shopify | [`Shopify`] | `X-Shopify-Hmac-Sha256: <base64>` | `{body}` |
//! | Zoom | [`Zoom`] | `x-zm-signature: v0=<hex>` (time in `x-zm-request-timestamp`) | `v0:{timestamp}:{body}` |
//! | Gitea, Forgejo | [`Gitea`] | `X-Gitea-Signature: <hex>` | `{body}` |
//! | Bitbucket | [`Bitbucket`] | `X-Hub-Signature: sha256=<hex>` | `{body}` |
//! | Intercom | [`Intercom`] | `X-Hub-Signature: sha1=<hex>` (HMAC-SHA1) | `{body}` |
//! | Typeform | [`Typeform`] | `Typeform-Signature: sha256=<base64>` | `{body}` |
//! | GitLab | [`GitLab`] | `X-Gitlab-Token: <token>` (a shared token, compared in constant time; nothing is signed) | none |
//! | anything else HMAC | [`HmacScheme`] | configurable | configurable |
//!
//! A [`MultiVerifier`] serves one endpoint for several providers, picking the scheme by the
//! headers present.
//!
//! Every scheme is built the same way: `Scheme::new(secret)` with the secret exactly as its
//! provider shows it (Standard Webhooks' `whsec_<base64>`, the other providers' plain text), or
//! with a [`Secret`] holding the key bytes; `with_secret` adds one more during a rotation, and
//! [`Verified::key`] says which one matched. With the `ed25519` feature, Standard Webhooks `v1a`
//! signs with a `SigningKey` and verifies with a `PublicKey`.
//!
//! Every verification compares in constant time, checks the timestamp where the scheme has one,
//! never panics on what arrived, and allocates nothing on the heap. [`message_id`] makes unique,
//! time-sortable ids for new messages, and a [`ReplayGuard`] has each message handled once (claimed before the handler runs, committed when it succeeded, released when it failed).
//!
//! Verify the body exactly as it arrived, before parsing it: a body that was parsed and
//! serialised again no longer matches its signature.
//!
//! [Standard Webhooks]: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

#[cfg(feature = "ed25519")]
mod asymmetric;
mod configurable;
mod diagnose;
mod github;
mod mac;
mod presets;
mod replay;
#[cfg(feature = "postgres")]
mod replay_postgres;
#[cfg(feature = "redis")]
mod replay_redis;
mod scheme;
mod secret;
mod sign;
mod standard;
mod stripe;
mod verify;

#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use asymmetric::{KeyError, PublicKey, SigningKey};
pub use configurable::{HmacScheme, HmacSchemeBuilder, SchemeError};
pub use diagnose::{Diagnosis, Hint, diagnose};
pub use github::GitHub;
pub use mac::{Algorithm, Encoding};
pub use presets::{Bitbucket, GitLab, Gitea, Intercom, Shopify, Slack, Typeform, Zoom};
pub use replay::{Claim, MAX_ID_LEN, MemoryReplayGuard, ReplayError, ReplayGuard, ReplayKey};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use replay_postgres::PostgresReplayGuard;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use replay_redis::RedisReplayGuard;
pub use scheme::{Inbound, Message, MultiVerifier, Sign, Verify};
pub use secret::{Secret, SecretError, SecretInput};
pub use sign::{SignError, message_id};
#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use standard::MAX_V1A_CANDIDATES;
pub use standard::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, StandardWebhooks, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
pub use stripe::{Calendly, Paddle, Stripe};
#[cfg(feature = "tracing")]
#[allow(unused_imports)] // Used by the server adapters, where their features are on.
pub(crate) use verify::trace_verification;
pub use verify::{DEFAULT_TOLERANCE, Verified, VerifyError, check_timestamp};

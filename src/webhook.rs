//! Signing and verifying webhooks.
//!
//! Every scheme implements [`Verify`], which checks a received request ([`Inbound`]: method,
//! URI, headers and the raw body), and, where the scheme is symmetric, [`Sign`], which signs a
//! [`Message`] as the provider would. Schemes here:
//!
//! | provider | type | headers | algorithm over | window | key | vector |
//! |---|---|---|---|---|---|---|
//! | [Standard Webhooks] (and Svix) | [`StandardWebhooks`] | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` | HMAC-SHA256 of `{id}.{ts}.{body}`; `v1a`: ed25519 (feature `ed25519`) | 5 min | `whsec_<base64>`; `whsk_`/`whpk_` | reference libraries' tests (`tests/vectors.rs`) |
//! | Stripe | [`Stripe`] | `Stripe-Signature: t=…,v1=<hex>` | HMAC-SHA256 of `{t}.{body}` | 5 min | `whsec_…`, bytes as shown | computed (Python `hmac`) |
//! | Calendly | [`Calendly`] | `Calendly-Webhook-Signature: t=…,v1=<hex>` | HMAC-SHA256 of `{t}.{body}` | 3 min | signing key, as shown | computed |
//! | Paddle Billing | [`Paddle`] | `Paddle-Signature: ts=…;h1=<hex>` | HMAC-SHA256 of `{ts}:{body}` | 5 s | `pdl_ntfset_…`, as shown | computed |
//! | PagerDuty (v3) | [`PagerDuty`] | `X-PagerDuty-Signature: v1=<hex>[,v1=…]`, `X-Webhook-Id` | HMAC-SHA256 of `{body}` | none | subscription secret | computed |
//! | GitHub | [`GitHub`] | `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Delivery` | HMAC-SHA256 of `{body}` (SHA-1 on request) | none | webhook secret | GitHub's docs |
//! | Slack | [`Slack`] | `X-Slack-Signature: v0=<hex>`, `X-Slack-Request-Timestamp` | HMAC-SHA256 of `v0:{ts}:{body}` | 5 min | signing secret | Slack's docs |
//! | Zoom | [`Zoom`] | `x-zm-signature: v0=<hex>`, `x-zm-request-timestamp` | HMAC-SHA256 of `v0:{ts}:{body}` | 5 min | secret token | computed |
//! | Shopify | [`Shopify`] | `X-Shopify-Hmac-Sha256: <base64>`, `X-Shopify-Webhook-Id` | HMAC-SHA256 of `{body}` | none | client secret | computed |
//! | Gitea, Forgejo | [`Gitea`] | `X-Gitea-Signature: <hex>`, `X-Gitea-Delivery` | HMAC-SHA256 of `{body}` | none | webhook secret | computed |
//! | Bitbucket | [`Bitbucket`] | `X-Hub-Signature: sha256=<hex>`, `X-Request-UUID` | HMAC-SHA256 of `{body}` | none | webhook secret | computed |
//! | Intercom | [`Intercom`] | `X-Hub-Signature: sha1=<hex>` | HMAC-SHA1 of `{body}` | none | client secret | computed |
//! | Typeform | [`Typeform`] | `Typeform-Signature: sha256=<base64>` | HMAC-SHA256 of `{body}` | none | webhook secret | computed |
//! | Twitch EventSub | [`Twitch`] | `Twitch-Eventsub-Message-Signature: sha256=<hex>`, `-Id`, `-Timestamp` (RFC 3339) | HMAC-SHA256 of `{id}{ts}{body}` | 10 min | subscription secret | computed |
//! | Linear | [`Linear`] | `Linear-Signature: <hex>`, `Linear-Delivery` | HMAC-SHA256 of `{body}`; `webhookTimestamp` (ms) in the body | 1 min | signing secret | computed |
//! | Mailgun | [`Mailgun`] | none: `signature.{timestamp,token,signature}` in a JSON body, or form fields | HMAC-SHA256 of `{timestamp}{token}` (not the event) | 5 min | HTTP webhook signing key | computed |
//! | Twilio | [`Twilio`] | `X-Twilio-Signature: <base64>`, `I-Twilio-Idempotency-Token` | HMAC-SHA1 of the full URL and the sorted form parameters (`bodySHA256` in the URL for JSON) | none | auth token | twilio-python's tests |
//! | Square | [`Square`] | `x-square-hmacsha256-signature: <base64>` | HMAC-SHA256 of `{notification URL}{body}` | none | signature key, and the URL as registered | square-nodejs-sdk's tests |
//! | HubSpot | [`HubSpot`] | `X-HubSpot-Signature-v3: <base64>`, `X-HubSpot-Request-Timestamp` (ms) | HMAC-SHA256 of `{method}{URL}{body}{ts}`; v1/v2 (SHA-256 of the secret and content) on request | 5 min | client secret | v1/v2: hubspot-api-nodejs's tests; v3 computed |
//! | Discord | [`Discord`] (feature `ed25519`) | `X-Signature-Ed25519: <hex>`, `X-Signature-Timestamp` | ed25519 of `{ts}{body}` | 5 min | application public key, hex | computed (Python `cryptography`) |
//! | SendGrid (Event Webhook) | [`SendGrid`] (feature `p256`) | `X-Twilio-Email-Event-Webhook-Signature: <base64 DER>`, `-Timestamp` | ECDSA P-256 with SHA-256 of `{ts}{body}` | 5 min | verification key: base64 DER public key | sendgrid-nodejs's tests |
//! | Google Pub/Sub push (and other OpenID Connect pushes) | [`Oidc`] (feature `oidc`, through [`VerifyAsync`]) | `Authorization: Bearer <JWT>` | RS256 JWT against the issuer's key set (JWKS, fetched and cached); issuer, audience, expiry, email | expiry (60 s leeway) | audience (and service account) | computed (Python `cryptography`) |
//! | AWS SNS (HTTP/S subscriptions) | [`Sns`] (feature `sns`, through [`VerifyAsync`]) | `x-amz-sns-message-type`; `Signature`, `SignatureVersion`, `SigningCertURL` in the JSON body | RSA with SHA-1 (v1) or SHA-256 (v2) of the canonical fields, the key from the certificate at `SigningCertURL` (https, `sns.<region>.amazonaws.com` only) | none (replay guard on `MessageId`) | none: the certificate is fetched and cached | computed (Python `cryptography`) |
//! | Microsoft Graph | [`MicrosoftGraph`] | none: `clientState` of each notification in the body | none: a shared secret, compared in constant time | none | client state | n/a |
//! | GitLab | [`GitLab`] | `X-Gitlab-Token: <token>` | none: a shared token, compared in constant time | none | secret token | n/a |
//! | anything else HMAC | [`HmacScheme`] | configurable | HMAC-SHA256/512/1, hex or base64, optional timestamp | configurable | bytes | n/a |
//!
//! [`VerifyAsync`] verifies where checking may wait for keys fetched over HTTP ([`Oidc`],
//! [`Sns`]);
//! every [`Verify`] scheme is a `VerifyAsync` too, at no cost (a ready future, no allocation).
//!
//! Handshakes: with `WebhookConfig::handshakes(true)` (adapter features), the server adapters
//! answer Slack's `url_verification`, Zoom's `endpoint.url_validation`, Twitch's
//! `webhook_callback_verification` and Discord's `PING` once they verified, and Microsoft
//! Graph's unsigned `validationToken`, through [`Verify::handshake`], without calling the
//! handler; and, for a [`VerifyAsync`] scheme given to `WebhookConfig::new_async`, SNS's
//! `SubscriptionConfirmation` with [`Sns::confirm_subscriptions`], through
//! [`VerifyAsync::handshake_async`].
//!
//! "Computed" vectors were made independently of hookwire, with Python's standard library from
//! the provider's documented layout, where the provider publishes none; each test file names
//! its commands. Schemes that sign the URL (Twilio, Square, HubSpot) need the request's method
//! and URI ([`Inbound::from_request`]); behind a proxy that changes the host, give Twilio and
//! HubSpot the public origin. A scheme with no timestamp can be replayed: keep a
//! [`ReplayGuard`] on the id it reports.
//!
//! A [`MultiVerifier`] serves one endpoint for several providers, picking the scheme by the
//! headers present (or, for Mailgun, by the signed fields in the body); with a scheme that
//! fetches its keys (SNS, OIDC) among them, [`MultiVerifierAsync`] does.
//!
//! Every scheme is built the same way: `Scheme::new(secret)` with the secret exactly as its
//! provider shows it (Standard Webhooks' `whsec_<base64>`, the other providers' plain text), or
//! with a [`Secret`] holding the key bytes; `with_secret` adds one more during a rotation, and
//! [`Verified::key`] says which one matched. With the `ed25519` feature, Standard Webhooks `v1a`
//! signs with a `SigningKey` and verifies with a `PublicKey`.
//!
//! Every verification compares in constant time, checks the timestamp where the scheme has one,
//! never panics on what arrived, and allocates nothing on the heap (Twilio rebuilds the URL it
//! signs and sorts the form parameters, and HubSpot decodes a URL that holds escapes, on the
//! heap). [`message_id`] makes unique,
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
#[cfg(feature = "ed25519")]
mod discord;
mod github;
mod in_body;
mod mac;
#[cfg(feature = "oidc")]
mod oidc;
mod presets;
mod replay;
#[cfg(feature = "postgres")]
mod replay_postgres;
#[cfg(feature = "redis")]
mod replay_redis;
pub(crate) mod scheme;
mod secret;
#[cfg(feature = "p256")]
mod sendgrid;
mod sign;
#[cfg(feature = "sns")]
mod sns;
mod standard;
mod stripe;
mod twitch;
mod url_signed;
mod verify;

#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use asymmetric::{PublicKey, SigningKey};
pub use configurable::{HmacScheme, HmacSchemeBuilder, SchemeError};
pub use diagnose::{Diagnosis, Hint, diagnose};
#[cfg(feature = "ed25519")]
pub use discord::Discord;
pub use github::GitHub;
pub use in_body::{Linear, Mailgun, MicrosoftGraph};
pub use mac::{Algorithm, Encoding};
#[cfg(feature = "oidc")]
pub use oidc::{Oidc, OidcError};
pub use presets::{Bitbucket, GitLab, Gitea, Intercom, Shopify, Slack, Typeform, Zoom};
pub use replay::{Claim, MAX_ID_LEN, MemoryReplayGuard, ReplayError, ReplayGuard, ReplayKey};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use replay_postgres::PostgresReplayGuard;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use replay_redis::RedisReplayGuard;
pub use scheme::{
    Handshake, Inbound, Message, MultiVerifier, MultiVerifierAsync, Sign, Verify, VerifyAsync,
};
pub use secret::{KeyError, Secret, SecretError, SecretInput};
#[cfg(feature = "p256")]
pub use sendgrid::SendGrid;
pub use sign::{SignError, message_id};
#[cfg(feature = "sns")]
pub use sns::Sns;
#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use standard::MAX_V1A_CANDIDATES;
pub use standard::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, StandardWebhooks, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
pub use stripe::{Calendly, Paddle, PagerDuty, Stripe};
pub use twitch::Twitch;
pub use url_signed::{HubSpot, Square, Twilio};
#[cfg(feature = "tracing")]
#[allow(unused_imports)] // Used by the server adapters, where their features are on.
pub(crate) use verify::trace_verification;
pub use verify::{DEFAULT_TOLERANCE, Verified, VerifyError, check_timestamp};

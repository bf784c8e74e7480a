//! Signing and verifying webhooks.
//!
//! The scheme implemented here is [Standard Webhooks] v1: the sender signs
//! `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under a shared secret and sends the
//! result as `webhook-signature: v1,<base64>` beside `webhook-id` and `webhook-timestamp`.
//! Svix sends the same scheme under `svix-*` header names; both are accepted.
//!
//! - [`Secret`]: the shared key, parsed from its `whsec_…` form; redacted in `Debug`, zeroized on
//!   drop.
//! - [`Signer`]: the sender side; produces the three headers, one signature per active secret.
//! - [`Verifier`]: the receiver side; checks the timestamp against a tolerance and the signature in
//!   constant time, without allocating, and returns [`Verified`] (id and timestamp) for a replay
//!   guard.
//! - [`message_id`]: a unique, time-sortable id for new messages.
//!
//! Verify the body exactly as it arrived, before parsing it: a body that was parsed and
//! serialised again no longer matches its signature.
//!
//! [Standard Webhooks]: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

mod secret;
mod sign;
mod standard;
mod verify;

pub use secret::{Secret, SecretError};
pub use sign::{SignError, SignedHeaders, Signer, message_id};
pub use standard::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
pub use verify::{DEFAULT_TOLERANCE, Verified, Verifier, VerifyError};

//! What every scheme's signing shares: [`SignError`] and new message ids.

use http::HeaderName;

/// Why a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The message id is empty or cannot stand in an HTTP header.
    #[error(
        "the message id is empty or holds characters not allowed in an HTTP header: use printable ASCII, e.g. from `message_id()`"
    )]
    InvalidId,
    /// A value to send (such as a configured signature prefix) cannot stand in an HTTP header.
    #[error("the value for header `{0}` holds characters not allowed in an HTTP header")]
    InvalidHeaderValue(HeaderName),
    /// The signer holds no key that can sign, such as a verifier built from public keys only.
    #[error("no key that can sign: add a secret (or, for `v1a`, a signing key)")]
    NoKey,
    /// The scheme signs the request's method and URL (Twilio, Square, HubSpot), and the message
    /// has none.
    #[error(
        "this scheme signs the request's method and URL: give the message them with `Message::to`"
    )]
    NoUrl,
    /// The signature could not be computed.
    #[error("the signature could not be computed")]
    Signing,
}

/// A new message id: `msg_` followed by a UUIDv7 in hex, such as
/// `msg_0192f1e4a7c07a3b9d4e5f60718293a4`.
///
/// Ids are unique and sort by creation time (to the millisecond, and in creation order within
/// one process), so that they also serve as keys in a delivery log.
pub fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

//! The Standard Webhooks v1 scheme: header names, the signed content, the signature syntax.

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderName;
use sha2::Sha256;

use super::Secret;

/// `webhook-id`: the message id, the same on every delivery attempt of one message.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// `webhook-timestamp`: when the attempt was signed, in integer seconds since the Unix epoch.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// `webhook-signature`: space-separated `version,signature` pairs, such as `v1,<base64>`.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
/// `svix-id`: the name Svix gives [`WEBHOOK_ID`].
pub const SVIX_ID: HeaderName = HeaderName::from_static("svix-id");
/// `svix-timestamp`: the name Svix gives [`WEBHOOK_TIMESTAMP`].
pub const SVIX_TIMESTAMP: HeaderName = HeaderName::from_static("svix-timestamp");
/// `svix-signature`: the name Svix gives [`WEBHOOK_SIGNATURE`].
pub const SVIX_SIGNATURE: HeaderName = HeaderName::from_static("svix-signature");

/// Each header's name: its Standard Webhooks spelling first, then Svix's. Statics, so that
/// lookups borrow prebuilt names for as long as the program runs.
pub(crate) static ID_NAMES: [HeaderName; 2] = [WEBHOOK_ID, SVIX_ID];
pub(crate) static TIMESTAMP_NAMES: [HeaderName; 2] = [WEBHOOK_TIMESTAMP, SVIX_TIMESTAMP];
pub(crate) static SIGNATURE_NAMES: [HeaderName; 2] = [WEBHOOK_SIGNATURE, SVIX_SIGNATURE];

/// The version tag of HMAC-SHA256 signatures.
pub(crate) const V1: &str = "v1";

/// What a v1 entry of a signature header starts with.
pub(crate) const V1_PREFIX: &[u8] = b"v1,";

/// The length of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// HMAC-SHA256 keyed once per secret. Cloning a keyed state is a plain copy of a few hundred
/// bytes, so signing and verifying never re-key (two SHA-256 blocks saved per call); the state
/// is zeroized on drop.
#[derive(Clone)]
pub(crate) struct Key(Hmac<Sha256>);

impl Key {
    pub(crate) fn new(secret: &Secret) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_bytes())
            .expect("HMAC accepts keys of any length");
        Key(mac)
    }

    /// The v1 tag of `{id}.{timestamp}.{body}`, computed over the three parts in place:
    /// nothing is concatenated or copied. `timestamp` is the header's own text.
    pub(crate) fn tag(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.0.clone();
        mac.update(id);
        mac.update(b".");
        mac.update(timestamp);
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The entries of a signature header: `version,signature` pairs separated by spaces (runs of
/// spaces are tolerated). Bytes, not text: the entries are ASCII, and a byte loop is cheaper
/// than a character search on headers this short.
pub(crate) fn entries(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header
        .split(|&byte| byte == b' ')
        .filter(|entry| !entry.is_empty())
}

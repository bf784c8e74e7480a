//! The Standard Webhooks scheme: header names, the signature syntax, and
//! [`StandardWebhooks`], which verifies and signs.

use super::diagnose::KeyLook;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::mac::{Algorithm, Encoding, KeyedMac};
use super::scheme::{Inbound, Sign, Verify};
use super::verify::{check_timestamp, found_ascii, found_str, parse_timestamp, unix_seconds};
use super::{
    DEFAULT_TOLERANCE, Message, Secret, SecretError, SecretInput, SignError, Verified, VerifyError,
};
#[cfg(feature = "ed25519")]
use super::{PublicKey, SigningKey};

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

/// The name [`Verified::scheme`] reports for this scheme.
pub(crate) const NAME: &str = "standard-webhooks";

/// What a symmetric (HMAC-SHA256) entry of a signature header starts with.
pub(crate) const V1_PREFIX: &[u8] = b"v1,";
/// What an asymmetric (ed25519) entry of a signature header starts with.
#[cfg(feature = "ed25519")]
pub(crate) const V1A_PREFIX: &[u8] = b"v1a,";
/// How many `v1a` entries of one signature header are checked, per public key: enough for a
/// sender that signs with an old and a new key during a rotation, and a bound on the work an
/// unauthenticated request can cause.
#[cfg(feature = "ed25519")]
pub const MAX_V1A_CANDIDATES: usize = 4;

/// The entries of a signature header: `version,signature` pairs separated by spaces (runs of
/// spaces are tolerated). Bytes, not text: the entries are ASCII, and a byte loop is cheaper
/// than a character search on headers this short.
pub(crate) fn entries(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = header;
    std::iter::from_fn(move || {
        loop {
            let (entry, after) = match memchr::memchr(b' ', rest) {
                Some(space) => (rest.get(..space)?, rest.get(space + 1..)?),
                None if rest.is_empty() => return None,
                None => (rest, &b""[..]),
            };
            rest = after;
            if !entry.is_empty() {
                return Some(entry);
            }
        }
    })
}

/// The syntax [`VerifyError::MalformedSignature`] names.
const EXPECTED: &str = "space-separated `v1,<base64>` (or `v1a,<base64>`) entries";

/// An HMAC-SHA256 state keyed with a Standard Webhooks secret: the text form is base64, with or
/// without its `whsec_` prefix, as the specification's libraries read it.
fn key(secret: SecretInput<'_>) -> Result<(KeyedMac, KeyLook), SecretError> {
    let owned;
    let secret = match secret {
        SecretInput::Text(text) => {
            owned = Secret::decode_base64(text)?;
            &owned
        }
        SecretInput::Secret(secret) => secret,
    };
    Ok((
        KeyedMac::new(Algorithm::Sha256, secret.expose_bytes()),
        KeyLook::of(secret.expose_bytes()),
    ))
}

/// Standard Webhooks (and Svix): verifies `v1` (HMAC-SHA256) signatures with one or more
/// secrets and signs with them; with the `ed25519` feature, `v1a` with public keys (verify) and
/// signing keys (sign and verify).
///
/// Build it once and share it (it is `Send + Sync` and cheap to clone). Each secret is keyed
/// once, here, so that a verification costs one HMAC over the message and nothing more;
/// verifying allocates nothing on the heap.
///
/// A message passes when its timestamp lies within the tolerance of now (either way) and any
/// one of its signatures matches any one of the keys; [`Verified::key`] says which. Signatures
/// of versions without a key here (`v1a` without public keys, `v2`, …) are skipped, and a
/// matching signature is accepted even beside entries that are malformed; those decide the
/// error only when nothing matches. Of the `v1a` entries, only the first [`MAX_V1A_CANDIDATES`]
/// are checked against each public key (each costs an ed25519 verification over the body).
/// Each header is read under its `webhook-*` name, else its `svix-*` name; where a header
/// repeats, its first value counts. Signing writes one signature per key (`v1,<a> v1,<b>`
/// during a rotation), so that receivers holding either key accept it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{Inbound, Secret, StandardWebhooks, Verify, VerifyError};
///
/// // During a rotation, accept the new secret and the old one.
/// let new = Secret::generate();
/// let verifier = StandardWebhooks::new(&new)?.with_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
/// headers.insert("webhook-timestamp", "1614265330".parse()?);
/// headers.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse()?);
/// let body = br#"{"test": 2432232314}"#;
///
/// let sent = UNIX_EPOCH + Duration::from_secs(1614265330);
/// let verified = verifier.verify_at(Inbound::new(&headers, body), sent + Duration::from_secs(10))?;
/// assert_eq!(verified.id(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
/// assert_eq!(verified.timestamp(), Some(1614265330));
/// assert_eq!(verified.key(), Some(1)); // the old secret: not retired yet
///
/// // An hour later, the same message is refused as too old.
/// let late = verifier.verify_at(Inbound::new(&headers, body), sent + Duration::from_secs(3600));
/// assert!(matches!(late, Err(VerifyError::TooOld { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct StandardWebhooks {
    keys: Vec<KeyedMac>,
    /// How each key's bytes looked, for advice when no signature matches.
    looks: Vec<KeyLook>,
    #[cfg(feature = "ed25519")]
    public_keys: Vec<PublicKey>,
    #[cfg(feature = "ed25519")]
    signing_keys: Vec<SigningKey>,
    tolerance: Duration,
}

impl StandardWebhooks {
    /// The scheme with one secret: its `whsec_<base64>` text as the sender shows it (the
    /// prefix may be left out), or a [`Secret`]. The [`DEFAULT_TOLERANCE`] applies.
    ///
    /// # Errors
    ///
    /// A [`SecretError`] for text that is empty, not base64, or decodes to fewer than
    /// [`Secret::MIN_LEN`] bytes (build a [`Secret`] with [`Secret::parse_weak`] to accept such
    /// a key). No error contains the secret.
    pub fn new<'s>(secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        Ok(Self::empty().push_key(key(secret.into())?))
    }

    /// The scheme with one ed25519 public key: verifies `v1a` signatures made with its private
    /// half, and cannot sign.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn from_public_key(public_key: &PublicKey) -> Self {
        Self::empty().with_public_key(public_key)
    }

    /// The scheme with one ed25519 signing key: signs `v1a`, and verifies what it signed.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn from_signing_key(signing_key: &SigningKey) -> Self {
        Self::empty().with_signing_key(signing_key)
    }

    fn empty() -> Self {
        StandardWebhooks {
            keys: Vec::new(),
            looks: Vec::new(),
            #[cfg(feature = "ed25519")]
            public_keys: Vec::new(),
            #[cfg(feature = "ed25519")]
            signing_keys: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    fn push_key(mut self, (key, look): (KeyedMac, KeyLook)) -> Self {
        self.keys.push(key);
        self.looks.push(look);
        self
    }

    /// Adds a secret, read as [`StandardWebhooks::new`] reads it: a `v1` signature made with
    /// any of the secrets passes, and each message is signed once more, with it.
    ///
    /// # Errors
    ///
    /// As [`StandardWebhooks::new`].
    pub fn with_secret<'s>(self, secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        Ok(self.push_key(key(secret.into())?))
    }

    /// Adds a public key: a `v1a` signature made with the private half of any of the public
    /// keys passes.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    #[must_use]
    pub fn with_public_key(mut self, public_key: &PublicKey) -> Self {
        self.public_keys.push(*public_key);
        self
    }

    /// Adds a signing key: each message then carries a `v1a` signature made with it, and its
    /// public half verifies.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    #[must_use]
    pub fn with_signing_key(mut self, signing_key: &SigningKey) -> Self {
        self.signing_keys.push(signing_key.clone());
        self.with_public_key(&signing_key.public_key())
    }

    /// Sets how far a message's timestamp may lie from now, into the past or into the future.
    /// Whole seconds count; a fraction of a second is dropped.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies `body` against the three header values given as strings, for servers whose
    /// header types are not [`http`]'s, at the given `now`.
    ///
    /// # Errors
    ///
    /// See [`VerifyError`]; never [`VerifyError::MissingHeader`] nor
    /// [`VerifyError::InvalidHeader`].
    pub fn verify_parts_at<'a>(
        &self,
        id: &'a str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        self.verify_bytes_at(id, timestamp.as_bytes(), signature.as_bytes(), body, now)
    }

    /// [`StandardWebhooks::verify_parts_at`] on the timestamp and signature as bytes.
    fn verify_bytes_at<'a>(
        &self,
        id: &'a str,
        timestamp: &[u8],
        signature: &[u8],
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let sent = parse_timestamp(timestamp)?;
        check_timestamp(sent, now, self.tolerance)?;
        let verified = Verified::new(NAME, Some(id), Some(sent)).tolerance(self.tolerance);
        let content: [&[u8]; 5] = [id.as_bytes(), b".", timestamp, b".", body];

        // Hash the body only when there is a signature this verifier can check. The first entry
        // is the usual place; only then is the rest of the header searched.
        let has_v1 = !self.keys.is_empty()
            && (signature.starts_with(V1_PREFIX)
                || entries(signature).any(|entry| entry.starts_with(V1_PREFIX)));
        if has_v1 {
            for (index, key) in self.keys.iter().enumerate() {
                let expected = key.tag(&content);
                let candidates = entries(signature).filter_map(|e| e.strip_prefix(V1_PREFIX));
                for encoded in candidates {
                    if expected.matches(Encoding::Base64, encoded) {
                        return Ok(verified.by_key(index));
                    }
                }
            }
        }
        #[cfg(feature = "ed25519")]
        for (index, public_key) in self.public_keys.iter().enumerate() {
            // Each candidate costs a full ed25519 verification over the body: only the first
            // few are tried, so that a header stuffed with junk entries cannot buy CPU time.
            let candidates = entries(signature)
                .filter_map(|e| e.strip_prefix(V1A_PREFIX))
                .take(MAX_V1A_CANDIDATES);
            for encoded in candidates {
                if public_key.verifies(&content, encoded) {
                    return Ok(verified.by_key(index));
                }
            }
        }
        Err(self.classify(signature))
    }

    /// Why a signature header holds no matching signature: malformed (empty, or an entry that
    /// is not a `version,signature` pair), no entry of a version this verifier holds keys for,
    /// or signatures that do not match. Runs on the failure path only.
    fn classify(&self, signature: &[u8]) -> VerifyError {
        let mut any = false;
        let mut supported = false;
        let mut v1a = false;
        for entry in entries(signature) {
            if !entry.contains(&b',') {
                return VerifyError::MalformedSignature { expected: EXPECTED };
            }
            any = true;
            supported |= !self.keys.is_empty() && entry.starts_with(V1_PREFIX);
            v1a |= entry.starts_with(b"v1a,");
            #[cfg(feature = "ed25519")]
            {
                supported |= !self.public_keys.is_empty() && entry.starts_with(V1A_PREFIX);
            }
        }
        match (any, supported) {
            (false, _) => VerifyError::MalformedSignature { expected: EXPECTED },
            (true, false) => VerifyError::NoSupportedSignature {
                found: if v1a {
                    "`v1a` (ed25519) signatures, and no public key to check them"
                } else {
                    "signatures of versions other than `v1` and `v1a`"
                },
            },
            (true, true) => VerifyError::NoMatchingSignature,
        }
    }
}

impl Verify for StandardWebhooks {
    fn name(&self) -> &str {
        NAME
    }

    fn secret_advice(&self) -> Option<&'static str> {
        self.looks.contains(&KeyLook::Whsec).then_some(
            "a key here is the text of a `whsec_` secret taken as bytes: pass the text to StandardWebhooks::new (or Secret::parse), which decodes it",
        )
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        SIGNATURE_NAMES
            .iter()
            .any(|name| request.headers().contains_key(name))
    }

    /// Verifies the body against the `webhook-*` (or `svix-*`) headers.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let (id, timestamp, signature) = find_headers(request.headers())?;
        self.verify_bytes_at(id, timestamp, signature, request.body(), now)
    }
}

impl Sign for StandardWebhooks {
    /// `webhook-id`, `webhook-timestamp` and `webhook-signature`, with one `v1` signature per
    /// secret and one `v1a` per signing key (public keys cannot sign).
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let id = message.id();
        if id.is_empty() || !id.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(SignError::InvalidId);
        }
        let timestamp = unix_seconds(message.timestamp()).to_string();
        let content: [&[u8]; 5] = [
            id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            message.body(),
        ];
        let v1 = self
            .keys
            .iter()
            .map(|key| Ok(format!("v1,{}", key.tag(&content).encode(Encoding::Base64))));
        #[cfg(feature = "ed25519")]
        let v1a = self.signing_keys.iter().map(|signing_key| {
            signing_key
                .sign_parts(&content)
                .map(|signature| format!("v1a,{signature}"))
        });
        #[cfg(not(feature = "ed25519"))]
        let v1a = std::iter::empty();
        let signatures = v1.chain(v1a).collect::<Result<Vec<String>, SignError>>()?;
        if signatures.is_empty() {
            return Err(SignError::NoKey);
        }
        let value = |name: &HeaderName, value: &str| {
            HeaderValue::from_str(value).map_err(|_| SignError::InvalidHeaderValue(name.clone()))
        };
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(WEBHOOK_ID, value(&WEBHOOK_ID, id)?);
        headers.insert(WEBHOOK_TIMESTAMP, value(&WEBHOOK_TIMESTAMP, &timestamp)?);
        headers.insert(
            WEBHOOK_SIGNATURE,
            value(&WEBHOOK_SIGNATURE, &signatures.join(" "))?,
        );
        Ok(headers)
    }
}

impl std::fmt::Debug for StandardWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("StandardWebhooks");
        debug.field("secrets", &self.keys.len());
        #[cfg(feature = "ed25519")]
        debug
            .field("public_keys", &self.public_keys)
            .field("signing_keys", &self.signing_keys.len());
        debug.field("tolerance", &self.tolerance).finish()
    }
}

/// The id, timestamp and signature headers, each by its Standard Webhooks name, else by its
/// Svix name; the first value where a name repeats. The id is text; the timestamp and the
/// signature stay bytes, checked to be ASCII (all that `to_str` checks of a valid header value),
/// since each is read byte by byte anyway.
///
/// One pass over the headers, matching names by length and bytes, costs less than three hashed
/// lookups (`HeaderMap::get` hashes the name byte by byte) for the dozen or so headers of a real
/// request; it stops once the three standard names are found.
fn find_headers(headers: &HeaderMap) -> Result<(&str, &[u8], &[u8]), VerifyError> {
    // By field (id, timestamp, signature): the value under the standard name, then under the
    // Svix name.
    let mut found: [Option<&HeaderValue>; 6] = [None; 6];
    for (name, value) in headers {
        let slot = match name.as_str() {
            "webhook-id" => 0,
            "svix-id" => 1,
            "webhook-timestamp" => 2,
            "svix-timestamp" => 3,
            "webhook-signature" => 4,
            "svix-signature" => 5,
            _ => continue,
        };
        if let Some(slot) = found.get_mut(slot) {
            slot.get_or_insert(value);
        }
        // The Svix names count only where a standard one is missing: once the three standard
        // names are found, the rest of the headers cannot change the answer.
        if let [Some(_), _, Some(_), _, Some(_), _] = found {
            break;
        }
    }
    let [
        id,
        svix_id,
        timestamp,
        svix_timestamp,
        signature,
        svix_signature,
    ] = found;
    let (name, id) = pick(id, svix_id, &ID_NAMES);
    let id = found_str(id, name)?;
    let (name, timestamp) = pick(timestamp, svix_timestamp, &TIMESTAMP_NAMES);
    let timestamp = found_ascii(timestamp, name)?;
    let (name, signature) = pick(signature, svix_signature, &SIGNATURE_NAMES);
    let signature = found_ascii(signature, name)?;
    Ok((id, timestamp, signature))
}

/// The value under the standard name, else under the Svix name, with the name it was under.
/// When neither is there, the standard name: a missing header is reported by that name.
fn pick<'h>(
    standard: Option<&'h HeaderValue>,
    svix: Option<&'h HeaderValue>,
    [standard_name, svix_name]: &'static [HeaderName; 2],
) -> (&'static HeaderName, Option<&'h HeaderValue>) {
    match (standard, svix) {
        (None, Some(value)) => (svix_name, Some(value)),
        (standard, _) => (standard_name, standard),
    }
}

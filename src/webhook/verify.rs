//! The receiver side: verifying a Standard Webhooks message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use super::Secret;
use super::standard::{
    ID_NAMES, Key, SIGNATURE_NAMES, TAG_LEN, TIMESTAMP_NAMES, V1_PREFIX, entries,
};

/// The default timestamp tolerance: 5 minutes, into the past and into the future.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Room for a decoded candidate signature. Base64's decoder wants space for its length estimate
/// (33 bytes for a 32-byte tag); anything longer than this cannot be a v1 tag anyway.
const DECODE_BUF_LEN: usize = 64;

/// Verifies Standard Webhooks v1 signatures.
///
/// Build it once with the receiver's secrets and share it (it is `Send + Sync` and cheap to
/// clone). Each secret is keyed once, here, so that a verification costs one HMAC over the
/// message and nothing more; verifying allocates nothing on the heap.
///
/// A message passes when its timestamp lies within the tolerance of now (either way) and any
/// one of its `v1` signatures matches any one of the secrets. Signatures of other versions
/// (`v1a`, `v2`, …) are skipped, and a matching signature is accepted even beside entries that
/// are malformed; those decide the error only when nothing matches. Each header is read under
/// its `webhook-*` name, else its `svix-*` name; where a header repeats, its first value counts.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{Secret, Verifier, VerifyError};
///
/// let old = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let new = Secret::generate();
/// // During a rotation, accept both secrets.
/// let verifier = Verifier::new(&new).with_secret(&old);
///
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
/// headers.insert("webhook-timestamp", "1614265330".parse()?);
/// headers.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse()?);
/// let body = br#"{"test": 2432232314}"#;
///
/// let sent = UNIX_EPOCH + Duration::from_secs(1614265330);
/// let verified = verifier.verify_at(&headers, body, sent + Duration::from_secs(10))?;
/// assert_eq!(verified.id(), "msg_p5jXN8AQM9LWM0D4loKWxJek");
/// assert_eq!(verified.timestamp(), 1614265330);
///
/// // An hour later, the same message is refused as too old.
/// let late = verifier.verify_at(&headers, body, sent + Duration::from_secs(3600));
/// assert!(matches!(late, Err(VerifyError::TooOld { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<Key>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier with one secret and the [`DEFAULT_TOLERANCE`].
    pub fn new(secret: &Secret) -> Self {
        Verifier {
            keys: vec![Key::new(secret)],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Adds a secret: a message signed with any of the verifier's secrets passes.
    #[must_use]
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.keys.push(Key::new(secret));
        self
    }

    /// Sets how far a message's timestamp may lie from now, into the past or into the future.
    /// Whole seconds count; a fraction of a second is dropped.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies `body` against the `webhook-*` (or `svix-*`) headers, at the system clock's now.
    ///
    /// # Errors
    ///
    /// See [`VerifyError`]: one variant a cause.
    pub fn verify<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
    ) -> Result<Verified<'h>, VerifyError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// Verifies `body` against the `webhook-*` (or `svix-*`) headers, at the given `now`.
    ///
    /// # Errors
    ///
    /// See [`VerifyError`]: one variant a cause.
    pub fn verify_at<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'h>, VerifyError> {
        let [id, timestamp, signature] = find_headers(headers)?;
        self.verify_parts_at(id, timestamp, signature, body, now)
    }

    /// Verifies `body` against the three header values given as strings, for servers whose
    /// header types are not [`http`]'s, at the system clock's now.
    ///
    /// # Errors
    ///
    /// See [`VerifyError`]; never [`VerifyError::MissingHeader`] nor
    /// [`VerifyError::InvalidHeader`].
    pub fn verify_parts<'a>(
        &self,
        id: &'a str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<Verified<'a>, VerifyError> {
        self.verify_parts_at(id, timestamp, signature, body, SystemTime::now())
    }

    /// Verifies `body` against the three header values given as strings, at the given `now`.
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
        let sent = parse_timestamp(timestamp)?;
        check_timestamp(sent, now, self.tolerance)?;
        let signature = signature.as_bytes();

        // Hash the body only when there is a v1 signature to compare with. The first entry is
        // the usual place; only then is the rest of the header searched.
        let has_v1 = signature.starts_with(V1_PREFIX)
            || entries(signature).any(|entry| entry.starts_with(V1_PREFIX));
        if !has_v1 {
            return Err(classify(signature));
        }
        for key in &self.keys {
            let expected = key.tag(id.as_bytes(), timestamp.as_bytes(), body);
            for entry in entries(signature) {
                if let Some(encoded) = entry.strip_prefix(V1_PREFIX) {
                    if matches(&expected, encoded) {
                        return Ok(Verified {
                            id,
                            timestamp: sent,
                        });
                    }
                }
            }
        }
        Err(classify(signature))
    }
}

/// Why a signature header holds no matching signature: malformed (empty, or an entry that is
/// not a `version,signature` pair), nothing but unknown versions, or v1 signatures that do not
/// match. Runs on the failure path only; a matching signature wins over malformed neighbours.
fn classify(signature: &[u8]) -> VerifyError {
    let mut any = false;
    let mut v1 = false;
    for entry in entries(signature) {
        if !entry.contains(&b',') {
            return VerifyError::MalformedSignature;
        }
        any = true;
        v1 |= entry.starts_with(V1_PREFIX);
    }
    match (any, v1) {
        (false, _) => VerifyError::MalformedSignature,
        (true, false) => VerifyError::NoSupportedSignature,
        (true, true) => VerifyError::NoMatchingSignature,
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Whether the base64 signature `encoded` decodes to `expected`, compared in constant time.
/// The decoded bytes live on the stack; undecodable or wrong-length input simply does not match.
fn matches(expected: &[u8; TAG_LEN], encoded: &[u8]) -> bool {
    let mut decoded = [0u8; DECODE_BUF_LEN];
    match STANDARD.decode_slice(encoded, &mut decoded) {
        Ok(TAG_LEN) => decoded
            .first_chunk::<TAG_LEN>()
            .is_some_and(|candidate| bool::from(words(candidate).ct_eq(&words(expected)))),
        _ => false,
    }
}

/// A tag as four 64-bit words, so that the constant-time comparison runs over 4 lanes, not 32.
fn words(tag: &[u8; TAG_LEN]) -> [u64; TAG_LEN / 8] {
    let mut out = [0u64; TAG_LEN / 8];
    for (word, chunk) in out.iter_mut().zip(tag.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        *word = u64::from_ne_bytes(bytes);
    }
    out
}

/// The id, timestamp and signature headers, each by its Standard Webhooks name, else by its
/// Svix name; the first value where a name repeats.
///
/// One pass over the headers, matching names by length and bytes, costs less than three hashed
/// lookups (`HeaderMap::get` hashes the name byte by byte) for the dozen or so headers of a real
/// request.
fn find_headers(headers: &HeaderMap) -> Result<[&str; 3], VerifyError> {
    // found[field] = (value under the standard name, value under the Svix name)
    let mut found: [(Option<&HeaderValue>, Option<&HeaderValue>); 3] = [(None, None); 3];
    for (name, value) in headers {
        let (field, standard) = match name.as_str() {
            "webhook-id" => (0, true),
            "webhook-timestamp" => (1, true),
            "webhook-signature" => (2, true),
            "svix-id" => (0, false),
            "svix-timestamp" => (1, false),
            "svix-signature" => (2, false),
            _ => continue,
        };
        if let Some((by_standard, by_svix)) = found.get_mut(field) {
            let slot = if standard { by_standard } else { by_svix };
            slot.get_or_insert(value);
        }
    }
    let mut out = [""; 3];
    for ((slot, (by_standard, by_svix)), names) in
        out.iter_mut()
            .zip(found)
            .zip([&ID_NAMES, &TIMESTAMP_NAMES, &SIGNATURE_NAMES])
    {
        let [standard, svix] = names;
        let (name, value) = match (by_standard, by_svix) {
            (Some(value), _) => (standard, value),
            (None, Some(value)) => (svix, value),
            (None, None) => {
                return Err(VerifyError::MissingHeader {
                    name: standard.as_str(),
                });
            }
        };
        *slot = value.to_str().map_err(|_| VerifyError::InvalidHeader {
            name: name.as_str(),
        })?;
    }
    Ok(out)
}

/// Parses an integer count of seconds since the Unix epoch.
pub(crate) fn parse_timestamp(timestamp: &str) -> Result<i64, VerifyError> {
    timestamp
        .parse::<i64>()
        .map_err(|_| VerifyError::MalformedTimestamp)
}

/// Checks that `sent` (Unix seconds) lies within `tolerance` of `now`, either way. Computed in
/// 128 bits: no timestamp can overflow it.
pub(crate) fn check_timestamp(
    sent: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let skew = i128::from(unix_seconds(now)) - i128::from(sent);
    let limit = i128::from(tolerance.as_secs());
    let as_duration =
        |seconds: i128| Duration::from_secs(u64::try_from(seconds).unwrap_or(u64::MAX));
    if skew > limit {
        Err(VerifyError::TooOld {
            age: as_duration(skew),
            tolerance,
        })
    } else if -skew > limit {
        Err(VerifyError::TooNew {
            ahead: as_duration(-skew),
            tolerance,
        })
    } else {
        Ok(())
    }
}

/// Whole seconds since the Unix epoch (negative before it), saturating at the ends of `i64`.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// A message that passed verification: its id and timestamp, for a replay guard.
///
/// Its id borrows from the headers it was read from; `verified.id().to_owned()` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verified<'a> {
    id: &'a str,
    timestamp: i64,
}

impl<'a> Verified<'a> {
    /// The message id (`webhook-id`): the same on every delivery attempt of one message, so
    /// that duplicates can be dropped.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// The signed timestamp (`webhook-timestamp`), in seconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

/// Why a message failed verification.
///
/// Messages name what was wrong and never carry a secret or the body. Answer every variant
/// with a client error (400 or 401) and do not process the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error(
        "missing header `{name}`: the request is not a signed webhook, or something on the way dropped the header (`svix-*` names are accepted too)"
    )]
    MissingHeader {
        /// The header's name.
        name: &'static str,
    },
    /// A header's value is not visible ASCII.
    #[error("header `{name}` holds bytes that are not visible ASCII")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
    },
    /// The timestamp is not an integer number of seconds that fits in 64 bits.
    #[error("the webhook timestamp is not an integer number of seconds since the Unix epoch")]
    MalformedTimestamp,
    /// The timestamp lies further in the past than the tolerance allows.
    #[error(
        "the webhook timestamp is {age:?} old, beyond the tolerance of {tolerance:?}: a replayed message, or the sender's clock is behind"
    )]
    TooOld {
        /// How far in the past the timestamp lies.
        age: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },
    /// The timestamp lies further in the future than the tolerance allows.
    #[error(
        "the webhook timestamp is {ahead:?} in the future, beyond the tolerance of {tolerance:?}: the sender's clock (or this one) is off"
    )]
    TooNew {
        /// How far in the future the timestamp lies.
        ahead: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },
    /// No signature matched, and the signature header is empty or an entry in it is not a
    /// `version,signature` pair.
    #[error(
        "the webhook signature header is malformed: expected space-separated `v1,<base64>` entries"
    )]
    MalformedSignature,
    /// The signature header holds no `v1` signature, only versions this verifier does not
    /// support.
    #[error(
        "the webhook signature header holds no `v1` signature, only versions this verifier does not support"
    )]
    NoSupportedSignature,
    /// No `v1` signature matches the message under any of the verifier's secrets.
    #[error(
        "no signature matches: the body, id or timestamp was altered, or the secret is not the one the sender uses"
    )]
    NoMatchingSignature,
}

//! What every scheme's verification shares: the [`Verified`] result, [`VerifyError`], and the
//! timestamp check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

/// The default timestamp tolerance: 5 minutes, into the past and into the future.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A header's value as text.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] or [`VerifyError::InvalidHeader`] (not visible ASCII).
pub(crate) fn header_str<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<&'h str, VerifyError> {
    found_str(headers.get(name), name)
}

/// A header's value as bytes, checked to be ASCII: what [`header_str`] checks of a valid header
/// value, for schemes that read the value byte by byte anyway.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] or [`VerifyError::InvalidHeader`] (not ASCII).
pub(crate) fn header_ascii<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<&'h [u8], VerifyError> {
    found_ascii(headers.get(name), name)
}

/// The first value of each of `names` (`None` where absent), found in one pass over the
/// headers. `HeaderMap::get` hashes a name byte by byte in a chain of multiplications, about
/// 20 ns for a provider's long custom name; a pass that rejects most names by their length and
/// last byte (a provider's names share a long prefix and differ at the end) costs less than two
/// such lookups on the dozen or so headers of a real request. The pass stops once every name is
/// found.
pub(crate) fn find_headers<'h, const N: usize>(
    headers: &'h HeaderMap,
    names: [&HeaderName; N],
) -> [Option<&'h HeaderValue>; N] {
    let mut found = [None; N];
    let mut missing = N;
    for (name, value) in headers {
        let name = name.as_str().as_bytes();
        for (slot, wanted) in found.iter_mut().zip(names) {
            let wanted = wanted.as_str().as_bytes();
            if slot.is_none()
                && name.len() == wanted.len()
                && name.last() == wanted.last()
                && name == wanted
            {
                *slot = Some(value);
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    found
}

/// A found header's value as text.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] or [`VerifyError::InvalidHeader`] (not visible ASCII).
pub(crate) fn found_str<'h>(
    value: Option<&'h HeaderValue>,
    name: &HeaderName,
) -> Result<&'h str, VerifyError> {
    value
        .ok_or_else(|| VerifyError::MissingHeader(name.clone()))?
        .to_str()
        .map_err(|_| VerifyError::InvalidHeader(name.clone()))
}

/// A found header's value as bytes, checked to be ASCII, as [`header_ascii`] reads it.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] or [`VerifyError::InvalidHeader`] (not ASCII).
#[inline(always)]
pub(crate) fn found_ascii<'h>(
    value: Option<&'h HeaderValue>,
    name: &HeaderName,
) -> Result<&'h [u8], VerifyError> {
    let bytes = value
        .ok_or_else(|| VerifyError::MissingHeader(name.clone()))?
        .as_bytes();
    if bytes.is_ascii() {
        Ok(bytes)
    } else {
        Err(VerifyError::InvalidHeader(name.clone()))
    }
}

/// Whether two short byte strings (a prefix, an item's key) are equal, compared in line: for a
/// few bytes, a call to `memcmp` costs more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `value` without a short `prefix`, compared as [`same_bytes`] compares.
#[inline]
pub(crate) fn strip_short_prefix<'v>(value: &'v [u8], prefix: &[u8]) -> Option<&'v [u8]> {
    let (head, tail) = value.split_at_checked(prefix.len())?;
    same_bytes(head, prefix).then_some(tail)
}

/// A found header's value as text, or `None` where the request has no such header.
///
/// # Errors
///
/// [`VerifyError::InvalidHeader`] (not visible ASCII).
pub(crate) fn found_optional_str<'h>(
    value: Option<&'h HeaderValue>,
    name: &HeaderName,
) -> Result<Option<&'h str>, VerifyError> {
    value
        .map(|value| {
            value
                .to_str()
                .map_err(|_| VerifyError::InvalidHeader(name.clone()))
        })
        .transpose()
}

/// Parses an integer count of seconds since the Unix epoch, written canonically: `0`, or digits
/// without a leading zero after an optional `-`. Senders sign the canonical number; a header
/// such as `+1700000000` or `01700000000` is refused as malformed, before any signature is
/// checked, rather than failing later as a signature that does not match.
#[inline]
pub(crate) fn parse_timestamp(timestamp: impl AsRef<[u8]>) -> Result<i64, VerifyError> {
    let timestamp = timestamp.as_ref();
    // What `i64::from_str` accepts (one optional sign, then at least one digit, in range) is
    // well-formed; of that, only the canonical form passes.
    let (sign, digits) = match timestamp {
        [sign @ (b'+' | b'-'), rest @ ..] => (Some(*sign), rest),
        _ => (None, timestamp),
    };
    if digits.is_empty() {
        return Err(VerifyError::MalformedTimestamp);
    }
    let negative = sign == Some(b'-');
    let seconds = if digits.len() <= 18 {
        // Eighteen digits cannot overflow, so no step is checked; the two halves are read
        // independently, which halves the chain of dependent steps.
        let (high, low) = digits.split_at(digits.len() / 2);
        let scale = POWERS_OF_TEN
            .get(low.len())
            .ok_or(VerifyError::MalformedTimestamp)?;
        let magnitude = short_digits(high)? * scale + short_digits(low)?;
        if negative { -magnitude } else { magnitude }
    } else {
        checked_digits(digits, negative)?
    };
    let leading_zero = digits.first() == Some(&b'0') && (digits.len() > 1 || negative);
    if sign == Some(b'+') || leading_zero {
        Err(VerifyError::NonCanonicalTimestamp)
    } else {
        Ok(seconds)
    }
}

/// 10 to the power of the index, for up to 9 digits: the low half of 18.
const POWERS_OF_TEN: [i64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// The value of at most 9 digits (empty is 0).
fn short_digits(digits: &[u8]) -> Result<i64, VerifyError> {
    let mut value: i64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(VerifyError::MalformedTimestamp);
        }
        value = value * 10 + i64::from(digit);
    }
    Ok(value)
}

/// The value of a run of digits too long to be sure it fits, with every step checked.
fn checked_digits(digits: &[u8], negative: bool) -> Result<i64, VerifyError> {
    let mut seconds: i64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(VerifyError::MalformedTimestamp);
        }
        // Negative numbers are accumulated downwards, so that `i64::MIN` parses.
        seconds = seconds
            .checked_mul(10)
            .and_then(|tens| {
                if negative {
                    tens.checked_sub(i64::from(digit))
                } else {
                    tens.checked_add(i64::from(digit))
                }
            })
            .ok_or(VerifyError::MalformedTimestamp)?;
    }
    Ok(seconds)
}

/// Checks that `sent` (seconds since the Unix epoch) lies within `tolerance` of `now`, either
/// way, as every timestamped scheme here does. Computed in 128 bits: no timestamp overflows it.
/// Public for implementers of [`Verify`](super::Verify).
///
/// # Errors
///
/// [`VerifyError::TooOld`] or [`VerifyError::TooNew`], with the skew.
pub fn check_timestamp(sent: i64, now: SystemTime, tolerance: Duration) -> Result<(), VerifyError> {
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

/// A message that passed verification: which scheme verified it, and its id and timestamp where
/// the scheme has them, for a replay guard.
///
/// The id borrows from the headers it was read from; `id.to_owned()` keeps it. Where the scheme
/// signs the id (Standard Webhooks), a guard on it stops deliberate replays; where the id
/// travels in an unsigned header (GitHub's and Shopify's delivery ids), it stops accidental
/// redeliveries only, since whoever replays a request can change that header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verified<'a> {
    scheme: &'a str,
    id: Option<&'a str>,
    timestamp: Option<i64>,
    tolerance: Option<Duration>,
    key: Option<usize>,
}

impl<'a> Verified<'a> {
    /// A verification result, for implementers of [`Verify`](super::Verify).
    pub fn new(scheme: &'a str, id: Option<&'a str>, timestamp: Option<i64>) -> Self {
        Verified {
            scheme,
            id,
            timestamp,
            tolerance: None,
            key: None,
        }
    }

    /// The same result, noting which of the verifier's keys matched: its position in the order
    /// the keys were added, `0` for the first.
    #[must_use]
    pub fn by_key(mut self, index: usize) -> Self {
        self.key = Some(index);
        self
    }

    /// Which of the verifier's secrets (or public keys) matched: its position in the order they
    /// were added, `0` for the first. During a rotation, once no message matches an old secret
    /// any more, that secret can be retired.
    pub fn key(&self) -> Option<usize> {
        self.key
    }

    /// The same result, noting the tolerance the timestamp was checked against, so that
    /// [`verifiable_until`](Verified::verifiable_until) can tell a replay guard how long the
    /// message stays verifiable.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// The first instant at which this exact message no longer verifies: its signed timestamp
    /// plus the tolerance plus one second (timestamps are whole seconds, and the boundary is
    /// accepted). A replay guard must remember the id at least until then. `None` where the
    /// scheme signs no timestamp: such a message verifies forever.
    pub fn verifiable_until(&self) -> Option<SystemTime> {
        let timestamp = u64::try_from(self.timestamp?).ok()?;
        UNIX_EPOCH
            .checked_add(Duration::from_secs(timestamp))?
            .checked_add(self.tolerance?)?
            .checked_add(Duration::from_secs(1))
    }

    /// The name of the scheme that verified the message, such as `"standard-webhooks"`.
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The message id, where the scheme has one: the same on every delivery attempt of one
    /// message, so that duplicates can be dropped.
    pub fn id(&self) -> Option<&'a str> {
        self.id
    }

    /// The signed timestamp, in seconds since the Unix epoch, where the scheme has one.
    pub fn timestamp(&self) -> Option<i64> {
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
        "missing header `{0}`: the request is not signed under this scheme, or something on the way dropped the header"
    )]
    MissingHeader(HeaderName),
    /// A header's value is not visible ASCII.
    #[error("header `{0}` holds bytes that are not visible ASCII")]
    InvalidHeader(HeaderName),
    /// The timestamp is not an integer number of seconds that fits in 64 bits.
    #[error("the webhook timestamp is not an integer number of seconds since the Unix epoch")]
    MalformedTimestamp,
    /// The timestamp is a number, but not written canonically (a `+` sign, leading zeros,
    /// `-0`): senders sign the canonical number, so it was altered on the way or the sender
    /// writes timestamps its own way.
    #[error(
        "the webhook timestamp is not written canonically (no `+` sign, no leading zeros): senders sign the canonical number, so the header was altered on the way or the sender writes timestamps its own way"
    )]
    NonCanonicalTimestamp,
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
    /// No signature matched, and the signature header does not follow the scheme's syntax.
    #[error("the webhook signature header is malformed: expected {expected}")]
    MalformedSignature {
        /// The syntax the scheme expects, such as ``"`sha256=` and the hex HMAC-SHA256"``.
        expected: &'static str,
    },
    /// The signature header holds only signatures of versions or algorithms this verifier does
    /// not accept, such as only `v1a` where `v1` is expected.
    #[error(
        "the webhook carries no signature of a kind this verifier accepts: it found only {found}"
    )]
    NoSupportedSignature {
        /// What was found instead, such as ``"`v1a` (ed25519) signatures"``.
        found: &'static str,
    },
    /// No signature matches the message under any of the verifier's keys.
    #[error(
        "no signature matches: the body, id or timestamp was altered, or the key is not the one the sender uses"
    )]
    NoMatchingSignature,
    /// The scheme signs the request's URL (Twilio, Square, HubSpot), and the server passed no
    /// URI, or only a path where neither a `Host` header nor a configured public origin says
    /// where it was sent.
    #[error(
        "this scheme signs the request's method and URL, which the server did not pass: build the `Inbound` with `from_request` or `from_parts`, and where a proxy rewrites the host, set the public origin on the verifier"
    )]
    UnknownUrl,
    /// A value the scheme reads from the body (a timestamp or signature that the provider puts
    /// there) is missing or malformed.
    #[error("the webhook body does not hold the signed fields this scheme expects: {expected}")]
    MalformedBody {
        /// What the scheme expects, such as ``"`signature.timestamp`, `signature.token` and `signature.signature`"``.
        expected: &'static str,
    },
    /// The keys to verify with are fetched over HTTP, and could not be: answer 503, so that
    /// the sender tries again.
    #[error("the keys to verify the webhook with could not be fetched: {reason}")]
    KeysUnavailable {
        /// What went wrong, such as "the key set answered 500".
        reason: String,
    },
    /// A [`MultiVerifier`](super::MultiVerifier) found the signature header of none of its
    /// schemes.
    #[error("the request carries the signature header of none of the configured webhook schemes")]
    NoScheme,
}

impl VerifyError {
    /// A short, stable name for what was wrong, for logs and metric labels: `missing_header`,
    /// `invalid_header`, `malformed_timestamp`, `non_canonical_timestamp`, `too_old`,
    /// `too_new`, `malformed_signature`, `no_supported_signature`, `no_matching_signature`,
    /// `unknown_url`, `malformed_body`, `keys_unavailable` or `no_scheme`.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::InvalidHeader(_) => "invalid_header",
            VerifyError::MalformedTimestamp => "malformed_timestamp",
            VerifyError::NonCanonicalTimestamp => "non_canonical_timestamp",
            VerifyError::TooOld { .. } => "too_old",
            VerifyError::TooNew { .. } => "too_new",
            VerifyError::MalformedSignature { .. } => "malformed_signature",
            VerifyError::NoSupportedSignature { .. } => "no_supported_signature",
            VerifyError::NoMatchingSignature => "no_matching_signature",
            VerifyError::UnknownUrl => "unknown_url",
            VerifyError::MalformedBody { .. } => "malformed_body",
            VerifyError::KeysUnavailable { .. } => "keys_unavailable",
            VerifyError::NoScheme => "no_scheme",
        }
    }
}

/// Reports a verification through `tracing` (see [`observe`](crate::observe)): the scheme,
/// the outcome and reason, the clock skew and which key matched. Nothing from the request but
/// the skew is reported.
#[cfg(feature = "tracing")]
pub(crate) fn trace_verification(
    scheme: &str,
    result: &Result<Verified<'_>, VerifyError>,
    now: SystemTime,
) {
    match result {
        Ok(verified) => {
            let skew = verified
                .timestamp()
                .map(|sent| i128::from(unix_seconds(now)) - i128::from(sent));
            tracing::debug!(
                target: "hookwire::webhook",
                scheme,
                outcome = "verified",
                skew_seconds = skew.map(|skew| i64::try_from(skew).unwrap_or(i64::MAX)),
                tolerance_seconds = verified.tolerance.map(|t| t.as_secs()),
                key = verified.key(),
                "webhook verified"
            );
        }
        Err(error) => {
            let (skew, tolerance) = match error {
                VerifyError::TooOld { age, tolerance } => (
                    Some(i64::try_from(age.as_secs()).unwrap_or(i64::MAX)),
                    Some(tolerance.as_secs()),
                ),
                VerifyError::TooNew { ahead, tolerance } => (
                    Some(i64::try_from(ahead.as_secs()).map_or(i64::MIN, |s| -s)),
                    Some(tolerance.as_secs()),
                ),
                _ => (None, None),
            };
            tracing::debug!(
                target: "hookwire::webhook",
                scheme,
                outcome = "rejected",
                reason = error.reason(),
                skew_seconds = skew,
                tolerance_seconds = tolerance,
                "webhook rejected"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{VerifyError, parse_timestamp};

    /// The rule as first written: what `i64::from_str` accepts, then the canonical form.
    fn by_the_standard_library(timestamp: &str) -> Result<i64, VerifyError> {
        let seconds = timestamp
            .parse::<i64>()
            .map_err(|_| VerifyError::MalformedTimestamp)?;
        let digits = timestamp.strip_prefix('-').unwrap_or(timestamp);
        let canonical = match digits.as_bytes() {
            [b'0'] => digits.len() == timestamp.len(),
            [first, ..] => *first != b'0' && *first != b'+',
            [] => false,
        };
        if canonical {
            Ok(seconds)
        } else {
            Err(VerifyError::NonCanonicalTimestamp)
        }
    }

    #[test]
    fn timestamps_at_the_edges_parse_as_the_standard_library_reads_them() {
        for text in [
            "0",
            "-0",
            "+0",
            "00",
            "01",
            "-01",
            "1700000000",
            "+1700000000",
            "-1700000000",
            "",
            "-",
            "+",
            "+-1",
            "--1",
            "1 ",
            " 1",
            "1e9",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse_timestamp(text),
                by_the_standard_library(text),
                "{text:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_text_parses_as_the_standard_library_reads_it(
            text in "[-+]{0,2}[0-9]{0,21}[ a+-]?[0-9]{0,3}|\\PC{0,24}",
        ) {
            prop_assert_eq!(parse_timestamp(&text), by_the_standard_library(&text));
        }
    }
}

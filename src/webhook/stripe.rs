//! Stripe: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`.

use super::diagnose::KeyLook;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName};

use super::configurable::value;
use super::mac::{Algorithm, Encoding, KeyedMac};
use super::scheme::{Inbound, Sign, Verify};
use super::verify::{header_str, parse_timestamp, unix_seconds};
use super::{
    DEFAULT_TOLERANCE, Message, SecretError, SecretInput, SignError, Verified, VerifyError,
    check_timestamp,
};

/// The syntax [`VerifyError::MalformedSignature`] names.
const EXPECTED: &str = "`t=<unix seconds>,v1=<hex>` (one `v1` per active secret)";

/// `Stripe-Signature`.
const STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");

/// Stripe's webhook signatures, as documented in "Verify webhook signatures manually".
///
/// Stripe signs `{t}.{body}` with HMAC-SHA256 under the endpoint's signing secret, the whole
/// `whsec_…` string used byte for byte (not base64-decoded, unlike Standard Webhooks), and
/// sends `Stripe-Signature: t=<seconds>,v1=<hex>`. While a secret is being rolled, the header
/// carries one `v1` per active secret; every one is tried. Signatures of other schemes (`v0`,
/// test-mode SHA-1) are ignored, so that no one can downgrade a request to them. The
/// timestamp must lie within the tolerance (300 seconds unless set) either way: Stripe's own
/// libraries check only the past, but a timestamp far in the future is as suspect.
///
/// ```
/// use hookwire::webhook::{Inbound, Message, Sign, Stripe, Verify};
///
/// let stripe = Stripe::new("whsec_test_secret")?;
/// let headers = stripe.sign(&Message::new("", br#"{"id":"evt_1"}"#))?;
/// assert!(headers["stripe-signature"].to_str()?.starts_with("t="));
/// assert!(stripe.verify(Inbound::new(&headers, br#"{"id":"evt_1"}"#)).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Stripe {
    keys: Vec<KeyedMac>,
    /// How each secret's text looked, for advice when no signature matches.
    looks: Vec<KeyLook>,
    tolerance: Duration,
}

impl Stripe {
    /// The scheme, with the endpoint's signing secret: the `whsec_…` text as Stripe shows it
    /// (used byte for byte), or a [`Secret`](super::Secret).
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new<'s>(signing_secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        let (key, look) = key(signing_secret)?;
        Ok(Stripe {
            keys: vec![key],
            looks: vec![look],
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Adds a signing secret (while one is rolled), read as [`Stripe::new`] reads it: a
    /// signature made with any of them passes.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret<'s>(
        mut self,
        signing_secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        let (key, look) = key(signing_secret)?;
        self.keys.push(key);
        self.looks.push(look);
        Ok(self)
    }

    /// How far `t` may lie from now, either way: 300 seconds unless set.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }
}

fn key<'s>(signing_secret: impl Into<SecretInput<'s>>) -> Result<(KeyedMac, KeyLook), SecretError> {
    let secret = signing_secret.into().raw()?;
    Ok((
        KeyedMac::new(Algorithm::Sha256, secret.expose_bytes()),
        KeyLook::of(secret.expose_bytes()),
    ))
}

/// The `key=value` items of a `Stripe-Signature` header.
fn items(header: &str) -> impl Iterator<Item = Option<(&str, &str)>> {
    header
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.split_once('='))
}

impl Verify for Stripe {
    fn name(&self) -> &str {
        "stripe"
    }

    fn secret_advice(&self) -> Option<&'static str> {
        if self.looks.contains(&KeyLook::StripeApiKey) {
            Some(
                "a secret here looks like a Stripe API key (`sk_`, `rk_`, `pk_`): webhooks are signed with the endpoint's signing secret, which starts with `whsec_`",
            )
        } else if self.looks.iter().any(|look| *look != KeyLook::Whsec) {
            Some(
                "a secret here does not start with `whsec_`, as Stripe's signing secrets do: copy the endpoint's signing secret whole, as the Dashboard shows it",
            )
        } else {
            None
        }
    }

    fn detect(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(STRIPE_SIGNATURE)
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let (headers, body) = (request.headers(), request.body());
        static NAME: HeaderName = STRIPE_SIGNATURE;
        let header = header_str(headers, &NAME)?;
        let mut timestamp = None;
        let mut has_v1 = false;
        for item in items(header) {
            match item {
                Some(("t", t)) => {
                    timestamp.get_or_insert(t);
                }
                Some(("v1", _)) => has_v1 = true,
                // Unknown items, and items without `=`, are skipped, as Stripe's own libraries
                // skip them: Stripe may add items to the header.
                Some(_) | None => {}
            }
        }
        let timestamp = timestamp.ok_or(VerifyError::MalformedSignature { expected: EXPECTED })?;
        let sent = parse_timestamp(timestamp)?;
        check_timestamp(sent, now, self.tolerance)?;
        if !has_v1 {
            return Err(VerifyError::NoSupportedSignature {
                found: "signatures of schemes other than `v1` (such as `v0`), which are refused",
            });
        }
        let content: [&[u8]; 3] = [timestamp.as_bytes(), b".", body];
        for (index, key) in self.keys.iter().enumerate() {
            let expected = key.tag(&content);
            let candidates = items(header).filter_map(|item| match item {
                Some(("v1", signature)) => Some(signature),
                _ => None,
            });
            for candidate in candidates {
                if expected.matches(Encoding::Hex, candidate.as_bytes()) {
                    return Ok(Verified::new("stripe", None, Some(sent))
                        .tolerance(self.tolerance)
                        .by_key(index));
                }
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

impl Sign for Stripe {
    /// `Stripe-Signature: t=…,v1=…` with one `v1` per secret, as Stripe sends while a secret
    /// is rolled. The message id is not used: Stripe's event id travels in the body.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let timestamp = unix_seconds(message.timestamp()).to_string();
        let content: [&[u8]; 3] = [timestamp.as_bytes(), b".", message.body()];
        let mut signature = format!("t={timestamp}");
        for key in &self.keys {
            signature.push_str(",v1=");
            signature.push_str(&key.tag(&content).encode(Encoding::Hex));
        }
        let mut headers = HeaderMap::new();
        headers.insert(STRIPE_SIGNATURE, value(&STRIPE_SIGNATURE, &signature)?);
        Ok(headers)
    }
}

impl fmt::Debug for Stripe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stripe")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

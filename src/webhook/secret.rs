//! The shared secret of an HMAC webhook scheme.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The prefix Standard Webhooks puts before a base64 secret.
const PREFIX: &str = "whsec_";

/// Base64 with the standard alphabet, accepting input with or without padding: providers show
/// secrets both ways.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A webhook signing key.
///
/// Standard Webhooks shows secrets as `whsec_` followed by the base64 of the key bytes, for
/// example `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`. [`Secret::parse`] reads that form (the
/// prefix may be left out, and surrounding white space is ignored); [`Secret::from_bytes`] takes
/// the raw key.
///
/// # Key length
///
/// The specification asks for keys of 24 to 64 bytes. hookwire refuses keys shorter than
/// [`Secret::MIN_LEN`] (24 bytes) by default: whoever sees a single signed message can test
/// guesses of a short key offline, as fast as they can compute HMACs, and nothing on the wire
/// reveals that they are trying. When a sender really did issue a shorter key and you cannot get
/// a new one, [`Secret::parse_weak`] and [`Secret::from_bytes_weak`] accept it, so that the
/// choice stands out in review. Longer keys are accepted: HMAC hashes keys longer than its block
/// (64 bytes) first, which is safe. [`Secret::generate`] makes 32-byte keys.
///
/// # Handling
///
/// `Debug` prints `Secret([REDACTED])` and there is no `Display`; the key bytes are zeroized when
/// the `Secret` is dropped, and two secrets compare in constant time. Reading the key back is
/// deliberate: [`Secret::expose_bytes`], [`Secret::expose_whsec`].
///
/// ```
/// use hookwire::webhook::Secret;
///
/// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
/// assert_eq!(secret.expose_bytes().len(), 24);
/// # Ok::<(), hookwire::webhook::SecretError>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret {
    key: Vec<u8>,
}

impl Secret {
    /// The shortest key, in bytes, that [`Secret::parse`] and [`Secret::from_bytes`] accept.
    pub const MIN_LEN: usize = 24;

    /// The length, in bytes, of the keys that [`Secret::generate`] makes.
    pub const GENERATED_LEN: usize = 32;

    /// Parses a secret in the `whsec_<base64>` form that Standard Webhooks senders show.
    ///
    /// The prefix is required, so that a provider's plain secret (Slack's hex, GitHub's text,
    /// which often happen to be valid base64) is never decoded by mistake: pass such a secret to
    /// its scheme's constructor as text, or to [`Secret::from_bytes`].
    ///
    /// # Errors
    ///
    /// [`SecretError::MissingPrefix`] without `whsec_`, [`SecretError::Empty`] when nothing
    /// follows it, [`SecretError::InvalidBase64`] when the rest is not base64, and
    /// [`SecretError::TooShort`] for a key under [`Secret::MIN_LEN`] bytes. No error contains
    /// the secret.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        Self::parse_weak(secret)?.at_least_min_len()
    }

    /// Parses like [`Secret::parse`], but accepts keys shorter than [`Secret::MIN_LEN`] bytes.
    ///
    /// Use it only for a key that a sender already issued; see the type's docs for why short
    /// keys are refused by default.
    ///
    /// # Errors
    ///
    /// [`SecretError::MissingPrefix`], [`SecretError::Empty`] or [`SecretError::InvalidBase64`].
    pub fn parse_weak(secret: &str) -> Result<Self, SecretError> {
        let trimmed = secret.trim();
        if trimmed.is_empty() {
            return Err(SecretError::Empty);
        }
        let encoded = trimmed
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        Self::decode(encoded)
    }

    /// A Standard Webhooks secret as its libraries read it: base64, with or without the
    /// `whsec_` prefix, of at least [`Secret::MIN_LEN`] bytes.
    pub(crate) fn decode_base64(secret: &str) -> Result<Self, SecretError> {
        let trimmed = secret.trim();
        Self::decode(trimmed.strip_prefix(PREFIX).unwrap_or(trimmed))?.at_least_min_len()
    }

    fn decode(encoded: &str) -> Result<Self, SecretError> {
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        // Reserve the whole decoded length up front so that no partial copy of the key is left
        // behind in a reallocated buffer.
        let mut key = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(
            encoded.len(),
        )));
        LENIENT_BASE64
            .decode_vec(encoded, &mut key)
            .map_err(|_| SecretError::InvalidBase64)?;
        Self::from_bytes_weak(std::mem::take(&mut *key))
    }

    /// Takes raw key bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for no bytes, [`SecretError::TooShort`] for fewer than
    /// [`Secret::MIN_LEN`].
    pub fn from_bytes(key: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        Self::from_bytes_weak(key)?.at_least_min_len()
    }

    /// Takes raw key bytes of any non-zero length, shorter than [`Secret::MIN_LEN`] too.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for no bytes.
    pub fn from_bytes_weak(key: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let secret = Secret { key: key.into() };
        if secret.key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(secret)
    }

    /// Generates a new random key of [`Secret::GENERATED_LEN`] bytes from the operating
    /// system's secure random number generator, for senders that issue secrets to their
    /// receivers. Show it to them with [`Secret::expose_whsec`].
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails, which leaves no safe way to
    /// make a key.
    pub fn generate() -> Self {
        let mut key = vec![0u8; Self::GENERATED_LEN];
        if let Err(error) = getrandom::fill(&mut key) {
            panic!("the operating system's random number generator failed: {error}");
        }
        Secret { key }
    }

    /// The raw key bytes.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The key in the `whsec_<base64>` form that Standard Webhooks senders show their users.
    ///
    /// The string is zeroized when dropped; it is the secret itself, so treat it as such.
    pub fn expose_whsec(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(
            PREFIX.len() + base64::encoded_len(self.key.len(), true).unwrap_or(0),
        ));
        out.push_str(PREFIX);
        base64::engine::general_purpose::STANDARD.encode_string(&self.key, &mut out);
        out
    }

    fn at_least_min_len(self) -> Result<Self, SecretError> {
        if self.key.len() < Self::MIN_LEN {
            return Err(SecretError::TooShort {
                len: self.key.len(),
                min: Self::MIN_LEN,
            });
        }
        Ok(self)
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    /// Same as [`Secret::parse`].
    fn from_str(secret: &str) -> Result<Self, Self::Err> {
        Self::parse(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl PartialEq for Secret {
    /// Compares the keys in constant time.
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for Secret {}

/// Why a secret was refused. No variant carries any part of the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Nothing was given, or nothing follows the `whsec_` prefix.
    #[error("the webhook secret is empty: pass the whole secret, e.g. `whsec_` followed by base64")]
    Empty,
    /// The text does not start with `whsec_`, which [`Secret::parse`] requires.
    #[error(
        "the text is not a Standard Webhooks secret: it does not start with `whsec_`. A provider's plain secret goes to its scheme's constructor as text, or to `Secret::from_bytes`"
    )]
    MissingPrefix,
    /// The part after the `whsec_` prefix is not base64.
    #[error(
        "the webhook secret is not valid base64 after its optional `whsec_` prefix: copy it exactly as the sender shows it"
    )]
    InvalidBase64,
    /// The key is shorter than the specification asks for.
    #[error(
        "the webhook secret is {len} bytes long, shorter than the {min} bytes required: ask the sender for a longer key, or use `Secret::parse_weak` / `Secret::from_bytes_weak` to accept this one"
    )]
    TooShort {
        /// The key's length in bytes.
        len: usize,
        /// The shortest length accepted.
        min: usize,
    },
}

/// A secret as a scheme's constructor takes it: the text exactly as the provider shows it, or
/// a [`Secret`] already holding the key bytes.
///
/// How text becomes a key is part of each scheme's definition: Standard Webhooks decodes its
/// `whsec_<base64>` form, while Stripe, GitHub, Slack, Shopify and [`HmacScheme`](super::HmacScheme)
/// use the text byte for byte, as their providers do. So a provider's secret is always passed
/// as the text it shows, and never decoded by mistake.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum SecretInput<'a> {
    /// The secret as the provider shows it.
    Text(&'a str),
    /// The key bytes themselves.
    Secret(&'a Secret),
}

impl<'a> From<&'a str> for SecretInput<'a> {
    fn from(text: &'a str) -> Self {
        SecretInput::Text(text)
    }
}

impl<'a> From<&'a String> for SecretInput<'a> {
    fn from(text: &'a String) -> Self {
        SecretInput::Text(text)
    }
}

impl<'a> From<&'a Secret> for SecretInput<'a> {
    fn from(secret: &'a Secret) -> Self {
        SecretInput::Secret(secret)
    }
}

impl SecretInput<'_> {
    /// The key of a scheme whose text form is used byte for byte; any non-empty length.
    pub(crate) fn raw(self) -> Result<Secret, SecretError> {
        match self {
            SecretInput::Text(text) => Secret::from_bytes_weak(text),
            SecretInput::Secret(secret) => Ok(secret.clone()),
        }
    }
}

impl fmt::Debug for SecretInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretInput([REDACTED])")
    }
}

/// Why a public or signing key was refused (ed25519, P-256). No variant carries any part of a
/// secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The part after the optional `whsk_` / `whpk_` prefix is not base64.
    #[error(
        "the ed25519 key is not valid base64 after its optional `whsk_`/`whpk_` prefix: copy it exactly as the sender shows it"
    )]
    InvalidBase64,
    /// A key given in hex (as Discord shows its application public key) is not hex.
    #[error(
        "the ed25519 public key is not hex: copy it exactly as the provider shows it (64 hex digits)"
    )]
    InvalidHex,
    /// The key decodes to the wrong number of bytes.
    #[error("the ed25519 key is {len} bytes long; expected {expected} bytes")]
    WrongLength {
        /// The decoded length.
        len: usize,
        /// The accepted lengths.
        expected: &'static str,
    },
    /// A 64-byte key pair whose public half is not derived from its seed.
    #[error("the ed25519 key pair's public half does not belong to its secret half")]
    Mismatched,
    /// 32 bytes that are not a valid ed25519 public key.
    #[error("the ed25519 public key is not a valid curve point")]
    InvalidPoint,
    /// A public key of small order (such as the identity point): signatures that verify
    /// under it can be made without any secret.
    #[error(
        "the ed25519 public key is a weak (small-order) point under which anyone can forge signatures; use the sender's real public key"
    )]
    WeakKey,
    /// A public key in another form than the provider's, or of another algorithm or curve.
    #[error("the public key is not {expected}: copy it exactly as the provider shows it")]
    NotAPublicKey {
        /// The form expected, such as "base64 of a DER P-256 public key (SubjectPublicKeyInfo)".
        expected: &'static str,
    },
}

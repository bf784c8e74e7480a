//! The sender side: signing a message under Standard Webhooks.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};

use super::Secret;
use super::standard::{
    ID_NAMES, Key, SIGNATURE_NAMES, TAG_LEN, TIMESTAMP_NAMES, V1, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
use super::verify::unix_seconds;

/// Signs messages under Standard Webhooks v1 with one or more secrets.
///
/// With several secrets (during a rotation) every message carries one signature per secret,
/// `v1,<a> v1,<b>`, so that receivers holding either secret accept it.
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
    keys: Vec<Key>,
}

impl Signer {
    /// A signer with one secret.
    pub fn new(secret: &Secret) -> Self {
        Signer {
            keys: vec![Key::new(secret)],
        }
    }

    /// Adds a secret: each message is then signed once more, with it.
    #[must_use]
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.keys.push(Key::new(secret));
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
        let mut signature = String::with_capacity(self.keys.len() * (V1.len() + 46));
        for key in &self.keys {
            if !signature.is_empty() {
                signature.push(' ');
            }
            let tag: [u8; TAG_LEN] = key.tag(id.as_bytes(), timestamp.as_bytes(), body);
            signature.push_str(V1);
            signature.push(',');
            STANDARD.encode_string(tag, &mut signature);
        }
        let values = [id, timestamp.as_str(), signature.as_str()]
            .map(|value| HeaderValue::from_str(value).map_err(|_| SignError::InvalidId));
        let [id_value, timestamp_value, signature_value] = values;
        Ok(SignedHeaders {
            values: [id_value?, timestamp_value?, signature_value?],
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
        f.debug_struct("Signer")
            .field("secrets", &self.keys.len())
            .finish_non_exhaustive()
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
}

/// A new message id: `msg_` followed by a UUIDv7 in hex, such as
/// `msg_0192f1e4a7c07a3b9d4e5f60718293a4`.
///
/// Ids are unique and sort by creation time (to the millisecond, and in creation order within
/// one process), so that they also serve as keys in a delivery log.
pub fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

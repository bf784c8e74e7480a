//! A configurable HMAC scheme for the long tail of providers.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::mac::{Algorithm, Encoding, KeyedMac};
use super::verify::{header_str, parse_timestamp, unix_seconds};
use super::{
    DEFAULT_TOLERANCE, Message, Scheme, Secret, SignError, Verified, VerifyError, check_timestamp,
};

/// A configurable HMAC scheme: one signature header, over the body or over a timestamp and the
/// body, in hex or base64, with SHA-256, SHA-512 or SHA-1.
///
/// The defaults are HMAC-SHA256 of the body, lowercase hex, no prefix. [`GitHub`](super::GitHub),
/// [`Slack`](super::Slack) and [`Shopify`](super::Shopify) are presets of it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::http::HeaderName;
/// use hookwire::webhook::{Encoding, HmacScheme, Message, Scheme, Secret};
///
/// // A provider that sends `X-Acme-Signature: sha256=<base64>` over `{timestamp}.{body}`,
/// // with the time in `X-Acme-Timestamp` and a delivery id in `X-Acme-Delivery`.
/// let secret = Secret::from_bytes_weak("acme-endpoint-secret")?;
/// let acme = HmacScheme::new(HeaderName::from_static("x-acme-signature"), &secret)
///     .named("acme")
///     .prefix("sha256=")
///     .encoding(Encoding::Base64)
///     .timestamp(HeaderName::from_static("x-acme-timestamp"), "", ".")
///     .id_header(HeaderName::from_static("x-acme-delivery"))
///     .tolerance(Duration::from_secs(600));
///
/// let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let headers = acme.sign(&Message::new("d-1", b"{}").at(sent))?;
/// let verified = acme.verify_at(&headers, b"{}", sent)?;
/// assert_eq!((verified.id(), verified.timestamp()), (Some("d-1"), Some(1_700_000_000)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct HmacScheme {
    name: &'static str,
    signature_header: HeaderName,
    prefix: Box<str>,
    encoding: Encoding,
    algorithm: Algorithm,
    secrets: Vec<Secret>,
    keys: Vec<KeyedMac>,
    timestamp: Option<Timestamp>,
    tolerance: Duration,
    id_header: Option<HeaderName>,
}

/// Where the timestamp comes from and how it joins the signed content:
/// `{before}{timestamp}{separator}{body}`.
#[derive(Clone)]
struct Timestamp {
    header: HeaderName,
    before: Box<str>,
    separator: Box<str>,
}

impl HmacScheme {
    /// A scheme that reads the signature from `signature_header`: HMAC-SHA256 of the body, in
    /// lowercase hex, with no prefix, verified with `secret`.
    pub fn new(signature_header: HeaderName, secret: &Secret) -> Self {
        let algorithm = Algorithm::Sha256;
        HmacScheme {
            name: "hmac",
            signature_header: shared(signature_header),
            prefix: Box::from(""),
            encoding: Encoding::Hex,
            algorithm,
            keys: vec![KeyedMac::new(algorithm, secret.expose_bytes())],
            secrets: vec![secret.clone()],
            timestamp: None,
            tolerance: DEFAULT_TOLERANCE,
            id_header: None,
        }
    }

    /// The name [`Verified::scheme`] reports; `"hmac"` by default.
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Text before the signature in its header, such as `sha256=`. A header without it is
    /// malformed.
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Box::from(prefix);
        self
    }

    /// How the signature is written: [`Encoding::Hex`] by default.
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The hash function: [`Algorithm::Sha256`] by default. Re-keys every secret.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self.keys = self
            .secrets
            .iter()
            .map(|secret| KeyedMac::new(algorithm, secret.expose_bytes()))
            .collect();
        self
    }

    /// Signs a timestamp too: it is read from `header` (integer seconds since the Unix epoch),
    /// checked against the tolerance ([`DEFAULT_TOLERANCE`] unless set), and the signed content
    /// becomes `{before}{timestamp}{separator}{body}`.
    #[must_use]
    pub fn timestamp(mut self, header: HeaderName, before: &str, separator: &str) -> Self {
        self.timestamp = Some(Timestamp {
            header: shared(header),
            before: Box::from(before),
            separator: Box::from(separator),
        });
        self
    }

    /// How far the timestamp may lie from now, either way ([`DEFAULT_TOLERANCE`] unless set);
    /// it applies when a [timestamp](HmacScheme::timestamp) is configured.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// A header that carries the delivery id, reported as [`Verified::id`] and filled from
    /// [`Message::id`] when signing. It is not signed.
    #[must_use]
    pub fn id_header(mut self, header: HeaderName) -> Self {
        self.id_header = Some(shared(header));
        self
    }

    /// Adds a secret: a signature made with any of the scheme's secrets passes. Signing uses
    /// the first.
    #[must_use]
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.keys
            .push(KeyedMac::new(self.algorithm, secret.expose_bytes()));
        self.secrets.push(secret.clone());
        self
    }
}

impl Scheme for HmacScheme {
    fn name(&self) -> &'static str {
        self.name
    }

    fn detect(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(&self.signature_header)
    }

    fn verify_at<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'h>, VerifyError> {
        let signature = headers
            .get(&self.signature_header)
            .ok_or_else(|| VerifyError::MissingHeader(self.signature_header.clone()))?
            .as_bytes()
            .strip_prefix(self.prefix.as_bytes())
            .ok_or(VerifyError::MalformedSignature)?;
        let (sent, timestamp_text) = match &self.timestamp {
            Some(timestamp) => {
                let text = header_str(headers, &timestamp.header)?;
                let sent = parse_timestamp(text)?;
                check_timestamp(sent, now, self.tolerance)?;
                (Some(sent), text)
            }
            None => (None, ""),
        };
        let id = match &self.id_header {
            Some(name) if headers.contains_key(name) => Some(header_str(headers, name)?),
            _ => None,
        };
        let content: [&[u8]; 4] = match &self.timestamp {
            Some(timestamp) => [
                timestamp.before.as_bytes(),
                timestamp_text.as_bytes(),
                timestamp.separator.as_bytes(),
                body,
            ],
            None => [body, b"", b"", b""],
        };
        for key in &self.keys {
            if key.tag(&content).matches(self.encoding, signature) {
                let verified = Verified::new(self.name, id, sent);
                return Ok(if sent.is_some() {
                    verified.with_tolerance(self.tolerance)
                } else {
                    verified
                });
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }

    /// Signs with the first secret.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let key = self.keys.first().ok_or(SignError::NoKey)?;
        let mut headers = HeaderMap::new();
        let timestamp = unix_seconds(message.timestamp).to_string();
        let content: [&[u8]; 4] = match &self.timestamp {
            Some(t) => {
                headers.insert(
                    &t.header,
                    HeaderValue::from(unix_seconds(message.timestamp)),
                );
                [
                    t.before.as_bytes(),
                    timestamp.as_bytes(),
                    t.separator.as_bytes(),
                    message.body,
                ]
            }
            None => [message.body, b"", b"", b""],
        };
        let signature = format!("{}{}", self.prefix, key.tag(&content).encode(self.encoding));
        headers.insert(
            &self.signature_header,
            value(&self.signature_header, &signature)?,
        );
        if let Some(name) = &self.id_header {
            headers.insert(name, value(name, message.id)?);
        }
        Ok(headers)
    }
}

impl fmt::Debug for HmacScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacScheme")
            .field("name", &self.name)
            .field("signature_header", &self.signature_header)
            .field("prefix", &self.prefix)
            .field("encoding", &self.encoding)
            .field("algorithm", &self.algorithm)
            .field("secrets", &self.keys.len())
            .field(
                "timestamp_header",
                &self.timestamp.as_ref().map(|t| &t.header),
            )
            .field("id_header", &self.id_header)
            .finish()
    }
}

/// A header value, or the error that names the header.
pub(crate) fn value(name: &HeaderName, text: &str) -> Result<HeaderValue, SignError> {
    HeaderValue::from_str(text).map_err(|_| SignError::InvalidHeaderValue(name.clone()))
}

/// The name, cloned once so that its bytes are shared: later clones (in errors) only bump a
/// reference count and never allocate.
fn shared(name: HeaderName) -> HeaderName {
    let shared = name.clone();
    drop(name);
    shared
}

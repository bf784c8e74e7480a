//! A configurable HMAC scheme for the long tail of providers.

use super::diagnose::{KeyLook, verbatim_advice};
use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::mac::{Algorithm, Encoding, KeyedMac};
use super::scheme::{Inbound, Sign, Verify};
use super::verify::{
    find_headers, found_optional_str, found_str, parse_timestamp, strip_short_prefix, unix_seconds,
};
use super::{
    DEFAULT_TOLERANCE, Message, SecretError, SecretInput, SignError, Verified, VerifyError,
    check_timestamp,
};

/// A configurable HMAC scheme: one signature header, over the body or over a timestamp and the
/// body, in hex or base64, with SHA-256, SHA-512 or SHA-1.
///
/// Build it with [`HmacScheme::builder`]: header names are given at run time, in any case. The
/// defaults are HMAC-SHA256 of the body, lowercase hex, no prefix. The secret is the text the
/// provider shows, used byte for byte, or a [`Secret`](super::Secret). [`GitHub`](super::GitHub),
/// [`Slack`](super::Slack) and [`Shopify`](super::Shopify) are presets of it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::webhook::{Encoding, HmacScheme, Inbound, Message, Sign, Verify};
///
/// // A provider that sends `X-Acme-Signature: sha256=<base64>` over `{timestamp}.{body}`,
/// // with the time in `X-Acme-Timestamp` and a delivery id in `X-Acme-Delivery`.
/// let acme = HmacScheme::builder("X-Acme-Signature")
///     .name("acme")
///     .prefix("sha256=")
///     .encoding(Encoding::Base64)
///     .timestamp("X-Acme-Timestamp", "", ".")
///     .id_header("X-Acme-Delivery")
///     .tolerance(Duration::from_secs(600))
///     .build("acme-endpoint-secret")?;
///
/// let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let headers = acme.sign(&Message::new("d-1", b"{}").at(sent))?;
/// let verified = acme.verify_at(Inbound::new(&headers, b"{}"), sent)?;
/// assert_eq!((verified.id(), verified.timestamp()), (Some("d-1"), Some(1_700_000_000)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct HmacScheme {
    name: Cow<'static, str>,
    signature_header: HeaderName,
    prefix: Box<str>,
    encoding: Encoding,
    algorithm: Algorithm,
    keys: Vec<KeyedMac>,
    /// How each secret's text looked, for advice when no signature matches.
    looks: Vec<KeyLook>,
    timestamp: Option<Timestamp>,
    tolerance: Duration,
    id_header: Option<HeaderName>,
    expected: &'static str,
}

/// Where the timestamp comes from and how it joins the signed content:
/// `{before}{timestamp}{separator}{body}`.
#[derive(Clone)]
struct Timestamp {
    header: HeaderName,
    before: Box<str>,
    separator: Box<str>,
}

/// Builds an [`HmacScheme`]: every setter is optional, and [`build`](HmacSchemeBuilder::build)
/// checks the header names and the secret.
#[derive(Clone)]
#[must_use]
pub struct HmacSchemeBuilder {
    scheme: HmacScheme,
    invalid: Option<String>,
}

impl HmacScheme {
    /// The header the signature is read from.
    pub(crate) fn signature_header(&self) -> &HeaderName {
        &self.signature_header
    }

    /// A builder for a scheme that reads the signature from the header named
    /// `signature_header` (any case).
    pub fn builder(signature_header: &str) -> HmacSchemeBuilder {
        HmacSchemeBuilder {
            scheme: HmacScheme {
                name: Cow::Borrowed("hmac"),
                signature_header: HeaderName::from_static("x-signature"),
                prefix: Box::from(""),
                encoding: Encoding::Hex,
                algorithm: Algorithm::Sha256,
                keys: Vec::new(),
                looks: Vec::new(),
                timestamp: None,
                tolerance: DEFAULT_TOLERANCE,
                id_header: None,
                expected: "the configured prefix, then the signature",
            },
            invalid: None,
        }
        .signature_header(signature_header)
    }

    /// Adds a secret, read as [`HmacSchemeBuilder::build`] reads it: a signature made with any
    /// of the scheme's secrets passes, and [`Verified::key`] says which. Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret<'s>(
        mut self,
        secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        let secret = secret.into().raw()?;
        self.keys
            .push(KeyedMac::new(self.algorithm, secret.expose_bytes()));
        self.looks.push(KeyLook::of(secret.expose_bytes()));
        Ok(self)
    }

    /// The same scheme with another tolerance, for presets.
    pub(crate) fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The preset's own description of its signature syntax, for error messages.
    /// The key that signs: the first one added.
    pub(crate) fn first_key(&self) -> Option<&KeyedMac> {
        self.keys.first()
    }

    pub(crate) fn expecting(mut self, expected: &'static str) -> Self {
        self.expected = expected;
        self
    }
}

impl HmacSchemeBuilder {
    fn header(&mut self, name: &str) -> HeaderName {
        match HeaderName::from_bytes(name.as_bytes()) {
            // Cloned once so that its bytes are shared: later clones (in errors) only bump a
            // reference count and never allocate.
            Ok(header) => shared(header),
            Err(_) => {
                self.invalid.get_or_insert_with(|| name.to_owned());
                HeaderName::from_static("x-invalid")
            }
        }
    }

    fn signature_header(mut self, name: &str) -> Self {
        self.scheme.signature_header = self.header(name);
        self
    }

    /// The name [`Verified::scheme`] reports; `"hmac"` by default.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.scheme.name = name.into();
        self
    }

    /// Text before the signature in its header, such as `sha256=`. A header without it is
    /// malformed.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.scheme.prefix = Box::from(prefix);
        self
    }

    /// How the signature is written: [`Encoding::Hex`] by default.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.scheme.encoding = encoding;
        self
    }

    /// The hash function: [`Algorithm::Sha256`] by default.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.scheme.algorithm = algorithm;
        self
    }

    /// Signs a timestamp too: it is read from the header named `header` (integer seconds since
    /// the Unix epoch), checked against the tolerance ([`DEFAULT_TOLERANCE`] unless set), and
    /// the signed content becomes `{before}{timestamp}{separator}{body}`.
    pub fn timestamp(mut self, header: &str, before: &str, separator: &str) -> Self {
        let header = self.header(header);
        self.scheme.timestamp = Some(Timestamp {
            header,
            before: Box::from(before),
            separator: Box::from(separator),
        });
        self
    }

    /// How far the timestamp may lie from now, either way ([`DEFAULT_TOLERANCE`] unless set);
    /// it applies when a [timestamp](HmacSchemeBuilder::timestamp) is configured.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.scheme.tolerance = tolerance;
        self
    }

    /// A header that carries the delivery id, reported as [`Verified::id`] and filled from
    /// [`Message::id`] when signing. It is not signed.
    pub fn id_header(mut self, header: &str) -> Self {
        self.scheme.id_header = Some(self.header(header));
        self
    }

    /// The scheme, with its first secret: the text the provider shows, used byte for byte, or
    /// a [`Secret`](super::Secret).
    ///
    /// # Errors
    ///
    /// [`SchemeError::HeaderName`] for a header name that is not a valid HTTP header name, and
    /// [`SchemeError::Secret`] for an empty secret.
    pub fn build<'s>(self, secret: impl Into<SecretInput<'s>>) -> Result<HmacScheme, SchemeError> {
        if let Some(name) = self.invalid {
            return Err(SchemeError::HeaderName { name });
        }
        Ok(self.scheme.with_secret(secret)?)
    }
}

/// Why a scheme could not be built. No variant carries any part of a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemeError {
    /// A configured header name is not a valid HTTP header name.
    #[error("`{name}` is not a valid HTTP header name")]
    HeaderName {
        /// The name as given.
        name: String,
    },
    /// The secret was refused.
    #[error("the scheme's secret was refused")]
    Secret(#[from] SecretError),
}

impl SchemeError {
    /// The secret's error, for presets whose header names are fixed and valid.
    pub(crate) fn into_secret_error(self) -> SecretError {
        match self {
            SchemeError::Secret(error) => error,
            SchemeError::HeaderName { .. } => SecretError::Empty,
        }
    }
}

impl Verify for HmacScheme {
    fn name(&self) -> &str {
        &self.name
    }

    fn secret_advice(&self) -> Option<&'static str> {
        verbatim_advice(&self.looks)
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&self.signature_header)
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        let malformed = VerifyError::MalformedSignature {
            expected: self.expected,
        };
        // The signature, timestamp and id headers in one pass; a header the scheme does not
        // have is looked for under the signature's name again, and not used.
        let timestamp_header = self.timestamp.as_ref().map(|timestamp| &timestamp.header);
        let [signature, timestamp_value, id] = find_headers(
            headers,
            [
                &self.signature_header,
                timestamp_header.unwrap_or(&self.signature_header),
                self.id_header.as_ref().unwrap_or(&self.signature_header),
            ],
        );
        let signature = signature
            .ok_or_else(|| VerifyError::MissingHeader(self.signature_header.clone()))?
            .as_bytes();
        let signature = strip_short_prefix(signature, self.prefix.as_bytes()).ok_or(malformed)?;
        let (sent, timestamp_text) = match timestamp_header {
            Some(name) => {
                let text = found_str(timestamp_value, name)?;
                let sent = parse_timestamp(text)?;
                check_timestamp(sent, now, self.tolerance)?;
                (Some(sent), text)
            }
            None => (None, ""),
        };
        let id = match &self.id_header {
            Some(name) => found_optional_str(id, name)?,
            None => None,
        };
        let content: [&[u8]; 4] = match &self.timestamp {
            Some(timestamp) => [
                timestamp.before.as_bytes(),
                timestamp_text.as_bytes(),
                timestamp.separator.as_bytes(),
                request.body(),
            ],
            None => [request.body(), b"", b"", b""],
        };
        for (index, key) in self.keys.iter().enumerate() {
            if key.tag(&content).matches(self.encoding, signature) {
                let verified = Verified::new(&self.name, id, sent).by_key(index);
                return Ok(if sent.is_some() {
                    verified.tolerance(self.tolerance)
                } else {
                    verified
                });
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

impl Sign for HmacScheme {
    /// Signs with the first secret.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let key = self.keys.first().ok_or(SignError::NoKey)?;
        let mut headers = HeaderMap::new();
        let timestamp = unix_seconds(message.timestamp()).to_string();
        let content: [&[u8]; 4] = match &self.timestamp {
            Some(t) => {
                headers.insert(
                    &t.header,
                    HeaderValue::from(unix_seconds(message.timestamp())),
                );
                [
                    t.before.as_bytes(),
                    timestamp.as_bytes(),
                    t.separator.as_bytes(),
                    message.body(),
                ]
            }
            None => [message.body(), b"", b"", b""],
        };
        let signature = format!("{}{}", self.prefix, key.tag(&content).encode(self.encoding));
        headers.insert(
            &self.signature_header,
            value(&self.signature_header, &signature)?,
        );
        if let Some(name) = &self.id_header {
            headers.insert(name, value(name, message.id())?);
        }
        Ok(headers)
    }
}

impl fmt::Debug for HmacSchemeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSchemeBuilder")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
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

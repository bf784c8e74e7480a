//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName};

use super::mac::Algorithm;
use super::{HmacScheme, Message, Scheme, Secret, SecretError, SignError, Verified, VerifyError};

/// `X-Hub-Signature-256`: `sha256=` and the lowercase hex HMAC-SHA256 of the body.
pub(crate) const X_HUB_SIGNATURE_256: HeaderName = HeaderName::from_static("x-hub-signature-256");
/// `X-Hub-Signature`: the legacy `sha1=` signature.
pub(crate) const X_HUB_SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");
/// `X-GitHub-Delivery`: a unique id for the delivery (not signed).
pub(crate) const X_GITHUB_DELIVERY: HeaderName = HeaderName::from_static("x-github-delivery");

/// GitHub's webhook signatures, as documented in "Validating webhook deliveries".
///
/// GitHub signs the body with the webhook's secret (the text you typed, used byte for byte) and
/// sends `X-Hub-Signature-256: sha256=<hex>`. There is no timestamp, so nothing here stops a
/// replay on its own: keep the `X-GitHub-Delivery` id that [`Verified::id`] reports and drop
/// repeats (the id is not signed, so this catches redeliveries, not a determined attacker).
///
/// The legacy `X-Hub-Signature: sha1=<hex>` is ignored unless [`GitHub::allow_sha1`] is called,
/// and even then only when the SHA-256 header is absent: HMAC-SHA1 is weak and kept only for old
/// GitHub Enterprise Server versions.
///
/// ```
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{GitHub, Scheme};
///
/// // The example in GitHub's documentation.
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// let mut headers = HeaderMap::new();
/// headers.insert(
///     "x-hub-signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse()?,
/// );
/// assert!(github.verify(&headers, b"Hello, World!").is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GitHub {
    sha256: HmacScheme,
    sha1: Option<HmacScheme>,
    secrets: Vec<Secret>,
}

impl GitHub {
    /// The scheme, with the webhook's secret as configured on GitHub.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let secret = Secret::from_bytes_weak(secret)?;
        Ok(GitHub {
            sha256: preset(&secret, X_HUB_SIGNATURE_256, "sha256=", Algorithm::Sha256),
            sha1: None,
            secrets: vec![secret],
        })
    }

    /// Adds a secret (during a rotation): a signature made with any of them passes. Signing
    /// uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret(mut self, secret: &str) -> Result<Self, SecretError> {
        let secret = Secret::from_bytes_weak(secret)?;
        self.sha256 = self.sha256.with_secret(&secret);
        self.sha1 = self.sha1.map(|sha1| sha1.with_secret(&secret));
        self.secrets.push(secret);
        Ok(self)
    }

    /// Also accepts the legacy `X-Hub-Signature: sha1=<hex>` when `X-Hub-Signature-256` is
    /// absent. Weak: use it only for senders that offer nothing better.
    #[must_use]
    pub fn allow_sha1(mut self) -> Self {
        let mut secrets = self.secrets.iter();
        self.sha1 = secrets.next().map(|first| {
            secrets.fold(
                preset(first, X_HUB_SIGNATURE, "sha1=", Algorithm::Sha1),
                |scheme, secret| scheme.with_secret(secret),
            )
        });
        self
    }
}

fn preset(secret: &Secret, header: HeaderName, prefix: &str, algorithm: Algorithm) -> HmacScheme {
    HmacScheme::new(header, secret)
        .named("github")
        .prefix(prefix)
        .algorithm(algorithm)
        .id_header(X_GITHUB_DELIVERY)
}

impl Scheme for GitHub {
    fn name(&self) -> &'static str {
        "github"
    }

    fn detect(&self, headers: &HeaderMap) -> bool {
        self.sha256.detect(headers) || self.sha1.as_ref().is_some_and(|s| s.detect(headers))
    }

    fn verify_at<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'h>, VerifyError> {
        match &self.sha1 {
            Some(sha1) if !self.sha256.detect(headers) && sha1.detect(headers) => {
                sha1.verify_at(headers, body, now)
            }
            _ if !self.sha256.detect(headers) && headers.contains_key(X_HUB_SIGNATURE) => {
                Err(VerifyError::NoSupportedSignature)
            }
            _ => self.sha256.verify_at(headers, body, now),
        }
    }

    /// `X-Hub-Signature-256` (and `X-Hub-Signature` when SHA-1 is allowed) with the first
    /// secret, and `X-GitHub-Delivery` with the message id.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let mut headers = self.sha256.sign(message)?;
        if let Some(sha1) = &self.sha1 {
            headers.extend(sha1.sign(message)?);
        }
        Ok(headers)
    }
}

//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName};

use super::mac::Algorithm;
use super::scheme::{Inbound, Sign, Verify};
use super::{
    HmacScheme, Message, SchemeError, Secret, SecretError, SecretInput, SignError, Verified,
    VerifyError,
};

/// `X-Hub-Signature`: the legacy `sha1=` signature.
pub(crate) const X_HUB_SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");

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
/// use hookwire::webhook::{GitHub, Inbound, Verify};
///
/// // The example in GitHub's documentation.
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// let mut headers = HeaderMap::new();
/// headers.insert(
///     "x-hub-signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse()?,
/// );
/// assert!(github.verify(Inbound::new(&headers, b"Hello, World!")).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GitHub {
    sha256: HmacScheme,
    sha1: Option<HmacScheme>,
    secrets: Vec<Secret>,
}

impl GitHub {
    /// The scheme, with the webhook's secret: the text as configured on GitHub (used byte for
    /// byte), or a [`Secret`].
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new<'s>(secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        let secret = secret.into().raw()?;
        Ok(GitHub {
            sha256: preset(&secret, "x-hub-signature-256", "sha256=", Algorithm::Sha256)?
                .expecting("`sha256=` and the lowercase hex HMAC-SHA256 of the body"),
            sha1: None,
            secrets: vec![secret],
        })
    }

    /// Adds a secret (during a rotation), read as [`GitHub::new`] reads it: a signature made
    /// with any of them passes. Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret<'s>(
        mut self,
        secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        let secret = secret.into().raw()?;
        self.sha256 = self.sha256.with_secret(&secret)?;
        self.sha1 = self
            .sha1
            .map(|sha1| sha1.with_secret(&secret))
            .transpose()?;
        self.secrets.push(secret);
        Ok(self)
    }

    /// Also accepts the legacy `X-Hub-Signature: sha1=<hex>` when `X-Hub-Signature-256` is
    /// absent. Weak: use it only for senders that offer nothing better.
    #[must_use]
    pub fn allow_sha1(mut self) -> Self {
        let mut secrets = self.secrets.iter();
        self.sha1 = secrets.next().and_then(|first| {
            let sha1 = preset(first, "x-hub-signature", "sha1=", Algorithm::Sha1).ok()?;
            secrets
                .try_fold(sha1, |scheme, secret| scheme.with_secret(secret))
                .ok()
                .map(|sha1| sha1.expecting("`sha1=` and the lowercase hex HMAC-SHA1 of the body"))
        });
        self
    }
}

fn preset(
    secret: &Secret,
    header: &str,
    prefix: &str,
    algorithm: Algorithm,
) -> Result<HmacScheme, SecretError> {
    HmacScheme::builder(header)
        .name("github")
        .prefix(prefix)
        .algorithm(algorithm)
        .id_header("x-github-delivery")
        .build(secret)
        .map_err(SchemeError::into_secret_error)
}

impl Verify for GitHub {
    fn name(&self) -> &str {
        "github"
    }

    fn secret_advice(&self) -> Option<&'static str> {
        self.sha256.secret_advice()
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        self.sha256.detect(request) || self.sha1.as_ref().is_some_and(|s| s.detect(request))
    }

    /// Verifies `X-Hub-Signature-256` (or, where allowed, `X-Hub-Signature`); GitHub signs no
    /// timestamp, so `now` is not read.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        // The SHA-256 header is looked up once: only where it is missing is SHA-1 considered.
        let result = self.sha256.verify_at(request, now);
        if !matches!(&result, Err(VerifyError::MissingHeader(name)) if self.sha256.signature_header() == name)
        {
            return result;
        }
        match &self.sha1 {
            Some(sha1) if sha1.detect(request) => sha1.verify_at(request, now),
            _ if request.headers().contains_key(X_HUB_SIGNATURE) => {
                Err(VerifyError::NoSupportedSignature {
                    found: "the legacy SHA-1 `X-Hub-Signature`, which is refused unless `GitHub::allow_sha1` is called",
                })
            }
            _ => result,
        }
    }
}

impl Sign for GitHub {
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

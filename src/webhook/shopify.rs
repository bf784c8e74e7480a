//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the body.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName};

use super::{
    Encoding, HmacScheme, Message, Scheme, Secret, SecretError, SignError, Verified, VerifyError,
};

/// `X-Shopify-Hmac-Sha256`.
const X_SHOPIFY_HMAC_SHA256: HeaderName = HeaderName::from_static("x-shopify-hmac-sha256");
/// `X-Shopify-Webhook-Id`: a unique id for the webhook (not signed).
const X_SHOPIFY_WEBHOOK_ID: HeaderName = HeaderName::from_static("x-shopify-webhook-id");

/// Shopify's webhook signatures, as documented in "Verify webhooks".
///
/// Shopify signs the body with HMAC-SHA256 under the app's client secret (used byte for byte)
/// and sends the base64 tag in `X-Shopify-Hmac-Sha256`. There is no timestamp: keep the
/// `X-Shopify-Webhook-Id` that [`Verified::id`] reports and drop repeats (the id is not signed,
/// so this catches redeliveries, not a determined attacker).
///
/// ```
/// use hookwire::webhook::{Message, Scheme, Shopify};
///
/// let shopify = Shopify::new("hush")?;
/// let headers = shopify.sign(&Message::new("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", b"{}"))?;
/// let verified = shopify.verify(&headers, b"{}")?;
/// assert_eq!(verified.id(), Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Shopify(HmacScheme);

impl Shopify {
    /// The scheme, with the app's client secret as Shopify shows it.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(client_secret: &str) -> Result<Self, SecretError> {
        let secret = Secret::from_bytes_weak(client_secret)?;
        Ok(Shopify(
            HmacScheme::new(X_SHOPIFY_HMAC_SHA256, &secret)
                .named("shopify")
                .encoding(Encoding::Base64)
                .id_header(X_SHOPIFY_WEBHOOK_ID),
        ))
    }

    /// Adds a client secret (during a rotation): a signature made with any of them passes.
    /// Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret(self, client_secret: &str) -> Result<Self, SecretError> {
        Ok(Shopify(
            self.0.with_secret(&Secret::from_bytes_weak(client_secret)?),
        ))
    }
}

impl Scheme for Shopify {
    fn name(&self) -> &'static str {
        Scheme::name(&self.0)
    }

    fn detect(&self, headers: &HeaderMap) -> bool {
        self.0.detect(headers)
    }

    fn verify_at<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'h>, VerifyError> {
        self.0.verify_at(headers, body, now)
    }

    /// `X-Shopify-Hmac-Sha256` with the first secret, and `X-Shopify-Webhook-Id` with the
    /// message id.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        self.0.sign(message)
    }
}

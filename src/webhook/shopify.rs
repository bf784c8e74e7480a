//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the body.

use std::time::SystemTime;

use http::HeaderMap;

use super::scheme::{Inbound, Sign, Verify};
use super::{
    Encoding, HmacScheme, Message, SchemeError, SecretError, SecretInput, SignError, Verified,
    VerifyError,
};

/// Shopify's webhook signatures, as documented in "Verify webhooks".
///
/// Shopify signs the body with HMAC-SHA256 under the app's client secret (used byte for byte)
/// and sends the base64 tag in `X-Shopify-Hmac-Sha256`. There is no timestamp: keep the
/// `X-Shopify-Webhook-Id` that [`Verified::id`] reports and drop repeats (the id is not signed,
/// so this catches redeliveries, not a determined attacker).
///
/// ```
/// use hookwire::webhook::{Inbound, Message, Shopify, Sign, Verify};
///
/// let shopify = Shopify::new("hush")?;
/// let headers = shopify.sign(&Message::new("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", b"{}"))?;
/// let verified = shopify.verify(Inbound::new(&headers, b"{}"))?;
/// assert_eq!(verified.id(), Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Shopify(HmacScheme);

impl Shopify {
    /// The scheme, with the app's client secret: the text Shopify shows (used byte for byte),
    /// or a [`Secret`](super::Secret).
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new<'s>(client_secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        HmacScheme::builder("x-shopify-hmac-sha256")
            .name("shopify")
            .encoding(Encoding::Base64)
            .id_header("x-shopify-webhook-id")
            .build(client_secret)
            .map(|scheme| Shopify(scheme.expecting("the base64 HMAC-SHA256 of the body")))
            .map_err(SchemeError::into_secret_error)
    }

    /// Adds a client secret (during a rotation), read as [`Shopify::new`] reads it: a
    /// signature made with any of them passes. Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret<'s>(
        self,
        client_secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        Ok(Shopify(self.0.with_secret(client_secret)?))
    }
}

impl Verify for Shopify {
    fn name(&self) -> &str {
        "shopify"
    }

    fn secret_advice(&self) -> Option<&'static str> {
        self.0.secret_advice()
    }

    fn detect(&self, headers: &HeaderMap) -> bool {
        self.0.detect(headers)
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        self.0.verify_at(request, now)
    }
}

impl Sign for Shopify {
    /// `X-Shopify-Hmac-Sha256` with the first secret, and `X-Shopify-Webhook-Id` with the message id.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        self.0.sign(message)
    }
}

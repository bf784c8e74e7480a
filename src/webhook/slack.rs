//! Slack: `X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{body}`.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::scheme::{Inbound, Sign, Verify};
use super::{
    HmacScheme, Message, SchemeError, SecretError, SecretInput, SignError, Verified, VerifyError,
};

/// Slack's request signatures, as documented in "Verifying requests from Slack".
///
/// Slack signs `v0:{X-Slack-Request-Timestamp}:{body}` with HMAC-SHA256 under the app's signing
/// secret (used byte for byte) and sends `X-Slack-Signature: v0=<hex>`. Requests whose timestamp
/// lies more than 5 minutes from now, either way, are refused.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{Inbound, Slack, Verify};
///
/// // The example in Slack's documentation.
/// let slack = Slack::new("8f742231b10e8888abcd99yyyzzz85a5")?;
/// let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
/// let mut headers = HeaderMap::new();
/// headers.insert("x-slack-request-timestamp", "1531420618".parse()?);
/// headers.insert(
///     "x-slack-signature",
///     "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".parse()?,
/// );
/// let now = UNIX_EPOCH + Duration::from_secs(1531420618);
/// assert_eq!(slack.verify_at(Inbound::new(&headers, body), now)?.timestamp(), Some(1531420618));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Slack(HmacScheme);

impl Slack {
    /// The scheme, with the app's signing secret: the text Slack shows (used byte for byte), or
    /// a [`Secret`](super::Secret).
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new<'s>(signing_secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        HmacScheme::builder("x-slack-signature")
            .name("slack")
            .prefix("v0=")
            .timestamp("x-slack-request-timestamp", "v0:", ":")
            .build(signing_secret)
            .map(|scheme| Slack(scheme.expecting("`v0=` and the lowercase hex HMAC-SHA256")))
            .map_err(SchemeError::into_secret_error)
    }

    /// Adds a signing secret (during a rotation), read as [`Slack::new`] reads it: a signature
    /// made with any of them passes. Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret<'s>(
        self,
        signing_secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        Ok(Slack(self.0.with_secret(signing_secret)?))
    }

    /// How far the timestamp may lie from now, either way: 5 minutes unless set.
    #[must_use]
    pub fn tolerance(self, tolerance: Duration) -> Self {
        Slack(self.0.tolerance(tolerance))
    }
}

impl Verify for Slack {
    fn name(&self) -> &str {
        "slack"
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

impl Sign for Slack {
    /// `X-Slack-Request-Timestamp` and `X-Slack-Signature`, with the first secret.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        self.0.sign(message)
    }
}

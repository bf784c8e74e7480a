//! Providers whose signatures are one configurable HMAC layout each: Slack, Shopify, Zoom,
//! Gitea, Bitbucket, Intercom and Typeform; and GitLab, which sends a shared token instead of a
//! signature.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use super::scheme::{Handshake, Inbound, Sign, Verify};
use super::verify::header_str;
use super::{
    Algorithm, Encoding, HmacScheme, Message, SchemeError, Secret, SecretError, SecretInput,
    SignError, Verified, VerifyError,
};

/// A provider's scheme: a newtype over [`HmacScheme`], built by `$build` from the builder.
macro_rules! preset {
    (
        $(#[$docs:meta])*
        $name:ident, $label:literal, $header:literal, $secret:literal, $expected:literal,
        |$builder:ident| $build:expr
        $(, handshake = $handshake:path)?
    ) => {
        $(#[$docs])*
        #[derive(Debug, Clone)]
        pub struct $name(HmacScheme);

        impl $name {
            #[doc = concat!("The scheme, with ", $secret, ": the text the provider shows (used byte for byte), or a [`Secret`].")]
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`] for an empty secret.
            pub fn new<'s>(secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
                let $builder = HmacScheme::builder($header).name($label);
                $build
                    .build(secret)
                    .map(|scheme| $name(scheme.expecting($expected)))
                    .map_err(SchemeError::into_secret_error)
            }

            #[doc = concat!("Adds a secret (during a rotation), read as [`", stringify!($name), "::new`] reads it: a signature made with any of them passes. Signing uses the first.")]
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`] for an empty secret.
            pub fn with_secret<'s>(self, secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
                Ok($name(self.0.with_secret(secret)?))
            }
        }

        impl Verify for $name {
            fn name(&self) -> &str {
                $label
            }

            fn secret_advice(&self) -> Option<&'static str> {
                self.0.secret_advice()
            }

            fn detect(&self, request: Inbound<'_>) -> bool {
                self.0.detect(request)
            }

            fn verify_at<'a>(
                &'a self,
                request: Inbound<'a>,
                now: SystemTime,
            ) -> Result<Verified<'a>, VerifyError> {
                self.0.verify_at(request, now)
            }

            $(
            fn handshake(&self, request: Inbound<'_>, verified: bool) -> Option<Handshake> {
                if verified { $handshake(&self.0, request) } else { None }
            }
            )?
        }

        impl Sign for $name {
            fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
                self.0.sign(message)
            }
        }
    };
}

preset! {
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
    Slack, "slack", "x-slack-signature", "the app's signing secret", "`v0=` and the lowercase hex HMAC-SHA256",
    |builder| builder.prefix("v0=")
        .timestamp("x-slack-request-timestamp", "v0:", ":"),
    handshake = slack_challenge
}

/// Slack's `url_verification` request, which the Events API sends (signed) when a request URL
/// is saved.
#[derive(Deserialize)]
struct SlackChallenge<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    challenge: Cow<'a, str>,
}

/// The answer to Slack's `url_verification`: the challenge, as plain text.
fn slack_challenge(_: &HmacScheme, request: Inbound<'_>) -> Option<Handshake> {
    let body = request.body();
    if !contains(body, b"url_verification") {
        return None;
    }
    let challenge: SlackChallenge<'_> = serde_json::from_slice(body).ok()?;
    (challenge.kind == "url_verification").then(|| Handshake::text(challenge.challenge))
}

/// Whether `needle` occurs in `haystack`: a cheap test before a handshake's body is parsed.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

preset! {
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
    Shopify, "shopify", "x-shopify-hmac-sha256", "the app's client secret", "the base64 HMAC-SHA256 of the body",
    |builder| builder.encoding(Encoding::Base64)
        .id_header("x-shopify-webhook-id")
}

preset! {
    /// Zoom's webhook signatures: `x-zm-signature: v0=<hex>`, HMAC-SHA256 under the app's
    /// secret token of `v0:{x-zm-request-timestamp}:{body}`, the timestamp checked against a
    /// 5-minute tolerance either way.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use hookwire::webhook::{Inbound, Message, Sign, Verify, Zoom};
    ///
    /// let zoom = Zoom::new("zoom-secret-token")?;
    /// let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let headers = zoom.sign(&Message::new("", br#"{"event":"meeting.started"}"#).at(sent))?;
    /// zoom.verify_at(Inbound::new(&headers, br#"{"event":"meeting.started"}"#), sent)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Zoom, "zoom", "x-zm-signature", "the app's secret token", "`v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`",
    |builder| builder.prefix("v0=")
        .timestamp("x-zm-request-timestamp", "v0:", ":"),
    handshake = zoom_validation
}

/// Zoom's `endpoint.url_validation` event, sent (signed) when an endpoint is saved and every 72
/// hours after.
#[derive(Deserialize)]
struct ZoomValidation<'a> {
    event: &'a str,
    #[serde(borrow)]
    payload: ZoomPlainToken<'a>,
}

#[derive(Deserialize)]
struct ZoomPlainToken<'a> {
    #[serde(rename = "plainToken", borrow)]
    plain_token: Cow<'a, str>,
}

/// The answer to Zoom's `endpoint.url_validation`: the plain token, and its hex HMAC-SHA256
/// under the secret token as `encryptedToken`, in JSON.
fn zoom_validation(scheme: &HmacScheme, request: Inbound<'_>) -> Option<Handshake> {
    let body = request.body();
    if !contains(body, b"endpoint.url_validation") {
        return None;
    }
    let validation: ZoomValidation<'_> = serde_json::from_slice(body).ok()?;
    if validation.event != "endpoint.url_validation" {
        return None;
    }
    let token = validation.payload.plain_token;
    let encrypted = scheme
        .first_key()?
        .tag(&[token.as_bytes()])
        .encode(Encoding::Hex);
    let answer = serde_json::json!({ "plainToken": token, "encryptedToken": encrypted });
    Some(Handshake::json(answer.to_string()))
}

preset! {
    /// Gitea's (and Forgejo's) webhook signatures: `X-Gitea-Signature: <hex>`, HMAC-SHA256 of
    /// the body under the webhook's secret; the delivery id is `X-Gitea-Delivery`. No
    /// timestamp: drop repeated delivery ids.
    ///
    /// ```
    /// use hookwire::webhook::{Gitea, Inbound, Message, Sign, Verify};
    ///
    /// let gitea = Gitea::new("gitea secret")?;
    /// let headers = gitea.sign(&Message::new("f6b0e5c2", b"{}"))?;
    /// assert_eq!(gitea.verify(Inbound::new(&headers, b"{}"))?.id(), Some("f6b0e5c2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Gitea, "gitea", "x-gitea-signature", "the webhook's secret", "the hex HMAC-SHA256 of the body",
    |builder| builder.id_header("x-gitea-delivery")
}

preset! {
    /// Bitbucket's webhook signatures: `X-Hub-Signature: sha256=<hex>`, HMAC-SHA256 of the body
    /// under the webhook's secret; the delivery id is `X-Request-UUID`. No timestamp: drop
    /// repeated delivery ids.
    ///
    /// ```
    /// use hookwire::webhook::{Bitbucket, Inbound, Message, Sign, Verify};
    ///
    /// let bitbucket = Bitbucket::new("bitbucket secret")?;
    /// let headers = bitbucket.sign(&Message::new("2f6e0a3c", b"{}"))?;
    /// bitbucket.verify(Inbound::new(&headers, b"{}"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Bitbucket, "bitbucket", "x-hub-signature", "the webhook's secret", "`sha256=` and the hex HMAC-SHA256 of the body",
    |builder| builder.prefix("sha256=")
        .id_header("x-request-uuid")
}

preset! {
    /// Intercom's webhook signatures: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the body
    /// under the app's client secret (SHA-1 is what Intercom sends). No timestamp.
    ///
    /// ```
    /// use hookwire::webhook::{Inbound, Intercom, Message, Sign, Verify};
    ///
    /// let intercom = Intercom::new("intercom client secret")?;
    /// let headers = intercom.sign(&Message::new("", b"{}"))?;
    /// intercom.verify(Inbound::new(&headers, b"{}"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Intercom, "intercom", "x-hub-signature", "the app's client secret", "`sha1=` and the hex HMAC-SHA1 of the body",
    |builder| builder.prefix("sha1=")
        .algorithm(Algorithm::Sha1)
}

preset! {
    /// Typeform's webhook signatures: `Typeform-Signature: sha256=<base64>`, HMAC-SHA256 of the
    /// body under the webhook's secret. No timestamp.
    ///
    /// ```
    /// use hookwire::webhook::{Inbound, Message, Sign, Typeform, Verify};
    ///
    /// let typeform = Typeform::new("typeform secret")?;
    /// let headers = typeform.sign(&Message::new("", b"{}"))?;
    /// typeform.verify(Inbound::new(&headers, b"{}"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Typeform, "typeform", "typeform-signature", "the webhook's secret", "`sha256=` and the base64 HMAC-SHA256 of the body",
    |builder| builder.prefix("sha256=")
        .encoding(Encoding::Base64)
}

impl Slack {
    /// How far the timestamp may lie from now, either way: 5 minutes unless set.
    #[must_use]
    pub fn tolerance(self, tolerance: Duration) -> Self {
        Slack(self.0.tolerance(tolerance))
    }
}

impl Zoom {
    /// How far the timestamp may lie from now, either way: 5 minutes unless set.
    #[must_use]
    pub fn tolerance(self, tolerance: Duration) -> Self {
        Zoom(self.0.tolerance(tolerance))
    }
}

/// GitLab's webhook token: GitLab signs nothing, it sends the secret token it was given in
/// `X-Gitlab-Token`; this compares it in constant time. The delivery id is
/// `X-Gitlab-Event-UUID`. A token proves only that the sender knows it (anyone who sees one
/// request can replay or forge others): serve the endpoint over TLS only, and drop repeated
/// ids.
///
/// ```
/// use hookwire::webhook::{GitLab, Inbound, Message, Sign, Verify};
///
/// let gitlab = GitLab::new("a long random token")?;
/// let headers = gitlab.sign(&Message::new("5f8c4d9e", b"{}"))?;
/// assert_eq!(gitlab.verify(Inbound::new(&headers, b"{}"))?.id(), Some("5f8c4d9e"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GitLab {
    tokens: Vec<Secret>,
}

static GITLAB_TOKEN: HeaderName = HeaderName::from_static("x-gitlab-token");
static GITLAB_ID: HeaderName = HeaderName::from_static("x-gitlab-event-uuid");

impl GitLab {
    /// The scheme, with the secret token set on the webhook: its text, used byte for byte, or
    /// a [`Secret`].
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty token.
    pub fn new<'s>(token: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        Ok(GitLab {
            tokens: vec![token.into().raw()?],
        })
    }

    /// Accepts one more token (during a rotation). Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty token.
    pub fn with_secret<'s>(
        mut self,
        token: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        self.tokens.push(token.into().raw()?);
        Ok(self)
    }
}

impl Verify for GitLab {
    fn name(&self) -> &str {
        "gitlab"
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&GITLAB_TOKEN)
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        _now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        let token = header_str(headers, &GITLAB_TOKEN)?;
        let sent = Secret::from_bytes_weak(token.as_bytes())
            .map_err(|_| VerifyError::NoMatchingSignature)?;
        // Every token is compared (in constant time), whichever matches.
        let matched = self
            .tokens
            .iter()
            .enumerate()
            .fold(None, |found, (index, token)| {
                let equal = *token == sent;
                found.or(equal.then_some(index))
            });
        let index = matched.ok_or(VerifyError::NoMatchingSignature)?;
        let id = headers
            .get(&GITLAB_ID)
            .and_then(|value| value.to_str().ok());
        Ok(Verified::new("gitlab", id, None).by_key(index))
    }
}

impl Sign for GitLab {
    /// `X-Gitlab-Token` with the first token, and `X-Gitlab-Event-UUID` with the message id
    /// when it has one.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let mut headers = HeaderMap::new();
        let token = HeaderValue::from_bytes(self.tokens[0].expose_bytes())
            .map_err(|_| SignError::InvalidHeaderValue(GITLAB_TOKEN.clone()))?;
        headers.insert(GITLAB_TOKEN.clone(), token);
        if !message.id().is_empty() {
            let id = HeaderValue::from_str(message.id()).map_err(|_| SignError::InvalidId)?;
            headers.insert(GITLAB_ID.clone(), id);
        }
        Ok(headers)
    }
}

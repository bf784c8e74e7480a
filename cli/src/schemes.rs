//! The schemes the command speaks, by name, and captured requests read from files.

use clap::ValueEnum;
use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
use hookwire::webhook::{
    Bitbucket, Calendly, GitHub, Gitea, Intercom, MultiVerifier, Paddle, PagerDuty, Secret,
    SecretError, Shopify, Sign, Slack, StandardWebhooks, Stripe, Twitch, Typeform, Verify, Zoom,
};

/// A signature scheme, as named on the command line: every scheme hookwire can both sign and
/// verify from the headers and body alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeName {
    /// Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`;
    /// the secret is `whsec_<base64>`.
    StandardWebhooks,
    /// Stripe: `Stripe-Signature`; the secret is the endpoint's `whsec_…`, used as text.
    Stripe,
    /// GitHub: `X-Hub-Signature-256`; the secret is used as text.
    Github,
    /// Slack: `X-Slack-Signature` and `X-Slack-Request-Timestamp`; the app's Signing Secret.
    Slack,
    /// Shopify: `X-Shopify-Hmac-Sha256`; the app's secret, used as text.
    Shopify,
    /// Zoom: `x-zm-signature` and `x-zm-request-timestamp`; the app's secret token.
    Zoom,
    /// Gitea and Forgejo: `X-Gitea-Signature`; the webhook's secret.
    Gitea,
    /// Bitbucket: `X-Hub-Signature` (`sha256=`); the webhook's secret.
    Bitbucket,
    /// Intercom: `X-Hub-Signature` (`sha1=`); the app's client secret.
    Intercom,
    /// Typeform: `Typeform-Signature` (`sha256=`, base64); the webhook's secret.
    Typeform,
    /// Calendly: `Calendly-Webhook-Signature` (`t=…,v1=…`); the signing key.
    Calendly,
    /// Paddle Billing: `Paddle-Signature` (`ts=…;h1=…`, 5 seconds); the endpoint's secret key.
    Paddle,
    /// PagerDuty v3: `X-PagerDuty-Signature` (`v1=…`); the subscription's secret.
    Pagerduty,
    /// Twitch EventSub: `Twitch-Eventsub-Message-*`; the subscription's secret.
    Twitch,
}

/// What the command needs of a scheme: it verifies, and it signs.
trait Scheme: Verify + Sign {
    fn as_sign(&self) -> &dyn Sign;
    fn into_verify(self: Box<Self>) -> Box<dyn Verify>;
}

impl<S: Verify + Sign + 'static> Scheme for S {
    fn as_sign(&self) -> &dyn Sign {
        self
    }
    fn into_verify(self: Box<Self>) -> Box<dyn Verify> {
        self
    }
}

/// A scheme with its secrets, given as the provider shows them: it verifies, and signs with
/// the first.
pub struct Keyed(Box<dyn Scheme>);

/// `new` with the first secret, then `with_secret` with each of the others.
fn keyed<S: Scheme + 'static>(
    secrets: &[&str],
    new: impl Fn(&str) -> Result<S, SecretError>,
    with_secret: impl Fn(S, &str) -> Result<S, SecretError>,
) -> Result<Box<dyn Scheme>, SecretError> {
    let (first, others) = secrets.split_first().ok_or(SecretError::Empty)?;
    let scheme = others
        .iter()
        .try_fold(new(first)?, |scheme, secret| with_secret(scheme, secret))?;
    Ok(Box::new(scheme))
}

macro_rules! keyed {
    ($scheme:ident, $secrets:expr) => {
        keyed(
            $secrets,
            |secret| $scheme::new(secret),
            |scheme, secret| scheme.with_secret(secret),
        )
    };
}

impl Keyed {
    /// `name` keyed with `secrets` (at least one), given as the provider shows them.
    pub fn new(name: SchemeName, secrets: &[&str]) -> Result<Self, SecretError> {
        let scheme = match name {
            SchemeName::StandardWebhooks => keyed!(StandardWebhooks, secrets),
            SchemeName::Stripe => keyed!(Stripe, secrets),
            SchemeName::Github => keyed!(GitHub, secrets),
            SchemeName::Slack => keyed!(Slack, secrets),
            SchemeName::Shopify => keyed!(Shopify, secrets),
            SchemeName::Zoom => keyed!(Zoom, secrets),
            SchemeName::Gitea => keyed!(Gitea, secrets),
            SchemeName::Bitbucket => keyed!(Bitbucket, secrets),
            SchemeName::Intercom => keyed!(Intercom, secrets),
            SchemeName::Typeform => keyed!(Typeform, secrets),
            SchemeName::Calendly => keyed!(Calendly, secrets),
            SchemeName::Paddle => keyed!(Paddle, secrets),
            SchemeName::Pagerduty => keyed!(PagerDuty, secrets),
            SchemeName::Twitch => keyed!(Twitch, secrets),
        };
        scheme.map(Keyed)
    }

    /// The scheme as a verifier.
    pub fn verifier(self) -> Box<dyn Verify> {
        self.0.into_verify()
    }

    /// The scheme as a signer.
    pub fn signer(&self) -> &dyn Sign {
        self.0.as_sign()
    }
}

/// One verifier for pairs of schemes and secrets, given in order (`--scheme A --secret a
/// --scheme B --secret b`); a scheme given once with several secrets holds them all.
pub fn verifier(schemes: &[SchemeName], secrets: &[String]) -> Result<Box<dyn Verify>, String> {
    if schemes.is_empty() || secrets.is_empty() {
        return Err("give a scheme and its secret: --scheme <name> --secret <secret>".into());
    }
    let key_error = |error: SecretError| format!("the secret does not fit the scheme: {error}");
    if let [scheme] = schemes {
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        return Ok(Keyed::new(*scheme, &secrets).map_err(key_error)?.verifier());
    }
    if schemes.len() != secrets.len() {
        return Err(format!(
            "{} schemes and {} secrets: give one --secret after each --scheme",
            schemes.len(),
            secrets.len()
        ));
    }
    let mut multi = MultiVerifier::new();
    for (&name, secret) in schemes.iter().zip(secrets) {
        multi = multi.with(BoxedVerify(
            Keyed::new(name, &[secret.as_str()])
                .map_err(key_error)?
                .verifier(),
        ));
    }
    Ok(Box::new(multi))
}

/// A boxed verifier, owned, for a [`MultiVerifier`].
struct BoxedVerify(Box<dyn Verify>);

impl Verify for BoxedVerify {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn detect(&self, request: hookwire::webhook::Inbound<'_>) -> bool {
        self.0.detect(request)
    }
    fn verify_at<'a>(
        &'a self,
        request: hookwire::webhook::Inbound<'a>,
        now: std::time::SystemTime,
    ) -> Result<hookwire::webhook::Verified<'a>, hookwire::webhook::VerifyError> {
        self.0.verify_at(request, now)
    }
    fn secret_advice(&self) -> Option<&'static str> {
        self.0.secret_advice()
    }
}

/// A fresh secret in the form `scheme`'s provider shows: `whsec_<base64>` for Standard
/// Webhooks and Stripe, hex text for the others.
pub fn generate(scheme: SchemeName) -> String {
    let secret = Secret::generate();
    match scheme {
        SchemeName::StandardWebhooks => secret.expose_whsec().to_string(),
        SchemeName::Stripe => format!("whsec_{}", hex(secret.expose_bytes())),
        _ => hex(secret.expose_bytes()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A header given as `name: value`.
pub fn header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not a header: write it as 'name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of `{name}` holds bytes a header cannot"))?;
    Ok((name, value))
}

/// A request captured in HTTP/1.1 form: a request line, headers, a blank line, the body
/// (exactly the bytes after it). Returns the headers and the body.
pub fn captured(bytes: &[u8]) -> Result<(HeaderMap, Vec<u8>), String> {
    let (head, body) = split_head(bytes)
        .ok_or("the request has no blank line between its headers and its body")?;
    let head = std::str::from_utf8(head).map_err(|_| "the request's head is not text")?;
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    if !first.contains("HTTP/") {
        return Err(format!(
            "`{first}` is not a request line such as `POST /hooks HTTP/1.1`"
        ));
    }
    let mut headers = HeaderMap::new();
    for line in lines.filter(|line| !line.trim().is_empty()) {
        let (name, value) = header(line)?;
        headers.append(name, value);
    }
    Ok((headers, body.to_vec()))
}

/// The head and body of an HTTP message, split at the first blank line (CRLF or LF).
fn split_head(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((&bytes[..at], &bytes[at + 4..]));
    }
    let at = bytes.windows(2).position(|w| w == b"\n\n")?;
    Some((&bytes[..at], &bytes[at + 2..]))
}

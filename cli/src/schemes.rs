//! The schemes the command speaks, by name, and captured requests read from files.

use clap::ValueEnum;
use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
use hookwire::webhook::{
    GitHub, MultiVerifier, Secret, SecretError, Shopify, Sign, Slack, StandardWebhooks, Stripe,
    Verify,
};

/// A signature scheme, as named on the command line.
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
}

/// A scheme with its secret: it verifies, and signs.
pub enum Scheme {
    StandardWebhooks(StandardWebhooks),
    Stripe(Stripe),
    Github(Box<GitHub>),
    Slack(Slack),
    Shopify(Shopify),
}

impl Scheme {
    /// `name` keyed with `secret`, given as the provider shows it.
    pub fn new(name: SchemeName, secret: &str) -> Result<Self, SecretError> {
        Ok(match name {
            SchemeName::StandardWebhooks => {
                Scheme::StandardWebhooks(StandardWebhooks::new(secret)?)
            }
            SchemeName::Stripe => Scheme::Stripe(Stripe::new(secret)?),
            SchemeName::Github => Scheme::Github(Box::new(GitHub::new(secret)?)),
            SchemeName::Slack => Scheme::Slack(Slack::new(secret)?),
            SchemeName::Shopify => Scheme::Shopify(Shopify::new(secret)?),
        })
    }

    /// The scheme as a verifier.
    pub fn verifier(self) -> Box<dyn Verify> {
        match self {
            Scheme::StandardWebhooks(s) => Box::new(s),
            Scheme::Stripe(s) => Box::new(s),
            Scheme::Github(s) => s,
            Scheme::Slack(s) => Box::new(s),
            Scheme::Shopify(s) => Box::new(s),
        }
    }

    /// The scheme as a signer.
    pub fn signer(&self) -> &dyn Sign {
        match self {
            Scheme::StandardWebhooks(s) => s,
            Scheme::Stripe(s) => s,
            Scheme::Github(s) => &**s,
            Scheme::Slack(s) => s,
            Scheme::Shopify(s) => s,
        }
    }
}

/// One verifier for pairs of schemes and secrets, given in order (`--scheme A --secret a
/// --scheme B --secret b`); a scheme given once with several secrets holds them all.
pub fn verifier(schemes: &[SchemeName], secrets: &[String]) -> Result<Box<dyn Verify>, String> {
    if schemes.is_empty() || secrets.is_empty() {
        return Err("give a scheme and its secret: --scheme <name> --secret <secret>".into());
    }
    let key_error = |error: SecretError| format!("the secret does not fit the scheme: {error}");
    if schemes.len() == 1 {
        let mut scheme = Scheme::new(schemes[0], &secrets[0]).map_err(key_error)?;
        for more in &secrets[1..] {
            scheme = match scheme {
                Scheme::StandardWebhooks(s) => {
                    Scheme::StandardWebhooks(s.with_secret(more.as_str()).map_err(key_error)?)
                }
                Scheme::Stripe(s) => {
                    Scheme::Stripe(s.with_secret(more.as_str()).map_err(key_error)?)
                }
                Scheme::Github(s) => {
                    Scheme::Github(Box::new(s.with_secret(more.as_str()).map_err(key_error)?))
                }
                Scheme::Slack(s) => Scheme::Slack(s.with_secret(more.as_str()).map_err(key_error)?),
                Scheme::Shopify(s) => {
                    Scheme::Shopify(s.with_secret(more.as_str()).map_err(key_error)?)
                }
            };
        }
        return Ok(scheme.verifier());
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
            Scheme::new(name, secret).map_err(key_error)?.verifier(),
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

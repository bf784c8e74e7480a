//! Why a webhook failed verification, explained: hints read from the request and the
//! verifier's own configuration, none of which holds a secret, a signature or the body.

use std::fmt;
use std::time::Duration;

use http::header::CONTENT_LENGTH;

use super::scheme::{Inbound, Verify};
use super::verify::VerifyError;

/// A likely cause of a failed verification, found by [`diagnose`].
///
/// Each says what was seen and what to do; none quotes a secret, a signature or the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// The body's length differs from its `Content-Length`: something changed the body (or
    /// read only part of it) before verifying.
    BodyLengthDiffers {
        /// What `Content-Length` said.
        content_length: u64,
        /// How many bytes were verified.
        received: usize,
    },
    /// The body is JSON laid out as a serializer lays it out (indented, or with spaces after
    /// colons and commas) while no signature matched: a body parsed and written again no
    /// longer matches the bytes the sender signed.
    ReformattedJson,
    /// The timestamp lies outside the tolerance.
    ClockSkew {
        /// How far the timestamp lies from this clock: behind it (`true`) or ahead.
        behind: bool,
        /// By how much.
        by: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },
    /// Only signatures of versions this verifier holds no key for were present.
    UnsupportedVersions {
        /// What was found, such as ``"`v1a` (ed25519) signatures"``.
        found: &'static str,
    },
    /// A secret this verifier holds has the look of another kind of secret.
    SecretForm {
        /// What it looks like and what to do.
        advice: &'static str,
    },
    /// The request carries another provider's signature header and not this scheme's.
    OtherProvider {
        /// The provider whose header is present.
        provider: &'static str,
        /// That header.
        header: &'static str,
    },
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::BodyLengthDiffers {
                content_length,
                received,
            } => write!(
                f,
                "the body verified is {received} bytes but Content-Length says {content_length}: verify the raw bytes exactly as they arrived, before any parsing, decompression or re-encoding"
            ),
            Hint::ReformattedJson => f.write_str(
                "the body is JSON laid out as a serializer writes it: if a framework parsed it and wrote it out again before verifying, verify the raw bytes instead",
            ),
            Hint::ClockSkew {
                behind,
                by,
                tolerance,
            } => write!(
                f,
                "the timestamp is {}s {} this server's clock, beyond the tolerance of {}s: check both clocks (NTP), or this is a replay",
                by.as_secs(),
                if *behind { "behind" } else { "ahead of" },
                tolerance.as_secs()
            ),
            Hint::UnsupportedVersions { found } => write!(
                f,
                "the request carries only {found}: give the verifier the key for that kind of signature"
            ),
            Hint::SecretForm { advice } => f.write_str(advice),
            Hint::OtherProvider { provider, header } => write!(
                f,
                "the request carries {provider}'s signature header `{header}` and not this scheme's: is this endpoint set up for {provider}?"
            ),
        }
    }
}

/// A failed verification and its likely causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    error: VerifyError,
    hints: Vec<Hint>,
}

impl Diagnosis {
    /// What verification said.
    pub fn error(&self) -> &VerifyError {
        &self.error
    }

    /// The likely causes, most telling first; empty when nothing stood out.
    pub fn hints(&self) -> &[Hint] {
        &self.hints
    }
}

impl From<VerifyError> for Diagnosis {
    /// The error alone, with no hints.
    fn from(error: VerifyError) -> Self {
        Diagnosis {
            error,
            hints: Vec::new(),
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        for hint in &self.hints {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnosis {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Schemes whose providers send indented JSON themselves (Stripe does), for which a body's
/// layout says nothing.
const SENDS_INDENTED: &[&str] = &["stripe"];

/// Signature headers by provider, to tell which provider a request came from.
const PROVIDER_HEADERS: &[(&str, &str)] = &[
    ("Standard Webhooks", "webhook-signature"),
    ("Svix", "svix-signature"),
    ("Stripe", "stripe-signature"),
    ("GitHub", "x-hub-signature-256"),
    ("Slack", "x-slack-signature"),
    ("Shopify", "x-shopify-hmac-sha256"),
    ("Twilio", "x-twilio-signature"),
    ("Paddle", "paddle-signature"),
    ("Twitch", "twitch-eventsub-message-signature"),
    ("Linear", "linear-signature"),
    ("Zoom", "x-zm-signature"),
    ("PagerDuty", "x-pagerduty-signature"),
    ("Intercom", "x-hub-signature"),
    ("Square", "x-square-hmacsha256-signature"),
    ("HubSpot", "x-hubspot-signature-v3"),
    ("Discord", "x-signature-ed25519"),
    ("SendGrid", "x-twilio-email-event-webhook-signature"),
    ("GitLab", "x-gitlab-token"),
];

/// Explains why `request` failed `verifier` with `error`: the body's length against
/// `Content-Length`, a body that looks re-serialised, the clock skew, signatures of versions
/// the verifier has no key for, a secret of the wrong kind, another provider's signature
/// header. Meant for the failure path (it reads the body and may allocate); the hints never
/// hold a secret, a signature or the body.
///
/// ```
/// use hookwire::webhook::{diagnose, GitHub, Hint, Inbound, Message, Sign, StandardWebhooks, Verify};
///
/// // A Standard Webhooks request, at an endpoint configured for GitHub.
/// let sender = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let headers = sender.sign(&Message::new("msg_1", b"{}"))?;
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// let request = Inbound::new(&headers, b"{}");
/// let error = github.verify(request).unwrap_err();
/// let diagnosis = diagnose(&github, request, error);
/// assert!(matches!(
///     diagnosis.hints()[0],
///     Hint::OtherProvider { provider: "Standard Webhooks", .. }
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diagnose<V: Verify + ?Sized>(
    verifier: &V,
    request: Inbound<'_>,
    error: VerifyError,
) -> Diagnosis {
    let mut hints = Vec::new();
    let body = request.body();
    let content_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if let Some(content_length) = content_length.filter(|&n| n != body.len() as u64) {
        hints.push(Hint::BodyLengthDiffers {
            content_length,
            received: body.len(),
        });
    }
    match &error {
        VerifyError::TooOld { age, tolerance } => hints.push(Hint::ClockSkew {
            behind: true,
            by: *age,
            tolerance: *tolerance,
        }),
        VerifyError::TooNew { ahead, tolerance } => hints.push(Hint::ClockSkew {
            behind: false,
            by: *ahead,
            tolerance: *tolerance,
        }),
        VerifyError::NoSupportedSignature { found } => {
            hints.push(Hint::UnsupportedVersions { found });
        }
        VerifyError::NoMatchingSignature => {
            if !SENDS_INDENTED.contains(&verifier.name()) && looks_reserialised(body) {
                hints.push(Hint::ReformattedJson);
            }
            if let Some(advice) = verifier.secret_advice() {
                hints.push(Hint::SecretForm { advice });
            }
        }
        _ => {}
    }
    if !verifier.detect(request) {
        let other = PROVIDER_HEADERS
            .iter()
            .find(|(_, header)| request.headers().contains_key(*header));
        if let Some(&(provider, header)) = other {
            hints.insert(0, Hint::OtherProvider { provider, header });
        }
    }
    Diagnosis { error, hints }
}

/// Whether `body` is a JSON object or array laid out by a serializer's pretty printer, or
/// with a space after every `:` as some serializers write.
fn looks_reserialised(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return false;
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return false;
    }
    let indented = text.contains("\n  ") || text.contains("\n\t");
    let spaced = text.contains("\": ") && !text.contains("\":\"") && !text.contains("\":{");
    indented || spaced
}

/// What a secret's text looks like, for advice when no signature matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLook {
    /// `whsec_…`: the Standard Webhooks (and Svix, and Stripe) form.
    Whsec,
    /// `sk_…`, `rk_…`, `pk_…`: a Stripe API key.
    StripeApiKey,
    /// `xoxb-…`, `xoxp-…`, `xapp-…`: a Slack token.
    SlackToken,
    /// Anything else.
    Plain,
}

impl KeyLook {
    /// How the key bytes (as given, before any decoding) look.
    pub(crate) fn of(key: &[u8]) -> Self {
        let starts = |prefix: &[u8]| key.starts_with(prefix);
        if starts(b"whsec_") {
            KeyLook::Whsec
        } else if starts(b"sk_") || starts(b"rk_") || starts(b"pk_") {
            KeyLook::StripeApiKey
        } else if starts(b"xoxb-") || starts(b"xoxp-") || starts(b"xapp-") {
            KeyLook::SlackToken
        } else {
            KeyLook::Plain
        }
    }
}

/// Advice for a verifier whose secrets are used byte for byte (GitHub, Slack, Shopify, a
/// configurable scheme), given how they look.
pub(crate) fn verbatim_advice(looks: &[KeyLook]) -> Option<&'static str> {
    if looks.contains(&KeyLook::Whsec) {
        Some(
            "a secret here starts with `whsec_`, the Standard Webhooks (Svix) form, but this scheme uses its secret byte for byte: if the sender signs under Standard Webhooks, verify with StandardWebhooks",
        )
    } else if looks.contains(&KeyLook::SlackToken) {
        Some(
            "a secret here looks like a Slack token (`xox…`): Slack signs with the app's Signing Secret, not a token",
        )
    } else if looks.contains(&KeyLook::StripeApiKey) {
        Some(
            "a secret here looks like a Stripe API key (`sk_`, `rk_`, `pk_`): webhooks are signed with the endpoint's signing secret",
        )
    } else {
        None
    }
}

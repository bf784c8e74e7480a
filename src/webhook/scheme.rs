//! What every signature scheme offers, and a verifier that serves several at once.

use std::fmt;
use std::time::SystemTime;

use http::HeaderMap;

use super::{SignError, Verified, VerifyError};

/// A webhook signature scheme: how a provider signs a request, and how its receiver checks it.
///
/// hookwire implements it for [Standard Webhooks](super::Verifier), [Stripe](super::Stripe),
/// [GitHub](super::GitHub), [Slack](super::Slack), [Shopify](super::Shopify) and a
/// [configurable HMAC scheme](super::HmacScheme) for the long tail. Implement it for a scheme of
/// your own and it works wherever these do, in a [`MultiVerifier`] too.
///
/// Implementations hold their secrets (keyed once, when built), a timestamp tolerance where the
/// scheme has timestamps, and nothing per request; verifying must not panic on any input.
///
/// ```
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{GitHub, Message, Scheme};
///
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// // Sign as GitHub would, to test a handler…
/// let headers = github.sign(&Message::new("72d3162e-cc78-11e3-81ab-4c9367dc0958", b"Hello, World!"))?;
/// assert_eq!(
///     headers["x-hub-signature-256"],
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/// );
/// // …and verify as the receiver does.
/// let verified = github.verify(&headers, b"Hello, World!")?;
/// assert_eq!(verified.scheme(), "github");
/// assert_eq!(verified.id(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Scheme: Send + Sync {
    /// A short, stable name, such as `"stripe"`; [`Verified::scheme`] reports it.
    fn name(&self) -> &'static str;

    /// Whether `headers` carry this scheme's signature: how a [`MultiVerifier`] picks a scheme.
    fn detect(&self, headers: &HeaderMap) -> bool;

    /// Verifies `body` against `headers` at the given `now`.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] that says what was wrong.
    fn verify_at<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'h>, VerifyError>;

    /// Verifies `body` against `headers` at the system clock's now.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] that says what was wrong.
    fn verify<'h>(&self, headers: &'h HeaderMap, body: &[u8]) -> Result<Verified<'h>, VerifyError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// The headers a sender of this scheme attaches to `message`: to test handlers, or to speak
    /// the scheme as a sender.
    ///
    /// # Errors
    ///
    /// A [`SignError`], for instance when the scheme holds no key that can sign.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError>;
}

/// A message to sign: its id, the time of the attempt, and the body.
///
/// Schemes use what they carry: Standard Webhooks signs all three, Stripe and Slack the time and
/// the body, GitHub and Shopify the body (and send the id in their delivery-id header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The message id, the same on every attempt to deliver it.
    pub id: &'a str,
    /// When this attempt is signed.
    pub timestamp: SystemTime,
    /// The exact bytes sent.
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// A message signed now, by the system clock.
    pub fn new(id: &'a str, body: &'a [u8]) -> Self {
        Message {
            id,
            timestamp: SystemTime::now(),
            body,
        }
    }

    /// The same message, signed at `timestamp`.
    #[must_use]
    pub fn at(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = timestamp;
        self
    }
}

/// A verifier for an endpoint that receives webhooks from several providers: it picks the first
/// scheme whose signature header is present and verifies with it.
///
/// ```
/// use hookwire::webhook::{GitHub, Message, MultiVerifier, Scheme, Stripe, VerifyError};
///
/// let stripe = Stripe::new("whsec_stripe_endpoint_secret")?;
/// let github = GitHub::new("github hook secret")?;
/// let sent = github.sign(&Message::new("delivery-1", b"{}"))?;
///
/// let verifier = MultiVerifier::new().with(stripe).with(github);
/// assert_eq!(verifier.verify(&sent, b"{}")?.scheme(), "github");
/// assert_eq!(
///     verifier.verify(&Default::default(), b"{}").unwrap_err(),
///     VerifyError::NoScheme
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct MultiVerifier {
    schemes: Vec<Box<dyn Scheme>>,
}

impl MultiVerifier {
    /// A verifier with no schemes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scheme; schemes are tried in the order they were added.
    #[must_use]
    pub fn with(mut self, scheme: impl Scheme + 'static) -> Self {
        self.schemes.push(Box::new(scheme));
        self
    }

    /// Verifies with the first scheme whose signature header is present, at `now`.
    ///
    /// # Errors
    ///
    /// [`VerifyError::NoScheme`] when no scheme's header is present; otherwise what that
    /// scheme reports.
    pub fn verify_at<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified<'h>, VerifyError> {
        self.schemes
            .iter()
            .find(|scheme| scheme.detect(headers))
            .ok_or(VerifyError::NoScheme)?
            .verify_at(headers, body, now)
    }

    /// Verifies with the first scheme whose signature header is present, at the system clock's
    /// now.
    ///
    /// # Errors
    ///
    /// As [`MultiVerifier::verify_at`].
    pub fn verify<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
    ) -> Result<Verified<'h>, VerifyError> {
        self.verify_at(headers, body, SystemTime::now())
    }
}

impl fmt::Debug for MultiVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.schemes.iter().map(|scheme| scheme.name()))
            .finish()
    }
}

//! SendGrid's Event Webhook: ECDSA P-256 with SHA-256 over the timestamp and the body.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderName;
use p256::ecdsa::signature::MultipartVerifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use super::scheme::{Inbound, Verify};
use super::verify::{header_str, parse_timestamp};
use super::{DEFAULT_TOLERANCE, KeyError, Verified, VerifyError, check_timestamp};

static SIGNATURE: HeaderName = HeaderName::from_static("x-twilio-email-event-webhook-signature");
static TIMESTAMP: HeaderName = HeaderName::from_static("x-twilio-email-event-webhook-timestamp");

/// The form of the key SendGrid shows.
const KEY_FORM: &str = "base64 of a DER P-256 public key (SubjectPublicKeyInfo), as SendGrid's Event Webhook settings show it";

/// Room for a decoded key (91 bytes for P-256) or DER signature (at most 72 bytes): base64's
/// decoder wants space for its length estimate.
const DECODE_BUF: usize = 128;

/// SendGrid's signed Event Webhook, as documented in "Getting started with the Event Webhook
/// security features" and checked by its SDKs' `EventWebhook`.
///
/// SendGrid signs `X-Twilio-Email-Event-Webhook-Timestamp` followed by the body with ECDSA over
/// P-256 and SHA-256, and sends the base64 DER signature in
/// `X-Twilio-Email-Event-Webhook-Signature`; the verification key is the base64 public key the
/// Event Webhook settings show. The timestamp must lie within 5 minutes of now, either way,
/// unless set (SendGrid names no window). Available with the `p256` feature.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{Inbound, SendGrid, Verify};
///
/// // The vector of SendGrid's Node.js SDK (packages/eventwebhook/src/eventwebhook.spec.js).
/// let sendgrid = SendGrid::new("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")?;
/// let body = concat!(
///     r#"[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","#,
///     r#""sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","#,
///     r#""sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","#,
///     r#""smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]"#,
///     "\r\n",
/// );
/// let mut headers = HeaderMap::new();
/// headers.insert("x-twilio-email-event-webhook-timestamp", "1600112502".parse()?);
/// headers.insert(
///     "x-twilio-email-event-webhook-signature",
///     "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=".parse()?,
/// );
/// let now = UNIX_EPOCH + Duration::from_secs(1_600_112_502);
/// sendgrid.verify_at(Inbound::new(&headers, body.as_bytes()), now)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SendGrid {
    keys: Vec<VerifyingKey>,
    tolerance: Duration,
}

/// A verification key from its base64 DER form.
fn key(public_key: &str) -> Result<VerifyingKey, KeyError> {
    let mut der = [0u8; DECODE_BUF];
    let len = STANDARD
        .decode_slice(public_key.trim(), &mut der)
        .map_err(|_| KeyError::NotAPublicKey { expected: KEY_FORM })?;
    let der = der.get(..len).unwrap_or_default();
    VerifyingKey::from_public_key_der(der)
        .map_err(|_| KeyError::NotAPublicKey { expected: KEY_FORM })
}

impl SendGrid {
    /// The scheme, with the verification key as SendGrid shows it (base64 of the DER public
    /// key).
    ///
    /// # Errors
    ///
    /// [`KeyError::NotAPublicKey`] where the text is not a P-256 public key in that form.
    pub fn new(public_key: &str) -> Result<Self, KeyError> {
        Ok(SendGrid {
            keys: vec![key(public_key)?],
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Adds a verification key (while the Event Webhook's key is regenerated, or for several
    /// accounts on one endpoint): a signature by any of them passes.
    ///
    /// # Errors
    ///
    /// As [`SendGrid::new`].
    pub fn with_key(mut self, public_key: &str) -> Result<Self, KeyError> {
        self.keys.push(key(public_key)?);
        Ok(self)
    }

    /// How far the timestamp may lie from now, either way: 5 minutes unless set.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }
}

impl Verify for SendGrid {
    fn name(&self) -> &str {
        "sendgrid"
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&SIGNATURE)
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        let signature = header_str(headers, &SIGNATURE)?;
        let timestamp = header_str(headers, &TIMESTAMP)?;
        let sent = parse_timestamp(timestamp)?;
        check_timestamp(sent, now, self.tolerance)?;
        let malformed = VerifyError::MalformedSignature {
            expected: "the base64 DER ECDSA P-256 signature",
        };
        let mut der = [0u8; DECODE_BUF];
        let len = STANDARD
            .decode_slice(signature, &mut der)
            .map_err(|_| malformed.clone())?;
        let signature =
            DerSignature::try_from(der.get(..len).unwrap_or_default()).map_err(|_| malformed)?;
        let content = [timestamp.as_bytes(), request.body()];
        self.keys
            .iter()
            .position(|key| key.multipart_verify(&content, &signature).is_ok())
            .map(|index| {
                Verified::new("sendgrid", None, Some(sent))
                    .tolerance(self.tolerance)
                    .by_key(index)
            })
            .ok_or(VerifyError::NoMatchingSignature)
    }
}

impl fmt::Debug for SendGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendGrid")
            .field("keys", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

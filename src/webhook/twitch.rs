//! Twitch EventSub: HMAC-SHA256 of the message id, its RFC 3339 timestamp and the body.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::configurable::value;
use super::mac::{Algorithm, Encoding, Keys, keyed};
use super::scheme::{Handshake, Inbound, Sign, Verify};
use super::verify::{find_headers, found_ascii, found_str, unix_seconds};
use super::{Message, SignError, Verified, VerifyError, check_timestamp};

// Statics rather than consts: each use of a `&CONST` of a type with a destructor builds a
// temporary `HeaderName` and drops it through a function pointer.
static ID: HeaderName = HeaderName::from_static("twitch-eventsub-message-id");
static TIMESTAMP: HeaderName = HeaderName::from_static("twitch-eventsub-message-timestamp");
static SIGNATURE: HeaderName = HeaderName::from_static("twitch-eventsub-message-signature");
/// `notification`, `webhook_callback_verification` or `revocation`.
pub(crate) const MESSAGE_TYPE: HeaderName = HeaderName::from_static("twitch-eventsub-message-type");

/// Twitch's window: "make sure the timestamp is no older than 10 minutes".
const WINDOW: Duration = Duration::from_secs(10 * 60);

/// Twitch EventSub's webhook signatures, as documented in "Verifying the event message".
///
/// Twitch signs the message id, then the timestamp exactly as sent (RFC 3339, such as
/// `2023-07-19T10:11:12.123456789Z`), then the body, with HMAC-SHA256 under the secret given
/// when subscribing, and sends `Twitch-Eventsub-Message-Signature: sha256=<hex>`. The
/// timestamp must lie within 10 minutes of now, either way. The id is signed, so a replay
/// guard on [`Verified::id`] stops deliberate replays.
///
/// ```
/// use hookwire::webhook::{Inbound, Message, Sign, Twitch, Verify};
///
/// let twitch = Twitch::new("a secret of ten to a hundred characters")?;
/// let headers = twitch.sign(&Message::new("befa7b53-d79d-478f-86b9-120f112b044e", b"{}"))?;
/// let verified = twitch.verify(Inbound::new(&headers, b"{}"))?;
/// assert_eq!(verified.id(), Some("befa7b53-d79d-478f-86b9-120f112b044e"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Twitch {
    keys: Keys,
    tolerance: Duration,
}

keyed!(
    Twitch,
    Algorithm::Sha256,
    "the subscription's secret",
    "10 minutes"
);

impl Twitch {
    fn from_keys(keys: Keys) -> Self {
        Twitch {
            keys,
            tolerance: WINDOW,
        }
    }
}

impl Verify for Twitch {
    fn name(&self) -> &str {
        "twitch"
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
        let [signature, id, timestamp] = find_headers(headers, [&SIGNATURE, &ID, &TIMESTAMP]);
        let signature = found_ascii(signature, &SIGNATURE)?;
        let id = found_str(id, &ID)?;
        let timestamp = found_str(timestamp, &TIMESTAMP)?;
        let sent = OffsetDateTime::parse(timestamp, &Rfc3339)
            .map_err(|_| VerifyError::MalformedTimestamp)?
            .unix_timestamp();
        check_timestamp(sent, now, self.tolerance)?;
        let hex = signature
            .strip_prefix(b"sha256=")
            .ok_or(VerifyError::MalformedSignature {
                expected: "`sha256=` and the hex HMAC-SHA256 of the id, the timestamp and the body",
            })?;
        let content = [id.as_bytes(), timestamp.as_bytes(), request.body()];
        let index = self
            .keys
            .matching(&content, Encoding::Hex, hex)
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified::new("twitch", Some(id), Some(sent))
            .tolerance(self.tolerance)
            .by_key(index))
    }

    /// The answer to `webhook_callback_verification` (the signed request Twitch sends when a
    /// subscription is made): its `challenge`, as plain text.
    fn handshake(&self, request: Inbound<'_>, verified: bool) -> Option<Handshake> {
        #[derive(Deserialize)]
        struct Challenge<'a> {
            #[serde(borrow)]
            challenge: Cow<'a, str>,
        }
        let kind = request.headers().get(MESSAGE_TYPE)?;
        if !verified || kind != "webhook_callback_verification" {
            return None;
        }
        let challenge: Challenge<'_> = serde_json::from_slice(request.body()).ok()?;
        Some(Handshake::text(challenge.challenge))
    }
}

impl Sign for Twitch {
    /// The id, timestamp, type (`notification`) and signature headers, with the first secret.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let key = self.keys.first();
        let id = HeaderValue::from_str(message.id())
            .ok()
            .filter(|_| !message.id().is_empty())
            .ok_or(SignError::InvalidId)?;
        let timestamp = OffsetDateTime::from_unix_timestamp(unix_seconds(message.timestamp()))
            .ok()
            .and_then(|time| time.format(&Rfc3339).ok())
            .ok_or(SignError::Signing)?;
        let tag = key.tag(&[
            message.id().as_bytes(),
            timestamp.as_bytes(),
            message.body(),
        ]);
        let mut headers = HeaderMap::new();
        headers.insert(ID.clone(), id);
        headers.insert(TIMESTAMP.clone(), value(&TIMESTAMP, &timestamp)?);
        headers.insert(
            SIGNATURE.clone(),
            value(&SIGNATURE, &format!("sha256={}", tag.encode(Encoding::Hex)))?,
        );
        headers.insert(MESSAGE_TYPE, HeaderValue::from_static("notification"));
        Ok(headers)
    }
}

impl fmt::Debug for Twitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Twitch")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

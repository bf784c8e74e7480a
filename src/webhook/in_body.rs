//! Providers that put part of what they check in the body: Linear (the timestamp), Mailgun
//! (the timestamp, a token and the signature itself) and Microsoft Graph (a shared client
//! state).

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName};
use serde::Deserialize;

use super::configurable::value;
use super::mac::{Algorithm, Encoding, Keys, keyed};
use super::presets::contains;
use super::scheme::{Handshake, Inbound, Sign, Verify};
use super::verify::{header_str, parse_timestamp};
use super::{
    DEFAULT_TOLERANCE, Message, Secret, SecretError, SecretInput, SignError, Verified, VerifyError,
    check_timestamp,
};

static LINEAR_SIGNATURE: HeaderName = HeaderName::from_static("linear-signature");
static LINEAR_DELIVERY: HeaderName = HeaderName::from_static("linear-delivery");

/// Linear's window: its SDK refuses a `webhookTimestamp` more than a minute from now.
const LINEAR_WINDOW: Duration = Duration::from_secs(60);

/// The one field of a Linear body that verification reads.
#[derive(Deserialize)]
struct LinearStamp {
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: i64,
}

/// Linear's webhook signatures, as its SDK's `LinearWebhooks` checks them.
///
/// Linear signs the body with HMAC-SHA256 under the webhook's signing secret and sends the hex
/// tag in `Linear-Signature`; the time of sending is inside the signed body, as
/// `webhookTimestamp` (milliseconds since the Unix epoch), and must lie within a minute of
/// now, either way. [`Verified::id`] reports the unsigned `Linear-Delivery`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::webhook::{Inbound, Linear, Message, Sign, Verify};
///
/// let linear = Linear::new("lin_wh_signing_secret")?;
/// let body = br#"{"action":"create","type":"Issue","webhookTimestamp":1700000000000}"#;
/// let headers = linear.sign(&Message::new("4b7dd2b1", body))?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
/// assert_eq!(linear.verify_at(Inbound::new(&headers, body), now)?.timestamp(), Some(1_700_000_000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Linear {
    keys: Keys,
    tolerance: Duration,
}

keyed!(
    Linear,
    Algorithm::Sha256,
    "the webhook's signing secret",
    "a minute"
);

impl Linear {
    fn from_keys(keys: Keys) -> Self {
        Linear {
            keys,
            tolerance: LINEAR_WINDOW,
        }
    }
}

impl Verify for Linear {
    fn name(&self) -> &str {
        "linear"
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&LINEAR_SIGNATURE)
    }

    /// Verifies the signature, then reads the signed `webhookTimestamp` from the body.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        let signature = header_str(headers, &LINEAR_SIGNATURE)?;
        let body = request.body();
        let key = self
            .keys
            .matching(&[body], Encoding::Hex, signature.as_bytes())
            .ok_or(VerifyError::NoMatchingSignature)?;
        let millis = serde_json::from_slice::<LinearStamp>(body)
            .map_err(|_| VerifyError::MalformedBody {
                expected: "a JSON object with `webhookTimestamp`, in milliseconds since the Unix epoch",
            })?
            .webhook_timestamp;
        let sent = millis.div_euclid(1000);
        check_timestamp(sent, now, self.tolerance)?;
        let id = headers
            .get(&LINEAR_DELIVERY)
            .and_then(|id| id.to_str().ok());
        Ok(Verified::new("linear", id, Some(sent))
            .tolerance(self.tolerance)
            .by_key(key))
    }
}

impl Sign for Linear {
    /// `Linear-Signature` over the body, which must hold its own `webhookTimestamp`, with the
    /// first secret; `Linear-Delivery` with the message id.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let tag = self
            .keys
            .first()
            .tag(&[message.body()])
            .encode(Encoding::Hex);
        let mut headers = HeaderMap::new();
        headers.insert(LINEAR_SIGNATURE.clone(), value(&LINEAR_SIGNATURE, &tag)?);
        if !message.id().is_empty() {
            headers.insert(
                LINEAR_DELIVERY.clone(),
                value(&LINEAR_DELIVERY, message.id()).map_err(|_| SignError::InvalidId)?,
            );
        }
        Ok(headers)
    }
}

impl fmt::Debug for Linear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Linear")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// What Mailgun's signature names: the fields, borrowed from the body.
struct MailgunFields<'a> {
    timestamp: &'a str,
    token: &'a str,
    signature: &'a str,
}

/// The `signature` object of a JSON body.
#[derive(Deserialize)]
struct MailgunJson<'a> {
    #[serde(borrow)]
    signature: MailgunJsonFields<'a>,
}

#[derive(Deserialize)]
struct MailgunJsonFields<'a> {
    timestamp: &'a str,
    token: &'a str,
    signature: &'a str,
}

const MAILGUN_EXPECTED: &str = "a JSON body with `signature.timestamp`, `signature.token` and `signature.signature`, or a form with `timestamp`, `token` and `signature`";

/// Whether `headers` declare a body of `kind` (a media type, compared without parameters).
fn content_type_is(headers: &HeaderMap, kind: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(kind))
}

impl<'a> MailgunFields<'a> {
    fn read(request: Inbound<'a>) -> Result<Self, VerifyError> {
        let malformed = VerifyError::MalformedBody {
            expected: MAILGUN_EXPECTED,
        };
        let body = request.body();
        if content_type_is(request.headers(), "application/x-www-form-urlencoded") {
            // The three values are digits and hex: read them as they stand, undecoded, and
            // refuse anything escaped.
            let text = std::str::from_utf8(body).map_err(|_| malformed.clone())?;
            let field = |name: &str| {
                text.split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value)
                    .filter(|value| !value.contains(['%', '+']))
            };
            return match (field("timestamp"), field("token"), field("signature")) {
                (Some(timestamp), Some(token), Some(signature)) => Ok(MailgunFields {
                    timestamp,
                    token,
                    signature,
                }),
                _ => Err(malformed),
            };
        }
        let json: MailgunJson<'a> = serde_json::from_slice(body).map_err(|_| malformed)?;
        Ok(MailgunFields {
            timestamp: json.signature.timestamp,
            token: json.signature.token,
            signature: json.signature.signature,
        })
    }
}

/// Mailgun's webhook signatures, as documented in "Securing webhooks".
///
/// Mailgun puts the signature in the body: `signature.timestamp`, `signature.token` and
/// `signature.signature` in a JSON body (event webhooks), or `timestamp`, `token` and
/// `signature` form fields (older webhooks and routes). The signature is the hex HMAC-SHA256
/// of the timestamp followed by the token, under the account's HTTP webhook signing key. The
/// timestamp must lie within 5 minutes of now, either way, unless set (Mailgun names no
/// window). The token is signed and unique: [`Verified::id`] reports it, for a replay guard,
/// as Mailgun advises.
///
/// **The signature covers the timestamp and the token only, not the event**: whoever sees a
/// request can send another body with its signature within the window. Keep a replay guard
/// on [`Verified::id`] (the token), so that a signature serves one request only, and receive
/// over HTTPS.
///
/// No header says that a request comes from Mailgun, so [`Verify::detect`] looks for the
/// signed fields in the body; in a [`MultiVerifier`](super::MultiVerifier), add it after the
/// schemes that have a header.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::http::{HeaderMap, header::CONTENT_TYPE};
/// use hookwire::webhook::{Inbound, Mailgun, Verify};
///
/// let mailgun = Mailgun::new("key-http-webhook-signing")?;
/// let signature = mailgun.signature("1700000000", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0");
/// let body = format!(r#"{{"signature":{{"timestamp":"1700000000","token":"a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0","signature":"{signature}"}},"event-data":{{"event":"delivered"}}}}"#);
/// let mut headers = HeaderMap::new();
/// headers.insert(CONTENT_TYPE, "application/json".parse()?);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let verified = mailgun.verify_at(Inbound::new(&headers, body.as_bytes()), now)?;
/// assert_eq!(verified.id(), Some("a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Mailgun {
    keys: Keys,
    tolerance: Duration,
}

keyed!(
    Mailgun,
    Algorithm::Sha256,
    "the account's HTTP webhook signing key",
    "5 minutes"
);

impl Mailgun {
    fn from_keys(keys: Keys) -> Self {
        Mailgun {
            keys,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// The `signature` Mailgun would send with `timestamp` and `token`, with the first key:
    /// to build the bodies of test requests (the signature travels in the body, so there are
    /// no headers to sign).
    pub fn signature(&self, timestamp: &str, token: &str) -> String {
        self.keys
            .first()
            .tag(&[timestamp.as_bytes(), token.as_bytes()])
            .encode(Encoding::Hex)
    }
}

impl Verify for Mailgun {
    fn name(&self) -> &str {
        "mailgun"
    }

    /// Whether the body holds a signature and a token (see the type's documentation).
    fn detect(&self, request: Inbound<'_>) -> bool {
        let body = request.body();
        let holds = |needle: &[u8]| contains(body, needle);
        if content_type_is(request.headers(), "application/x-www-form-urlencoded") {
            holds(b"signature=") && holds(b"token=")
        } else {
            holds(br#""signature""#) && holds(br#""token""#)
        }
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let fields = MailgunFields::read(request)?;
        let sent = parse_timestamp(fields.timestamp)?;
        check_timestamp(sent, now, self.tolerance)?;
        let content = [fields.timestamp.as_bytes(), fields.token.as_bytes()];
        let index = self
            .keys
            .matching(&content, Encoding::Hex, fields.signature.as_bytes())
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified::new("mailgun", Some(fields.token), Some(sent))
            .tolerance(self.tolerance)
            .by_key(index))
    }
}

impl fmt::Debug for Mailgun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailgun")
            .field("keys", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// A Microsoft Graph change notification: only the client state of each is read.
#[derive(Deserialize)]
struct GraphNotifications<'a> {
    #[serde(borrow)]
    value: Vec<GraphNotification<'a>>,
}

#[derive(Deserialize)]
struct GraphNotification<'a> {
    #[serde(rename = "clientState", borrow)]
    client_state: Option<Cow<'a, str>>,
}

/// Microsoft Graph's change notifications, as documented in "Set up notifications for changes
/// in resource data".
///
/// Graph signs nothing: each notification in the body's `value` array carries the
/// `clientState` given when subscribing, a shared secret, which must match (compared in
/// constant time, against every configured state, for a rotation). No timestamp and no id are
/// checked: drop repeated notifications by their `subscriptionId` and resource.
///
/// Graph validates a notification URL with an unsigned `POST` carrying
/// `?validationToken=<token>`, which must be answered with the token within 10 seconds: the
/// server adapters answer it when handshakes are on (`WebhookConfig::handshakes`).
///
/// ```
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{Inbound, MicrosoftGraph, Verify};
///
/// let graph = MicrosoftGraph::new("secretClientValue")?;
/// let body = br#"{"value":[{"subscriptionId":"0bd9d40a","clientState":"secretClientValue","changeType":"created","resource":"Users/1/messages/2"}]}"#;
/// graph.verify(Inbound::new(&HeaderMap::new(), body))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MicrosoftGraph {
    states: Vec<Secret>,
}

impl MicrosoftGraph {
    /// The scheme, with the `clientState` given when subscribing.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty state.
    pub fn new<'s>(client_state: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        Ok(MicrosoftGraph {
            states: vec![client_state.into().raw()?],
        })
    }

    /// Accepts one more client state (while subscriptions move to a new one).
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty state.
    pub fn with_secret<'s>(
        mut self,
        client_state: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        self.states.push(client_state.into().raw()?);
        Ok(self)
    }

    /// The position of the configured state `sent` equals, comparing with every one in
    /// constant time.
    fn matching(&self, sent: &str) -> Option<usize> {
        let sent = Secret::from_bytes_weak(sent.as_bytes()).ok()?;
        self.states
            .iter()
            .enumerate()
            .fold(None, |found, (index, state)| {
                let equal = *state == sent;
                found.or(equal.then_some(index))
            })
    }
}

/// The `validationToken` of a Graph validation request, decoded.
fn validation_token(request: Inbound<'_>) -> Option<String> {
    let query = request.uri()?.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "validationToken")
        .map(|(_, token)| token.into_owned())
}

impl Verify for MicrosoftGraph {
    fn name(&self) -> &str {
        "microsoft-graph"
    }

    /// Whether the body holds a `clientState`, or the URI a `validationToken`.
    fn detect(&self, request: Inbound<'_>) -> bool {
        contains(request.body(), br#""clientState""#)
            || request
                .uri()
                .and_then(http::Uri::query)
                .is_some_and(|query| query.contains("validationToken="))
    }

    /// Checks the `clientState` of every notification in the body; `now` is not read.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        _now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let malformed = VerifyError::MalformedBody {
            expected: "a JSON object whose `value` holds notifications, each with its `clientState`",
        };
        let notifications: GraphNotifications<'_> =
            serde_json::from_slice(request.body()).map_err(|_| malformed.clone())?;
        let mut first = None;
        for notification in &notifications.value {
            let state = notification
                .client_state
                .as_deref()
                .ok_or(malformed.clone())?;
            let index = self
                .matching(state)
                .ok_or(VerifyError::NoMatchingSignature)?;
            first.get_or_insert(index);
        }
        let index = first.ok_or(malformed)?;
        Ok(Verified::new("microsoft-graph", None, None).by_key(index))
    }

    /// The answer to a validation request (`?validationToken=…`, unsigned): the token, as
    /// plain text, whether or not the request verified, since Graph signs none.
    fn handshake(&self, request: Inbound<'_>, _verified: bool) -> Option<Handshake> {
        validation_token(request).map(Handshake::text)
    }
}

impl fmt::Debug for MicrosoftGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MicrosoftGraph")
            .field("client_states", &self.states.len())
            .finish()
    }
}

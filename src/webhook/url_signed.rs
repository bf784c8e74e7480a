//! Providers that sign the request's URL as well as its body: Twilio, Square and HubSpot.
//!
//! A server sees the path and query of a request; these providers sign the full URL they
//! called. The URL is rebuilt from the request: an absolute URI as it is; otherwise the
//! verifier's public origin (set where a proxy rewrites the host), or else `https://` and the
//! `Host` header, followed by the path and query exactly as they arrived.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::configurable::value;
use super::mac::{self, Algorithm, Encoding, Keys, keyed};
use super::scheme::{Inbound, Sign, Verify};
use super::verify::{
    find_headers, found_ascii, found_str, header_str, parse_timestamp, unix_seconds,
};
use super::{
    DEFAULT_TOLERANCE, Message, SecretError, SecretInput, SignError, Verified, VerifyError,
    check_timestamp,
};

/// The full URL a request was sent to (see the module's documentation).
fn request_url<'a>(
    request: Inbound<'a>,
    origin: Option<&'a str>,
) -> Result<Cow<'a, str>, VerifyError> {
    Ok(Cow::Owned(url_pieces(request, origin)?.concat()))
}

/// The pieces the request's URL is written from, in order, not yet joined: the configured
/// origin, or the request's scheme and authority (else `https` and the `Host` header), then the
/// path and query. A scheme that feeds them to the MAC one by one builds no string.
fn url_pieces<'a>(
    request: Inbound<'a>,
    origin: Option<&'a str>,
) -> Result<[&'a str; 4], VerifyError> {
    let uri = request.uri().ok_or(VerifyError::UnknownUrl)?;
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    if let Some(origin) = origin {
        return Ok([origin, "", "", path]);
    }
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        return Ok([scheme, "://", authority.as_str(), path]);
    }
    let host = request
        .headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty())
        .ok_or(VerifyError::UnknownUrl)?;
    Ok(["https", "://", host, path])
}

/// An origin (`https://host[:port]`) as configured: its trailing `/` dropped.
fn origin(origin: &str) -> String {
    origin.trim_end_matches('/').to_owned()
}

/// The method of a request, which these schemes need.
fn method<'a>(request: Inbound<'a>) -> Result<&'a str, VerifyError> {
    request
        .method()
        .map(http::Method::as_str)
        .ok_or(VerifyError::UnknownUrl)
}

/// The headers of a message signed with `value` under `name`.
fn one_header(name: &HeaderName, text: &str) -> Result<HeaderMap, SignError> {
    let mut headers = HeaderMap::new();
    headers.insert(name.clone(), value(name, text)?);
    Ok(headers)
}

/// A form parameter's name and value, decoded.
type Param<'b> = (Cow<'b, str>, Cow<'b, str>);

// Statics rather than consts, as in twitch.rs: a `&CONST` builds and drops a temporary.
static TWILIO_SIGNATURE: HeaderName = HeaderName::from_static("x-twilio-signature");
static TWILIO_IDEMPOTENCY: HeaderName = HeaderName::from_static("i-twilio-idempotency-token");

/// Twilio's request signatures, as its helper libraries check them.
///
/// Twilio signs the full URL it called, followed (for a form-encoded `POST`) by every form
/// parameter's name and value, sorted by name (and value), with HMAC-SHA1 under the account's
/// auth token, and sends the base64 tag in `X-Twilio-Signature`. A JSON body is not signed
/// itself: the URL carries `bodySHA256=<hex SHA-256 of the body>`, which is checked. Since
/// Twilio sometimes signs the URL with its default port and sometimes without, both are
/// tried, as its libraries do. No timestamp is signed; [`Verified::id`] reports the unsigned
/// `I-Twilio-Idempotency-Token`, which is the same on every retry.
///
/// ```
/// use hookwire::http::Request;
/// use hookwire::webhook::{Inbound, Twilio, Verify};
///
/// // The example of Twilio's helper libraries (twilio-python, tests/unit/test_request_validator.py).
/// let twilio = Twilio::new("12345")?;
/// let request = Request::post("/myapp.php?foo=1&bar=2")
///     .header("host", "mycompany.com")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .header("x-twilio-signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
///     .body("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212")?;
/// twilio.verify(Inbound::from_request(&request))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Twilio {
    keys: Keys,
    origin: Option<String>,
}

keyed!(Twilio, Algorithm::Sha1, "the account's auth token");

impl Twilio {
    fn from_keys(keys: Keys) -> Self {
        Twilio { keys, origin: None }
    }

    /// The public origin Twilio calls, such as `https://hooks.example.com`, for servers behind
    /// a proxy that changes the `Host` header; the request's own URI or `Host` unless set.
    #[must_use]
    pub fn origin(mut self, public_origin: &str) -> Self {
        self.origin = Some(origin(public_origin));
        self
    }

    /// The parameters Twilio signs after `url` for `body`: a form's, sorted; none where the URL
    /// carries the body's hash (which must match) or the body is empty.
    ///
    /// # Errors
    ///
    /// [`VerifyError::NoMatchingSignature`] where the hash in the URL is not the body's;
    /// [`VerifyError::MalformedBody`] for a body that is neither a form nor hashed in the URL,
    /// which Twilio would not have signed.
    fn content<'b>(
        url: &'b str,
        body: &'b [u8],
        form: bool,
    ) -> Result<Vec<Param<'b>>, VerifyError> {
        let query = url.split_once('?').map_or("", |(_, query)| query);
        let body_hash = url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "bodySHA256")
            .map(|(_, hash)| hash);
        if let Some(hash) = body_hash {
            return if mac::sha256(&[body]).matches(Encoding::Hex, hash.as_bytes()) {
                Ok(Vec::new())
            } else {
                Err(VerifyError::NoMatchingSignature)
            };
        }
        if !form {
            return if body.is_empty() {
                Ok(Vec::new())
            } else {
                Err(VerifyError::MalformedBody {
                    expected: "a form-encoded body, or `bodySHA256` in the URL for any other body: Twilio signs no other",
                })
            };
        }
        let mut params: Vec<_> = url::form_urlencoded::parse(body).collect();
        params.sort();
        params.dedup();
        Ok(params)
    }

    /// What Twilio signs: `url`, then each parameter's name and value.
    fn parts<'p>(url: &'p str, params: &'p [Param<'_>]) -> Vec<&'p [u8]> {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 2 * params.len());
        parts.push(url.as_bytes());
        for (name, value) in params {
            parts.push(name.as_bytes());
            parts.push(value.as_bytes());
        }
        parts
    }
}

/// `url` with its port removed, and with the scheme's default port added where it has none:
/// the two forms Twilio may have signed.
fn with_and_without_port(url: &str) -> [Cow<'_, str>; 2] {
    let Some((scheme, rest)) = url.split_once("://") else {
        return [Cow::Borrowed(url), Cow::Borrowed(url)];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // A port follows the last `:` that is not inside an IPv6 literal's brackets.
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => (&authority[..at], Some(&authority[at..])),
        _ => (authority, None),
    };
    let without = format!("{scheme}://{host}{tail}");
    let with = match port {
        Some(_) => Cow::Borrowed(url),
        None => {
            let default = if scheme.eq_ignore_ascii_case("https") {
                ":443"
            } else {
                ":80"
            };
            Cow::Owned(format!("{scheme}://{host}{default}{tail}"))
        }
    };
    [Cow::Owned(without), with]
}

/// Whether the request's body is form-encoded.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .get(..33)
                .is_some_and(|kind| kind.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        })
}

impl Verify for Twilio {
    fn name(&self) -> &str {
        "twilio"
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&TWILIO_SIGNATURE)
    }

    /// Verifies `X-Twilio-Signature` over the URL and the form parameters; Twilio signs no
    /// timestamp, so `now` is not read.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        _now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        let signature = header_str(headers, &TWILIO_SIGNATURE)?;
        let url = request_url(request, self.origin.as_deref())?;
        let params = Self::content(&url, request.body(), is_form(headers))?;
        let id = headers
            .get(&TWILIO_IDEMPOTENCY)
            .and_then(|id| id.to_str().ok());
        with_and_without_port(&url)
            .iter()
            .find_map(|candidate| {
                let content = Self::parts(candidate, &params);
                self.keys
                    .matching(&content, Encoding::Base64, signature.as_bytes())
            })
            .map(|index| Verified::new("twilio", id, None).by_key(index))
            .ok_or(VerifyError::NoMatchingSignature)
    }
}

impl Sign for Twilio {
    /// `X-Twilio-Signature` for the message sent to the URL of [`Message::to`]: its form
    /// parameters signed where the body is form-encoded (anything but a JSON object or array;
    /// a JSON body needs `bodySHA256` in the URL, as Twilio sends it), and
    /// `I-Twilio-Idempotency-Token` with the message id.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let (_, url) = message.request().ok_or(SignError::NoUrl)?;
        let json = matches!(message.body().first(), Some(b'{' | b'['));
        let params = Self::content(url, message.body(), !json).map_err(|_| SignError::Signing)?;
        let mut headers = one_header(
            &TWILIO_SIGNATURE,
            &self
                .keys
                .first()
                .tag(&Self::parts(url, &params))
                .encode(Encoding::Base64),
        )?;
        if !message.id().is_empty() {
            headers.insert(
                TWILIO_IDEMPOTENCY.clone(),
                value(&TWILIO_IDEMPOTENCY, message.id()).map_err(|_| SignError::InvalidId)?,
            );
        }
        Ok(headers)
    }
}

impl fmt::Debug for Twilio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Twilio")
            .field("tokens", &self.keys.len())
            .field("origin", &self.origin)
            .finish()
    }
}

static SQUARE_SIGNATURE: HeaderName = HeaderName::from_static("x-square-hmacsha256-signature");

/// Square's webhook signatures, as its SDKs' `WebhooksHelper` checks them.
///
/// Square signs the subscription's notification URL (exactly as registered) followed by the
/// body with HMAC-SHA256 under the subscription's signature key, and sends the base64 tag in
/// `x-square-hmacsha256-signature`. The URL is the one given here, not the request's: Square
/// signs what was registered, wherever a proxy routes it. No timestamp is signed: drop
/// repeated `event_id`s.
///
/// ```
/// use hookwire::webhook::{Inbound, Message, Sign, Square, Verify};
///
/// let square = Square::new("signature-key", "https://webhook.site/webhooks")?;
/// let headers = square.sign(&Message::new("", br#"{"data":{"type":"webhooks","id":"fake_id"}}"#))?;
/// // The vector of Square's Node.js SDK (tests/integration/webhooks.test.ts).
/// assert_eq!(headers["x-square-hmacsha256-signature"], "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=");
/// square.verify(Inbound::new(&headers, br#"{"data":{"type":"webhooks","id":"fake_id"}}"#))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Square {
    keys: Keys,
    url: String,
}

impl Square {
    /// The scheme, with the subscription's signature key (used byte for byte) and its
    /// notification URL as registered with Square.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty key.
    pub fn new<'s>(
        signature_key: impl Into<SecretInput<'s>>,
        notification_url: &str,
    ) -> Result<Self, SecretError> {
        Ok(Square {
            keys: Keys::new(Algorithm::Sha256, signature_key)?,
            url: notification_url.to_owned(),
        })
    }

    /// Adds a key (while one is replaced): a signature made with either passes. Signing uses
    /// the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty key.
    pub fn with_secret<'s>(
        mut self,
        signature_key: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        self.keys.add(signature_key)?;
        Ok(self)
    }
}

impl Verify for Square {
    fn name(&self) -> &str {
        "square"
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&SQUARE_SIGNATURE)
    }

    /// Verifies the signature over the notification URL and the body; Square signs no
    /// timestamp, so `now` is not read.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        _now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let signature = header_str(request.headers(), &SQUARE_SIGNATURE)?;
        let content = [self.url.as_bytes(), request.body()];
        self.keys
            .matching(&content, Encoding::Base64, signature.as_bytes())
            .map(|index| Verified::new("square", None, None).by_key(index))
            .ok_or(VerifyError::NoMatchingSignature)
    }
}

impl Sign for Square {
    /// `x-square-hmacsha256-signature` with the first key.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let tag = self
            .keys
            .first()
            .tag(&[self.url.as_bytes(), message.body()]);
        one_header(&SQUARE_SIGNATURE, &tag.encode(Encoding::Base64))
    }
}

impl fmt::Debug for Square {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Square")
            .field("keys", &self.keys.len())
            .field("url", &self.url)
            .finish()
    }
}

static HUBSPOT_V3: HeaderName = HeaderName::from_static("x-hubspot-signature-v3");
static HUBSPOT_TIMESTAMP: HeaderName = HeaderName::from_static("x-hubspot-request-timestamp");
static HUBSPOT_LEGACY: HeaderName = HeaderName::from_static("x-hubspot-signature");
static HUBSPOT_VERSION: HeaderName = HeaderName::from_static("x-hubspot-signature-version");

/// The characters HubSpot decodes in the URL it signs with v3 ("Validating requests": `%3A`,
/// `%2F`, `%3F`, `%40`, `%21`, `%24`, `%27`, `%28`, `%29`, `%2A`, `%2C`, `%3B`).
fn hubspot_decoded(url: &str) -> Cow<'_, str> {
    const DECODED: [(&str, char); 12] = [
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    if !url.contains('%') {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some((before, after)) = rest.split_once('%') {
        out.push_str(before);
        let escape = after.get(..2).and_then(|hex| {
            DECODED
                .iter()
                .find(|(code, _)| hex.eq_ignore_ascii_case(code))
        });
        match (escape, after.get(2..)) {
            (Some((_, decoded)), Some(tail)) => {
                out.push(*decoded);
                rest = tail;
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// HubSpot's request signatures, as documented in "Validating requests from HubSpot".
///
/// Version 3 (`X-HubSpot-Signature-v3`): HMAC-SHA256 under the app's client secret of the
/// method, the full URL (with the characters HubSpot lists decoded), the body and
/// `X-HubSpot-Request-Timestamp` (milliseconds), base64; the timestamp within 5 minutes. The
/// older versions (`X-HubSpot-Signature` with `X-HubSpot-Signature-Version: v1` or `v2`) are
/// a plain SHA-256 of the secret followed by the body (v1) or by the method, URL and body
/// (v2), in hex, with no timestamp: anyone who saw one request can replay it, so they are
/// refused unless [`HubSpot::allow_legacy`] is called, and never used where a v3 signature
/// is present.
///
/// ```
/// use hookwire::http::Request;
/// use hookwire::webhook::{HubSpot, Inbound, Message, Sign, Verify};
///
/// let hubspot = HubSpot::new("yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy")?;
/// let body = br#"{"example_field":"example_value"}"#;
/// let headers = hubspot.sign(&Message::new("", body).to("POST", "https://www.example.com/webhook_uri"))?;
/// let mut request = Request::post("https://www.example.com/webhook_uri").body(&body[..])?;
/// request.headers_mut().extend(headers);
/// hubspot.verify(Inbound::from_request(&request))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct HubSpot {
    keys: Keys,
    /// The secrets themselves, for the legacy versions, which hash the secret rather than
    /// keying an HMAC with it.
    secrets: Vec<super::Secret>,
    legacy: bool,
    origin: Option<String>,
    tolerance: Duration,
}

impl HubSpot {
    /// The scheme, with the app's client secret, used byte for byte.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new<'s>(client_secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        let secret = client_secret.into().raw()?;
        Ok(HubSpot {
            keys: Keys::new(Algorithm::Sha256, &secret)?,
            secrets: vec![secret],
            legacy: false,
            origin: None,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Adds a secret (while the client secret is rotated): a signature made with either
    /// passes. Signing uses the first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn with_secret<'s>(
        mut self,
        client_secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        let secret = client_secret.into().raw()?;
        self.keys.add(&secret)?;
        self.secrets.push(secret);
        Ok(self)
    }

    /// Also accepts the v1 and v2 signatures where no v3 signature is sent (workflow
    /// webhooks and older apps send only those). They sign no timestamp: keep a replay guard
    /// on the event ids.
    #[must_use]
    pub fn allow_legacy(mut self) -> Self {
        self.legacy = true;
        self
    }

    /// The public origin HubSpot calls, such as `https://hooks.example.com`, for servers
    /// behind a proxy that changes the `Host` header; the request's own URI or `Host` unless
    /// set.
    #[must_use]
    pub fn origin(mut self, public_origin: &str) -> Self {
        self.origin = Some(origin(public_origin));
        self
    }

    /// How far the v3 timestamp may lie from now, either way: 5 minutes unless set.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a v3 signature, given the values of its signature and timestamp headers.
    fn verify_v3<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
        signature: Option<&'a HeaderValue>,
        millis: Option<&'a HeaderValue>,
    ) -> Result<Verified<'a>, VerifyError> {
        let signature = found_ascii(signature, &HUBSPOT_V3)?;
        let millis = found_str(millis, &HUBSPOT_TIMESTAMP)?;
        let sent = parse_timestamp(millis)?.div_euclid(1000);
        check_timestamp(sent, now, self.tolerance)?;
        let method = method(request)?;
        // The URL's pieces go to the MAC as they are, unless one holds an escape to decode.
        let pieces = url_pieces(request, self.origin.as_deref())?;
        let decoded;
        let url: [&[u8]; 4] = if pieces.iter().any(|piece| piece.contains('%')) {
            decoded = hubspot_decoded(&pieces.concat()).into_owned();
            [decoded.as_bytes(), b"", b"", b""]
        } else {
            pieces.map(str::as_bytes)
        };
        let content = [
            method.as_bytes(),
            url[0],
            url[1],
            url[2],
            url[3],
            request.body(),
            millis.as_bytes(),
        ];
        self.keys
            .matching(&content, Encoding::Base64, signature)
            .map(|index| {
                Verified::new("hubspot", None, Some(sent))
                    .tolerance(self.tolerance)
                    .by_key(index)
            })
            .ok_or(VerifyError::NoMatchingSignature)
    }

    fn verify_legacy<'a>(&'a self, request: Inbound<'a>) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        let signature = header_str(headers, &HUBSPOT_LEGACY)?;
        let version = match headers.get(&HUBSPOT_VERSION) {
            None => "v1",
            Some(version) => version
                .to_str()
                .map_err(|_| VerifyError::InvalidHeader(HUBSPOT_VERSION.clone()))?,
        };
        let v2 = match version {
            "v1" => false,
            "v2" => true,
            _ => {
                return Err(VerifyError::NoSupportedSignature {
                    found: "an `X-HubSpot-Signature-Version` other than `v1`, `v2` (or `v3` in its own header)",
                });
            }
        };
        let url = if v2 {
            Some((
                method(request)?,
                request_url(request, self.origin.as_deref())?,
            ))
        } else {
            None
        };
        for (index, secret) in self.secrets.iter().enumerate() {
            let tag = match &url {
                Some((method, url)) => mac::sha256(&[
                    secret.expose_bytes(),
                    method.as_bytes(),
                    url.as_bytes(),
                    request.body(),
                ]),
                None => mac::sha256(&[secret.expose_bytes(), request.body()]),
            };
            if tag.matches(Encoding::Hex, signature.as_bytes()) {
                return Ok(Verified::new("hubspot", None, None).by_key(index));
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

impl Verify for HubSpot {
    fn name(&self) -> &str {
        "hubspot"
    }

    fn detect(&self, request: Inbound<'_>) -> bool {
        let headers = request.headers();
        headers.contains_key(&HUBSPOT_V3) || headers.contains_key(&HUBSPOT_LEGACY)
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let headers = request.headers();
        // Both v3 headers in one pass: hashing each long name for a lookup costs more.
        let [signature, millis] = find_headers(headers, [&HUBSPOT_V3, &HUBSPOT_TIMESTAMP]);
        match self.legacy {
            _ if signature.is_some() => self.verify_v3(request, now, signature, millis),
            true if headers.contains_key(&HUBSPOT_LEGACY) => self.verify_legacy(request),
            false if headers.contains_key(&HUBSPOT_LEGACY) => {
                Err(VerifyError::NoSupportedSignature {
                    found: "only a v1 or v2 `X-HubSpot-Signature`, which signs no timestamp and is refused unless `HubSpot::allow_legacy` is called",
                })
            }
            _ => Err(VerifyError::MissingHeader(HUBSPOT_V3.clone())),
        }
    }
}

impl Sign for HubSpot {
    /// `X-HubSpot-Signature-v3` and `X-HubSpot-Request-Timestamp` for the message sent with
    /// the method and URL of [`Message::to`], with the first secret.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let (method, url) = message.request().ok_or(SignError::NoUrl)?;
        let key = self.keys.first();
        let millis = unix_seconds(message.timestamp())
            .saturating_mul(1000)
            .to_string();
        let url = hubspot_decoded(url);
        let tag = key.tag(&[
            method.as_bytes(),
            url.as_bytes(),
            message.body(),
            millis.as_bytes(),
        ]);
        let mut headers = one_header(&HUBSPOT_V3, &tag.encode(Encoding::Base64))?;
        headers.insert(
            HUBSPOT_TIMESTAMP.clone(),
            value(&HUBSPOT_TIMESTAMP, &millis)?,
        );
        Ok(headers)
    }
}

impl fmt::Debug for HubSpot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSpot")
            .field("secrets", &self.keys.len())
            .field("legacy", &self.legacy)
            .field("origin", &self.origin)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{hubspot_decoded, with_and_without_port};

    #[test]
    fn ports_are_removed_and_added_as_twilio_signs_them() {
        let [without, with] = with_and_without_port("https://example.com:1234/a?b=1");
        assert_eq!(without, "https://example.com/a?b=1");
        assert_eq!(with, "https://example.com:1234/a?b=1");
        let [without, with] = with_and_without_port("http://example.com/a");
        assert_eq!(without, "http://example.com/a");
        assert_eq!(with, "http://example.com:80/a");
        let [without, with] = with_and_without_port("https://[::1]?x=1");
        assert_eq!(without, "https://[::1]?x=1");
        assert_eq!(with, "https://[::1]:443?x=1");
        let [without, with] = with_and_without_port("https://[::1]:8443/");
        assert_eq!(without, "https://[::1]/");
        assert_eq!(with, "https://[::1]:8443/");
    }

    #[test]
    fn hubspot_decodes_only_the_characters_it_lists() {
        assert_eq!(
            hubspot_decoded("https://a.com/p%3Aq%2f?x=%40%20%2A%"),
            "https://a.com/p:q/?x=@%20*%"
        );
        assert_eq!(
            hubspot_decoded("https://a.com/%E2%82%AC"),
            "https://a.com/%E2%82%AC"
        );
    }
}

//! Stripe: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`; Calendly
//! and Paddle Billing share its layout under other names, and PagerDuty without the timestamp.

use super::diagnose::KeyLook;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName};

use super::configurable::value;
use super::mac::{Algorithm, Encoding, KeyedMac};
use super::scheme::{Inbound, Sign, Verify};
use super::verify::{
    find_headers, found_ascii, header_ascii, parse_timestamp, same_bytes, unix_seconds,
};
use super::{
    DEFAULT_TOLERANCE, Message, SecretError, SecretInput, SignError, Verified, VerifyError,
    check_timestamp,
};

/// A header of a timestamp and signatures, `{t}={seconds}{sep}{v}={hex}[{sep}{v}={hex}…]`,
/// over `{seconds}{joiner}{body}` with HMAC-SHA256: Stripe's layout, which Calendly and Paddle
/// share with other names; without a timestamp (PagerDuty), the signatures are of the body.
pub(crate) struct Layout {
    name: &'static str,
    header: HeaderName,
    separator: char,
    /// The timestamp's key, where the layout has one.
    timestamp: Option<&'static str>,
    signature: &'static str,
    joiner: &'static [u8],
    /// The syntax [`VerifyError::MalformedSignature`] names.
    expected: &'static str,
    /// What [`VerifyError::NoSupportedSignature`] says was found instead.
    others: &'static str,
    /// The header of the (unsigned) delivery id, where the provider sends one.
    id: Option<&'static HeaderName>,
    tolerance: Duration,
}

/// Stripe's layout.
static STRIPE: Layout = Layout {
    name: "stripe",
    header: HeaderName::from_static("stripe-signature"),
    separator: ',',
    timestamp: Some("t"),
    signature: "v1",
    joiner: b".",
    expected: "`t=<unix seconds>,v1=<hex>` (one `v1` per active secret)",
    others: "signatures of schemes other than `v1` (such as `v0`), which are refused",
    id: None,
    tolerance: DEFAULT_TOLERANCE,
};

/// Calendly's layout.
static CALENDLY: Layout = Layout {
    name: "calendly",
    header: HeaderName::from_static("calendly-webhook-signature"),
    separator: ',',
    timestamp: Some("t"),
    signature: "v1",
    joiner: b".",
    expected: "`t=<unix seconds>,v1=<hex>`",
    others: "signatures of schemes other than `v1`, which are refused",
    id: None,
    tolerance: Duration::from_secs(180),
};

/// Paddle Billing's layout.
static PADDLE: Layout = Layout {
    name: "paddle",
    header: HeaderName::from_static("paddle-signature"),
    separator: ';',
    timestamp: Some("ts"),
    signature: "h1",
    joiner: b":",
    expected: "`ts=<unix seconds>;h1=<hex>` (one `h1` per active secret)",
    others: "signatures of schemes other than `h1`, which are refused",
    id: None,
    tolerance: Duration::from_secs(5),
};

/// PagerDuty's (v3 webhooks) layout.
static PAGERDUTY: Layout = Layout {
    name: "pagerduty",
    header: HeaderName::from_static("x-pagerduty-signature"),
    separator: ',',
    timestamp: None,
    signature: "v1",
    joiner: b"",
    expected: "`v1=<hex>` (one `v1` per active secret, comma-separated)",
    others: "signatures of versions other than `v1`, which are refused",
    id: Some(&PAGERDUTY_ID),
    tolerance: Duration::ZERO,
};

/// PagerDuty's webhook id header.
static PAGERDUTY_ID: HeaderName = HeaderName::from_static("x-webhook-id");

/// A scheme of a [`Layout`], with its secrets.
#[derive(Clone)]
struct Timestamped {
    layout: &'static Layout,
    keys: Vec<KeyedMac>,
    /// How each secret's text looked, for advice when no signature matches.
    looks: Vec<KeyLook>,
    tolerance: Duration,
}

impl Timestamped {
    fn new<'s>(
        layout: &'static Layout,
        secret: impl Into<SecretInput<'s>>,
    ) -> Result<Self, SecretError> {
        let (key, look) = key(secret)?;
        Ok(Timestamped {
            layout,
            keys: vec![key],
            looks: vec![look],
            tolerance: layout.tolerance,
        })
    }

    fn with_secret<'s>(mut self, secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
        let (key, look) = key(secret)?;
        self.keys.push(key);
        self.looks.push(look);
        Ok(self)
    }

    /// The `key=value` items of the header, split at each separator and at the first `=`
    /// (found with `memchr`; both are ASCII, and so is the header), trimmed, empty items
    /// skipped; `None` for an item without `=`.
    fn items<'h>(&self, header: &'h [u8]) -> impl Iterator<Item = Option<(&'h [u8], &'h [u8])>> {
        let separator = u8::try_from(self.layout.separator).unwrap_or(b',');
        let mut rest = header;
        std::iter::from_fn(move || {
            loop {
                if rest.is_empty() {
                    return None;
                }
                let (item, after) = match memchr::memchr(separator, rest) {
                    Some(end) => (rest.get(..end)?, rest.get(end + 1..)?),
                    None => (rest, &b""[..]),
                };
                rest = after;
                let item = item.trim_ascii();
                if !item.is_empty() {
                    return Some(
                        memchr::memchr(b'=', item).and_then(|equals| {
                            Some((item.get(..equals)?, item.get(equals + 1..)?))
                        }),
                    );
                }
            }
        })
    }

    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let layout = self.layout;
        let (headers, body) = (request.headers(), request.body());
        // The signature header, and the id header where the layout has one, in one pass.
        let (header, id) = match layout.id {
            Some(id_name) => {
                let [header, id] = find_headers(headers, [&layout.header, id_name]);
                (found_ascii(header, &layout.header)?, id)
            }
            None => (header_ascii(headers, &layout.header)?, None),
        };
        let timestamp_key = layout.timestamp.map(str::as_bytes);
        let signature_key = layout.signature.as_bytes();
        let mut timestamp = None;
        let mut signed = false;
        let mut others = false;
        for item in self.items(header) {
            match item {
                Some((key, t)) if timestamp_key.is_some_and(|name| same_bytes(key, name)) => {
                    timestamp.get_or_insert(t);
                    others = true;
                }
                Some((key, _)) if same_bytes(key, signature_key) => signed = true,
                // Unknown items, and items without `=`, are skipped, as the providers' own
                // libraries skip them: a provider may add items to the header.
                Some(_) => others = true,
                None => {}
            }
        }
        let sent = match layout.timestamp {
            Some(_) => {
                let timestamp = timestamp.ok_or(VerifyError::MalformedSignature {
                    expected: layout.expected,
                })?;
                let sent = parse_timestamp(timestamp)?;
                check_timestamp(sent, now, self.tolerance)?;
                Some(sent)
            }
            None => None,
        };
        let timestamp = timestamp.unwrap_or_default();
        if !signed {
            return Err(if others {
                VerifyError::NoSupportedSignature {
                    found: layout.others,
                }
            } else {
                VerifyError::MalformedSignature {
                    expected: layout.expected,
                }
            });
        }
        let content: [&[u8]; 3] = [timestamp, layout.joiner, body];
        let id = id.and_then(|id| id.to_str().ok());
        for (index, key) in self.keys.iter().enumerate() {
            let expected = key.tag(&content);
            let candidates = self.items(header).filter_map(|item| match item {
                Some((key, signature)) if same_bytes(key, signature_key) => Some(signature),
                _ => None,
            });
            for candidate in candidates {
                if expected.matches(Encoding::Hex, candidate) {
                    let verified = Verified::new(layout.name, id, sent).by_key(index);
                    return Ok(match sent {
                        Some(_) => verified.tolerance(self.tolerance),
                        None => verified,
                    });
                }
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }

    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let layout = self.layout;
        let (timestamp, mut signature) = match layout.timestamp {
            Some(name) => {
                let timestamp = unix_seconds(message.timestamp()).to_string();
                let item = format!("{name}={timestamp}");
                (timestamp, item)
            }
            None => (String::new(), String::new()),
        };
        let content: [&[u8]; 3] = [timestamp.as_bytes(), layout.joiner, message.body()];
        for key in &self.keys {
            if !signature.is_empty() {
                signature.push(layout.separator);
            }
            signature.push_str(layout.signature);
            signature.push('=');
            signature.push_str(&key.tag(&content).encode(Encoding::Hex));
        }
        let mut headers = HeaderMap::new();
        headers.insert(layout.header.clone(), value(&layout.header, &signature)?);
        if let Some(name) = layout.id.filter(|_| !message.id().is_empty()) {
            headers.insert(
                name.clone(),
                value(name, message.id()).map_err(|_| SignError::InvalidId)?,
            );
        }
        Ok(headers)
    }
}

impl fmt::Debug for Timestamped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.layout.name)
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

fn key<'s>(signing_secret: impl Into<SecretInput<'s>>) -> Result<(KeyedMac, KeyLook), SecretError> {
    let secret = signing_secret.into().raw()?;
    Ok((
        KeyedMac::new(Algorithm::Sha256, secret.expose_bytes()),
        KeyLook::of(secret.expose_bytes()),
    ))
}

/// A provider's scheme of a [`Layout`]: the newtype, its constructors and its traits.
macro_rules! timestamped {
    (
        $(#[$docs:meta])*
        $name:ident, $layout:ident, $secret:literal $(, $window:literal)?
    ) => {
        $(#[$docs])*
        #[derive(Clone)]
        pub struct $name(Timestamped);

        impl $name {
            #[doc = concat!("The scheme, with ", $secret, ": its text as the provider shows it (used byte for byte), or a [`Secret`](super::Secret).")]
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`] for an empty secret.
            pub fn new<'s>(secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
                Timestamped::new(&$layout, secret).map($name)
            }

            #[doc = concat!("Adds a secret (while one is rolled), read as [`", stringify!($name), "::new`] reads it: a signature made with any of them passes.")]
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`] for an empty secret.
            pub fn with_secret<'s>(self, secret: impl Into<SecretInput<'s>>) -> Result<Self, SecretError> {
                self.0.with_secret(secret).map($name)
            }

            $(
            #[doc = concat!("How far the timestamp may lie from now, either way: ", $window, " unless set.")]
            #[must_use]
            pub fn tolerance(mut self, tolerance: Duration) -> Self {
                self.0.tolerance = tolerance;
                self
            }
            )?
        }

        impl Sign for $name {
            #[doc = concat!("The signature header, with one signature per secret, as the provider sends while a secret is rolled.")]
            fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
                self.0.sign(message)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

/// The [`Verify`] of a scheme of a [`Layout`], with `$advice` for its secrets.
macro_rules! verify_timestamped {
    ($name:ident, |$looks:ident| $advice:expr) => {
        impl Verify for $name {
            fn name(&self) -> &str {
                self.0.layout.name
            }

            fn secret_advice(&self) -> Option<&'static str> {
                let $looks = &self.0.looks;
                $advice
            }

            fn detect(&self, request: Inbound<'_>) -> bool {
                request.headers().contains_key(&self.0.layout.header)
            }

            fn verify_at<'a>(
                &'a self,
                request: Inbound<'a>,
                now: SystemTime,
            ) -> Result<Verified<'a>, VerifyError> {
                self.0.verify_at(request, now)
            }
        }
    };
}

timestamped! {
    /// Stripe's webhook signatures, as documented in "Verify webhook signatures manually".
    ///
    /// Stripe signs `{t}.{body}` with HMAC-SHA256 under the endpoint's signing secret, the whole
    /// `whsec_…` string used byte for byte (not base64-decoded, unlike Standard Webhooks), and
    /// sends `Stripe-Signature: t=<seconds>,v1=<hex>`. While a secret is being rolled, the header
    /// carries one `v1` per active secret; every one is tried. Signatures of other schemes (`v0`,
    /// test-mode SHA-1) are ignored, so that no one can downgrade a request to them. The
    /// timestamp must lie within the tolerance (300 seconds unless set) either way: Stripe's own
    /// libraries check only the past, but a timestamp far in the future is as suspect.
    ///
    /// ```
    /// use hookwire::webhook::{Inbound, Message, Sign, Stripe, Verify};
    ///
    /// let stripe = Stripe::new("whsec_test_secret")?;
    /// let headers = stripe.sign(&Message::new("", br#"{"id":"evt_1"}"#))?;
    /// assert!(headers["stripe-signature"].to_str()?.starts_with("t="));
    /// assert!(stripe.verify(Inbound::new(&headers, br#"{"id":"evt_1"}"#)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Stripe, STRIPE, "the endpoint's signing secret (`whsec_…`)", "300 seconds"
}

verify_timestamped!(Stripe, |looks| {
    if looks.contains(&KeyLook::StripeApiKey) {
        Some(
            "a secret here looks like a Stripe API key (`sk_`, `rk_`, `pk_`): webhooks are signed with the endpoint's signing secret, which starts with `whsec_`",
        )
    } else if looks.iter().any(|look| *look != KeyLook::Whsec) {
        Some(
            "a secret here does not start with `whsec_`, as Stripe's signing secrets do: copy the endpoint's signing secret whole, as the Dashboard shows it",
        )
    } else {
        None
    }
});

timestamped! {
    /// Calendly's webhook signatures: `Calendly-Webhook-Signature: t=<seconds>,v1=<hex>`,
    /// HMAC-SHA256 of `{t}.{body}` under the webhook signing key, the timestamp within 3
    /// minutes either way (Calendly's suggested window).
    ///
    /// ```
    /// use hookwire::webhook::{Calendly, Inbound, Message, Sign, Verify};
    ///
    /// let calendly = Calendly::new("calendly signing key")?;
    /// let headers = calendly.sign(&Message::new("", b"{}"))?;
    /// calendly.verify(Inbound::new(&headers, b"{}"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Calendly, CALENDLY, "the webhook signing key", "180 seconds"
}

verify_timestamped!(Calendly, |looks| {
    let _ = looks;
    None
});

timestamped! {
    /// Paddle Billing's webhook signatures: `Paddle-Signature: ts=<seconds>;h1=<hex>`,
    /// HMAC-SHA256 of `{ts}:{body}` under the notification destination's secret key (`pdl_ntfset_…`),
    /// one `h1` per active secret while one is rotated; the timestamp within 5 seconds either
    /// way, as Paddle advises.
    ///
    /// ```
    /// use hookwire::webhook::{Inbound, Message, Paddle, Sign, Verify};
    ///
    /// let paddle = Paddle::new("pdl_ntfset_01example_secret")?;
    /// let headers = paddle.sign(&Message::new("", b"{}"))?;
    /// assert!(headers["paddle-signature"].to_str()?.starts_with("ts="));
    /// paddle.verify(Inbound::new(&headers, b"{}"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Paddle, PADDLE, "the notification destination's secret key", "5 seconds"
}

verify_timestamped!(Paddle, |looks| {
    let _ = looks;
    None
});

timestamped! {
    /// PagerDuty's webhook signatures (v3 webhooks), as documented in "Verifying signatures":
    /// `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 of the body under the
    /// subscription's secret, one `v1` per active secret while one is rotated. No timestamp is
    /// signed: [`Verified::id`] reports the unsigned `X-Webhook-Id`, for dropping redeliveries.
    ///
    /// ```
    /// use hookwire::webhook::{Inbound, Message, PagerDuty, Sign, Verify};
    ///
    /// let pagerduty = PagerDuty::new("pagerduty subscription secret")?;
    /// let headers = pagerduty.sign(&Message::new("01DEMO", b"{}"))?;
    /// assert!(headers["x-pagerduty-signature"].to_str()?.starts_with("v1="));
    /// assert_eq!(pagerduty.verify(Inbound::new(&headers, b"{}"))?.id(), Some("01DEMO"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    PagerDuty, PAGERDUTY, "the webhook subscription's secret"
}

verify_timestamped!(PagerDuty, |looks| {
    let _ = looks;
    None
});

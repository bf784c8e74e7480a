//! Discord interactions: ed25519 over the timestamp and the body, with the application's hex
//! public key.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::HeaderName;

use super::scheme::{Handshake, Inbound, Verify};
use super::verify::{header_str, parse_timestamp};
use super::{DEFAULT_TOLERANCE, KeyError, PublicKey, Verified, VerifyError, check_timestamp};

static SIGNATURE: HeaderName = HeaderName::from_static("x-signature-ed25519");
static TIMESTAMP: HeaderName = HeaderName::from_static("x-signature-timestamp");

/// Discord's interaction signatures, as documented in "Receiving and responding to
/// interactions": `X-Signature-Ed25519` holds the hex ed25519 signature of
/// `X-Signature-Timestamp` followed by the body, made with the application's key, whose public
/// half (64 hex digits) the Developer Portal shows. The timestamp must lie within 5 minutes of
/// now, either way, unless set. Verification is strict: weak keys and small-order `R` are
/// refused, as for [`PublicKey`].
///
/// Discord sends a `PING` (`{"type":1}`) when the endpoint is saved; the server adapters answer
/// it with the `PONG` when handshakes are on (`WebhookConfig::handshakes`).
///
/// ```
/// use hookwire::webhook::{Discord, Inbound, Verify};
/// # use hookwire::http::HeaderMap;
///
/// let discord = Discord::new("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")?;
/// let unsigned = HeaderMap::new();
/// assert!(discord.verify(Inbound::new(&unsigned, br#"{"type":1}"#)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Discord {
    keys: Vec<PublicKey>,
    tolerance: Duration,
}

/// A public key from 64 hex digits.
fn hex_key(key: &str) -> Result<PublicKey, KeyError> {
    let mut bytes = [0u8; 32];
    let key = key.trim();
    if key.len() != 64 {
        return Err(KeyError::WrongLength {
            len: key.len() / 2,
            expected: "32",
        });
    }
    hex::decode_to_slice(key, &mut bytes).map_err(|_| KeyError::InvalidHex)?;
    PublicKey::from_bytes(&bytes)
}

impl Discord {
    /// The scheme, with the application's public key as the Developer Portal shows it (hex).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidHex`], [`KeyError::WrongLength`], [`KeyError::InvalidPoint`] or
    /// [`KeyError::WeakKey`].
    pub fn new(public_key: &str) -> Result<Self, KeyError> {
        Ok(Discord {
            keys: vec![hex_key(public_key)?],
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Adds a public key (to serve several applications from one endpoint): a signature made
    /// by any of them passes.
    ///
    /// # Errors
    ///
    /// As [`Discord::new`].
    pub fn with_key(mut self, public_key: &str) -> Result<Self, KeyError> {
        self.keys.push(hex_key(public_key)?);
        Ok(self)
    }

    /// How far the timestamp may lie from now, either way: 5 minutes unless set.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }
}

impl Verify for Discord {
    fn name(&self) -> &str {
        "discord"
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
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(signature, &mut bytes).map_err(|_| {
            VerifyError::MalformedSignature {
                expected: "the hex ed25519 signature (128 hex digits)",
            }
        })?;
        let content = [timestamp.as_bytes(), request.body()];
        self.keys
            .iter()
            .position(|key| key.verifies_bytes(&content, &bytes))
            .map(|index| {
                Verified::new("discord", None, Some(sent))
                    .tolerance(self.tolerance)
                    .by_key(index)
            })
            .ok_or(VerifyError::NoMatchingSignature)
    }

    /// The answer to a `PING` (`"type": 1`, sent signed when the endpoint is saved):
    /// `{"type":1}`, the `PONG`.
    fn handshake(&self, request: Inbound<'_>, verified: bool) -> Option<Handshake> {
        #[derive(serde::Deserialize)]
        struct Interaction {
            #[serde(rename = "type")]
            kind: u8,
        }
        if !verified {
            return None;
        }
        let interaction: Interaction = serde_json::from_slice(request.body()).ok()?;
        (interaction.kind == 1).then(|| Handshake::json(r#"{"type":1}"#))
    }
}

impl fmt::Debug for Discord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discord")
            .field("keys", &self.keys)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

//! AWS SNS: a JSON message signed with RSA (SHA-1 for signature version 1, SHA-256 for 2) by
//! the key of an X.509 certificate that SNS serves from its own hosts.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderName, Request, StatusCode, Uri};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

use super::scheme::{Handshake, Inbound, VerifyAsync};
use super::{Verified, VerifyError};
use crate::transport::HttpClient;

static MESSAGE_TYPE: HeaderName = HeaderName::from_static("x-amz-sns-message-type");
/// How long a certificate is kept.
const CERTIFICATE_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The largest certificate read.
const MAX_CERTIFICATE: usize = 64 * 1024;
/// The most certificates kept (SNS uses one per region at a time).
const MAX_CERTIFICATES: usize = 64;

/// The fields of an SNS message that are signed or say how.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Message<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    message_id: &'a str,
    #[serde(borrow)]
    message: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    subject: Option<std::borrow::Cow<'a, str>>,
    timestamp: &'a str,
    topic_arn: &'a str,
    #[serde(rename = "SubscribeURL", borrow)]
    subscribe_url: Option<std::borrow::Cow<'a, str>>,
    token: Option<&'a str>,
    signature: &'a str,
    signature_version: &'a str,
    #[serde(rename = "SigningCertURL", borrow)]
    signing_cert_url: std::borrow::Cow<'a, str>,
}

impl Message<'_> {
    /// The string SNS signs: `Key\nValue\n` for each signed field, in the documented order.
    fn canonical(&self) -> Result<String, VerifyError> {
        let mut out = String::new();
        let mut field = |key: &str, value: &str| {
            out.push_str(key);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        };
        match self.kind {
            "Notification" => {
                field("Message", &self.message);
                field("MessageId", self.message_id);
                if let Some(subject) = &self.subject {
                    field("Subject", subject);
                }
                field("Timestamp", self.timestamp);
                field("TopicArn", self.topic_arn);
                field("Type", self.kind);
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let missing = VerifyError::MalformedBody {
                    expected: "an SNS confirmation with `SubscribeURL` and `Token`",
                };
                field("Message", &self.message);
                field("MessageId", self.message_id);
                field(
                    "SubscribeURL",
                    self.subscribe_url.as_deref().ok_or(missing.clone())?,
                );
                field("Timestamp", self.timestamp);
                field("Token", self.token.ok_or(missing)?);
                field("TopicArn", self.topic_arn);
                field("Type", self.kind);
            }
            _ => {
                return Err(VerifyError::NoSupportedSignature {
                    found: "an SNS message of a type other than Notification, SubscriptionConfirmation or UnsubscribeConfirmation",
                });
            }
        }
        Ok(out)
    }
}

/// A certificate's key, for either signature version.
#[derive(Clone)]
struct Key {
    public: RsaPublicKey,
    expires: SystemTime,
}

/// AWS SNS notifications over HTTP(S), as documented in "Verifying the signatures of Amazon SNS
/// messages". Available with the `sns` feature, through [`VerifyAsync`].
///
/// SNS signs a canonical string of the message's fields with RSA, SHA-1 for
/// `SignatureVersion` 1 and SHA-256 for 2, under the key of the certificate at
/// `SigningCertURL`. That URL is accepted only over `https` from SNS's own hosts
/// (`sns.<region>.amazonaws.com`, and `.amazonaws.com.cn`), with a path ending in `.pem`:
/// any other is refused before a request is made, so that a message cannot name a certificate
/// of its own. Certificates are fetched through any [`HttpClient`], cached for an hour, and
/// fetched once however many requests wait. [`Verified::id`] reports the signed `MessageId`.
/// `SubscriptionConfirmation` and `UnsubscribeConfirmation` messages verify too. Confirming a
/// subscription (a `GET` of its `SubscribeURL`) is the application's choice: its handler can do
/// it, or the server adapters do it with [`confirm_subscriptions`](Sns::confirm_subscriptions)
/// and handshakes on.
pub struct Sns {
    client: Arc<dyn HttpClient>,
    keys: RwLock<HashMap<String, Key>>,
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    /// Test builds only: one more host:port, over plain HTTP.
    test_host: Option<String>,
    topics: Vec<String>,
    confirm: bool,
}

impl Sns {
    /// The scheme, fetching certificates through `client` (use a guarded one).
    pub fn new(client: impl HttpClient + 'static) -> Self {
        Sns {
            client: Arc::new(client),
            keys: RwLock::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            test_host: None,
            topics: Vec::new(),
            confirm: false,
        }
    }

    /// Confirms subscriptions as a handshake (off unless set): a verified
    /// `SubscriptionConfirmation` whose `SubscribeURL` is an `https` URL on SNS's own hosts
    /// asking `Action=ConfirmSubscription` is confirmed with a `GET` of that URL through this
    /// scheme's client, and answered `200` (`503` if SNS did not answer `200`, so that it is
    /// sent again) without reaching the handler. Only where the server adapter answers
    /// handshakes (`WebhookConfig::new_async(sns).handshakes(true)`). Keep
    /// [`topic`](Sns::topic) set, so that only the topics you expect are subscribed to.
    ///
    /// ```
    /// # #[cfg(all(feature = "hyper", feature = "rustls", feature = "tower"))]
    /// # {
    /// use hookwire::adapters::hyper::HyperClient;
    /// use hookwire::adapters::server::WebhookConfig;
    /// use hookwire::webhook::Sns;
    ///
    /// let sns = Sns::new(HyperClient::https()?)
    ///     .topic("arn:aws:sns:us-east-1:123456789012:orders")
    ///     .confirm_subscriptions();
    /// let config = WebhookConfig::new_async(sns).handshakes(true);
    /// # let _ = config;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn confirm_subscriptions(mut self) -> Self {
        self.confirm = true;
        self
    }

    /// Accepts messages of this topic only (repeat for several): a message of another topic
    /// is refused even though SNS signed it. Any topic unless set.
    #[must_use]
    pub fn topic(mut self, topic_arn: &str) -> Self {
        self.topics.push(topic_arn.to_owned());
        self
    }

    /// Also accepts certificates from `host` (`host:port`) over plain HTTP, such as a loopback
    /// server in tests. Only with the `test-util` feature, so that no production build widens
    /// the hosts by accident.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    #[must_use]
    pub fn certificate_host_for_tests(mut self, host: &str) -> Self {
        self.test_host = Some(host.to_owned());
        self
    }

    /// How many certificates were fetched: for tests and metrics.
    pub fn certificate_fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Whether `url` is one SNS serves its certificates from.
    fn allowed(&self, url: &Uri) -> bool {
        url.path().ends_with(".pem") && self.on_sns_host(url)
    }

    /// Whether `url` is on one of SNS's own hosts, over https with no port (or on the test
    /// host, over http).
    fn on_sns_host(&self, url: &Uri) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        if let Some(test_host) = &self.test_host {
            if url.scheme_str() == Some("http")
                && url.authority().is_some_and(|a| a.as_str() == test_host)
            {
                return true;
            }
        }
        let region = host
            .strip_suffix(".amazonaws.com")
            .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
            .and_then(|rest| rest.strip_prefix("sns."));
        url.scheme_str() == Some("https")
            && url.port().is_none()
            && region.is_some_and(|region| {
                region.len() >= 3
                    && region
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    }

    async fn key(&self, url: &str, now: SystemTime) -> Result<RsaPublicKey, VerifyError> {
        let cached = |keys: &RwLock<HashMap<String, Key>>| {
            keys.read().ok().and_then(|keys| {
                keys.get(url)
                    .filter(|key| now < key.expires)
                    .map(|key| key.public.clone())
            })
        };
        if let Some(key) = cached(&self.keys) {
            return Ok(key);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(key) = cached(&self.keys) {
            return Ok(key);
        }
        let public = self.fetch(url).await?;
        if let Ok(mut keys) = self.keys.write() {
            if keys.len() >= MAX_CERTIFICATES {
                keys.retain(|_, key| now < key.expires);
            }
            if keys.len() < MAX_CERTIFICATES {
                keys.insert(
                    url.to_owned(),
                    Key {
                        public: public.clone(),
                        expires: now.checked_add(CERTIFICATE_LIFETIME).unwrap_or(now),
                    },
                );
            }
        }
        Ok(public)
    }

    async fn fetch(&self, url: &str) -> Result<RsaPublicKey, VerifyError> {
        let unavailable = |reason: String| VerifyError::KeysUnavailable { reason };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let request = Request::get(url)
            .body(Bytes::new())
            .map_err(|_| unavailable("the certificate's URL cannot be requested".to_owned()))?;
        let response =
            self.client.send(request).await.map_err(|error| {
                unavailable(format!("fetching the certificate failed: {error}"))
            })?;
        if response.status() != StatusCode::OK || response.body().len() > MAX_CERTIFICATE {
            return Err(unavailable(format!(
                "the certificate URL answered {} with {} bytes",
                response.status(),
                response.body().len()
            )));
        }
        let certificate = Certificate::from_pem(response.body()).map_err(|_| {
            unavailable("the certificate is not a PEM X.509 certificate".to_owned())
        })?;
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| unavailable("the certificate's key cannot be read".to_owned()))?;
        RsaPublicKey::from_public_key_der(&spki)
            .map_err(|_| unavailable("the certificate's key is not an RSA key".to_owned()))
    }
}

impl VerifyAsync for Sns {
    fn scheme_name(&self) -> &str {
        "sns"
    }

    /// Whether the request carries SNS's `x-amz-sns-message-type` header.
    fn recognizes(&self, request: Inbound<'_>) -> bool {
        request.headers().contains_key(&MESSAGE_TYPE)
    }

    async fn verify_async<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        if !request.headers().contains_key(&MESSAGE_TYPE) {
            return Err(VerifyError::MissingHeader(MESSAGE_TYPE.clone()));
        }
        let message: Message<'a> =
            serde_json::from_slice(request.body()).map_err(|_| VerifyError::MalformedBody {
                expected: "an SNS message: JSON with `Type`, `MessageId`, `Message`, `Timestamp`, `TopicArn`, `Signature`, `SignatureVersion` and `SigningCertURL`",
            })?;
        if !self.topics.is_empty() && !self.topics.iter().any(|topic| topic == message.topic_arn) {
            return Err(VerifyError::NoSupportedSignature {
                found: "a message of another topic",
            });
        }
        let url = message
            .signing_cert_url
            .parse::<Uri>()
            .ok()
            .filter(|url| self.allowed(url))
            .ok_or(VerifyError::NoSupportedSignature {
                found: "a signing certificate URL off SNS's own https hosts",
            })?;
        let canonical = message.canonical()?;
        let signature = STANDARD
            .decode(message.signature)
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or(VerifyError::MalformedSignature {
                expected: "the base64 RSA signature",
            })?;
        let key = self.key(&url.to_string(), now).await?;
        let verified = match message.signature_version {
            "1" => {
                VerifyingKey::<sha1_v010::Sha1>::new(key).verify(canonical.as_bytes(), &signature)
            }
            "2" => VerifyingKey::<Sha256>::new(key).verify(canonical.as_bytes(), &signature),
            _ => {
                return Err(VerifyError::NoSupportedSignature {
                    found: "a `SignatureVersion` other than 1 or 2",
                });
            }
        };
        verified.map_err(|_| VerifyError::NoMatchingSignature)?;
        let sent = time::OffsetDateTime::parse(
            message.timestamp,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|time| time.unix_timestamp())
        .ok();
        Ok(Verified::new("sns", Some(message.message_id), sent))
    }

    async fn handshake_async<'a>(
        &'a self,
        request: Inbound<'a>,
        verified: bool,
    ) -> Option<Handshake> {
        if !(self.confirm && verified) {
            return None;
        }
        let message: Message<'_> = serde_json::from_slice(request.body()).ok()?;
        if message.kind != "SubscriptionConfirmation" {
            return None;
        }
        let url = message
            .subscribe_url?
            .parse::<Uri>()
            .ok()
            .filter(|url| self.on_sns_host(url))
            .filter(|url| {
                url.query().is_some_and(|query| {
                    query
                        .split('&')
                        .any(|pair| pair == "Action=ConfirmSubscription")
                })
            })?;
        let confirmed = match Request::get(url).body(Bytes::new()) {
            Ok(confirmation) => self
                .client
                .send(confirmation)
                .await
                .is_ok_and(|response| response.status() == StatusCode::OK),
            Err(_) => false,
        };
        Some(match confirmed {
            true => Handshake::text("subscription confirmed\n"),
            false => Handshake::unavailable(
                "the subscription could not be confirmed; send the confirmation again\n",
            ),
        })
    }
}

impl fmt::Debug for Sns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sns")
            .field("topics", &self.topics)
            .field("confirm_subscriptions", &self.confirm)
            .field("certificate_fetches", &self.certificate_fetches())
            .finish()
    }
}

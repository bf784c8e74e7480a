//! Pushes signed with an OpenID Connect token (Google Pub/Sub push and others): a JWT in
//! `Authorization: Bearer`, checked against the issuer's key set (JWKS), fetched over HTTP,
//! cached for its lifetime, fetched once however many requests wait, and fetched again when a
//! key id it does not hold appears.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL};
use http::{Request, StatusCode, Uri};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;

use super::scheme::{Inbound, VerifyAsync};
use super::verify::unix_seconds;
use super::{Verified, VerifyError};
use crate::transport::HttpClient;

/// Google's issuer names and key set, for Pub/Sub push and other Google-signed requests.
const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
const GOOGLE_KEYS: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// How long a key set is kept when its response names no lifetime, and the longest it is kept.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The least time between two fetches caused by unknown key ids, so that requests with made-up
/// key ids cannot make the verifier fetch on every request.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// How far `exp`, `iat` and `nbf` may be off, for clock skew.
const LEEWAY: Duration = Duration::from_secs(60);
/// The largest key set read.
const MAX_KEY_SET: usize = 256 * 1024;

/// Why an [`Oidc`] verifier could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The key set's URL is not an `https` URL.
    #[error("the key set's URL must be an https URL: {0}")]
    KeysUrl(String),
}

/// The keys of one fetch, by key id.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, VerifyingKey<Sha256>>,
    /// When the set expires; `None` before the first fetch.
    expires: Option<SystemTime>,
    /// When it was fetched.
    fetched: Option<SystemTime>,
}

/// A key set fetched over HTTP and cached.
struct Jwks {
    url: Uri,
    client: Arc<dyn HttpClient>,
    set: RwLock<Arc<KeySet>>,
    /// Held while fetching: requests that need the keys meanwhile wait for that fetch rather
    /// than starting their own.
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

/// The JSON of a key set.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
}

fn unavailable(reason: impl Into<String>) -> VerifyError {
    VerifyError::KeysUnavailable {
        reason: reason.into(),
    }
}

impl Jwks {
    /// The key `kid` at `now`: from the cache while it is fresh and holds the key; otherwise
    /// after one fetch shared by every request that waits for it.
    async fn key(&self, kid: &str, now: SystemTime) -> Result<VerifyingKey<Sha256>, VerifyError> {
        let seen = self.current();
        if let Some(key) = Self::usable(&seen, kid, now) {
            return Ok(key);
        }
        let _fetching = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let current = self.current();
        if let Some(key) = Self::usable(&current, kid, now) {
            return Ok(key);
        }
        let fresh = current.expires.is_some_and(|expires| now < expires);
        let recent = current
            .fetched
            .and_then(|fetched| now.duration_since(fetched).ok())
            .is_some_and(|age| age < MIN_REFETCH);
        if fresh && (recent || !Arc::ptr_eq(&seen, &current)) {
            // A fresh set, fetched just now, lacks the key: fetching again would not help.
            return Err(VerifyError::NoMatchingSignature);
        }
        let set = Arc::new(self.fetch(now).await?);
        let key = set.keys.get(kid).cloned();
        if let Ok(mut slot) = self.set.write() {
            *slot = set;
        }
        key.ok_or(VerifyError::NoMatchingSignature)
    }

    fn current(&self) -> Arc<KeySet> {
        self.set
            .read()
            .map(|set| Arc::clone(&set))
            .unwrap_or_default()
    }

    fn usable(set: &KeySet, kid: &str, now: SystemTime) -> Option<VerifyingKey<Sha256>> {
        set.expires
            .filter(|expires| now < *expires)
            .and_then(|_| set.keys.get(kid).cloned())
    }

    async fn fetch(&self, now: SystemTime) -> Result<KeySet, VerifyError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let request = Request::get(self.url.clone())
            .body(Bytes::new())
            .map_err(|_| unavailable("the key set's URL cannot be requested"))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|error| unavailable(format!("fetching the key set failed: {error}")))?;
        if response.status() != StatusCode::OK {
            return Err(unavailable(format!(
                "the key set answered {}",
                response.status()
            )));
        }
        let lifetime = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .find_map(|directive| {
                directive
                    .trim()
                    .strip_prefix("max-age=")
                    .and_then(|seconds| seconds.parse::<u64>().ok())
            })
            .map_or(DEFAULT_LIFETIME, Duration::from_secs)
            .min(MAX_LIFETIME);
        let body = response.body();
        if body.len() > MAX_KEY_SET {
            return Err(unavailable("the key set is larger than 256 KiB"));
        }
        let set: JwkSet = serde_json::from_slice(body)
            .map_err(|_| unavailable("the key set is not a JSON Web Key Set"))?;
        let mut keys = HashMap::new();
        for jwk in set.keys {
            if jwk.kty != "RSA" || jwk.usage.as_deref().is_some_and(|usage| usage != "sig") {
                continue;
            }
            let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
                continue;
            };
            let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else {
                continue;
            };
            if let Ok(key) =
                RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
            {
                keys.insert(kid, VerifyingKey::new(key));
            }
        }
        Ok(KeySet {
            keys,
            expires: now.checked_add(lifetime),
            fetched: Some(now),
        })
    }
}

/// The header of a JWT.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// The claims a push is checked by.
#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    email: Option<String>,
    email_verified: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|one| one == audience),
        }
    }
}

/// Pushes authenticated by an OpenID Connect token, such as Google Pub/Sub push subscriptions
/// with authentication: `Authorization: Bearer <JWT>`, an RS256 token whose signature is
/// checked against the issuer's key set, and whose issuer, audience, expiry (and, where set,
/// service account email) are checked after it. Available with the `oidc` feature.
///
/// The key set is fetched through any [`HttpClient`] (use a guarded one), cached for the
/// lifetime its `Cache-Control: max-age` gives (an hour where it gives none, a day at most),
/// fetched once however many requests wait for it, and fetched again when a token names a key
/// id the cache does not hold (at most once every 30 seconds for key ids that the fresh set
/// does not hold either). Its URL must be `https`. A token verifies through
/// [`VerifyAsync`]; a key set that cannot be fetched is [`VerifyError::KeysUnavailable`].
///
/// ```no_run
/// use hookwire::adapters::hyper::HyperClient;
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{Inbound, Oidc, VerifyAsync};
///
/// # async fn run(headers: HeaderMap, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// let pubsub = Oidc::google(HyperClient::https()?, "https://hooks.example.com/pubsub")
///     .email("pusher@my-project.iam.gserviceaccount.com");
/// let verified = pubsub
///     .verify_async(Inbound::new(&headers, body), std::time::SystemTime::now())
///     .await?;
/// # let _ = verified; Ok(()) }
/// ```
pub struct Oidc {
    name: &'static str,
    issuers: Vec<String>,
    audience: String,
    email: Option<String>,
    keys: Jwks,
}

impl Oidc {
    /// Tokens from `issuer`, for `audience`, checked against the key set at `keys_url`
    /// (`https`), fetched through `client`.
    ///
    /// # Errors
    ///
    /// [`OidcError::KeysUrl`] where `keys_url` is not an `https` URL.
    pub fn new(
        client: impl HttpClient + 'static,
        issuer: &str,
        keys_url: &str,
        audience: &str,
    ) -> Result<Self, OidcError> {
        let url = keys_url
            .parse::<Uri>()
            .ok()
            .filter(|url| url.scheme_str() == Some("https") && url.host().is_some())
            .ok_or_else(|| OidcError::KeysUrl(keys_url.to_owned()))?;
        Ok(Self::with_url(client, &[issuer], url, audience))
    }

    /// Google-signed tokens (Pub/Sub push subscriptions with authentication, Cloud Tasks,
    /// Cloud Scheduler), for `audience`: the audience set on the subscription, or the push
    /// endpoint's URL where none was set.
    pub fn google(client: impl HttpClient + 'static, audience: &str) -> Self {
        let mut oidc = Self::with_url(
            client,
            &GOOGLE_ISSUERS,
            Uri::from_static(GOOGLE_KEYS),
            audience,
        );
        oidc.name = "google-oidc";
        oidc
    }

    /// The same verifier reading its keys from `keys_url` whatever its scheme, such as a
    /// loopback `http` server in tests. Only with the `test-util` feature, so that no
    /// production build reads keys over plain HTTP by accident.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    #[must_use]
    pub fn keys_url_for_tests(mut self, keys_url: &str) -> Self {
        if let Ok(url) = keys_url.parse::<Uri>() {
            self.keys.url = url;
        }
        self
    }

    fn with_url(
        client: impl HttpClient + 'static,
        issuers: &[&str],
        url: Uri,
        audience: &str,
    ) -> Self {
        Oidc {
            name: "oidc",
            issuers: issuers.iter().map(|issuer| (*issuer).to_owned()).collect(),
            audience: audience.to_owned(),
            email: None,
            keys: Jwks {
                url,
                client: Arc::new(client),
                set: RwLock::new(Arc::new(KeySet::default())),
                fetching: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            },
        }
    }

    /// Also requires the token's `email` to be this one, and verified: the service account a
    /// Pub/Sub subscription pushes as.
    #[must_use]
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    /// How many times the key set was fetched: for tests and metrics.
    pub fn key_fetches(&self) -> u64 {
        self.keys.fetches.load(Ordering::Relaxed)
    }

    /// Checks the claims of a token whose signature held.
    fn check(&self, claims: &Claims, now: SystemTime) -> Result<i64, VerifyError> {
        let now_seconds = unix_seconds(now);
        let leeway = i64::try_from(LEEWAY.as_secs()).unwrap_or(i64::MAX);
        let refused = |what: &'static str| VerifyError::NoSupportedSignature { found: what };
        if !claims
            .iss
            .as_deref()
            .is_some_and(|iss| self.issuers.iter().any(|issuer| issuer == iss))
        {
            return Err(refused("a token from another issuer"));
        }
        if !claims
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(&self.audience))
        {
            return Err(refused("a token for another audience"));
        }
        let exp = claims.exp.ok_or(refused("a token without an expiry"))?;
        if now_seconds.saturating_sub(leeway) >= exp {
            return Err(VerifyError::TooOld {
                age: Duration::from_secs(
                    u64::try_from(now_seconds.saturating_sub(exp)).unwrap_or(0),
                ),
                tolerance: LEEWAY,
            });
        }
        let issued = claims.nbf.or(claims.iat);
        if let Some(issued) = issued.filter(|issued| *issued > now_seconds.saturating_add(leeway)) {
            return Err(VerifyError::TooNew {
                ahead: Duration::from_secs(
                    u64::try_from(issued.saturating_sub(now_seconds)).unwrap_or(0),
                ),
                tolerance: LEEWAY,
            });
        }
        if let Some(email) = &self.email {
            let verified = claims.email_verified.unwrap_or(false);
            if claims.email.as_deref() != Some(email.as_str()) || !verified {
                return Err(refused("a token for another service account"));
            }
        }
        Ok(claims.iat.unwrap_or(now_seconds))
    }
}

/// The parts of a JWT: header, claims and signature, each decoded, and the signed text.
fn split(token: &str) -> Result<(Header, Claims, Vec<u8>, &str), VerifyError> {
    let malformed = VerifyError::MalformedSignature {
        expected: "`Authorization: Bearer` and a JWT (three base64url parts)",
    };
    let (signed, signature) = token.rsplit_once('.').ok_or(malformed.clone())?;
    let (header, claims) = signed.split_once('.').ok_or(malformed.clone())?;
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed.clone());
    let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| malformed.clone())?;
    let claims: Claims = serde_json::from_slice(&decode(claims)?).map_err(|_| malformed.clone())?;
    Ok((header, claims, decode(signature)?, signed))
}

impl VerifyAsync for Oidc {
    fn scheme_name(&self) -> &str {
        self.name
    }

    /// Whether the request carries `Authorization: Bearer`.
    fn recognizes(&self, request: Inbound<'_>) -> bool {
        request
            .headers()
            .get(AUTHORIZATION)
            .is_some_and(|value| value.as_bytes().starts_with(b"Bearer "))
    }

    async fn verify_async<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let authorization = super::verify::header_str(request.headers(), &AUTHORIZATION)?;
        let token =
            authorization
                .strip_prefix("Bearer ")
                .ok_or(VerifyError::MalformedSignature {
                    expected: "`Authorization: Bearer` and a JWT (three base64url parts)",
                })?;
        let (header, claims, signature, signed) = split(token)?;
        if header.alg != "RS256" {
            return Err(VerifyError::NoSupportedSignature {
                found: "a token signed with an algorithm other than RS256",
            });
        }
        let kid = header.kid.ok_or(VerifyError::MalformedSignature {
            expected: "a JWT whose header names its key (`kid`)",
        })?;
        let key = self.keys.key(&kid, now).await?;
        let signature = Signature::try_from(signature.as_slice())
            .map_err(|_| VerifyError::NoMatchingSignature)?;
        key.verify(signed.as_bytes(), &signature)
            .map_err(|_| VerifyError::NoMatchingSignature)?;
        let issued = self.check(&claims, now)?;
        Ok(Verified::new(self.name, None, Some(issued)))
    }
}

impl fmt::Debug for Oidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc")
            .field("name", &self.name)
            .field("issuers", &self.issuers)
            .field("audience", &self.audience)
            .field("keys", &self.keys.url)
            .finish()
    }
}

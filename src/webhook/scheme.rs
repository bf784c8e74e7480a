//! What every signature scheme offers: [`Verify`] for receivers, [`Sign`] for senders and tests,
//! the [`Inbound`] request a verifier sees, and a verifier that serves several schemes at once.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, Method, StatusCode, Uri};

use super::{SignError, Verified, VerifyError};

/// What a verifier sees of a received request: its method and URI where the server knows them,
/// its headers, and its body exactly as it arrived. Borrowed, and `Copy`: building one costs
/// nothing.
///
/// Most schemes sign the body and a few headers; some (Twilio, Square, HubSpot) sign the URL
/// too, and refuse a request whose URI is unknown.
///
/// ```
/// use hookwire::http::{HeaderMap, Request};
/// use hookwire::webhook::Inbound;
///
/// // From an `http::Request` whose body is already read:
/// let request = Request::post("https://example.com/hooks").body(b"{}".to_vec())?;
/// let inbound = Inbound::from_request(&request);
/// assert_eq!(inbound.uri().map(|uri| uri.path()), Some("/hooks"));
///
/// // From headers and a body alone:
/// let headers = HeaderMap::new();
/// let inbound = Inbound::new(&headers, b"{}");
/// assert_eq!(inbound.method(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    method: Option<&'a Method>,
    uri: Option<&'a Uri>,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl<'a> Inbound<'a> {
    /// A request known by its headers and body; its method and URI are unknown.
    pub fn new(headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        Inbound {
            method: None,
            uri: None,
            headers,
            body,
        }
    }

    /// An `http::Request` whose body has been read.
    pub fn from_request<B: AsRef<[u8]>>(request: &'a http::Request<B>) -> Self {
        Inbound {
            method: Some(request.method()),
            uri: Some(request.uri()),
            headers: request.headers(),
            body: request.body().as_ref(),
        }
    }

    /// The parts of an `http::Request` and its body, read separately.
    pub fn from_parts(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        Inbound {
            method: Some(&parts.method),
            uri: Some(&parts.uri),
            headers: &parts.headers,
            body,
        }
    }

    /// A request from its four parts, for servers whose request type is not `http`'s.
    pub fn from_components(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        Inbound {
            method: Some(method),
            uri: Some(uri),
            headers,
            body,
        }
    }

    /// The method, where known.
    pub fn method(&self) -> Option<&'a Method> {
        self.method
    }

    /// The URI, where known.
    pub fn uri(&self) -> Option<&'a Uri> {
        self.uri
    }

    /// The headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The body, exactly as it arrived.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// Checks a received webhook's signature: what a receiver needs of a scheme.
///
/// hookwire implements it for [Standard Webhooks](super::StandardWebhooks),
/// [Stripe](super::Stripe), [GitHub](super::GitHub), [Slack](super::Slack),
/// [Shopify](super::Shopify), a [configurable HMAC scheme](super::HmacScheme) for the long tail,
/// and a [`MultiVerifier`] that serves several at once. References, `Box` and `Arc` of a
/// verifier (`dyn Verify` too) are verifiers, so every adapter takes any of them. Implement it
/// for a scheme of your own and it works wherever these do.
///
/// Implementations hold their secrets (keyed once, when built), a timestamp tolerance where the
/// scheme has timestamps, and nothing per request; verifying must not panic on any input.
///
/// ```
/// use hookwire::http::HeaderMap;
/// use hookwire::webhook::{GitHub, Inbound, Message, Sign, Verify};
///
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// // Sign as GitHub would, to test a handler…
/// let headers = github.sign(&Message::new("72d3162e-cc78-11e3-81ab-4c9367dc0958", b"Hello, World!"))?;
/// assert_eq!(
///     headers["x-hub-signature-256"],
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/// );
/// // …and verify as the receiver does.
/// let verified = github.verify(Inbound::new(&headers, b"Hello, World!"))?;
/// assert_eq!(verified.scheme(), "github");
/// assert_eq!(verified.id(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Verify: Send + Sync {
    /// A short, stable name, such as `"stripe"`; [`Verified::scheme`] reports it.
    fn name(&self) -> &str;

    /// Whether `headers` carry this scheme's signature: how a [`MultiVerifier`] picks a scheme.
    fn detect(&self, request: Inbound<'_>) -> bool;

    /// Verifies `request` at the given `now` (ignored by schemes that sign no timestamp).
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] that says what was wrong.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError>;

    /// Advice when no signature matches and this verifier's secrets have the look of another
    /// kind of secret (a `whsec_` secret where the provider's is used byte for byte, an API key
    /// where a signing secret belongs), for [`diagnose`](super::diagnose). `None` (the
    /// default) when nothing stands out. Never quotes a secret.
    fn secret_advice(&self) -> Option<&'static str> {
        None
    }

    /// The answer to `request` where it is a handshake of this scheme's provider (Slack's
    /// `url_verification`, Zoom's `endpoint.url_validation`, Twitch's
    /// `webhook_callback_verification`, Discord's `PING`, Microsoft Graph's `validationToken`),
    /// or `None` (the default) where it is not.
    ///
    /// The server adapters ask when handshakes are turned on (`WebhookConfig::handshakes`, with
    /// an adapter feature), and answer
    /// instead of calling the handler: with `verified` true once `request` passed
    /// [`verify_at`](Verify::verify_at), and with `verified` false once it failed. A scheme
    /// whose provider signs its handshake answers only verified requests; only a provider that
    /// sends its handshake unsigned (Microsoft Graph) is answered unverified, and its answer
    /// must reveal nothing (it echoes what the request carried).
    fn handshake(&self, request: Inbound<'_>, verified: bool) -> Option<Handshake> {
        let _ = (request, verified);
        None
    }

    /// Verifies `request` at the system clock's now, and reports the result through
    /// `tracing` with that feature (see [`observe`](crate::observe)).
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] that says what was wrong.
    fn verify<'a>(&'a self, request: Inbound<'a>) -> Result<Verified<'a>, VerifyError> {
        let now = SystemTime::now();
        let result = self.verify_at(request, now);
        #[cfg(feature = "tracing")]
        super::verify::trace_verification(self.name(), &result, now);
        result
    }
}

/// Checks a received webhook where checking may wait: for schemes whose keys are fetched over
/// HTTP ([`Oidc`](super::Oidc), with the `oidc` feature). Every synchronous [`Verify`] scheme
/// is one too, at no cost: its future is ready at once, holds nothing on the heap, and runs
/// exactly [`Verify::verify_at`].
///
/// ```
/// use std::time::SystemTime;
/// use hookwire::webhook::{GitHub, Inbound, Message, Sign, VerifyAsync};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// let headers = github.sign(&Message::new("delivery-1", b"{}"))?;
/// let verified = github
///     .verify_async(Inbound::new(&headers, b"{}"), SystemTime::now())
///     .await?;
/// assert_eq!(verified.scheme(), "github");
/// # Ok(()) }
/// ```
pub trait VerifyAsync: Send + Sync {
    /// A short, stable name, such as `"oidc"`.
    fn scheme_name(&self) -> &str;

    /// Whether `request` carries this scheme's signature, as [`Verify::detect`] says: how a
    /// [`MultiVerifierAsync`] picks a scheme. Looks, never waits.
    fn recognizes(&self, request: Inbound<'_>) -> bool;

    /// Verifies `request` at `now`, fetching keys where the scheme needs them.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] that says what was wrong, or
    /// [`VerifyError::KeysUnavailable`] when the keys could not be fetched.
    fn verify_async<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Verified<'a>, VerifyError>> + Send + 'a;

    /// The answer to `request` where it is a handshake of this scheme's provider, as
    /// [`Verify::handshake`] says, where answering may wait (confirming an SNS subscription
    /// is a request to SNS): `None` (the default) where it is not one.
    fn handshake_async<'a>(
        &'a self,
        request: Inbound<'a>,
        verified: bool,
    ) -> impl Future<Output = Option<Handshake>> + Send + 'a {
        let _ = (request, verified);
        std::future::ready(None)
    }
}

impl<V: Verify + ?Sized> VerifyAsync for V {
    fn scheme_name(&self) -> &str {
        self.name()
    }

    fn recognizes(&self, request: Inbound<'_>) -> bool {
        self.detect(request)
    }

    fn verify_async<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Verified<'a>, VerifyError>> + Send + 'a {
        std::future::ready(self.verify_at(request, now))
    }

    fn handshake_async<'a>(
        &'a self,
        request: Inbound<'a>,
        verified: bool,
    ) -> impl Future<Output = Option<Handshake>> + Send + 'a {
        std::future::ready(self.handshake(request, verified))
    }
}

/// A future on the heap, for schemes that wait.
pub(crate) type Waiting<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`VerifyAsync`] in a form that can stand behind a pointer: each future on the heap.
pub(crate) trait DynVerifyAsync: Send + Sync {
    fn boxed_name(&self) -> &str;
    fn boxed_recognizes(&self, request: Inbound<'_>) -> bool;
    fn verify_boxed<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Waiting<'a, Result<Verified<'a>, VerifyError>>;
    fn handshake_boxed<'a>(
        &'a self,
        request: Inbound<'a>,
        verified: bool,
    ) -> Waiting<'a, Option<Handshake>>;
}

impl<V: VerifyAsync> DynVerifyAsync for V {
    fn boxed_name(&self) -> &str {
        self.scheme_name()
    }

    fn boxed_recognizes(&self, request: Inbound<'_>) -> bool {
        self.recognizes(request)
    }

    fn verify_boxed<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Waiting<'a, Result<Verified<'a>, VerifyError>> {
        Box::pin(self.verify_async(request, now))
    }

    fn handshake_boxed<'a>(
        &'a self,
        request: Inbound<'a>,
        verified: bool,
    ) -> Waiting<'a, Option<Handshake>> {
        Box::pin(self.handshake_async(request, verified))
    }
}

/// Signs a message as a scheme's sender does: to speak the scheme as a sender, or to test a
/// handler with requests its provider would send.
pub trait Sign: Send + Sync {
    /// The headers a sender of this scheme attaches to `message`.
    ///
    /// # Errors
    ///
    /// A [`SignError`], for instance when the scheme holds no key that can sign, or the id
    /// cannot stand in a header.
    fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError>;
}

macro_rules! forward {
    ($($pointer:ty),*) => {$(
        impl<V: Verify + ?Sized> Verify for $pointer {
            fn name(&self) -> &str {
                (**self).name()
            }
            fn detect(&self, request: Inbound<'_>) -> bool {
                (**self).detect(request)
            }
            fn verify_at<'a>(
                &'a self,
                request: Inbound<'a>,
                now: SystemTime,
            ) -> Result<Verified<'a>, VerifyError> {
                (**self).verify_at(request, now)
            }
            fn secret_advice(&self) -> Option<&'static str> {
                (**self).secret_advice()
            }
            fn handshake(&self, request: Inbound<'_>, verified: bool) -> Option<Handshake> {
                (**self).handshake(request, verified)
            }
        }

        impl<V: Sign + ?Sized> Sign for $pointer {
            fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
                (**self).sign(message)
            }
        }
    )*};
}

forward!(&V, Box<V>, Arc<V>);

/// A message to sign: its id, the time of the attempt, the body, and, for the schemes that sign
/// the request line, the method and URL it is sent to.
///
/// Schemes use what they carry: Standard Webhooks signs the first three, Stripe and Slack the
/// time and the body, GitHub and Shopify the body (and send the id in their delivery-id
/// header), Twilio and HubSpot the URL too ([`Message::to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    id: &'a str,
    timestamp: SystemTime,
    body: &'a [u8],
    request: Option<(&'a str, &'a str)>,
}

impl<'a> Message<'a> {
    /// A message signed now, by the system clock.
    pub fn new(id: &'a str, body: &'a [u8]) -> Self {
        Message {
            id,
            timestamp: SystemTime::now(),
            body,
            request: None,
        }
    }

    /// The same message, sent with `method` to the full `url` (such as
    /// `https://example.com/hooks?x=1`): what the schemes that sign the request line sign.
    #[must_use]
    pub fn to(mut self, method: &'a str, url: &'a str) -> Self {
        self.request = Some((method, url));
        self
    }

    /// The method and URL given with [`Message::to`].
    pub fn request(&self) -> Option<(&'a str, &'a str)> {
        self.request
    }

    /// The same message, signed at `timestamp`.
    #[must_use]
    pub fn at(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The message id, the same on every attempt to deliver it.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// When this attempt is signed.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    /// The exact bytes sent.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// A verifier for an endpoint that receives webhooks from several providers: it picks the first
/// scheme whose signature header is present and verifies with it.
///
/// ```
/// use hookwire::webhook::{GitHub, Inbound, Message, MultiVerifier, Sign, Stripe, Verify, VerifyError};
///
/// let stripe = Stripe::new("whsec_stripe_endpoint_secret")?;
/// let github = GitHub::new("github hook secret")?;
/// let sent = github.sign(&Message::new("delivery-1", b"{}"))?;
///
/// let verifier = MultiVerifier::new().with(stripe).with(github);
/// assert_eq!(verifier.verify(Inbound::new(&sent, b"{}"))?.scheme(), "github");
/// assert_eq!(
///     verifier.verify(Inbound::new(&Default::default(), b"{}")).unwrap_err(),
///     VerifyError::NoScheme
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct MultiVerifier {
    schemes: Vec<Box<dyn Verify>>,
}

impl MultiVerifier {
    /// A verifier with no schemes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scheme; schemes are tried in the order they were added.
    #[must_use]
    pub fn with(mut self, scheme: impl Verify + 'static) -> Self {
        self.schemes.push(Box::new(scheme));
        self
    }

    /// Adds a scheme that waits (one that fetches its keys, such as [`Oidc`](super::Oidc) or
    /// [`Sns`](super::Sns)): the result is a [`MultiVerifierAsync`] that holds the schemes
    /// added so far, then this one.
    #[must_use]
    pub fn with_async(self, scheme: impl VerifyAsync + 'static) -> MultiVerifierAsync {
        MultiVerifierAsync {
            schemes: self.schemes.into_iter().map(Entry::Sync).collect(),
        }
        .with_async(scheme)
    }
}

/// A [`MultiVerifier`] that also holds schemes that wait ([`VerifyAsync`]: [`Oidc`](super::Oidc),
/// [`Sns`](super::Sns), or a scheme of your own), for an endpoint that such a provider calls
/// beside others. It picks the first scheme that [recognizes](VerifyAsync::recognizes) the
/// request and verifies with it; a synchronous scheme is called as it is, and only a scheme that
/// waits puts its future on the heap. Serve it through `WebhookConfig::new_async`.
///
/// ```
/// use std::time::SystemTime;
/// use hookwire::webhook::{GitHub, Inbound, Message, MultiVerifier, Sign, Stripe, VerifyAsync, VerifyError};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let stripe = Stripe::new("whsec_stripe_endpoint_secret")?;
/// let github = GitHub::new("github hook secret")?;
/// let sent = github.sign(&Message::new("delivery-1", b"{}"))?;
///
/// // With the `sns` or `oidc` feature, `.with_async(Sns::new(client))` or
/// // `.with_async(Oidc::google(client, audience))` adds a scheme that fetches its keys.
/// let verifier = MultiVerifier::new().with(stripe).with_async(github);
/// let now = SystemTime::now();
/// assert_eq!(verifier.verify_async(Inbound::new(&sent, b"{}"), now).await?.scheme(), "github");
/// assert_eq!(
///     verifier.verify_async(Inbound::new(&Default::default(), b"{}"), now).await.unwrap_err(),
///     VerifyError::NoScheme
/// );
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct MultiVerifierAsync {
    schemes: Vec<Entry>,
}

/// A scheme of a [`MultiVerifierAsync`].
enum Entry {
    Sync(Box<dyn Verify>),
    Async(Box<dyn DynVerifyAsync>),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Sync(scheme) => scheme.name(),
            Entry::Async(scheme) => scheme.boxed_name(),
        }
    }

    fn recognizes(&self, request: Inbound<'_>) -> bool {
        match self {
            Entry::Sync(scheme) => scheme.detect(request),
            Entry::Async(scheme) => scheme.boxed_recognizes(request),
        }
    }
}

impl MultiVerifierAsync {
    /// A verifier with no schemes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a synchronous scheme, called as it is; schemes are tried in the order they were
    /// added.
    #[must_use]
    pub fn with(mut self, scheme: impl Verify + 'static) -> Self {
        self.schemes.push(Entry::Sync(Box::new(scheme)));
        self
    }

    /// Adds a scheme that waits; schemes are tried in the order they were added.
    #[must_use]
    pub fn with_async(mut self, scheme: impl VerifyAsync + 'static) -> Self {
        self.schemes.push(Entry::Async(Box::new(scheme)));
        self
    }

    fn pick(&self, request: Inbound<'_>) -> Option<&Entry> {
        self.schemes
            .iter()
            .find(|scheme| scheme.recognizes(request))
    }
}

impl VerifyAsync for MultiVerifierAsync {
    /// `"multi"`; a verified message reports the name of the scheme that verified it.
    fn scheme_name(&self) -> &str {
        "multi"
    }

    /// Whether any of the schemes recognizes the request.
    fn recognizes(&self, request: Inbound<'_>) -> bool {
        self.pick(request).is_some()
    }

    /// Verifies with the first scheme that recognizes the request: [`VerifyError::NoScheme`]
    /// when none does, otherwise what that scheme reports.
    async fn verify_async<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        match self.pick(request).ok_or(VerifyError::NoScheme)? {
            Entry::Sync(scheme) => scheme.verify_at(request, now),
            Entry::Async(scheme) => scheme.verify_boxed(request, now).await,
        }
    }

    /// The handshake answer of the scheme that [`verify_async`](VerifyAsync::verify_async)
    /// picks.
    async fn handshake_async<'a>(
        &'a self,
        request: Inbound<'a>,
        verified: bool,
    ) -> Option<Handshake> {
        match self.pick(request)? {
            Entry::Sync(scheme) => scheme.handshake(request, verified),
            Entry::Async(scheme) => scheme.handshake_boxed(request, verified).await,
        }
    }
}

impl fmt::Debug for MultiVerifierAsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.schemes.iter().map(Entry::name))
            .finish()
    }
}

impl Verify for MultiVerifier {
    /// `"multi"`; a verified message reports the name of the scheme that verified it.
    fn name(&self) -> &str {
        "multi"
    }

    /// Whether any of the schemes' signature headers is present.
    fn detect(&self, request: Inbound<'_>) -> bool {
        self.schemes.iter().any(|scheme| scheme.detect(request))
    }

    /// Verifies with the first scheme whose signature header is present.
    ///
    /// # Errors
    ///
    /// [`VerifyError::NoScheme`] when no scheme's header is present; otherwise what that
    /// scheme reports.
    fn verify_at<'a>(
        &'a self,
        request: Inbound<'a>,
        now: SystemTime,
    ) -> Result<Verified<'a>, VerifyError> {
        self.schemes
            .iter()
            .find(|scheme| scheme.detect(request))
            .ok_or(VerifyError::NoScheme)?
            .verify_at(request, now)
    }

    /// The handshake answer of the scheme that [`verify_at`](Verify::verify_at) picks.
    fn handshake(&self, request: Inbound<'_>, verified: bool) -> Option<Handshake> {
        self.schemes
            .iter()
            .find(|scheme| scheme.detect(request))?
            .handshake(request, verified)
    }
}

/// The answer to a provider's handshake: its status (`200 OK`, unless the handshake could not
/// be completed), content type and body. See [`Verify::handshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

impl Handshake {
    /// An answer in plain text (`text/plain; charset=utf-8`), such as an echoed challenge.
    pub fn text(body: impl Into<String>) -> Self {
        Handshake {
            status: StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    /// An answer in JSON (`application/json`).
    pub fn json(body: impl Into<String>) -> Self {
        Handshake {
            status: StatusCode::OK,
            content_type: "application/json",
            body: body.into(),
        }
    }

    /// A handshake that could not be completed right now (`503 Service Unavailable`, in plain
    /// text), such as a subscription whose confirmation request failed: the provider sends it
    /// again. `body` reaches the provider: it must reveal nothing.
    pub fn unavailable(body: impl Into<String>) -> Self {
        Handshake {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..Handshake::text(body)
        }
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The content type of the answer.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The body of the answer.
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl fmt::Debug for MultiVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.schemes.iter().map(|scheme| scheme.name()))
            .finish()
    }
}

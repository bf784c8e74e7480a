//! Typed dispatch of events to handlers by type.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::event::{Event, EventError, RawEvent};

/// What a handler returns when it could not handle an event: the event is retried (by the
/// sender, or by the inbox's processor).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Why an event reached no handler. It is acknowledged all the same (a sender would otherwise
/// retry it for days) and reported to the router's fallback.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reason {
    /// No handler is registered for its type.
    NoHandler,
    /// Its data is not the handler's type.
    Undecodable(EventError),
}

/// An event that reached no handler, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct Unrouted {
    /// The event, its data undecoded.
    pub event: RawEvent,
    /// Why.
    pub reason: Reason,
}

/// What became of a routed event.
#[derive(Debug)]
#[non_exhaustive]
pub enum Routed {
    /// A handler took it and succeeded.
    Handled,
    /// No handler took it; the fallback was told.
    Unrouted(Box<Unrouted>),
}

type Call = Arc<dyn Fn(RawEvent) -> BoxFuture<'static, Result<Routed, HandlerError>> + Send + Sync>;
type Fallback = Arc<dyn Fn(&Unrouted) -> BoxFuture<'static, ()> + Send + Sync>;

/// Dispatches events by type to typed async handlers.
///
/// A handler is registered for an exact type (`transfer.settled`) or for every type under a
/// prefix (`transfer.*`; the longest prefix wins, an exact type before any prefix). Its data is
/// decoded into the handler's type. An event whose type has no handler, or whose data does not
/// decode, is acknowledged and reported to the [`fallback`](Router::fallback): a verified
/// delivery is never answered with an error its sender would retry forever.
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// use hookwire::consume::{Envelope, Routed, Router};
/// use hookwire::event::Event;
///
/// #[derive(serde::Deserialize)]
/// struct Settled { amount: String }
///
/// let router = Router::new()
///     .on("transfer.settled", |event: Event<Settled>| async move {
///         println!("{} settled {}", event.id(), event.json().map_or("", |d| d.amount.as_str()));
///         Ok::<(), std::io::Error>(())
///     })
///     .fallback(|unrouted| {
///         println!("acknowledged without a handler: {:?}", unrouted.reason);
///         async {}
///     });
///
/// let body = br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"amount":"12.50"}}"#;
/// let mut headers = hookwire::http::HeaderMap::new();
/// headers.insert("webhook-id", "msg_1".parse().unwrap());
/// let event = Envelope::StandardWebhooks.read("https://bank.example", &headers, body)?;
/// assert!(matches!(router.route(event).await?, Routed::Handled));
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap().unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Router {
    exact: HashMap<String, Call>,
    /// Prefix routes, longest first.
    prefixes: Vec<(String, Call)>,
    fallback: Option<Fallback>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<&str> = self.exact.keys().map(String::as_str).collect();
        types.sort_unstable();
        f.debug_struct("Router")
            .field("types", &types)
            .field(
                "prefixes",
                &self.prefixes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Router {
    /// A router with no handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles events of type `ty` (or, ending in `.*`, every type under that prefix) with
    /// `handler`, their data decoded as `T`. A later registration for the same type replaces
    /// an earlier one.
    #[must_use]
    pub fn on<T, F, Fut, E>(self, ty: &str, handler: F) -> Self
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Event<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError>,
    {
        let handler = Arc::new(handler);
        let call: Call = Arc::new(move |event: RawEvent| {
            let handler = handler.clone();
            Box::pin(async move {
                let undecoded = event.clone();
                match event.decode::<T>() {
                    Ok(event) => handler(event)
                        .await
                        .map(|()| Routed::Handled)
                        .map_err(Into::into),
                    Err(error) => Ok(Routed::Unrouted(Box::new(Unrouted {
                        event: undecoded,
                        reason: Reason::Undecodable(error),
                    }))),
                }
            })
        });
        self.register(ty, call)
    }

    /// Registers `call` for `ty`, exact or a `prefix.*`.
    fn register(mut self, ty: &str, call: Call) -> Self {
        match ty.strip_suffix('*') {
            Some(prefix) => {
                self.prefixes.retain(|(p, _)| p != prefix);
                self.prefixes.push((prefix.to_owned(), call));
                self.prefixes
                    .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            }
            None => {
                self.exact.insert(ty.to_owned(), call);
            }
        }
        self
    }

    /// Handles thin events of type `ty` (or a `prefix.*`): events that carry only an id, a type
    /// and a reference, as Stripe's thin events do. Before `handler` runs, the full resource is
    /// fetched with `client`: `request` gives the typed [`Endpoint`](crate::api::Endpoint) for
    /// an event, and the client's retries apply. A failed fetch fails the event, so that it is
    /// tried again (by the sender, or the inbox's processor).
    ///
    /// ```
    /// # fn build(client: std::sync::Arc<hookwire::api::Client<impl hookwire::transport::HttpClient + 'static>>) -> hookwire::consume::Router {
    /// use hookwire::api::{Endpoint, segment};
    /// use hookwire::consume::Router;
    ///
    /// struct GetMeter(String);
    /// impl Endpoint for GetMeter {
    ///     type Response = serde_json::Value;
    ///     fn path(&self) -> String { format!("billing/meters/{}", segment(&self.0)) }
    /// }
    ///
    /// Router::new().on_fetched(
    ///     "v1.billing.meter.error_report_triggered",
    ///     client,
    ///     |event| GetMeter(event.subject().unwrap_or_default().to_owned()),
    ///     |event, meter| async move {
    ///         println!("{}: meter {meter}", event.id());
    ///         Ok::<(), std::io::Error>(())
    ///     },
    /// )
    /// # }
    /// ```
    #[must_use]
    pub fn on_fetched<T, E, R, F, Fut, Er>(
        self,
        ty: &str,
        client: Arc<crate::api::Client<T>>,
        request: R,
        handler: F,
    ) -> Self
    where
        T: crate::transport::HttpClient + 'static,
        E: crate::api::Endpoint + 'static,
        E::Response: 'static,
        R: Fn(&RawEvent) -> E + Send + Sync + 'static,
        F: Fn(RawEvent, E::Response) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Er>> + Send + 'static,
        Er: Into<HandlerError>,
    {
        let (request, handler) = (Arc::new(request), Arc::new(handler));
        let call: Call = Arc::new(move |event: RawEvent| {
            let (client, request, handler) = (client.clone(), request.clone(), handler.clone());
            Box::pin(async move {
                let endpoint = request(&event);
                let resource = client.send(&endpoint).await?;
                handler(event, resource)
                    .await
                    .map(|()| Routed::Handled)
                    .map_err(Into::into)
            })
        });
        self.register(ty, call)
    }

    /// Tells `fallback` of every event that reached no handler (and was acknowledged all the
    /// same).
    #[must_use]
    pub fn fallback<F, Fut>(mut self, fallback: F) -> Self
    where
        F: Fn(&Unrouted) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.fallback = Some(Arc::new(move |unrouted| Box::pin(fallback(unrouted))));
        self
    }

    /// Whether a handler is registered for events of type `ty`.
    pub fn handles(&self, ty: &str) -> bool {
        self.find(ty).is_some()
    }

    fn find(&self, ty: &str) -> Option<&Call> {
        self.exact.get(ty).or_else(|| {
            self.prefixes
                .iter()
                .find(|(prefix, _)| ty.starts_with(prefix.as_str()))
                .map(|(_, call)| call)
        })
    }

    /// Runs the handler for `event`'s type.
    ///
    /// # Errors
    ///
    /// What the handler returned: the event was not handled, and should be tried again.
    pub async fn route(&self, event: RawEvent) -> Result<Routed, HandlerError> {
        let routed = match self.find(event.ty()) {
            Some(call) => call(event).await?,
            None => Routed::Unrouted(Box::new(Unrouted {
                event,
                reason: Reason::NoHandler,
            })),
        };
        if let (Routed::Unrouted(unrouted), Some(fallback)) = (&routed, &self.fallback) {
            fallback(unrouted).await;
        }
        Ok(routed)
    }
}

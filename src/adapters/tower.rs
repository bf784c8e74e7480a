//! Any `tower::Service` over `http` types as an [`HttpClient`].

use std::future::poll_fn;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use crate::transport::{HttpClient, TransportError, TransportErrorKind};

/// An [`HttpClient`] over a `tower::Service<Request<Bytes>, Response = Response<Bytes>>`, such
/// as a client stack with tower middleware. Each request uses a clone of the service, as tower
/// services are meant to be used concurrently.
///
/// ```
/// use hookwire::adapters::tower::ServiceClient;
/// use hookwire::bytes::Bytes;
/// use hookwire::http::{Request, Response};
///
/// // Any Service; here one built from a function.
/// #[derive(Clone)]
/// struct Echo;
/// impl tower_service::Service<Request<Bytes>> for Echo {
///     type Response = Response<Bytes>;
///     type Error = std::convert::Infallible;
///     type Future = std::future::Ready<Result<Response<Bytes>, Self::Error>>;
///     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
///         std::task::Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, request: Request<Bytes>) -> Self::Future {
///         std::future::ready(Ok(Response::new(request.into_body())))
///     }
/// }
/// let transport = ServiceClient::new(Echo);
/// ```
#[derive(Debug, Clone)]
pub struct ServiceClient<S> {
    service: S,
}

impl<S> ServiceClient<S> {
    /// A transport over `service`.
    pub fn new(service: S) -> Self {
        ServiceClient { service }
    }
}

#[async_trait]
impl<S> HttpClient for ServiceClient<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let mut service = self.service.clone();
        let failed = |error: S::Error| {
            let error: Box<dyn std::error::Error + Send + Sync> = error.into();
            let kind = match error.downcast_ref::<TransportError>() {
                Some(inner) => inner.kind(),
                None => TransportErrorKind::Other,
            };
            TransportError::new(kind, "the service failed").with_source(error)
        };
        poll_fn(|cx| service.poll_ready(cx)).await.map_err(failed)?;
        service.call(request).await.map_err(failed)
    }
}

//! The guarded connector: hyper-util's HTTP connector, dialling only what an address policy
//! permits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::HttpConnector;

use crate::adapters::guard::Guard;

/// A resolver for hyper-util's connector that keeps only the addresses an [`AddressPolicy`]
/// permits.
#[derive(Debug, Clone)]
pub(super) struct GuardedResolver {
    guard: Guard,
}

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move {
            // The port is set by the connector afterwards.
            let addresses = guard.resolve(name.as_str(), 0).await?;
            Ok(addresses.into_iter())
        })
    }
}

/// An HTTP connector that refuses URIs the policy refuses (a refused IP address as host, or
/// `http` under an https-only policy) and resolves host names through a [`GuardedResolver`].
#[derive(Debug, Clone)]
pub(super) struct GuardedConnector {
    inner: HttpConnector<GuardedResolver>,
    guard: Guard,
}

impl GuardedConnector {
    /// A connector that dials only what `guard` permits, resolving names with its resolver.
    pub(super) fn new(guard: Guard) -> Self {
        let mut inner = HttpConnector::new_with_resolver(GuardedResolver {
            guard: guard.clone(),
        });
        inner.set_nodelay(true);
        GuardedConnector { inner, guard }
    }

    /// The same connector, under a TLS connector that passes it `https` URIs.
    #[cfg(feature = "rustls")]
    pub(super) fn under_tls(mut self) -> Self {
        self.inner.enforce_http(false);
        self
    }
}

impl tower_service::Service<http::Uri> for GuardedConnector {
    type Response = <HttpConnector<GuardedResolver> as tower_service::Service<http::Uri>>::Response;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        if let Err(refused) = self.guard.check(&uri) {
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        let connecting = self.inner.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

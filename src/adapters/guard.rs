//! Resolving host names for a sender so that only permitted addresses are dialled: one lookup,
//! filtered, and the connection made to a vetted address (no second lookup for a rebinding
//! DNS server to answer differently).

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::transport::{AddressError, AddressPolicy};

/// Looks up a host name's addresses for a guarded client: the seam where another resolver
/// (hickory-resolver, a test's fixed answers) plugs in.
///
/// Whatever it answers, the guarded client keeps only the addresses its
/// [`AddressPolicy`] permits and connects to one of those; it never looks the name up again
/// for the same connection.
///
/// ```
/// use std::net::IpAddr;
/// use hookwire::adapters::Resolve;
///
/// /// Every name resolves to 192.0.2.10 (a stand-in for tests).
/// struct Fixed;
///
/// #[hookwire::async_trait]
/// impl Resolve for Fixed {
///     async fn resolve(&self, _host: &str) -> std::io::Result<Vec<IpAddr>> {
///         Ok(vec!["192.0.2.10".parse().unwrap()])
///     }
/// }
/// ```
#[async_trait]
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`.
    ///
    /// # Errors
    ///
    /// An I/O error when the name cannot be resolved.
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio's blocking pool), so that
/// `/etc/hosts`, `nsswitch.conf` and the platform's DNS settings apply as for every other
/// program on the machine; each lookup is bounded by a timeout (5 seconds unless set).
///
/// A lookup that times out leaves its blocking thread to finish on its own; under a flood of
/// slow names, plug in an asynchronous resolver such as hickory-resolver through [`Resolve`].
#[derive(Debug, Clone, Copy)]
pub struct SystemResolver {
    timeout: Duration,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver {
            timeout: Duration::from_secs(5),
        }
    }
}

impl SystemResolver {
    /// The system resolver with a 5-second timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long one lookup may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let lookup = tokio::net::lookup_host((host, 0));
        match tokio::time::timeout(self.timeout, lookup).await {
            Ok(addresses) => Ok(addresses?.map(|address| address.ip()).collect()),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("looking up {host} took longer than {:?}", self.timeout),
            )),
        }
    }
}

/// A policy and a resolver: what a guarded client consults before it dials.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) policy: Arc<AddressPolicy>,
    resolver: Arc<dyn Resolve>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Guard {
    pub(crate) fn new(policy: AddressPolicy, resolver: Arc<dyn Resolve>) -> Self {
        Guard {
            policy: Arc::new(policy),
            resolver,
        }
    }

    /// Resolves `host` once and keeps the permitted addresses, at `port`.
    ///
    /// # Errors
    ///
    /// The lookup's error, or [`AddressError::RefusedHost`] when no address is permitted.
    pub(crate) async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let addresses: Vec<SocketAddr> = self
            .resolver
            .resolve(host)
            .await?
            .into_iter()
            .filter(|ip| self.policy.permits(*ip))
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        if addresses.is_empty() {
            return Err(Box::new(AddressError::RefusedHost(host.to_owned())));
        }
        Ok(addresses)
    }

    /// Checks a URI before any connection: its scheme (https where required) and its host
    /// when that is an IP address in any form the WHATWG URL rules read as one (resolvers
    /// never see those).
    pub(crate) fn check(&self, uri: &http::Uri) -> Result<(), AddressError> {
        self.policy.check_uri(uri)
    }
}

//! Resolving host names for a sender so that only permitted addresses are dialled: one lookup,
//! filtered, and the connection made to a vetted address (no second lookup for a rebinding
//! DNS server to answer differently).

use std::net::SocketAddr;

use crate::deliver::{AddressError, AddressPolicy};

/// Resolves `host` once and keeps the permitted addresses.
///
/// # Errors
///
/// The lookup's error, or [`AddressError::RefusedHost`] when no address is permitted.
pub(crate) async fn resolve(
    policy: &AddressPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await?
        .filter(|address| policy.permits(address.ip()))
        .collect();
    if addresses.is_empty() {
        return Err(Box::new(AddressError::RefusedHost(host.to_owned())));
    }
    Ok(addresses)
}

/// Checks a URL's host when it is an IP address (resolvers never see those).
pub(crate) fn check_literal(policy: &AddressPolicy, uri: &http::Uri) -> Result<(), AddressError> {
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) if !policy.permits(ip) => Err(AddressError::Refused(ip)),
        _ => Ok(()),
    }
}

//! Which addresses a sender may deliver to: the SSRF guard.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::Url;

/// IPv4 ranges that are not publicly routable and that the standard library has no predicate
/// for (RFC 6890 and the IANA special-purpose registry).
static V4_SPECIAL: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",     // "this network"
        "100.64.0.0/10", // shared address space (carrier-grade NAT)
        "192.0.0.0/24",  // IETF protocol assignments
        "198.18.0.0/15", // benchmarking
        "240.0.0.0/4",   // reserved
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// IPv6 ranges that are not publicly routable, beyond the standard library's predicates.
static V6_SPECIAL: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        "100::/64",      // discard-only
        "2001:db8::/32", // documentation
        "2001::/23",     // IETF protocol assignments (Teredo and others)
        "fec0::/10",     // deprecated site-local
        "3fff::/20",     // documentation (RFC 9637)
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// Which addresses deliveries may go to.
///
/// By default only publicly routable addresses: loopback, private, link-local (where cloud
/// metadata services live, `169.254.169.254`), shared (CGNAT), unique-local (`fd00:ec2::254`),
/// multicast, unspecified, documentation, benchmarking and reserved ranges are refused, as are
/// the same addresses written as IPv4-mapped, IPv4-compatible, 6to4 or NAT64 IPv6 addresses.
///
/// The check belongs where the address is dialled: the adapters' guarded clients
/// (`HyperClient::guarded`, `ReqwestClient::guarded`) resolve a host once, drop refused
/// addresses and connect only to a vetted one, so that DNS rebinding gains nothing.
///
/// ```
/// use hookwire::deliver::AddressPolicy;
///
/// let policy = AddressPolicy::default();
/// assert!(policy.permits("93.184.215.14".parse()?));
/// assert!(!policy.permits("169.254.169.254".parse()?));
/// assert!(!policy.permits("::ffff:127.0.0.1".parse()?));
/// // Tests and internal targets: allow-list a range.
/// let local = AddressPolicy::default().allow("127.0.0.0/8".parse()?);
/// assert!(local.permits("127.0.0.1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
    https_only: bool,
}

impl AddressPolicy {
    /// Publicly routable addresses only, over HTTP or HTTPS.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also permits the addresses in `net`, such as `127.0.0.0/8` for tests or an internal
    /// range you deliver to on purpose.
    #[must_use]
    pub fn allow(mut self, net: IpNet) -> Self {
        self.allow.push(net);
        self
    }

    /// Refuses URLs that are not `https`.
    #[must_use]
    pub fn https_only(mut self, https_only: bool) -> Self {
        self.https_only = https_only;
        self
    }

    /// Whether deliveries may go to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Checks a target URL before anything is dialled: its scheme, and its host when that is
    /// an IP address (host names are checked when they resolve).
    ///
    /// # Errors
    ///
    /// An [`AddressError`] saying what is refused.
    pub fn check_url(&self, url: &Url) -> Result<(), AddressError> {
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            "http" => return Err(AddressError::NotHttps),
            _ => return Err(AddressError::Scheme),
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(AddressError::Scheme),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(AddressError::Refused(ip))
        }
    }
}

/// A delivery target that the [`AddressPolicy`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not an `http` or `https` URL with a host.
    #[error("webhook URLs must be http or https URLs with a host")]
    Scheme,
    /// An `http` URL where only `https` is allowed.
    #[error("webhook URLs must use https")]
    NotHttps,
    /// An address that is not publicly routable (and not allow-listed).
    #[error(
        "the address {0} is not publicly routable (loopback, private, link-local, metadata or reserved); allow-list its range to deliver there on purpose"
    )]
    Refused(IpAddr),
    /// A host name none of whose addresses is permitted.
    #[error("the host {0} resolves only to addresses that are not publicly routable")]
    RefusedHost(String),
}

/// Whether `ip` is publicly routable.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || V4_SPECIAL.iter().any(|net| net.contains(&ip)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // IPv6 forms that carry an IPv4 address are judged by that address.
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || V6_SPECIAL.iter().any(|net| net.contains(&ip)))
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`,
/// which makes `::` and `::1` judged as `0.0.0.0` and `0.0.0.1`),
/// NAT64 (`64:ff9b::a.b.c.d`, `64:ff9b:1::/48`) or 6to4 (`2002:aabb:ccdd::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x64, 0xff9b, 1, ..] => Some(last),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

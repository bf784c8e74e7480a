//! Which addresses a sender may connect to: the SSRF guard's policy, pure and sans-IO.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::Url;

/// IPv4 ranges that are not publicly routable and that the standard library has no predicate
/// for (RFC 6890 and the IANA special-purpose registry).
static V4_SPECIAL: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",      // "this network"
        "100.64.0.0/10",  // shared address space (carrier-grade NAT)
        "192.0.0.0/24",   // IETF protocol assignments
        "192.88.99.0/24", // deprecated 6to4 relay anycast (RFC 7526)
        "198.18.0.0/15",  // benchmarking
        "240.0.0.0/4",    // reserved
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// IPv6 ranges that are not publicly routable, beyond the standard library's predicates.
static V6_SPECIAL: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        "100::/64",       // discard-only
        "2001:db8::/32",  // documentation
        "2001::/23",      // IETF protocol assignments (Teredo and others)
        "fec0::/10",      // deprecated site-local
        "3fff::/20",      // documentation (RFC 9637)
        "5f00::/16",      // SRv6 segment identifiers (RFC 9602)
        "64:ff9b:1::/48", // local-use NAT64 (RFC 8215): translated inside a private network
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// Addresses that look public but reach a cloud provider's host services.
static CLOUD_DENY: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "168.63.129.16/32", // Azure's WireServer and DNS
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// Which addresses a sender may connect to: the guard against server-side request forgery
/// (SSRF) when delivering to URLs that customers chose.
///
/// By default only publicly routable addresses: loopback, private, link-local (where cloud
/// metadata services live, `169.254.169.254`), shared (CGNAT), unique-local (`fd00:ec2::254`),
/// multicast, unspecified, documentation, benchmarking, reserved, SRv6 and local-use NAT64
/// ranges are refused, as are the same addresses written as IPv4-mapped, IPv4-translated
/// (SIIT), IPv4-compatible, 6to4 or NAT64 IPv6 addresses; so is Azure's WireServer
/// (`168.63.129.16`), which looks public.
///
/// Ranges are judged in this order: the deny-list ([`deny`](AddressPolicy::deny)), then the
/// allow-list ([`allow`](AddressPolicy::allow)), then the public-address rule. An allow-list
/// entry that would open every address is refused; [`allow_any_address`] says so on purpose.
///
/// The check belongs where the address is dialled: the adapters' guarded clients
/// (`HyperClient::guarded`, `ReqwestClient::guarded`) resolve a host once, drop refused
/// addresses and connect only to a vetted one, so that DNS rebinding gains nothing, and they
/// read a URL's host exactly as the client that dials reads it (`http://0x7f.1/` is
/// `127.0.0.1`).
///
/// [`allow_any_address`]: AddressPolicy::allow_any_address
///
/// ```
/// use hookwire::transport::AddressPolicy;
///
/// let policy = AddressPolicy::default();
/// assert!(policy.permits("93.184.215.14".parse()?));
/// assert!(!policy.permits("169.254.169.254".parse()?));
/// assert!(!policy.permits("::ffff:127.0.0.1".parse()?));
/// // Tests and internal targets: allow-list a range.
/// let local = AddressPolicy::default().allow("127.0.0.0/8")?;
/// assert!(local.permits("127.0.0.1".parse()?));
/// // The sender's own public addresses: deny-list them.
/// let own = AddressPolicy::default().deny("203.0.113.7/32")?.deny("93.184.215.0/24")?;
/// assert!(!own.permits("93.184.215.14".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    any: bool,
    https_only: bool,
}

impl Default for AddressPolicy {
    fn default() -> Self {
        AddressPolicy {
            allow: Vec::new(),
            deny: CLOUD_DENY.clone(),
            any: false,
            https_only: false,
        }
    }
}

impl AddressPolicy {
    /// Publicly routable addresses only, over HTTP or HTTPS.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also permits the addresses in `range` (CIDR notation, such as `127.0.0.0/8` for tests
    /// or an internal range you deliver to on purpose). The deny-list still applies.
    ///
    /// # Errors
    ///
    /// [`RangeError::Invalid`] for text that is not a CIDR range, and
    /// [`RangeError::Everything`] for a range that holds every address (`0.0.0.0/0`, `::/0`):
    /// call [`allow_any_address`](AddressPolicy::allow_any_address) to mean that.
    pub fn allow(mut self, range: &str) -> Result<Self, RangeError> {
        let net = parse_range(range)?;
        if net.prefix_len() == 0 {
            return Err(RangeError::Everything(range.to_owned()));
        }
        self.allow.push(net);
        Ok(self)
    }

    /// Permits every address that is not deny-listed, loopback and private ones included: for
    /// local development against services on this machine, never for customers' URLs.
    #[must_use]
    pub fn allow_any_address(mut self) -> Self {
        self.any = true;
        self
    }

    /// Refuses the addresses in `range` even where the allow-list would permit them: the
    /// sender's own public addresses, or a provider's host services that look public.
    ///
    /// # Errors
    ///
    /// [`RangeError::Invalid`] for text that is not a CIDR range.
    pub fn deny(mut self, range: &str) -> Result<Self, RangeError> {
        self.deny.push(parse_range(range)?);
        Ok(self)
    }

    /// Refuses plain `http` URLs, wherever the connection is made: only `https` passes.
    #[must_use]
    pub fn https_only(mut self) -> Self {
        self.https_only = true;
        self
    }

    /// Whether `ip` may be connected to.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let listed = |nets: &[IpNet]| {
            nets.iter()
                .any(|net| net.contains(&ip) || embedded.is_some_and(|v4| net.contains(&v4)))
        };
        if listed(&self.deny) {
            return false;
        }
        self.any || listed(&self.allow) || is_public(ip)
    }

    /// Checks a target URL before anything is dialled: its scheme (and `https` where required),
    /// and its host when that is an IP address (host names are checked when they resolve).
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

    /// As [`check_url`](AddressPolicy::check_url), for an `http::Uri`. The host is read by the
    /// WHATWG URL rules that browsers and reqwest follow, so that `http://2130706433/`,
    /// `http://0x7f.1/`, `http://127.1/` and `http://127.0.0.1./` are all judged as
    /// `127.0.0.1`, as a client would dial them.
    ///
    /// # Errors
    ///
    /// An [`AddressError`] saying what is refused.
    pub fn check_uri(&self, uri: &http::Uri) -> Result<(), AddressError> {
        let url = Url::parse(&uri.to_string()).map_err(|_| AddressError::Scheme)?;
        self.check_url(&url)
    }
}

fn parse_range(range: &str) -> Result<IpNet, RangeError> {
    range
        .parse::<IpNet>()
        .or_else(|_| range.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| RangeError::Invalid(range.to_owned()))
}

/// A range given to [`AddressPolicy::allow`] or [`AddressPolicy::deny`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// Not an address or a CIDR range.
    #[error("`{0}` is not an IP address or a CIDR range such as `10.0.0.0/8`")]
    Invalid(String),
    /// A range holding every address.
    #[error(
        "`{0}` allows every address, private ones included; call `allow_any_address()` if that is meant"
    )]
    Everything(String),
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
    /// An address that is not publicly routable (and not allow-listed), or is deny-listed.
    #[error(
        "the address {0} is refused by the address policy (loopback, private, link-local, metadata, reserved or deny-listed); allow-list its range to deliver there on purpose"
    )]
    Refused(IpAddr),
    /// A host name none of whose addresses is permitted.
    #[error("the host {0} resolves only to addresses that the address policy refuses")]
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
    if V6_SPECIAL.iter().any(|net| net.contains(&ip)) {
        return false;
    }
    // IPv6 forms that carry an IPv4 address are judged by that address.
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local())
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
/// (`::ffff:0:a.b.c.d`, SIIT), IPv4-compatible (`::a.b.c.d`, which makes `::` and `::1` judged as
/// `0.0.0.0` and `0.0.0.1`), NAT64 (`64:ff9b::a.b.c.d`; in the local-use `64:ff9b:1::/48`
/// the address sits in bits 48 to 87, RFC 6052) or 6to4 (`2002:aabb:ccdd::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let [hi, lo] = [s[6].to_be_bytes(), s[7].to_be_bytes()];
    let last = Ipv4Addr::new(hi[0], hi[1], lo[0], lo[1]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x64, 0xff9b, 1, ab, u_c, d_x, _, _] => {
            let [a, b] = ab.to_be_bytes();
            let [_, c] = u_c.to_be_bytes();
            let [d, _] = d_x.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        [0x2002, ab, cd, ..] => {
            let [a, b] = ab.to_be_bytes();
            let [c, d] = cd.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        _ => None,
    }
}

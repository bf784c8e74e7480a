//! The SSRF guard's URL check: no panic on any text, and an address the URL parser reads out of
//! the host is judged exactly as that address.
#![no_main]

use hookwire::http::Uri;
use hookwire::transport::{AddressError, AddressPolicy};
use hookwire::url::{Host, Url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = AddressPolicy::new();
    if let Ok(uri) = text.parse::<Uri>() {
        let judged = policy.check_uri(&uri);
        if let Ok(url) = Url::parse(&uri.to_string()) {
            let ip = match url.host() {
                Some(Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            };
            if let (Some(ip), "http" | "https") = (ip, url.scheme()) {
                assert_eq!(judged.is_ok(), policy.permits(ip), "{text}");
                if judged.is_err() {
                    assert_eq!(judged, Err(AddressError::Refused(ip)));
                }
            }
        }
    }
    if let Ok(url) = Url::parse(text) {
        let _ = policy.check_url(&url);
    }
});

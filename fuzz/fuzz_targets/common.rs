//! Splitting fuzz input into header values and a body, so that every target reads outside
//! input the way a server receives it.

use hookwire::http::{HeaderMap, HeaderName, HeaderValue};

/// Splits `data` at the first `\n\n`: lines before it are `name: value` headers (bad ones are
/// skipped, as a server would never hand them on), the rest is the body.
pub fn request(data: &[u8]) -> (HeaderMap, &[u8]) {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    (headers, body)
}

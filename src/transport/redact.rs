//! Keeping credentials out of what is printed.

use url::Url;

/// `url` as text fit for logs and errors: the user name and password are replaced by
/// `[REDACTED]`, and so is every query value (query names stay, so that the URL is still
/// recognisable; an item without `=` is redacted whole). The fragment is left out.
///
/// ```
/// let url = hookwire::url::Url::parse("https://user:pw@hooks.example/in?token=s3cret&v=2")?;
/// assert_eq!(
///     hookwire::transport::redact_url(&url),
///     "https://[REDACTED]@hooks.example/in?token=[REDACTED]&v=[REDACTED]"
/// );
/// # Ok::<(), hookwire::url::ParseError>(())
/// ```
pub fn redact_url(url: &Url) -> String {
    let mut out = String::with_capacity(url.as_str().len());
    out.push_str(url.scheme());
    out.push_str("://");
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str("[REDACTED]@");
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path());
    if let Some(query) = url.query() {
        out.push('?');
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) => {
                    out.push_str(name);
                    out.push_str("=[REDACTED]");
                }
                None => out.push_str("[REDACTED]"),
            }
        }
    }
    out
}

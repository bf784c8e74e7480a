//! Pagination: endpoints that return their results a page at a time.

use http::HeaderMap;
use http::header::LINK;

use super::Endpoint;

/// An endpoint whose results come a page at a time; [`Client::paged`](super::Client::paged)
/// turns it into a stream of items.
///
/// `next` says where the following page is, from the page just read, in whichever way the API
/// says it: a cursor in the body, a `Link: <…>; rel="next"` header ([`next_link`]), or a page
/// number.
///
/// ```
/// use hookwire::api::{Endpoint, Paginated};
/// use hookwire::http::HeaderMap;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Page { accounts: Vec<String>, next_cursor: Option<String> }
///
/// #[derive(Clone, Serialize)]
/// struct ListAccounts { #[serde(skip_serializing_if = "Option::is_none")] cursor: Option<String> }
///
/// impl Endpoint for ListAccounts {
///     type Response = Page;
///     fn path(&self) -> String { "accounts".into() }
///     fn query(&self) -> impl Serialize { self }
/// }
///
/// impl Paginated for ListAccounts {
///     type Item = String;
///     fn items(page: Page) -> Vec<String> { page.accounts }
///     fn next(&self, page: &Page, _: &HeaderMap) -> Option<Self> {
///         page.next_cursor.clone().map(|cursor| ListAccounts { cursor: Some(cursor) })
///     }
/// }
/// ```
pub trait Paginated: Endpoint + Sized {
    /// One result.
    type Item;

    /// The items of a page.
    fn items(page: Self::Response) -> Vec<Self::Item>;

    /// The request for the following page, or `None` after the last.
    fn next(&self, page: &Self::Response, headers: &HeaderMap) -> Option<Self>;
}

/// The target of the `rel="next"` link in the `Link` headers (RFC 8288), if any. In the
/// headers [`Client::paged`](super::Client::paged) hands to [`Paginated::next`], relative
/// targets are already resolved against the URL of the request (RFC 8288), so the target is
/// absolute.
///
/// ```
/// use hookwire::api::next_link;
/// use hookwire::http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("link", r#"<https://api.example/items?page=3>; rel="next", <https://api.example/items?page=9>; rel="last""#.parse()?);
/// assert_eq!(next_link(&headers).as_deref(), Some("https://api.example/items?page=3"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(links)
        .find(|(_, rels)| {
            rels.split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
        })
        .map(|(target, _)| target.to_owned())
}

/// Rewrites every `Link` header so that its targets are absolute, resolved against `context`
/// (the URL of the request whose response carries them), as RFC 8288 says relative targets
/// are read. A value that no longer forms a header is left as it was.
pub(crate) fn resolve_links(headers: &mut HeaderMap, context: &url::Url) {
    let values: Vec<String> = headers
        .get_all(LINK)
        .iter()
        .map(|value| {
            let Ok(text) = value.to_str() else {
                return String::from_utf8_lossy(value.as_bytes()).into_owned();
            };
            let mut out = String::with_capacity(text.len() + 32);
            let mut rest = text;
            while let Some(start) = rest.find('<') {
                let Some(end) = rest[start..].find('>').map(|end| start + end) else {
                    break;
                };
                out.push_str(&rest[..=start]);
                let target = &rest[start + 1..end];
                match context.join(target) {
                    Ok(resolved) => out.push_str(resolved.as_str()),
                    Err(_) => out.push_str(target),
                }
                out.push('>');
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        })
        .collect();
    let originals: Vec<http::HeaderValue> = headers.get_all(LINK).iter().cloned().collect();
    headers.remove(LINK);
    for (value, original) in values.into_iter().zip(originals) {
        let value = http::HeaderValue::from_str(&value).unwrap_or(original);
        headers.append(LINK, value);
    }
}

/// The `(target, rel)` pairs of one `Link` header value: `<target>; param=value; …` links
/// separated by commas. A comma inside `<…>` or a quoted string does not separate links.
fn links(value: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = value;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find('<')?;
            let after = rest.get(start + 1..)?;
            let end = after.find('>')?;
            let target = after.get(..end)?;
            let mut params = after.get(end + 1..)?;
            // The parameters run to the next comma outside quotes.
            let mut in_quotes = false;
            let mut split = params.len();
            for (index, c) in params.char_indices() {
                match c {
                    '"' => in_quotes = !in_quotes,
                    ',' if !in_quotes => {
                        split = index;
                        break;
                    }
                    _ => {}
                }
            }
            rest = params.get(split..).unwrap_or_default();
            params = params.get(..split).unwrap_or_default();
            let rel = params.split(';').find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("rel")
                    .then(|| value.trim().trim_matches('"'))
            });
            if let Some(rel) = rel {
                return Some((target, rel));
            }
        }
    })
}

//! Endpoints: one call of an API, described as a type.

use std::fmt;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, BuildError, DecodeError};

/// One call of an API: method, path, query, headers and body, and the type of its response.
///
/// Endpoints are plain structs, written by hand in a few lines:
///
/// ```
/// use hookwire::api::{Body, Endpoint, segment};
/// use hookwire::http::Method;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Account { id: String, balance: String }
///
/// /// `GET /accounts/{id}`
/// struct GetAccount { id: String }
///
/// impl Endpoint for GetAccount {
///     type Response = Account;
///     fn path(&self) -> String {
///         format!("accounts/{}", segment(&self.id))
///     }
/// }
///
/// #[derive(Serialize)]
/// struct CreateTransfer { from: String, to: String, amount: String }
///
/// impl Endpoint for CreateTransfer {
///     type Response = serde_json::Value;
///     fn method(&self) -> Method { Method::POST }
///     fn path(&self) -> String { "transfers".into() }
///     fn body(&self) -> Result<Body, hookwire::api::ApiError> { Body::json(self) }
/// }
/// ```
pub trait Endpoint: Send + Sync {
    /// What a successful response decodes into: any serde type for JSON (the usual case; an
    /// empty body reads as `null`, so `()` and `Option<T>` suit endpoints that return nothing),
    /// or [`RawBytes`] for the body as it is.
    type Response: FromResponse;

    /// The method; `GET` unless overridden.
    fn method(&self) -> Method {
        Method::GET
    }

    /// The path, relative to the client's base URL (a leading `/` is ignored; a colon is fine,
    /// as in `things:batchGet`), or an absolute `http(s)` URL (as a `Link` header gives). Put
    /// parameters through [`segment`], which percent-encodes them.
    fn path(&self) -> String;

    /// Query parameters, serialised as `application/x-www-form-urlencoded`; none unless
    /// overridden. A struct whose `Option` fields are `None` (with
    /// `#[serde(skip_serializing_if = "Option::is_none")]`) adds nothing for them.
    fn query(&self) -> impl Serialize {}

    /// Headers for this call only; none unless overridden.
    fn headers(&self) -> HeaderMap {
        HeaderMap::new()
    }

    /// The body; none unless overridden.
    ///
    /// # Errors
    ///
    /// [`ApiError::Build`] when the body cannot be serialised.
    fn body(&self) -> Result<Body, ApiError> {
        Ok(Body::Empty)
    }
}

impl<E: Endpoint + ?Sized> Endpoint for &E {
    type Response = E::Response;
    fn method(&self) -> Method {
        (**self).method()
    }
    fn path(&self) -> String {
        (**self).path()
    }
    fn query(&self) -> impl Serialize {
        (**self).query()
    }
    fn headers(&self) -> HeaderMap {
        (**self).headers()
    }
    fn body(&self) -> Result<Body, ApiError> {
        (**self).body()
    }
}

/// What the path segment encoder escapes: everything but unreserved characters and the
/// sub-delimiters that are safe in a segment, so that a `/`, `?` or `#` in a parameter stays
/// inside its segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A path parameter, percent-encoded so that it stays one segment whatever it holds. A value
/// of `.` or `..` cannot stay one segment (URL parsers resolve it, encoded or not): the
/// [`Client`](super::Client) refuses any path with such a segment, so that
/// `accounts/{segment}/statements` never becomes `statements`.
///
/// ```
/// assert_eq!(hookwire::api::segment("a/b c?").to_string(), "a%2Fb%20c%3F");
/// ```
pub fn segment(value: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(value, SEGMENT)
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    Empty,
    /// Bytes with their content type.
    Bytes {
        /// The content type.
        content_type: HeaderValue,
        /// The bytes.
        bytes: Bytes,
    },
}

impl Body {
    /// `value` as JSON (`application/json`).
    ///
    /// # Errors
    ///
    /// [`ApiError::Build`] when `value` cannot be serialised.
    pub fn json(value: &impl Serialize) -> Result<Body, ApiError> {
        let bytes = serde_json::to_vec(value).map_err(|error| {
            ApiError::Build(BuildError::Body {
                format: "JSON",
                source: Box::new(error),
            })
        })?;
        Ok(Body::Bytes {
            content_type: HeaderValue::from_static("application/json"),
            bytes: Bytes::from(bytes),
        })
    }

    /// `value` as a form (`application/x-www-form-urlencoded`).
    ///
    /// # Errors
    ///
    /// [`ApiError::Build`] when `value` cannot be serialised as a form.
    pub fn form(value: &impl Serialize) -> Result<Body, ApiError> {
        let text = serde_urlencoded::to_string(value).map_err(|error| {
            ApiError::Build(BuildError::Body {
                format: "form",
                source: Box::new(error),
            })
        })?;
        Ok(Body::Bytes {
            content_type: HeaderValue::from_static("application/x-www-form-urlencoded"),
            bytes: Bytes::from(text),
        })
    }

    /// Raw bytes of `content_type`.
    pub fn raw(content_type: HeaderValue, bytes: impl Into<Bytes>) -> Body {
        Body::Bytes {
            content_type,
            bytes: bytes.into(),
        }
    }
}

/// How a successful (2xx) response becomes an endpoint's response type.
///
/// Implemented for every type that serde can deserialise (the body is JSON) and for
/// [`RawBytes`].
pub trait FromResponse: Sized + Send {
    /// Reads `response`, whose status is 2xx.
    ///
    /// # Errors
    ///
    /// [`ApiError::Decode`], keeping the raw body.
    fn from_response(response: Response<Bytes>) -> Result<Self, ApiError>;
}

impl<T: DeserializeOwned + Send> FromResponse for T {
    fn from_response(response: Response<Bytes>) -> Result<Self, ApiError> {
        let body = response.body();
        let wrong_type = response
            .headers()
            .get(CONTENT_TYPE)
            .filter(|value| !value.to_str().is_ok_and(crate::event::is_json))
            .map(|value| format!("expected a JSON body, got content-type {value:?}"));
        if let Some(reason) = wrong_type.filter(|_| !body.is_empty()) {
            return Err(decode_error(response, reason, None));
        }
        // An empty body reads as `null`: `()` and `Option<T>` then suit "no content".
        let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            body
        };
        match serde_json::from_slice(text) {
            Ok(value) => Ok(value),
            Err(error) => {
                let reason = if body.is_empty() {
                    "the body is empty, but the endpoint expects one".to_owned()
                } else {
                    format!("the body is not the expected JSON: {error}")
                };
                Err(decode_error(response, reason, Some(error)))
            }
        }
    }
}

/// A response body as it arrived, whatever its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBytes(pub Bytes);

impl FromResponse for RawBytes {
    fn from_response(response: Response<Bytes>) -> Result<Self, ApiError> {
        Ok(RawBytes(response.into_body()))
    }
}

pub(crate) fn decode_error(
    response: Response<Bytes>,
    reason: String,
    source: Option<serde_json::Error>,
) -> ApiError {
    let (parts, body) = response.into_parts();
    ApiError::Decode(Box::new(DecodeError {
        reason,
        source,
        status: parts.status,
        headers: parts.headers,
        body,
    }))
}

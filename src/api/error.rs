//! What can go wrong calling an API.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::transport::TransportError;

/// Why a call failed. Every variant that involves a response keeps its status, headers and raw
/// body, so that nothing the server said is lost.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request could not be built: an invalid base URL, path, query, header or body.
    #[error("the request could not be built")]
    Build(#[from] BuildError),
    /// Authentication failed before the request was sent.
    #[error("authentication failed")]
    Auth(#[source] super::AuthError),
    /// No complete response arrived.
    #[error("the request failed")]
    Transport(#[from] TransportError),
    /// The server answered with a status other than 2xx.
    #[error("{}", status_message(.0))]
    Status(Box<StatusError>),
    /// A 2xx response whose body is not what the endpoint expects.
    #[error("the response could not be decoded: {}", .0.reason)]
    Decode(Box<DecodeError>),
    /// A paginated stream reached its page limit before the last page.
    #[error("stopped after {limit} pages, the limit; raise it if the data really is that large")]
    PageLimit {
        /// The limit.
        limit: usize,
    },
}

/// Why a request could not be built. Each variant says what was wrong; the cause, where
/// another crate found it, is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL does not parse.
    #[error("the base URL `{url}` is invalid")]
    BaseUrl {
        /// The URL as given.
        url: String,
        /// What the URL parser found.
        #[source]
        source: url::ParseError,
    },
    /// The base URL parses but paths cannot be joined onto it (`mailto:`, `data:`).
    #[error("the base URL `{url}` cannot have paths joined onto it")]
    NotABase {
        /// The URL as given.
        url: String,
    },
    /// A URL (an absolute path, or one to trust with credentials) does not parse.
    #[error("the URL `{url}` is invalid")]
    Url {
        /// The URL as given.
        url: String,
        /// What the URL parser found.
        #[source]
        source: url::ParseError,
    },
    /// A path has a `.` or `..` segment (perhaps percent-encoded), which would climb out of
    /// the path it is part of.
    #[error(
        "the path `{path}` has a `.` or `..` segment (perhaps percent-encoded), which would climb out of the path it is part of; refuse such input before it reaches the path"
    )]
    DotSegment {
        /// The path as given.
        path: String,
    },
    /// The query could not be written as `application/x-www-form-urlencoded`.
    #[error("the query could not be serialised")]
    Query(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The body could not be serialised.
    #[error("the {format} body could not be serialised")]
    Body {
        /// `JSON` or `form`.
        format: &'static str,
        /// What the serialiser found.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The method, URI or a header cannot stand in an HTTP request.
    #[error("the request is invalid")]
    Request(#[source] http::Error),
    /// The request was sent already and no copy was kept.
    #[error("the request was already sent")]
    AlreadySent,
}

fn status_message(error: &StatusError) -> String {
    match &error.problem {
        Some(problem) => format!(
            "the server answered {}: {}",
            error.status,
            problem
                .detail
                .as_deref()
                .or(problem.title.as_deref())
                .unwrap_or("(no detail)")
        ),
        None => format!("the server answered {}", error.status),
    }
}

/// A response with a status other than 2xx.
#[derive(Debug)]
#[non_exhaustive]
pub struct StatusError {
    /// The status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// The body decoded, when it was an RFC 9457 `application/problem+json` document.
    pub problem: Option<Problem>,
}

/// A 2xx response whose body could not be decoded.
#[derive(Debug)]
#[non_exhaustive]
pub struct DecodeError {
    /// What was wrong.
    pub reason: String,
    /// The serde error, where there is one.
    pub source: Option<serde_json::Error>,
    /// The status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl ApiError {
    /// The response status, where a response arrived.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Status(error) => Some(error.status),
            ApiError::Decode(error) => Some(error.status),
            _ => None,
        }
    }

    /// The raw response body, where a response arrived.
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            ApiError::Status(error) => Some(&error.body),
            ApiError::Decode(error) => Some(&error.body),
            _ => None,
        }
    }

    /// The response headers, where a response arrived.
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            ApiError::Status(error) => Some(&error.headers),
            ApiError::Decode(error) => Some(&error.headers),
            _ => None,
        }
    }

    /// The RFC 9457 problem document the server sent, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ApiError::Status(error) => error.problem.as_ref(),
            _ => None,
        }
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ApiError::Transport(error) if error.is_timeout())
    }

    /// Whether no connection could be made.
    pub fn is_connect(&self) -> bool {
        matches!(self, ApiError::Transport(error) if error.is_connect())
    }

    /// Whether the server answered with a status other than 2xx.
    pub fn is_status(&self) -> bool {
        matches!(self, ApiError::Status(_))
    }

    /// Whether a 2xx body could not be decoded.
    pub fn is_decode(&self) -> bool {
        matches!(self, ApiError::Decode(_))
    }
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// A URI that identifies the problem type; `about:blank` when absent.
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    /// A short summary of the problem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The status the server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// An explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A URI that identifies this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("type", &self.problem_type)
            .field("title", &self.title)
            .field("status", &self.status)
            .field("detail", &self.detail)
            .field("instance", &self.instance)
            .field("extensions", &self.extensions)
            .finish()
    }
}

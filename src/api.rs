//! The typed API client: the pull side.
//!
//! Describe each call of an API once, as a type that implements [`Endpoint`]; a [`Client`]
//! sends it over any [`HttpClient`](crate::transport::HttpClient) and returns its typed
//! response, with credentials ([`Bearer`], [`Basic`], [`ApiKey`], [`RefreshingToken`] or your
//! own [`Authenticate`]), retries that honour `Retry-After` ([`RetryPolicy`](crate::retry::RetryPolicy)) and pagination
//! ([`Paginated`], [`Client::paged`]). Errors ([`ApiError`]) keep the status, headers and raw
//! body of whatever the server said, and decode RFC 9457 problem documents.

mod auth;
mod client;
mod endpoint;
mod error;
mod page;

pub use auth::{
    ApiKey, AuthError, Authenticate, Basic, Bearer, FetchToken, RefreshingToken, Token,
};
pub use client::{Client, DEFAULT_MAX_PAGES, IDEMPOTENCY_KEY};
pub use endpoint::{Body, Endpoint, FromResponse, RawBytes, segment};
pub use error::{ApiError, BuildError, DecodeError, Problem, StatusError};
pub use page::{Paginated, next_link};

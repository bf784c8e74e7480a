//! hyper 1: a client ([`HyperClient`]) and server-side helpers for webhook receivers.
//!
//! The server side reads a `Request<Incoming>` (or any `http-body` body) within
//! [`ReadLimits`](super::server::ReadLimits), answering 413 without reading the rest and 408 past the read deadline
//! ([`verify_request`](super::server::verify_request)), verifies it under any `Verify` scheme, and maps failures to 400, 401, 408 or
//! 413 with a short message ([`handle`]); [`handle_once`] hands each message to the handler
//! once with a replay guard, releasing it when the handler fails; [`validation_response`](super::server::validation_response)
//! answers the CloudEvents webhook validation handshake.
//!
//! The client side is [`HyperClient`]; for senders, [`HyperClient::guarded`] dials only what an
//! [`AddressPolicy`](crate::transport::AddressPolicy) permits.

mod client;
mod connector;
mod server;

pub use client::{DEFAULT_TIMEOUT, HyperClient, HyperClientBuilder};
/// The http-body-util crate, whose `Full` body the ready handlers answer with.
pub use http_body_util;
pub use server::{handle, handle_once, handle_once_with, handle_with};

//! [`EventError`]: why an event could not be read, built or written.

/// Why an event could not be read, built or written. Each variant names the attribute or
/// header at fault where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A required attribute (`specversion`, `id`, `source` or `type`) is absent or empty.
    #[error("the event has no `{0}` attribute, which CloudEvents requires")]
    MissingAttribute(&'static str),
    /// `specversion` is not `1.0`.
    #[error("the event's specversion is `{0}`; only CloudEvents 1.0 is supported")]
    UnsupportedSpecVersion(String),
    /// An attribute has a value of the wrong type or form.
    #[error("the event attribute `{name}` is invalid: it {reason}")]
    InvalidAttribute {
        /// The attribute's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A time attribute (`time` or a timestamp extension) is not RFC 3339.
    #[error(
        "the event attribute `{name}` is not an RFC 3339 timestamp such as 2026-11-27T09:30:00Z"
    )]
    InvalidTime {
        /// The attribute's name.
        name: String,
    },
    /// An extension name is not lowercase ASCII letters and digits, or is reserved.
    #[error(
        "`{0}` is not a valid extension attribute name: use lowercase ASCII letters and digits only, and not a name the specification reserves"
    )]
    InvalidExtensionName(String),
    /// The input is not well-formed JSON, or not a JSON object where an event belongs.
    #[error("the event is not valid CloudEvents JSON")]
    Json(#[source] serde_json::Error),
    /// The data does not have the shape of the requested type.
    #[error("the event data does not match the expected type")]
    InvalidData(#[source] serde_json::Error),
    /// The body is not what its content type says, such as `application/json` that is not JSON.
    #[error("the body is not what its content type `{content_type}` says: {reason}")]
    BodyMismatch {
        /// The content type.
        content_type: String,
        /// What is wrong.
        reason: String,
    },
    /// A header of the HTTP binding could not be read.
    #[error("the header `{name}` is invalid: it {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An HTTP message that is not a CloudEvent in any mode this crate reads.
    #[error(
        "the message is not a CloudEvent: no `ce-specversion` header (binary mode) and no `application/cloudevents+json` or `application/cloudevents-batch+json` content type"
    )]
    NotAnEvent,
    /// A batch where one event was expected.
    #[error("the message holds a batch of events; read it with a batch function")]
    UnexpectedBatch,
    /// The data cannot be written in the requested form.
    #[error("the event cannot be written: {0}")]
    Unwritable(&'static str),
}

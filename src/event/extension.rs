//! Extension attributes: their values in the CloudEvents type system.

use bytes::Bytes;

use super::{EventError, Timestamp};

/// The value of an extension attribute, in the CloudEvents type system.
///
/// Reading JSON gives `Boolean`, `Integer` or `String`; reading HTTP headers gives `String`,
/// since both formats write every other type as its canonical string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionValue {
    /// `true` or `false`.
    Boolean(bool),
    /// A signed 32-bit integer, as the specification bounds it.
    Integer(i32),
    /// A string.
    String(String),
    /// Bytes, written as base64.
    Binary(Bytes),
    /// An absolute URI.
    Uri(String),
    /// A URI reference.
    UriRef(String),
    /// A point in time, written in RFC 3339.
    Timestamp(Timestamp),
}

impl ExtensionValue {
    /// The canonical string form, as the HTTP binding writes it.
    pub fn to_canonical_string(&self) -> Result<String, EventError> {
        use base64::Engine;
        Ok(match self {
            ExtensionValue::Boolean(value) => value.to_string(),
            ExtensionValue::Integer(value) => value.to_string(),
            ExtensionValue::String(value)
            | ExtensionValue::Uri(value)
            | ExtensionValue::UriRef(value) => value.clone(),
            ExtensionValue::Binary(value) => {
                base64::engine::general_purpose::STANDARD.encode(value)
            }
            ExtensionValue::Timestamp(value) => value.format()?,
        })
    }
}

impl From<bool> for ExtensionValue {
    fn from(value: bool) -> Self {
        ExtensionValue::Boolean(value)
    }
}

impl From<i32> for ExtensionValue {
    fn from(value: i32) -> Self {
        ExtensionValue::Integer(value)
    }
}

impl From<&str> for ExtensionValue {
    fn from(value: &str) -> Self {
        ExtensionValue::String(value.to_owned())
    }
}

impl From<String> for ExtensionValue {
    fn from(value: String) -> Self {
        ExtensionValue::String(value)
    }
}

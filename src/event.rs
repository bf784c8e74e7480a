//! One event envelope, [`Event<T>`], for events that arrive pushed (a webhook) or pulled (an
//! events endpoint), compatible with [CloudEvents 1.0].
//!
//! - [`Event<T>`]: the CloudEvents attributes (`id`, `source`, `type`, `datacontenttype`,
//!   `dataschema`, `subject`, `time`, extensions) and the data, typed as `T` when it is JSON.
//! - [`RawEvent`]: an event whose JSON data is kept unparsed, so that an application can read
//!   the `type` first and then [`decode`](Event::decode) the data once, into the type that
//!   event type carries.
//! - The CloudEvents JSON format ([`Event::from_json`], [`Event::to_json`], batches), the HTTP
//!   binding in binary, structured and batch modes ([`cloudevents`]), and the Standard Webhooks
//!   payload form `{"type", "timestamp", "data"}` ([`Event::from_standard_webhooks`]).
//!
//! # Time
//!
//! Times are [`time::OffsetDateTime`]: it keeps what an RFC 3339 timestamp says, the offset
//! and every fractional digit up to nanoseconds, so an event re-serialised says what it said
//! when it arrived; it needs no time-zone database; and the `time` crate parses and formats
//! RFC 3339 itself. Convert to [`std::time::SystemTime`] with `SystemTime::from(t)`.
//!
//! ```
//! use hookwire::event::{Event, RawEvent};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct TransferSettled { transfer_id: String, amount: String }
//!
//! let json = br#"{"specversion":"1.0","id":"evt_1","source":"/treasury","type":"transfer.settled",
//!                 "time":"2026-11-27T09:30:00.125+01:00","data":{"transfer_id":"tr_1","amount":"12.50"}}"#;
//! let event = RawEvent::from_json(json)?;
//! assert_eq!(event.ty(), "transfer.settled");
//! let event = event.decode::<TransferSettled>()?;
//! assert_eq!(event.json().map(|d| d.amount.as_str()), Some("12.50"));
//! # Ok::<(), hookwire::event::EventError>(())
//! ```
//!
//! [CloudEvents 1.0]: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md

use crate::clock::Clock;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

pub mod cloudevents;
mod json;
mod standard;
mod timestamp;

pub use timestamp::Timestamp;

/// The CloudEvents version this crate reads and writes.
pub const SPEC_VERSION: &str = "1.0";

/// An event whose JSON data is kept as unparsed text until [`Event::decode`].
pub type RawEvent = Event<Box<RawValue>>;

/// An event: CloudEvents context attributes and data.
///
/// `T` is the type of JSON data; [`serde_json::Value`] by default, [`Box<RawValue>`] in a
/// [`RawEvent`]. Data that is not JSON is kept as [`Data::Text`] or [`Data::Binary`].
///
/// Build one with [`Event::builder`], read one with [`Event::from_json`] or the
/// [`cloudevents`] HTTP binding. Every event has passed validation: required attributes are
/// present and non-empty, extension names are lowercase ASCII letters and digits.
#[derive(Clone, PartialEq)]
pub struct Event<T = serde_json::Value> {
    id: String,
    source: String,
    ty: String,
    datacontenttype: Option<String>,
    dataschema: Option<String>,
    subject: Option<String>,
    time: Option<Timestamp>,
    extensions: BTreeMap<String, ExtensionValue>,
    data: Option<Data<T>>,
}

/// An event's data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Data<T> {
    /// JSON data (the `datacontenttype` is JSON, or absent), as `T`.
    Json(T),
    /// Text data of a content type that is not JSON, such as XML, carried as a JSON string in
    /// the JSON format.
    Text(String),
    /// Binary data: `data_base64` in the JSON format, the raw body in HTTP binary mode.
    Binary(Bytes),
}

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

impl<T> Event<T> {
    /// An event with every attribute empty, to be filled and then validated.
    pub(crate) fn blank() -> Self {
        Event {
            id: String::new(),
            source: String::new(),
            ty: String::new(),
            datacontenttype: None,
            dataschema: None,
            subject: None,
            time: None,
            extensions: BTreeMap::new(),
            data: None,
        }
    }

    /// The event id: with `source`, unique for each distinct event.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The context in which the event happened, a URI reference such as `/treasury/transfers`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event type, such as `transfer.settled`: what to dispatch on.
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The content type of the data, such as `application/json`.
    pub fn datacontenttype(&self) -> Option<&str> {
        self.datacontenttype.as_deref()
    }

    /// The URI of the schema the data adheres to.
    pub fn dataschema(&self) -> Option<&str> {
        self.dataschema.as_deref()
    }

    /// The subject of the event within its source, such as a resource id.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// When the event happened.
    pub fn time(&self) -> Option<Timestamp> {
        self.time
    }

    /// The extension attributes, by name.
    pub fn extensions(&self) -> &BTreeMap<String, ExtensionValue> {
        &self.extensions
    }

    /// One extension attribute.
    pub fn extension(&self, name: &str) -> Option<&ExtensionValue> {
        self.extensions.get(name)
    }

    /// The data, if any.
    pub fn data(&self) -> Option<&Data<T>> {
        self.data.as_ref()
    }

    /// The data if it is JSON.
    pub fn json(&self) -> Option<&T> {
        match &self.data {
            Some(Data::Json(value)) => Some(value),
            _ => None,
        }
    }

    /// Takes the data out of the event.
    pub fn into_data(self) -> Option<Data<T>> {
        self.data
    }

    /// The same event with its JSON data converted by `f`.
    pub fn map_data<U>(self, f: impl FnOnce(T) -> U) -> Event<U> {
        self.try_map_data(|value| Ok::<U, std::convert::Infallible>(f(value)))
            .unwrap_or_else(|never| match never {})
    }

    /// The same event with its JSON data converted by `f`, which may fail.
    ///
    /// # Errors
    ///
    /// What `f` returns.
    pub fn try_map_data<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Event<U>, E> {
        let data = match self.data {
            Some(Data::Json(value)) => Some(Data::Json(f(value)?)),
            Some(Data::Text(text)) => Some(Data::Text(text)),
            Some(Data::Binary(bytes)) => Some(Data::Binary(bytes)),
            None => None,
        };
        Ok(Event {
            id: self.id,
            source: self.source,
            ty: self.ty,
            datacontenttype: self.datacontenttype,
            dataschema: self.dataschema,
            subject: self.subject,
            time: self.time,
            extensions: self.extensions,
            data,
        })
    }
}

impl Event {
    /// A builder; [`EventBuilder::build`] fills a unique id and the current time unless given.
    ///
    /// ```
    /// use hookwire::event::Event;
    ///
    /// let event = Event::builder()
    ///     .ty("account.opened")
    ///     .source("/treasury/accounts")
    ///     .subject("acc_42")
    ///     .extension("tenant", "bank-eu")
    ///     .data(serde_json::json!({"currency": "EUR"}))
    ///     .build()?;
    /// assert!(event.id().starts_with("evt_"));
    /// assert!(event.time().is_some());
    /// # Ok::<(), hookwire::event::EventError>(())
    /// ```
    pub fn builder() -> EventBuilder<serde_json::Value> {
        EventBuilder {
            event: Event::blank(),
            time_set: false,
            now: None,
        }
    }
}

impl Event<Box<RawValue>> {
    /// Parses the JSON data, once, into `U`: the second step of dispatching on
    /// [`ty`](Event::ty). Text and binary data pass through unchanged.
    ///
    /// # Errors
    ///
    /// [`EventError::InvalidData`] when the data is not a `U`.
    pub fn decode<U: DeserializeOwned>(self) -> Result<Event<U>, EventError> {
        self.try_map_data(|raw| serde_json::from_str(raw.get()).map_err(EventError::InvalidData))
    }
}

impl<T: fmt::Debug> fmt::Debug for Event<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("type", &self.ty)
            .field("datacontenttype", &self.datacontenttype)
            .field("dataschema", &self.dataschema)
            .field("subject", &self.subject)
            .field("time", &self.time)
            .field("extensions", &self.extensions)
            .field("data", &self.data)
            .finish()
    }
}

/// Builds an [`Event`]; see [`Event::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder<T> {
    event: Event<T>,
    time_set: bool,
    now: Option<std::time::SystemTime>,
}

impl<T> EventBuilder<T> {
    /// The event id; a unique `evt_` id (a UUIDv7) unless set.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.event.id = id.into();
        self
    }

    /// The source, a URI reference (required).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.event.source = source.into();
        self
    }

    /// The event type (required).
    pub fn ty(mut self, ty: impl Into<String>) -> Self {
        self.event.ty = ty.into();
        self
    }

    /// The data's content type; for JSON data, `application/json` unless set.
    pub fn datacontenttype(mut self, datacontenttype: impl Into<String>) -> Self {
        self.event.datacontenttype = Some(datacontenttype.into());
        self
    }

    /// The URI of the data's schema: an absolute URI.
    pub fn dataschema(mut self, dataschema: impl Into<String>) -> Self {
        self.event.dataschema = Some(dataschema.into());
        self
    }

    /// The subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.event.subject = Some(subject.into());
        self
    }

    /// When the event happened; the current time unless set. `None` leaves it unset.
    pub fn time(mut self, time: impl Into<Option<Timestamp>>) -> Self {
        self.event.time = time.into();
        self.time_set = true;
        self
    }

    /// Reads the time (when no [`time`](Self::time) is set) from `clock` instead of the
    /// system's clock.
    pub fn clock(mut self, clock: &dyn Clock) -> Self {
        self.now = Some(clock.now());
        self
    }

    /// An extension attribute; its name must be lowercase ASCII letters and digits.
    pub fn extension(mut self, name: impl Into<String>, value: impl Into<ExtensionValue>) -> Self {
        self.event.extensions.insert(name.into(), value.into());
        self
    }

    /// JSON data.
    pub fn data<U>(self, data: U) -> EventBuilder<U> {
        self.with_data(Some(Data::Json(data)))
    }

    /// Text data of a content type that is not JSON, such as XML; set
    /// [`datacontenttype`](EventBuilder::datacontenttype) too.
    pub fn text(self, text: impl Into<String>) -> EventBuilder<T> {
        self.with_data(Some(Data::Text(text.into())))
    }

    /// Binary data.
    pub fn binary(self, bytes: impl Into<Bytes>) -> EventBuilder<T> {
        self.with_data(Some(Data::Binary(bytes.into())))
    }

    fn with_data<U>(self, data: Option<Data<U>>) -> EventBuilder<U> {
        let event = self.event;
        EventBuilder {
            event: Event {
                id: event.id,
                source: event.source,
                ty: event.ty,
                datacontenttype: event.datacontenttype,
                dataschema: event.dataschema,
                subject: event.subject,
                time: event.time,
                extensions: event.extensions,
                data,
            },
            time_set: self.time_set,
            now: self.now,
        }
    }

    /// The event, validated.
    ///
    /// # Errors
    ///
    /// [`EventError::MissingAttribute`] for a missing `type` or `source`,
    /// [`EventError::InvalidAttribute`] for an invalid value, [`EventError::InvalidExtensionName`].
    pub fn build(mut self) -> Result<Event<T>, EventError> {
        if self.event.id.is_empty() {
            self.event.id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        }
        if !self.time_set {
            self.event.time = Some(Timestamp::try_from(
                self.now.unwrap_or_else(std::time::SystemTime::now),
            )?);
        }
        // JSON data without a content type implies `application/json`; say so, as the
        // specification asks of events that cross into another format or binding.
        if self.event.datacontenttype.is_none() && matches!(self.event.data, Some(Data::Json(_))) {
            self.event.datacontenttype = Some("application/json".to_owned());
        }
        validate(&self.event)?;
        Ok(self.event)
    }
}

/// Checks what every event must satisfy, however it was made.
pub(crate) fn validate<T>(event: &Event<T>) -> Result<(), EventError> {
    required("id", &event.id)?;
    required("source", &event.source)?;
    required("type", &event.ty)?;
    for (name, value) in [
        ("datacontenttype", &event.datacontenttype),
        ("subject", &event.subject),
        ("dataschema", &event.dataschema),
    ] {
        if let Some(value) = value {
            string(name, value)?;
        }
    }
    if let Some(schema) = &event.dataschema {
        url::Url::parse(schema).map_err(|_| EventError::InvalidAttribute {
            name: "dataschema".into(),
            reason: "must be an absolute URI",
        })?;
    }
    for (name, value) in &event.extensions {
        check_extension_name(name)?;
        if let ExtensionValue::String(text)
        | ExtensionValue::Uri(text)
        | ExtensionValue::UriRef(text) = value
        {
            string(name, text)?;
        }
    }
    Ok(())
}

fn required(name: &'static str, value: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::MissingAttribute(name));
    }
    string(name, value)
}

/// A CloudEvents string holds no control characters (U+0000–U+001F, U+007F–U+009F).
fn string(name: &str, value: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::InvalidAttribute {
            name: name.into(),
            reason: "must not be empty",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(EventError::InvalidAttribute {
            name: name.into(),
            reason: "must not contain control characters",
        });
    }
    Ok(())
}

/// The names the specification gives its own attributes and members.
const RESERVED: [&str; 10] = [
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
];

pub(crate) fn check_extension_name(name: &str) -> Result<(), EventError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !RESERVED.contains(&name);
    if valid {
        Ok(())
    } else {
        Err(EventError::InvalidExtensionName(name.to_owned()))
    }
}

/// Whether a media type declares JSON: `*/json` or `*/*+json`, parameters ignored, in any case.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((_, subtype)) = essence.split_once('/') else {
        return false;
    };
    let suffix = |s: &str| {
        subtype.len() >= s.len()
            && subtype
                .get(subtype.len() - s.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
    };
    subtype.eq_ignore_ascii_case("json") || suffix("+json")
}

pub(crate) fn format_time(time: &Timestamp) -> Result<String, EventError> {
    time.format()
}

pub(crate) fn parse_time(name: &str, text: &str) -> Result<Timestamp, EventError> {
    Timestamp::parse_named(name, text)
}

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

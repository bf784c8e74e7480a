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
//! Times are [`Timestamp`]s: they keep what an RFC 3339 timestamp says, the offset and every
//! fractional digit up to nanoseconds, so an event re-serialised says what it said when it
//! arrived. Convert to [`std::time::SystemTime`] with [`Timestamp::to_system_time`], and to the
//! `time`, `chrono` and `jiff` types with those features.
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

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

mod builder;
pub mod cloudevents;
mod error;
mod extension;
mod json;
mod standard;
mod timestamp;
mod validate;

pub use builder::EventBuilder;
pub use error::EventError;
pub use extension::ExtensionValue;
pub use timestamp::Timestamp;
pub(crate) use validate::{check_extension_name, format_time, is_json, parse_time, validate};

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
    /// A builder; [`EventBuilder::build`] fills a unique id, the current time and, for JSON
    /// data, `datacontenttype` unless given, or nothing with [`EventBuilder::as_given`].
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
        EventBuilder::new(Event::blank())
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

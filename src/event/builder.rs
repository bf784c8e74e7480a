//! [`EventBuilder`]: an event, attribute by attribute, validated when built.

use crate::clock::Clock;

use bytes::Bytes;

use super::{Data, Event, EventError, ExtensionValue, Timestamp, validate};

/// Builds an [`Event`]; see [`Event::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder<T> {
    event: Event<T>,
    time_set: bool,
    now: Option<std::time::SystemTime>,
    as_given: bool,
}

impl<T> EventBuilder<T> {
    pub(super) fn new(event: Event<T>) -> Self {
        EventBuilder {
            event,
            time_set: false,
            now: None,
            as_given: false,
        }
    }

    /// Builds the event exactly as given: no id, time or `datacontenttype` is filled in, so
    /// that an event converted from elsewhere keeps what it had (a missing id is then an
    /// error).
    pub fn as_given(mut self) -> Self {
        self.as_given = true;
        self
    }

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
            as_given: self.as_given,
        }
    }

    /// The event, validated. Unless [`as_given`](Self::as_given), three attributes are filled
    /// in where they were not set: `id` (a unique `evt_` id, a UUIDv7), `time` (now, by the
    /// [`clock`](Self::clock)), and `datacontenttype` (`application/json` for JSON data).
    ///
    /// # Errors
    ///
    /// [`EventError::MissingAttribute`] for a missing `type` or `source` (or `id`, as given),
    /// [`EventError::InvalidAttribute`] for an invalid value, [`EventError::InvalidExtensionName`].
    pub fn build(mut self) -> Result<Event<T>, EventError> {
        if self.as_given {
            validate(&self.event)?;
            return Ok(self.event);
        }
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

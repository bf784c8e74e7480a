//! The CloudEvents JSON event format and JSON batch format.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{
    Data, Event, EventError, ExtensionValue, SPEC_VERSION, check_extension_name, format_time,
    is_json, parse_time, validate,
};

impl<T: DeserializeOwned> Event<T> {
    /// Reads an event in the CloudEvents JSON format (structured mode).
    ///
    /// `data` is read as `T` when the `datacontenttype` is JSON or absent, as text otherwise;
    /// `data_base64` as bytes. A `null` attribute counts as absent. Parsing is linear in the
    /// input, and nesting deeper than serde_json's recursion limit (128) is an error.
    ///
    /// # Errors
    ///
    /// An [`EventError`] naming the attribute at fault, or [`EventError::Json`] for input that
    /// is not JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, EventError> {
        let mut error = None;
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let result = EventSeed::new(&mut error).deserialize(&mut deserializer);
        finish(
            result.and_then(|event| deserializer.end().map(|()| event)),
            error,
        )
    }

    /// Reads a JSON batch: an array of events in the JSON format.
    ///
    /// # Errors
    ///
    /// As [`Event::from_json`], for the first event at fault.
    pub fn from_json_batch(json: &[u8]) -> Result<Vec<Self>, EventError> {
        let mut error = None;
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let result = BatchSeed {
            error: &mut error,
            _data: PhantomData,
        }
        .deserialize(&mut deserializer);
        finish(
            result.and_then(|events| deserializer.end().map(|()| events)),
            error,
        )
    }
}

impl<T: Serialize> Event<T> {
    /// Writes the event in the CloudEvents JSON format.
    ///
    /// # Errors
    ///
    /// [`EventError::Unwritable`] when the data cannot be serialised, or a time cannot be
    /// written in RFC 3339.
    pub fn to_json(&self) -> Result<Vec<u8>, EventError> {
        serde_json::to_vec(self)
            .map_err(|_| EventError::Unwritable("the data could not be serialised as JSON"))
    }

    /// Writes events as a JSON batch.
    ///
    /// # Errors
    ///
    /// As [`Event::to_json`].
    pub fn to_json_batch(events: &[Self]) -> Result<Vec<u8>, EventError> {
        serde_json::to_vec(events)
            .map_err(|_| EventError::Unwritable("the data could not be serialised as JSON"))
    }
}

/// The typed error recorded while parsing, else the serde error, classified.
fn finish<V>(
    result: Result<V, serde_json::Error>,
    recorded: Option<EventError>,
) -> Result<V, EventError> {
    result.map_err(|error| match recorded {
        Some(recorded) => recorded,
        None if error.is_data() => EventError::InvalidData(error),
        None => EventError::Json(error),
    })
}

impl<T: Serialize> Serialize for Event<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("specversion", SPEC_VERSION)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("source", &self.source)?;
        map.serialize_entry("type", &self.ty)?;
        if let Some(value) = &self.datacontenttype {
            map.serialize_entry("datacontenttype", value)?;
        }
        if let Some(value) = &self.dataschema {
            map.serialize_entry("dataschema", value)?;
        }
        if let Some(value) = &self.subject {
            map.serialize_entry("subject", value)?;
        }
        if let Some(time) = &self.time {
            map.serialize_entry("time", &format_time(time).map_err(S::Error::custom)?)?;
        }
        for (name, value) in &self.extensions {
            match value {
                ExtensionValue::Boolean(value) => map.serialize_entry(name, value)?,
                ExtensionValue::Integer(value) => map.serialize_entry(name, value)?,
                other => map.serialize_entry(
                    name,
                    &other.to_canonical_string().map_err(S::Error::custom)?,
                )?,
            }
        }
        match &self.data {
            Some(Data::Json(value)) => map.serialize_entry("data", value)?,
            Some(Data::Text(text)) => map.serialize_entry("data", text)?,
            Some(Data::Binary(bytes)) => {
                map.serialize_entry("data_base64", &STANDARD.encode(bytes))?
            }
            None => {}
        }
        map.end()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Event<T> {
    /// Reads the JSON format. Prefer [`Event::from_json`], whose errors are typed.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut error = None;
        EventSeed::new(&mut error).deserialize(deserializer)
    }
}

/// Deserialises one event, recording a typed [`EventError`] before it aborts with a serde
/// error, so that [`Event::from_json`] can report which attribute was at fault.
struct EventSeed<'e, T> {
    error: &'e mut Option<EventError>,
    _data: PhantomData<T>,
}

impl<'e, T> EventSeed<'e, T> {
    fn new(error: &'e mut Option<EventError>) -> Self {
        EventSeed {
            error,
            _data: PhantomData,
        }
    }

    fn fail<E: de::Error>(&mut self, error: EventError) -> E {
        let message = E::custom(&error);
        *self.error = Some(error);
        message
    }
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for EventSeed<'_, T> {
    type Value = Event<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// The members of the JSON object, by name.
enum Field {
    SpecVersion,
    Id,
    Source,
    Type,
    DataContentType,
    DataSchema,
    Subject,
    Time,
    Data,
    DataBase64,
    Extension(String),
}

impl Field {
    /// The member's name; extensions carry their own.
    fn name(&self) -> &str {
        match self {
            Field::SpecVersion => "specversion",
            Field::Id => "id",
            Field::Source => "source",
            Field::Type => "type",
            Field::DataContentType => "datacontenttype",
            Field::DataSchema => "dataschema",
            Field::Subject => "subject",
            Field::Time => "time",
            Field::Data => "data",
            Field::DataBase64 => "data_base64",
            Field::Extension(name) => name,
        }
    }

    /// A small number for each fixed member, to note which were seen; 10 for extensions.
    fn index(&self) -> u32 {
        match self {
            Field::SpecVersion => 0,
            Field::Id => 1,
            Field::Source => 2,
            Field::Type => 3,
            Field::DataContentType => 4,
            Field::DataSchema => 5,
            Field::Subject => 6,
            Field::Time => 7,
            Field::Data => 8,
            Field::DataBase64 => 9,
            Field::Extension(_) => 10,
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "specversion" => Field::SpecVersion,
                    "id" => Field::Id,
                    "source" => Field::Source,
                    "type" => Field::Type,
                    "datacontenttype" => Field::DataContentType,
                    "dataschema" => Field::DataSchema,
                    "subject" => Field::Subject,
                    "time" => Field::Time,
                    "data" => Field::Data,
                    "data_base64" => Field::DataBase64,
                    other => Field::Extension(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_str(FieldVisitor)
    }
}

/// An attribute value of any JSON type, so that a wrong type becomes a typed error naming the
/// attribute rather than a serde message.
enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    Float,
    String(String),
    Composite,
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
                Ok(Value::Bool(value))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
                Ok(Value::Integer(value))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
                Ok(i64::try_from(value).map_or(Value::Float, Value::Integer))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
                Ok(Value::Float)
            }
            fn visit_str<E>(self, value: &str) -> Result<Value, E> {
                Ok(Value::String(value.to_owned()))
            }
            fn visit_string<E>(self, value: String) -> Result<Value, E> {
                Ok(Value::String(value))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Value::Composite)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Value::Composite)
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Data seen before the `datacontenttype` (if any) was known.
enum PendingData<T> {
    Decided(Data<T>),
    Raw(Box<RawValue>),
}

impl<'de, T: DeserializeOwned> Visitor<'de> for EventSeed<'_, T> {
    type Value = Event<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudEvents JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut specversion = None;
        let mut id = None;
        let mut source = None;
        let mut ty = None;
        let mut datacontenttype: Option<String> = None;
        let mut dataschema = None;
        let mut subject = None;
        let mut time = None;
        let mut extensions = BTreeMap::new();
        let mut data: Option<PendingData<T>> = None;
        let mut content_type_seen = false;

        let mut seen = 0u16;
        let mut seen_extensions = std::collections::BTreeSet::new();
        while let Some(field) = map.next_key::<Field>()? {
            let repeated = match &field {
                Field::Extension(name) => !seen_extensions.insert(name.clone()),
                fixed => {
                    let bit = 1u16 << fixed.index();
                    let repeated = seen & bit != 0;
                    seen |= bit;
                    repeated
                }
            };
            if repeated {
                let name = field.name();
                let reason = "appears twice; each attribute appears once, and readers that take the first would see another event than readers that take the last";
                return Err(self.fail(invalid(name, reason)));
            }
            let (name, slot) = match field {
                Field::SpecVersion => ("specversion", &mut specversion),
                Field::Id => ("id", &mut id),
                Field::Source => ("source", &mut source),
                Field::Type => ("type", &mut ty),
                Field::DataContentType => {
                    content_type_seen = true;
                    ("datacontenttype", &mut datacontenttype)
                }
                Field::DataSchema => ("dataschema", &mut dataschema),
                Field::Subject => ("subject", &mut subject),
                Field::Time => ("time", &mut time),
                Field::Data | Field::DataBase64 if data.is_some() => {
                    let reason = "appears twice, or beside `data_base64`";
                    return Err(self.fail(invalid("data", reason)));
                }
                Field::Data => {
                    data = Some(match (content_type_seen, &datacontenttype) {
                        (true, Some(ct)) if !is_json(ct) => match map.next_value()? {
                            Value::String(text) => PendingData::Decided(Data::Text(text)),
                            _ => return Err(self.fail(not_text())),
                        },
                        (true, _) => PendingData::Decided(Data::Json(map.next_value()?)),
                        (false, _) => PendingData::Raw(map.next_value()?),
                    });
                    continue;
                }
                Field::DataBase64 => {
                    let text = match map.next_value()? {
                        Value::Null => continue,
                        Value::String(text) => text,
                        _ => return Err(self.fail(invalid("data_base64", "must be a string"))),
                    };
                    let bytes = STANDARD
                        .decode(text.as_bytes())
                        .map_err(|_| self.fail(invalid("data_base64", "is not valid base64")))?;
                    data = Some(PendingData::Decided(Data::Binary(Bytes::from(bytes))));
                    continue;
                }
                Field::Extension(name) => {
                    if let Err(error) = check_extension_name(&name) {
                        return Err(self.fail(error));
                    }
                    let value = match map.next_value()? {
                        Value::Null => continue,
                        Value::Bool(value) => ExtensionValue::Boolean(value),
                        Value::Integer(value) => match i32::try_from(value) {
                            Ok(value) => ExtensionValue::Integer(value),
                            Err(_) => {
                                let reason = "is an integer outside the signed 32-bit range";
                                return Err(self.fail(invalid(&name, reason)));
                            }
                        },
                        Value::String(value) => ExtensionValue::String(value),
                        Value::Float => {
                            let reason = "is a number that is not an integer";
                            return Err(self.fail(invalid(&name, reason)));
                        }
                        Value::Composite => {
                            let reason = "is an object or array; extensions hold booleans, integers or strings";
                            return Err(self.fail(invalid(&name, reason)));
                        }
                    };
                    extensions.insert(name, value);
                    continue;
                }
            };
            match map.next_value()? {
                Value::Null => {}
                Value::String(text) => *slot = Some(text),
                _ => return Err(self.fail(invalid(name, "must be a string"))),
            }
        }

        let specversion =
            specversion.ok_or_else(|| self.fail(EventError::MissingAttribute("specversion")))?;
        if specversion != SPEC_VERSION {
            return Err(self.fail(EventError::UnsupportedSpecVersion(specversion)));
        }
        let time = match time {
            Some(text) => Some(parse_time("time", &text).map_err(|e| self.fail(e))?),
            None => None,
        };
        let data = match data {
            None => None,
            Some(PendingData::Decided(data)) => Some(data),
            Some(PendingData::Raw(raw)) => Some(match &datacontenttype {
                Some(ct) if !is_json(ct) => match serde_json::from_str::<String>(raw.get()) {
                    Ok(text) => Data::Text(text),
                    Err(_) => return Err(self.fail(not_text())),
                },
                _ => match serde_json::from_str::<T>(raw.get()) {
                    Ok(value) => Data::Json(value),
                    Err(error) => {
                        let message = de::Error::custom(&error);
                        *self.error = Some(EventError::InvalidData(error));
                        return Err(message);
                    }
                },
            }),
        };
        let event = Event {
            id: id.unwrap_or_default(),
            source: source.unwrap_or_default(),
            ty: ty.unwrap_or_default(),
            datacontenttype,
            dataschema,
            subject,
            time,
            extensions,
            data,
        };
        validate(&event).map_err(|e| self.fail(e))?;
        Ok(event)
    }
}

fn invalid(name: &str, reason: &'static str) -> EventError {
    EventError::InvalidAttribute {
        name: name.to_owned(),
        reason,
    }
}

fn not_text() -> EventError {
    invalid(
        "data",
        "must be a string when the datacontenttype is not JSON",
    )
}

/// Deserialises a JSON array of events, recording typed errors as [`EventSeed`] does.
struct BatchSeed<'e, T> {
    error: &'e mut Option<EventError>,
    _data: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for BatchSeed<'_, T> {
    type Value = Vec<Event<T>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for BatchSeed<'_, T> {
    type Value = Vec<Event<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of CloudEvents")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(event) = seq.next_element_seed(EventSeed::new(&mut *self.error))? {
            events.push(event);
        }
        Ok(events)
    }
}

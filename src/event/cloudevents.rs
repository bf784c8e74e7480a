//! The CloudEvents HTTP binding: events to and from HTTP messages in binary, structured and
//! batch content modes.
//!
//! Four functions: [`encode`] one event in a [`Mode`] or [`encode_batch`] several, into an
//! [`Encoded`] message that becomes a request or a response; [`decode`] one event or
//! [`decode_batch`] any number from headers and a body. Writing takes an explicit [`Mode`];
//! reading detects it: a `application/cloudevents-batch+json`
//! content type is a batch, `application/cloudevents+json` is structured, and a `ce-specversion`
//! header is binary mode.
//!
//! In binary mode, attributes travel as `ce-` headers whose values are percent-encoded as the
//! binding requires (space, `"`, `%` and everything outside printable ASCII); the data is the
//! body and `content-type` carries the `datacontenttype`. Typed extension values travel as their
//! canonical strings, so they read back as strings; text data reads back as binary data, since
//! an HTTP body is bytes.
//!
//! ```
//! use hookwire::event::Event;
//! use hookwire::event::cloudevents::{self, Mode};
//!
//! let event = Event::builder()
//!     .ty("transfer.settled")
//!     .source("/treasury")
//!     .subject("Überweisung 42")
//!     .data(serde_json::json!({"amount": "12.50"}))
//!     .build()?;
//! let request = cloudevents::encode(&event, Mode::Binary)?
//!     .into_request(http::Request::post("/hooks"))?;
//! assert_eq!(request.headers()["ce-subject"], "%C3%9Cberweisung%2042");
//!
//! let back: Event = cloudevents::decode(request.headers(), request.body())?;
//! assert_eq!(back, event);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Data, Event, EventError, ExtensionValue, SPEC_VERSION, check_extension_name, format_time,
    is_json, parse_time, validate,
};

/// The media type of one event in the JSON format.
pub const STRUCTURED_JSON: &str = "application/cloudevents+json";
/// The media type of a batch of events in the JSON batch format.
pub const BATCH_JSON: &str = "application/cloudevents-batch+json";

/// What the binding percent-encodes: controls, space, `"`, `%` (non-ASCII bytes always are).
const HEADER_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// How an event is carried in an HTTP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Attributes in `ce-` headers, data as the body.
    Binary,
    /// The whole event as `application/cloudevents+json`.
    Structured,
}

/// The headers and body of an HTTP message that carries events: what [`encode`] and
/// [`encode_batch`] return. Put them in a request or a response, or take them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    headers: HeaderMap,
    body: Bytes,
}

impl Encoded {
    /// The headers: `content-type`, and in binary mode the `ce-` attributes.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The headers and the body.
    pub fn into_parts(self) -> (HeaderMap, Bytes) {
        (self.headers, self.body)
    }

    /// A request from `builder` (method, URI and other headers) carrying these headers and
    /// this body.
    ///
    /// # Errors
    ///
    /// [`EventError::Unwritable`] when `builder` holds an error.
    pub fn into_request(
        self,
        builder: http::request::Builder,
    ) -> Result<Request<Bytes>, EventError> {
        let mut request = builder
            .body(self.body)
            .map_err(|_| EventError::Unwritable("the request builder holds an error"))?;
        request.headers_mut().extend(self.headers);
        Ok(request)
    }

    /// A response from `builder` (status and other headers) carrying these headers and this
    /// body.
    ///
    /// # Errors
    ///
    /// [`EventError::Unwritable`] when `builder` holds an error.
    pub fn into_response(
        self,
        builder: http::response::Builder,
    ) -> Result<Response<Bytes>, EventError> {
        let mut response = builder
            .body(self.body)
            .map_err(|_| EventError::Unwritable("the response builder holds an error"))?;
        response.headers_mut().extend(self.headers);
        Ok(response)
    }
}

/// The message that carries `event` in `mode`.
///
/// # Errors
///
/// [`EventError::Unwritable`] when the data cannot be serialised, or a value cannot stand in a
/// header.
pub fn encode<T: Serialize>(event: &Event<T>, mode: Mode) -> Result<Encoded, EventError> {
    encode_parts(event, mode).map(|(headers, body)| Encoded { headers, body })
}

fn encode_parts<T: Serialize>(
    event: &Event<T>,
    mode: Mode,
) -> Result<(HeaderMap, Bytes), EventError> {
    let mut headers = HeaderMap::new();
    match mode {
        Mode::Structured => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(STRUCTURED_JSON));
            Ok((headers, Bytes::from(event.to_json()?)))
        }
        Mode::Binary => {
            let mut put = |name: &str, value: &str| -> Result<(), EventError> {
                let name = HeaderName::try_from(format!("ce-{name}")).map_err(|_| {
                    EventError::Unwritable("an attribute name cannot be a header name")
                })?;
                let value =
                    HeaderValue::try_from(utf8_percent_encode(value, HEADER_VALUE).to_string())
                        .map_err(|_| {
                            EventError::Unwritable("an attribute value cannot be a header value")
                        })?;
                headers.insert(name, value);
                Ok(())
            };
            put("specversion", SPEC_VERSION)?;
            put("id", &event.id)?;
            put("source", &event.source)?;
            put("type", &event.ty)?;
            if let Some(subject) = &event.subject {
                put("subject", subject)?;
            }
            if let Some(schema) = &event.dataschema {
                put("dataschema", schema)?;
            }
            if let Some(time) = &event.time {
                put("time", &format_time(time)?)?;
            }
            for (name, value) in &event.extensions {
                put(name, &value.to_canonical_string()?)?;
            }
            let content_type = event.datacontenttype.as_deref().or(match &event.data {
                Some(Data::Json(_)) => Some("application/json"),
                _ => None,
            });
            if let Some(content_type) = content_type {
                let value = HeaderValue::from_str(content_type).map_err(|_| {
                    EventError::Unwritable("the datacontenttype cannot be a header value")
                })?;
                headers.insert(CONTENT_TYPE, value);
            }
            let body = match &event.data {
                Some(Data::Json(value)) => {
                    Bytes::from(serde_json::to_vec(value).map_err(|_| {
                        EventError::Unwritable("the data could not be serialised as JSON")
                    })?)
                }
                Some(Data::Text(text)) => Bytes::from(text.clone().into_bytes()),
                Some(Data::Binary(bytes)) => bytes.clone(),
                None => Bytes::new(),
            };
            Ok((headers, body))
        }
    }
}

/// The message that carries `events` as a JSON batch.
///
/// # Errors
///
/// As [`encode`].
pub fn encode_batch<T: Serialize>(events: &[Event<T>]) -> Result<Encoded, EventError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(BATCH_JSON));
    Ok(Encoded {
        headers,
        body: Bytes::from(Event::to_json_batch(events)?),
    })
}

/// The one event that `headers` and `body` carry, in binary or structured mode.
///
/// # Errors
///
/// [`EventError::NotAnEvent`], [`EventError::UnexpectedBatch`], or what is wrong with the event,
/// naming the attribute or header.
pub fn decode<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Event<T>, EventError> {
    match detect(headers)? {
        Detected::Batch => Err(EventError::UnexpectedBatch),
        Detected::Structured => Event::from_json(body),
        Detected::Binary => decode_binary(headers, body),
    }
}

/// The events that `headers` and `body` carry, in any mode: a batch, or one event.
///
/// # Errors
///
/// As [`decode`], for the first event at fault.
pub fn decode_batch<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Event<T>>, EventError> {
    match detect(headers)? {
        Detected::Batch => Event::from_json_batch(body),
        Detected::Structured => Ok(vec![Event::from_json(body)?]),
        Detected::Binary => Ok(vec![decode_binary(headers, body)?]),
    }
}

enum Detected {
    Binary,
    Structured,
    Batch,
}

fn detect(headers: &HeaderMap) -> Result<Detected, EventError> {
    if let Some(value) = headers.get(CONTENT_TYPE) {
        let content_type = value.to_str().map_err(|_| EventError::InvalidHeader {
            name: CONTENT_TYPE.to_string(),
            reason: "is not visible ASCII",
        })?;
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(BATCH_JSON) {
            return Ok(Detected::Batch);
        }
        if essence.eq_ignore_ascii_case(STRUCTURED_JSON) {
            return Ok(Detected::Structured);
        }
    }
    if headers.contains_key("ce-specversion") {
        Ok(Detected::Binary)
    } else {
        Err(EventError::NotAnEvent)
    }
}

fn decode_binary<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Event<T>, EventError> {
    let mut event: Event<T> = Event::blank();
    let mut specversion = None;
    for name in headers.keys() {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let mut values = headers.get_all(name).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(EventError::InvalidHeader {
                name: name.to_string(),
                reason: "appears more than once; each CloudEvents attribute has one value, and readers that take the first would see another event than readers that take the last",
            });
        };
        let value = header_text(name, value)?;
        match attribute {
            "specversion" => specversion = Some(value),
            "id" => event.id = value,
            "source" => event.source = value,
            "type" => event.ty = value,
            "subject" => event.subject = Some(value),
            "dataschema" => event.dataschema = Some(value),
            "time" => event.time = Some(parse_time("time", &value)?),
            "datacontenttype" => {
                return Err(EventError::InvalidHeader {
                    name: name.to_string(),
                    reason: "must not be sent in binary mode, where content-type carries the datacontenttype",
                });
            }
            extension => {
                check_extension_name(extension)?;
                event
                    .extensions
                    .insert(extension.to_owned(), ExtensionValue::String(value));
            }
        }
    }
    match specversion.as_deref() {
        Some(SPEC_VERSION) => {}
        Some(other) => return Err(EventError::UnsupportedSpecVersion(other.to_owned())),
        None => return Err(EventError::MissingAttribute("specversion")),
    }
    if let Some(value) = headers.get(CONTENT_TYPE) {
        let content_type = value.to_str().map_err(|_| EventError::InvalidHeader {
            name: CONTENT_TYPE.to_string(),
            reason: "is not visible ASCII",
        })?;
        event.datacontenttype = Some(content_type.to_owned());
    }
    event.data = match event.datacontenttype.as_deref() {
        Some(content_type) if is_json(content_type) => Some(Data::Json(
            serde_json::from_slice(body).map_err(|error| {
                if error.is_data() {
                    EventError::InvalidData(error)
                } else {
                    EventError::BodyMismatch {
                        content_type: content_type.to_owned(),
                        reason: error.to_string(),
                    }
                }
            })?,
        )),
        _ if body.is_empty() => None,
        _ => Some(Data::Binary(Bytes::copy_from_slice(body))),
    };
    validate(&event)?;
    Ok(event)
}

/// A `ce-` header's value: quoted-string unescaped if quoted (as older senders did), then one
/// round of percent-decoding, which must yield UTF-8.
fn header_text(name: &HeaderName, value: &HeaderValue) -> Result<String, EventError> {
    let invalid = |reason| EventError::InvalidHeader {
        name: name.to_string(),
        reason,
    };
    let text = value
        .to_str()
        .map_err(|_| invalid("is not visible ASCII"))?;
    let text = text.trim();
    let unquoted;
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.push(
                        chars
                            .next()
                            .ok_or_else(|| invalid("ends inside an escape"))?,
                    ),
                    c => out.push(c),
                }
            }
            unquoted = out;
            unquoted.as_str()
        }
        None => text,
    };
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| invalid("percent-decodes to bytes that are not UTF-8"))
}

//! The Standard Webhooks payload form: `{"type", "timestamp", "data"}`, the id in `webhook-id`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Data, Event, EventError, format_time, parse_time, validate};

#[derive(Serialize)]
struct PayloadOut<'a, T> {
    #[serde(rename = "type")]
    ty: &'a str,
    timestamp: String,
    data: &'a T,
}

#[derive(Deserialize)]
struct PayloadIn<T> {
    #[serde(rename = "type")]
    ty: Option<String>,
    timestamp: Option<String>,
    data: Option<T>,
}

impl<T: DeserializeOwned> Event<T> {
    /// Reads a Standard Webhooks payload, `{"type": …, "timestamp": …, "data": …}`, as an
    /// event: `id` is the `webhook-id` header's value and `source` names the sender (the payload
    /// has no source, which CloudEvents requires). The data's content type is
    /// `application/json`.
    ///
    /// ```
    /// use hookwire::event::Event;
    ///
    /// let body = br#"{"type":"account.opened","timestamp":"2026-11-27T09:30:00Z","data":{"iban":"DE89"}}"#;
    /// let event: Event = Event::from_standard_webhooks("msg_1", "https://bank.example", body)?;
    /// assert_eq!((event.id(), event.ty()), ("msg_1", "account.opened"));
    /// # Ok::<(), hookwire::event::EventError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EventError::MissingAttribute`] for a missing `type` (or an empty id or source),
    /// [`EventError::InvalidTime`] for a `timestamp` that is not RFC 3339,
    /// [`EventError::InvalidData`] when the data is not a `T`, [`EventError::Json`] for input
    /// that is not JSON.
    pub fn from_standard_webhooks(id: &str, source: &str, body: &[u8]) -> Result<Self, EventError> {
        let payload: PayloadIn<T> = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                EventError::InvalidData(error)
            } else {
                EventError::Json(error)
            }
        })?;
        let time = match payload.timestamp {
            Some(text) => Some(parse_time("timestamp", &text)?),
            None => None,
        };
        let event = Event {
            id: id.to_owned(),
            source: source.to_owned(),
            ty: payload.ty.unwrap_or_default(),
            datacontenttype: Some("application/json".to_owned()),
            dataschema: None,
            subject: None,
            time,
            extensions: Default::default(),
            data: payload.data.map(Data::Json),
        };
        validate(&event)?;
        Ok(event)
    }
}

impl<T: Serialize> Event<T> {
    /// Writes the event as a Standard Webhooks payload; send [`Event::id`] as `webhook-id`.
    ///
    /// # Errors
    ///
    /// [`EventError::MissingAttribute`] when the event has no `time`, and
    /// [`EventError::Unwritable`] when its data is absent or not JSON: the payload form has
    /// room for JSON data only.
    pub fn to_standard_webhooks(&self) -> Result<Vec<u8>, EventError> {
        let time = self
            .time
            .as_ref()
            .ok_or(EventError::MissingAttribute("time"))?;
        let data = match &self.data {
            Some(Data::Json(value)) => value,
            _ => {
                return Err(EventError::Unwritable(
                    "the Standard Webhooks payload holds JSON data only",
                ));
            }
        };
        serde_json::to_vec(&PayloadOut {
            ty: &self.ty,
            timestamp: format_time(time)?,
            data,
        })
        .map_err(|_| EventError::Unwritable("the data could not be serialised as JSON"))
    }
}

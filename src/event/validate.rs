//! What every event must satisfy, however it was made, and the media types it declares.

use super::{Event, EventError, ExtensionValue, Timestamp};

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
            non_empty(name, value)?;
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
            // The String type may be empty; only the attributes named above must not be.
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

/// An optional attribute that, where present, must not be empty (`subject`, `dataschema`, and
/// `datacontenttype`, which RFC 2046 gives no empty form).
fn non_empty(name: &str, value: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::InvalidAttribute {
            name: name.into(),
            reason: "must not be empty",
        });
    }
    string(name, value)
}

/// A CloudEvents String: no control characters (U+0000–U+001F, U+007F–U+009F) and no
/// noncharacters (U+FDD0–U+FDEF, and U+FFFE and U+FFFF in every plane). Rust strings hold no
/// surrogates. It may be empty.
fn string(name: &str, value: &str) -> Result<(), EventError> {
    if value.chars().any(char::is_control) {
        return Err(EventError::InvalidAttribute {
            name: name.into(),
            reason: "must not contain control characters",
        });
    }
    let noncharacter = |c: char| {
        let code = u32::from(c);
        (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
    };
    if value.chars().any(noncharacter) {
        return Err(EventError::InvalidAttribute {
            name: name.into(),
            reason: "must not contain Unicode noncharacters (such as U+FFFE)",
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

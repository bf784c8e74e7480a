//! Events: the builder, typed dispatch, the Standard Webhooks payload form, bad input, limits,
//! and round trips for all events (property tests).

mod common;

use bytes::Bytes;
use hookwire::event::Timestamp;
use hookwire::event::cloudevents::{self, Mode};
use hookwire::event::{Data, Event, EventError, ExtensionValue, RawEvent};
use hookwire::http::{HeaderMap, HeaderValue, Request};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

/// The same point in time and offset as a hookwire `Timestamp`, through its RFC 3339 text.
fn timestamp(at: OffsetDateTime) -> Timestamp {
    Timestamp::parse(
        &at.format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    )
    .unwrap()
}

fn parse(json: &str) -> Result<Event, EventError> {
    Event::from_json(json.as_bytes())
}

const MINIMAL: &str = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#;

fn with(extra: &str) -> String {
    format!(r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t",{extra}}}"#)
}

#[test]
fn minimal_event_reads_with_no_data_and_no_time() {
    let event = parse(MINIMAL).unwrap();
    assert_eq!((event.id(), event.source(), event.ty()), ("1", "/s", "t"));
    assert_eq!(event.data(), None);
    assert_eq!(event.time(), None);
}

#[test]
fn each_missing_required_attribute_is_named() {
    for name in ["specversion", "id", "source", "type"] {
        let mut value: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        value.as_object_mut().unwrap().remove(name);
        match Event::<serde_json::Value>::from_json(value.to_string().as_bytes()) {
            Err(EventError::MissingAttribute(missing)) => assert_eq!(missing, name),
            other => panic!("{name}: {other:?}"),
        }
        value[name] = json!("");
        let result = Event::<serde_json::Value>::from_json(value.to_string().as_bytes());
        assert!(result.is_err(), "{name} empty");
    }
}

#[test]
fn wrong_specversion_is_named() {
    let json = MINIMAL.replace("\"1.0\"", "\"0.3\"");
    assert!(matches!(parse(&json), Err(EventError::UnsupportedSpecVersion(v)) if v == "0.3"));
}

#[test]
fn wrong_attribute_types_are_named() {
    for (extra, name) in [
        (r#""subject":5"#, "subject"),
        (r#""datacontenttype":true"#, "datacontenttype"),
        (r#""time":{}"#, "time"),
        (r#""data_base64":7"#, "data_base64"),
    ] {
        match parse(&with(extra)) {
            Err(EventError::InvalidAttribute { name: got, .. }) => assert_eq!(got, name, "{extra}"),
            other => panic!("{extra}: {other:?}"),
        }
    }
    let json = r#"{"specversion":"1.0","id":7,"source":"/s","type":"t"}"#;
    assert!(matches!(parse(json), Err(EventError::InvalidAttribute { name, .. }) if name == "id"));
}

#[test]
fn bad_times_are_named_and_offsets_and_fractions_are_kept() {
    for bad in [
        "yesterday",
        "2018-04-05",
        "2018-04-05T17:31:00",
        "2018-13-05T17:31:00Z",
    ] {
        match parse(&with(&format!(r#""time":"{bad}""#))) {
            Err(EventError::InvalidTime { name }) => assert_eq!(name, "time"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let event = parse(&with(r#""time":"2026-11-27T09:30:00.123456789+01:00""#)).unwrap();
    let time = event.time().unwrap();
    assert_eq!(time.subsec_nanos(), 123_456_789);
    assert_eq!(time.offset_seconds(), 3600);
    let written = String::from_utf8(event.to_json().unwrap()).unwrap();
    assert!(
        written.contains("2026-11-27T09:30:00.123456789+01:00"),
        "{written}"
    );
}

#[test]
fn invalid_extension_names_and_values_are_named() {
    for name in ["Upper", "with-dash", "under_score", "ünïcode"] {
        match parse(&with(&format!(r#""{name}":"x""#))) {
            Err(EventError::InvalidExtensionName(got)) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    for (extra, name) in [
        (r#""ratio":1.5"#, "ratio"),
        (r#""big":4294967296"#, "big"),
        (r#""nested":{"a":1}"#, "nested"),
        (r#""list":[1]"#, "list"),
    ] {
        match parse(&with(extra)) {
            Err(EventError::InvalidAttribute { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{extra}: {other:?}"),
        }
    }
    let event = parse(&with(
        r#""flag":true,"count":-2147483648,"note":"x","gone":null"#,
    ))
    .unwrap();
    assert_eq!(
        event.extension("flag"),
        Some(&ExtensionValue::Boolean(true))
    );
    assert_eq!(
        event.extension("count"),
        Some(&ExtensionValue::Integer(i32::MIN))
    );
    assert_eq!(event.extension("gone"), None);
}

#[test]
fn data_and_data_base64_together_are_refused() {
    let json = with(r#""data":1,"data_base64":"AQ==""#);
    assert!(
        matches!(parse(&json), Err(EventError::InvalidAttribute { name, .. }) if name == "data")
    );
}

#[test]
fn non_json_content_type_requires_string_data_in_either_order() {
    for extra in [
        r#""datacontenttype":"application/xml","data":{"a":1}"#,
        r#""data":{"a":1},"datacontenttype":"application/xml""#,
    ] {
        assert!(
            matches!(parse(&with(extra)), Err(EventError::InvalidAttribute { name, .. }) if name == "data")
        );
    }
    let late = parse(&with(r#""data":"<x/>","datacontenttype":"text/xml""#)).unwrap();
    assert_eq!(late.data(), Some(&Data::Text("<x/>".into())));
}

#[test]
fn dataschema_must_be_an_absolute_uri_and_strings_hold_no_controls() {
    assert!(
        matches!(parse(&with(r#""dataschema":"/relative""#)), Err(EventError::InvalidAttribute { name, .. }) if name == "dataschema")
    );
    assert!(parse(&with(r#""dataschema":"https://schemas.example/t.json""#)).is_ok());
    assert!(
        matches!(parse(&with(r#""subject":"a\u0007b""#)), Err(EventError::InvalidAttribute { name, .. }) if name == "subject")
    );
}

#[test]
fn input_that_is_not_json_is_a_json_error() {
    // A complete, valid event followed by trailing text: the trailing text is what is refused.
    let trailing = format!("{MINIMAL} trailing");
    for (bad, expected) in [
        ("", "json"),
        ("{", "json"),
        (trailing.as_str(), "json"),
        ("\u{feff}{}", "json"),
        // Well-formed JSON of the wrong shape: not an object.
        ("[]", "invalid data"),
        ("null", "invalid data"),
    ] {
        let result = parse(bad);
        assert_eq!(ended(&result), expected, "{bad:?}: {result:?}");
    }
    assert!(parse(MINIMAL).is_ok());
}

#[test]
fn deeply_nested_data_hits_the_recursion_limit_not_the_stack() {
    let depth = 100_000;
    let data = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for json in [
        with(&format!(r#""data":{data}"#)),
        with(&format!(
            r#""datacontenttype":"application/json","data":{data}"#
        )),
    ] {
        assert!(parse(&json).is_err());
        // Kept raw, the data is only scanned (iteratively, without recursing); parsing it into
        // a type then meets the recursion limit.
        let raw = RawEvent::from_json(json.as_bytes()).expect("raw data is only scanned");
        assert!(raw.decode::<serde_json::Value>().is_err());
    }
}

#[test]
fn a_ten_mebibyte_data_field_reads_and_writes() {
    let big = "x".repeat(10 * 1024 * 1024);
    let json = with(&format!(r#""data":{{"blob":"{big}"}}"#));
    let event = parse(&json).unwrap();
    assert_eq!(
        event.json().unwrap()["blob"].as_str().unwrap().len(),
        big.len()
    );
    let raw = RawEvent::from_json(json.as_bytes()).unwrap();
    assert_eq!(raw.json().unwrap().get().len(), big.len() + 11);
    assert!(event.to_json().unwrap().len() > big.len());
}

// ---------------------------------------------------------------- dispatch

#[derive(Debug, Deserialize, Serialize, PartialEq, Clone)]
struct TransferSettled {
    transfer_id: String,
    amount: String,
}

#[derive(Debug, Deserialize, PartialEq)]
struct AccountOpened {
    account_id: String,
}

#[test]
fn raw_events_dispatch_by_type_and_decode_the_data_once() {
    let json = with(r#""type2":"x","data":{"transfer_id":"tr_1","amount":"9.99"}"#)
        .replace(r#""type":"t""#, r#""type":"transfer.settled""#);
    let raw = RawEvent::from_json(json.as_bytes()).unwrap();
    assert_eq!(raw.ty(), "transfer.settled");
    let typed = raw.clone().decode::<TransferSettled>().unwrap();
    assert_eq!(typed.json().unwrap().amount, "9.99");
    assert!(matches!(
        raw.decode::<AccountOpened>(),
        Err(EventError::InvalidData(_))
    ));
}

#[test]
fn typed_events_read_directly_and_a_shape_mismatch_is_invalid_data() {
    let json = with(r#""data":{"transfer_id":"tr_1","amount":"9.99"}"#);
    let event = Event::<TransferSettled>::from_json(json.as_bytes()).unwrap();
    assert_eq!(event.json().unwrap().transfer_id, "tr_1");
    let json = with(r#""datacontenttype":"application/json","data":{"transfer_id":1}"#);
    assert!(matches!(
        Event::<TransferSettled>::from_json(json.as_bytes()),
        Err(EventError::InvalidData(_))
    ));
}

// ---------------------------------------------------------------- builder

#[test]
fn builder_fills_a_unique_id_and_the_current_time() {
    let before = Timestamp::now();
    let a = Event::builder().ty("t").source("/s").build().unwrap();
    let b = Event::builder().ty("t").source("/s").build().unwrap();
    assert_ne!(a.id(), b.id());
    assert!(a.time().unwrap() >= before);
    let untimed = Event::builder()
        .ty("t")
        .source("/s")
        .time(None)
        .build()
        .unwrap();
    assert_eq!(untimed.time(), None);
}

#[test]
fn builder_refuses_missing_or_invalid_attributes() {
    assert!(matches!(
        Event::builder().source("/s").build(),
        Err(EventError::MissingAttribute("type"))
    ));
    assert!(matches!(
        Event::builder().ty("t").build(),
        Err(EventError::MissingAttribute("source"))
    ));
    assert!(matches!(
        Event::builder()
            .ty("t")
            .source("/s")
            .extension("Bad", "x")
            .build(),
        Err(EventError::InvalidExtensionName(_))
    ));
    assert!(matches!(
        Event::builder()
            .ty("t")
            .source("/s")
            .extension("data", "x")
            .build(),
        Err(EventError::InvalidExtensionName(_))
    ));
}

#[test]
fn typed_extension_values_write_their_canonical_forms() {
    let at = timestamp(OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap());
    let event = Event::builder()
        .ty("t")
        .source("/s")
        .extension("flag", true)
        .extension("count", 7)
        .extension(
            "blob",
            ExtensionValue::Binary(Bytes::from_static(b"\x01\x02")),
        )
        .extension("when", ExtensionValue::Timestamp(at))
        .extension("link", ExtensionValue::Uri("https://example.com".into()))
        .build()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&event.to_json().unwrap()).unwrap();
    assert_eq!(json["flag"], json!(true));
    assert_eq!(json["count"], json!(7));
    assert_eq!(json["blob"], json!("AQI="));
    assert_eq!(json["when"], json!("2023-11-14T22:13:20Z"));
    let (headers, _) = cloudevents::encode(&event, Mode::Binary)
        .unwrap()
        .into_parts();
    assert_eq!(headers["ce-flag"], "true");
    assert_eq!(headers["ce-count"], "7");
    assert_eq!(headers["ce-when"], "2023-11-14T22:13:20Z");
}

// ---------------------------------------------------------------- Standard Webhooks form

#[test]
fn standard_webhooks_payload_reads_and_writes() {
    let body = br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"transfer_id":"tr_1","amount":"1.00"}}"#;
    let event =
        Event::<TransferSettled>::from_standard_webhooks("msg_1", "https://bank.example", body)
            .unwrap();
    assert_eq!(event.id(), "msg_1");
    assert_eq!(event.source(), "https://bank.example");
    assert_eq!(event.datacontenttype(), Some("application/json"));
    let written: serde_json::Value =
        serde_json::from_slice(&event.to_standard_webhooks().unwrap()).unwrap();
    assert_eq!(
        written,
        serde_json::from_slice::<serde_json::Value>(body).unwrap()
    );
}

#[test]
fn standard_webhooks_payload_errors_are_typed() {
    let no_type = br#"{"timestamp":"2026-11-27T09:30:00Z","data":{}}"#;
    assert!(matches!(
        Event::<serde_json::Value>::from_standard_webhooks("m", "/s", no_type),
        Err(EventError::MissingAttribute("type"))
    ));
    let bad_time = br#"{"type":"t","timestamp":"noon","data":{}}"#;
    assert!(matches!(
        Event::<serde_json::Value>::from_standard_webhooks("m", "/s", bad_time),
        Err(EventError::InvalidTime { name }) if name == "timestamp"
    ));
    assert!(matches!(
        Event::<serde_json::Value>::from_standard_webhooks("m", "/s", b"{"),
        Err(EventError::Json(_))
    ));
    let binary = Event::builder()
        .ty("t")
        .source("/s")
        .binary(vec![1u8])
        .build()
        .unwrap();
    assert!(matches!(
        binary.to_standard_webhooks(),
        Err(EventError::Unwritable(_))
    ));
}

// ---------------------------------------------------------------- HTTP binding

#[test]
fn non_events_and_bad_binary_headers_are_typed_errors() {
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&HeaderMap::new(), b"{}"),
        Err(EventError::NotAnEvent)
    ));
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let mut bad = headers.clone();
    bad.insert("ce-subject", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&bad, b""),
        Err(EventError::InvalidHeader { name, .. }) if name == "ce-subject"
    ));
    let mut bad = headers.clone();
    bad.insert("ce-datacontenttype", HeaderValue::from_static("text/plain"));
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&bad, b""),
        Err(EventError::InvalidHeader { name, .. }) if name == "ce-datacontenttype"
    ));
    let mut bad = headers.clone();
    bad.insert("ce-specversion", HeaderValue::from_static("0.3"));
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&bad, b""),
        Err(EventError::UnsupportedSpecVersion(_))
    ));
    let mut bad = headers.clone();
    bad.remove("ce-source");
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&bad, b""),
        Err(EventError::MissingAttribute("source"))
    ));
    let mut bad = headers.clone();
    bad.insert("ce-time", HeaderValue::from_static("soon"));
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&bad, b""),
        Err(EventError::InvalidTime { .. })
    ));
    let mut structured = HeaderMap::new();
    structured.insert(
        "content-type",
        HeaderValue::from_static("application/cloudevents+json"),
    );
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&structured, b"not json"),
        Err(EventError::Json(_))
    ));
}

#[test]
fn requests_and_responses_carry_events_in_every_mode() {
    let event = Event::builder()
        .ty("account.opened")
        .source("/treasury")
        .data(json!({"iban": "DE89 3704"}))
        .build()
        .unwrap();
    for mode in [Mode::Binary, Mode::Structured] {
        let request = cloudevents::encode(&event, mode)
            .and_then(|message| message.into_request(Request::post("https://hooks.example/in")))
            .unwrap();
        assert_eq!(request.method(), "POST");
        let back: Event = cloudevents::decode(request.headers(), request.body()).unwrap();
        assert_eq!(back, event, "{mode:?}");
        let response = cloudevents::encode(&event, mode)
            .and_then(|message| message.into_response(hookwire::http::Response::builder()))
            .unwrap();
        let back: Event = cloudevents::decode(response.headers(), response.body()).unwrap();
        assert_eq!(back, event, "{mode:?}");
    }
    let batch = vec![event.clone(), event.clone()];
    let request = cloudevents::encode_batch(&batch)
        .and_then(|message| message.into_request(Request::post("/in")))
        .unwrap();
    assert_eq!(
        request.headers()["content-type"],
        "application/cloudevents-batch+json"
    );
    let back: Vec<Event> = cloudevents::decode_batch(request.headers(), request.body()).unwrap();
    assert_eq!(back, batch);
    let response = cloudevents::encode_batch(&batch)
        .and_then(|message| message.into_response(hookwire::http::Response::builder()))
        .unwrap();
    let back: Vec<Event> = cloudevents::decode_batch(response.headers(), response.body()).unwrap();
    assert_eq!(back, batch);
    // A single event read as a batch is a batch of one.
    let single = cloudevents::encode(&event, Mode::Binary)
        .and_then(|message| message.into_request(Request::post("/in")))
        .unwrap();
    let back: Vec<Event> = cloudevents::decode_batch(single.headers(), single.body()).unwrap();
    assert_eq!(back, vec![event]);
}

// ---------------------------------------------------------------- properties

fn attribute() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 /:._%\"é€😀-]{1,24}"
}

fn time() -> impl Strategy<Value = Timestamp> {
    (
        -62_135_596_800i64..253_402_300_799,
        0u32..1_000_000_000,
        -86_399i32..86_399,
    )
        .prop_map(|(seconds, nanos, offset)| {
            let offset = time::UtcOffset::from_whole_seconds(offset / 60 * 60).unwrap();
            timestamp(
                (OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                    + time::Duration::nanoseconds(i64::from(nanos)))
                .to_offset(offset),
            )
        })
}

fn json_data() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~é]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Events as they can cross binary mode unchanged: string extensions, JSON or binary data.
fn event(typed_extensions: bool, text_data: bool) -> impl Strategy<Value = Event> {
    let extensions = proptest::collection::btree_map(
        "[a-z][a-z0-9]{0,10}".prop_filter("reserved", |n| {
            ![
                "specversion",
                "id",
                "source",
                "type",
                "datacontenttype",
                "dataschema",
                "subject",
                "time",
                "data",
            ]
            .contains(&n.as_str())
        }),
        prop_oneof![
            attribute().prop_map(ExtensionValue::String),
            any::<bool>().prop_map(ExtensionValue::Boolean),
            any::<i32>().prop_map(ExtensionValue::Integer),
        ],
        0..4,
    );
    let data = prop_oneof![
        Just(None),
        json_data().prop_map(|v| Some(Data::Json(v))),
        proptest::collection::vec(any::<u8>(), 1..64)
            .prop_map(|b| Some(Data::Binary(Bytes::from(b)))),
        "[ -~é]{0,20}".prop_map(|t| Some(Data::Text(t))),
    ];
    (
        attribute(),
        attribute(),
        attribute(),
        proptest::option::of(attribute()),
        proptest::option::of(time()),
        extensions,
        data,
    )
        .prop_filter_map(
            "text data only where wanted",
            move |(id, source, ty, subject, time, extensions, data)| {
                if !text_data && matches!(data, Some(Data::Text(_))) {
                    return None;
                }
                let mut builder = Event::builder().id(id).source(source).ty(ty).time(time);
                if let Some(subject) = subject {
                    builder = builder.subject(subject);
                }
                for (name, value) in extensions {
                    let value = match value {
                        ExtensionValue::String(_) => value,
                        _ if typed_extensions => value,
                        other => ExtensionValue::String(other.to_canonical_string().unwrap()),
                    };
                    builder = builder.extension(name, value);
                }
                let event = match data {
                    None => builder.build(),
                    Some(Data::Json(value)) => builder.data(value).build(),
                    Some(Data::Binary(bytes)) => builder
                        .datacontenttype("application/octet-stream")
                        .binary(bytes)
                        .build(),
                    Some(Data::Text(text)) => {
                        builder.datacontenttype("text/plain").text(text).build()
                    }
                    Some(other) => panic!("the strategy makes no such data: {other:?}"),
                };
                event.ok()
            },
        )
}

proptest! {
    #[test]
    fn structured_json_round_trip_gives_the_same_event(event in event(true, true)) {
        let json = event.to_json().unwrap();
        prop_assert_eq!(Event::from_json(&json).unwrap(), event.clone());
        let (headers, body) = cloudevents::encode(&event, Mode::Structured).unwrap().into_parts();
        prop_assert_eq!(cloudevents::decode::<serde_json::Value>(&headers, &body).unwrap(), event);
    }

    #[test]
    fn binary_mode_request_round_trip_gives_the_same_event(event in event(false, false)) {
        let request = cloudevents::encode(&event, Mode::Binary).and_then(|message| message.into_request(Request::post("/in"))).unwrap();
        let back: Event = cloudevents::decode(request.headers(), request.body()).unwrap();
        prop_assert_eq!(back, event);
    }
}

/// Where a read ended.
fn ended<T>(result: &Result<T, EventError>) -> &'static str {
    match result {
        Ok(_) => "read",
        Err(EventError::MissingAttribute(_)) => "missing attribute",
        Err(EventError::UnsupportedSpecVersion(_)) => "unsupported specversion",
        Err(EventError::InvalidAttribute { .. }) => "invalid attribute",
        Err(EventError::InvalidTime { .. }) => "invalid time",
        Err(EventError::InvalidExtensionName(_)) => "invalid extension name",
        Err(EventError::Json(_)) => "json",
        Err(EventError::InvalidData(_)) => "invalid data",
        Err(EventError::BodyMismatch { .. }) => "body mismatch",
        Err(EventError::InvalidHeader { .. }) => "invalid header",
        Err(EventError::NotAnEvent) => "not an event",
        Err(_) => "other",
    }
}

/// A change to a valid event's JSON object.
fn json_mutation() -> impl Strategy<Value = (u8, String, String)> {
    (
        0u8..8,
        prop_oneof![
            Just("specversion".to_owned()),
            Just("id".to_owned()),
            Just("source".to_owned()),
            Just("type".to_owned()),
            Just("time".to_owned()),
            Just("subject".to_owned()),
            "[A-Za-z_.-]{1,12}",
        ],
        "[ -~]{0,16}",
    )
}

#[test]
fn mutated_events_reach_attribute_validation_in_structured_json() {
    let strategy = (event(true, true), json_mutation());
    let counts = common::outcomes(2560, strategy, |(event, (kind, member, text))| {
        let mut value: serde_json::Value =
            serde_json::from_slice(&event.to_json().unwrap()).unwrap();
        let object = value.as_object_mut().unwrap();
        let mut json = match kind {
            0 | 1 => value.to_string(),
            2 => {
                object.remove(&member);
                value.to_string()
            }
            3 => {
                object.insert(member, json!(text));
                value.to_string()
            }
            4 => {
                object.insert(member, json!(7));
                value.to_string()
            }
            5 => {
                object.insert(member, json!(""));
                value.to_string()
            }
            6 => format!("{value} {text}"),
            _ => value.to_string(),
        };
        if kind == 1 {
            json = json.replace("\"1.0\"", "\"0.3\"");
        }
        let mut json = json.into_bytes();
        if kind == 7 {
            json.truncate(json.len() / 2);
        }
        let result = Event::<serde_json::Value>::from_json(&json);
        let raw = RawEvent::from_json(&json);
        assert_eq!(
            result.is_ok(),
            raw.is_ok(),
            "{}",
            String::from_utf8_lossy(&json)
        );
        ended(&result)
    });
    let total: u32 = counts.values().sum();
    let read = counts.get("read").copied().unwrap_or(0);
    let validated = total - counts.get("json").copied().unwrap_or(0);
    assert!(read * 10 >= total, "{counts:?}");
    assert!(validated * 3 >= total * 2, "{counts:?}");
    for outcome in [
        "missing attribute",
        "invalid attribute",
        "invalid time",
        "invalid extension name",
        "unsupported specversion",
        "json",
    ] {
        assert!(
            counts.contains_key(outcome),
            "{outcome} never reached: {counts:?}"
        );
    }
    assert!(!counts.contains_key("other"), "{counts:?}");
}

#[test]
fn mutated_binary_mode_headers_reach_attribute_validation() {
    let strategy = (
        event(false, false),
        0u8..6,
        any::<prop::sample::Index>(),
        "[ -~]{0,16}",
    );
    let counts = common::outcomes(2560, strategy, |(event, kind, which, text)| {
        let (mut headers, body) = cloudevents::encode(&event, Mode::Binary)
            .unwrap()
            .into_parts();
        let names: Vec<_> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("ce-"))
            .cloned()
            .collect();
        let name = names[which.index(names.len())].clone();
        match kind {
            0 | 1 => {}
            2 => {
                headers.remove(&name);
            }
            3 => {
                headers.insert(name, HeaderValue::from_str(&text).unwrap());
            }
            4 => {
                headers.insert("ce-time", HeaderValue::from_str(&text).unwrap());
            }
            _ => {
                headers.insert("ce-Bad_Name", HeaderValue::from_static("x"));
            }
        }
        ended(&cloudevents::decode::<serde_json::Value>(&headers, &body))
    });
    let total: u32 = counts.values().sum();
    let read = counts.get("read").copied().unwrap_or(0);
    assert!(read * 4 >= total, "{counts:?}");
    for outcome in [
        "missing attribute",
        "invalid time",
        "invalid extension name",
    ] {
        assert!(
            counts.contains_key(outcome),
            "{outcome} never reached: {counts:?}"
        );
    }
    assert!(!counts.contains_key("other"), "{counts:?}");
}

#[test]
fn a_repeated_member_in_structured_json_is_refused() {
    let base = r#""specversion":"1.0","id":"a","source":"/s","type":"t""#;
    for (extra, name) in [
        (r#","id":"b""#, "id"),
        (r#","type":"other""#, "type"),
        (r#","subject":"x","subject":"y""#, "subject"),
        (r#","traceparent":"1","traceparent":"2""#, "traceparent"),
        (r#","data":1,"data":2"#, "data"),
    ] {
        let text = format!("{{{base}{extra}}}");
        let error = Event::<serde_json::Value>::from_json(text.as_bytes()).unwrap_err();
        match &error {
            EventError::InvalidAttribute { name: got, reason } => {
                assert_eq!(got, name, "{text}");
                assert!(reason.contains("twice"), "{reason}");
            }
            other => panic!("{text}: {other:?}"),
        }
        assert!(RawEvent::from_json(text.as_bytes()).is_err(), "{text}");
    }
    // Each once is fine.
    let text = format!(r#"{{{base},"subject":"x","traceparent":"1"}}"#);
    assert!(Event::<serde_json::Value>::from_json(text.as_bytes()).is_ok());
}

#[test]
fn a_repeated_ce_header_in_binary_mode_is_refused() {
    for repeated in ["ce-id", "ce-type", "ce-specversion", "ce-traceparent"] {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "a"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
            ("ce-traceparent", "00"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        assert!(cloudevents::decode::<serde_json::Value>(&headers, b"{}").is_ok());
        headers.append(repeated, HeaderValue::from_static("1.0"));
        let error = cloudevents::decode::<serde_json::Value>(&headers, b"{}").unwrap_err();
        assert!(
            matches!(&error, EventError::InvalidHeader { name, .. } if name == repeated),
            "{repeated}: {error:?}"
        );
    }
}

#[cfg(feature = "test-util")]
#[test]
fn the_builder_stamps_the_time_from_the_clock_it_is_given() {
    use std::time::{Duration, UNIX_EPOCH};

    let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = hookwire::testing::FakeClock::at(at);
    let event = hookwire::event::Event::builder()
        .ty("transfer.settled")
        .source("/transfers")
        .clock(&clock)
        .build()
        .unwrap();
    assert_eq!(
        event.time().map(|time| time.unix_seconds()),
        Some(1_800_000_000)
    );
    // Without a clock, the system's: not the fake one.
    let event = hookwire::event::Event::builder()
        .ty("transfer.settled")
        .source("/transfers")
        .build()
        .unwrap();
    assert_ne!(
        event.time().map(|time| time.unix_seconds()),
        Some(1_800_000_000)
    );
}

#[cfg(all(feature = "time", feature = "chrono", feature = "jiff"))]
#[test]
fn timestamps_convert_to_and_from_the_time_chrono_and_jiff_types_keeping_the_instant() {
    let at = Timestamp::parse("2026-11-27T09:30:00.123456789+01:00").unwrap();

    let as_time = OffsetDateTime::from(at);
    assert_eq!(as_time.offset().whole_seconds(), 3600);
    assert_eq!(Timestamp::try_from(as_time).unwrap(), at);
    assert_eq!(
        Timestamp::try_from(as_time).unwrap().to_string(),
        at.to_string()
    );

    let as_chrono = chrono::DateTime::<chrono::FixedOffset>::from(at);
    assert_eq!(
        as_chrono.to_rfc3339(),
        "2026-11-27T09:30:00.123456789+01:00"
    );
    assert_eq!(
        Timestamp::try_from(as_chrono).unwrap().to_string(),
        at.to_string()
    );

    let as_jiff = jiff::Timestamp::from(at);
    assert_eq!(as_jiff.as_nanosecond() % 1_000_000_000, 123_456_789);
    // jiff's Timestamp has no offset: the instant is kept, written in UTC.
    let back = Timestamp::try_from(as_jiff).unwrap();
    assert_eq!(back, at);
    assert_eq!(back.to_string(), "2026-11-27T08:30:00.123456789Z");

    // Years RFC 3339 cannot write are refused, never a panic.
    let far = OffsetDateTime::from_unix_timestamp(-62_167_219_201).unwrap(); // the year -1
    assert!(Timestamp::try_from(far).is_err());
    assert!(
        Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::MAX / 4))
            .is_err()
    );
}

#[test]
fn an_empty_extension_string_is_a_valid_attribute_in_every_mode() {
    let event = Event::builder()
        .ty("t")
        .source("/s")
        .extension("note", "")
        .data(json!({"a": 1}))
        .build()
        .unwrap();
    assert_eq!(
        event.extensions().get("note"),
        Some(&hookwire::event::ExtensionValue::String(String::new()))
    );
    let json = event.to_json().unwrap();
    assert_eq!(Event::from_json(&json).unwrap(), event);
    for mode in [Mode::Binary, Mode::Structured] {
        let (headers, body) = cloudevents::encode(&event, mode).unwrap().into_parts();
        let back: Event = cloudevents::decode(&headers, &body).unwrap();
        assert_eq!(back, event, "{mode:?}");
    }
    let (headers, body) = cloudevents::encode_batch(std::slice::from_ref(&event))
        .unwrap()
        .into_parts();
    let back: Vec<Event> = cloudevents::decode_batch(&headers, &body).unwrap();
    assert_eq!(back, vec![event]);
    // The attributes the specification says must be non-empty still must.
    assert!(
        Event::builder()
            .ty("t")
            .source("/s")
            .subject("")
            .build()
            .is_err()
    );
}

#[test]
fn unicode_noncharacters_are_refused_where_the_string_type_excludes_them() {
    for bad in [
        "\u{FFFE}",
        "a\u{FFFF}",
        "\u{FDD0}x",
        "\u{1FFFE}",
        "\u{10FFFF}",
    ] {
        let subject = Event::builder().ty("t").source("/s").subject(bad).build();
        assert!(
            matches!(&subject, Err(EventError::InvalidAttribute { reason, .. }) if reason.contains("noncharacter")),
            "{bad:?}: {subject:?}"
        );
        let extension = Event::builder()
            .ty("t")
            .source("/s")
            .extension("x", bad)
            .build();
        assert!(extension.is_err(), "{bad:?}");
        let json =
            format!(r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","x":"{bad}"}}"#);
        assert!(
            Event::<serde_json::Value>::from_json(json.as_bytes()).is_err(),
            "{bad:?}"
        );
    }
    // Neighbours of the noncharacters are ordinary characters.
    for good in ["\u{FDCF}", "\u{FDF0}", "\u{FFFD}", "\u{1FFFD}"] {
        assert!(
            Event::builder()
                .ty("t")
                .source("/s")
                .subject(good)
                .build()
                .is_ok(),
            "{good:?}"
        );
    }
}

#[test]
fn an_event_built_as_given_gets_no_invented_id_time_or_content_type() {
    let event = Event::builder()
        .as_given()
        .id("upstream-7")
        .ty("t")
        .source("/s")
        .data(json!({"a": 1}))
        .build()
        .unwrap();
    assert_eq!(event.id(), "upstream-7");
    assert_eq!(event.time(), None);
    assert_eq!(event.datacontenttype(), None);
    // Without an id there is nothing to keep: an error, not an invented one.
    assert!(matches!(
        Event::builder().as_given().ty("t").source("/s").build(),
        Err(EventError::MissingAttribute("id"))
    ));
    // By default all three are filled in.
    let filled = Event::builder()
        .ty("t")
        .source("/s")
        .data(json!({}))
        .build()
        .unwrap();
    assert!(filled.id().starts_with("evt_") && filled.time().is_some());
    assert_eq!(filled.datacontenttype(), Some("application/json"));
}

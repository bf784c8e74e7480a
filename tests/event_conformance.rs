//! Conformance with the CloudEvents 1.0 specification's own examples.
//!
//! Sources, from github.com/cloudevents/spec:
//! - `cloudevents/formats/json-format.md` (v1.0.2), section 3.2 "Examples": four events in the
//!   JSON format, each beside its re-encoding in HTTP binary content mode; section 4.3: a batch
//!   and an empty batch. The placeholder `... base64 encoded string ...` of the binary examples
//!   is not base64; the examples use `AQIDBA==` (the bytes 1 2 3 4) in its place, and a test
//!   checks that the placeholder itself is refused.
//! - `cloudevents/bindings/http-protocol-binding.md`, section 3.1.3.2: the percent-encoding of
//!   `Euro € 😀` and the refusal of the overlong `%C0%A0`.

use bytes::Bytes;
use hookwire::event::cloudevents::{self, Mode};
use hookwire::event::{Data, Event, EventError, ExtensionValue};
use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;

const BINARY_DATA_JSON: &str = r#"{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "A234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/vnd.apache.thrift.binary",
    "data_base64" : "AQIDBA=="
}"#;

const XML_DATA_JSON: &str = r#"{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "B234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "unsetextension": null,
    "datacontenttype" : "application/xml",
    "data" : "<much wow=\"xml\"/>"
}"#;

const OBJECT_DATA_JSON: &str = r#"{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "C234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/json",
    "data" : {
        "appinfoA" : "abc",
        "appinfoB" : 123,
        "appinfoC" : true
    }
}"#;

const STRING_DATA_JSON: &str = r#"{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "D234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "data" : "I'm just a string"
}"#;

const BATCH_JSON: &str = r#"[
  {
      "specversion" : "1.0",
      "type" : "com.example.someevent",
      "source" : "/mycontext/4",
      "id" : "B234-1234-1234",
      "time" : "2018-04-05T17:31:00Z",
      "comexampleextension1" : "value",
      "comexampleothervalue" : 5,
      "datacontenttype" : "application/vnd.apache.thrift.binary",
      "data_base64" : "AQIDBA=="
  },
  {
      "specversion" : "1.0",
      "type" : "com.example.someotherevent",
      "source" : "/mycontext/9",
      "id" : "C234-1234-1234",
      "time" : "2018-04-05T17:31:05Z",
      "comexampleextension1" : "value",
      "comexampleothervalue" : 5,
      "datacontenttype" : "application/json",
      "data" : {
          "appinfoA" : "abc",
          "appinfoB" : 123,
          "appinfoC" : true
      }
  }
]"#;

/// A binary-mode message from the specification's `name: value` lines and body.
fn binary(lines: &str, body: &[u8]) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(": ").unwrap();
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    (headers, Bytes::copy_from_slice(body))
}

fn common_checks(event: &Event, id: &str) {
    assert_eq!(event.id(), id);
    assert_eq!(event.ty(), "com.example.someevent");
    assert_eq!(event.source(), "/mycontext");
    assert_eq!(event.time().unwrap().unix_seconds(), 1522949460);
    assert_eq!(event.subject(), None);
}

#[test]
fn binary_valued_data_example_reads_as_bytes_in_both_forms() {
    let event = Event::from_json(BINARY_DATA_JSON.as_bytes()).unwrap();
    common_checks(&event, "A234-1234-1234");
    assert_eq!(
        event.data(),
        Some(&Data::Binary(Bytes::from_static(&[1, 2, 3, 4])))
    );
    assert_eq!(
        event.extension("comexampleothervalue"),
        Some(&ExtensionValue::Integer(5))
    );
    assert_eq!(
        event.datacontenttype(),
        Some("application/vnd.apache.thrift.binary")
    );

    let (headers, body) = binary(
        "ce-specversion: 1.0
         ce-type: com.example.someevent
         ce-source: /mycontext
         ce-id: A234-1234-1234
         ce-time: 2018-04-05T17:31:00Z
         ce-comexampleextension1: value
         ce-comexampleothervalue: 5
         content-type: application/vnd.apache.thrift.binary",
        &[1, 2, 3, 4],
    );
    let from_http: Event = cloudevents::decode(&headers, &body).unwrap();
    common_checks(&from_http, "A234-1234-1234");
    assert_eq!(from_http.data(), event.data());
    // Headers carry strings: the integer extension reads back as its canonical string.
    assert_eq!(
        from_http.extension("comexampleothervalue"),
        Some(&ExtensionValue::String("5".into()))
    );
}

#[test]
fn the_base64_placeholder_of_the_specification_is_refused_as_invalid_base64() {
    let placeholder = BINARY_DATA_JSON.replace("AQIDBA==", "... base64 encoded string ...");
    match Event::<serde_json::Value>::from_json(placeholder.as_bytes()) {
        Err(EventError::InvalidAttribute { name, .. }) => assert_eq!(name, "data_base64"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn xml_string_data_example_reads_as_text_and_a_null_extension_as_unset() {
    let event = Event::from_json(XML_DATA_JSON.as_bytes()).unwrap();
    common_checks(&event, "B234-1234-1234");
    assert_eq!(
        event.data(),
        Some(&Data::Text("<much wow=\"xml\"/>".into()))
    );
    assert_eq!(event.extension("unsetextension"), None);
    assert_eq!(event.extensions().len(), 2);

    let (headers, body) = binary(
        "ce-specversion: 1.0
         ce-type: com.example.someevent
         ce-source: /mycontext
         ce-id: B234-1234-1234
         ce-time: 2018-04-05T17:31:00Z
         ce-comexampleextension1: value
         ce-comexampleothervalue: 5
         content-type: application/xml",
        b"<much wow=\"xml\"/>",
    );
    let from_http: Event = cloudevents::decode(&headers, &body).unwrap();
    common_checks(&from_http, "B234-1234-1234");
    assert_eq!(
        from_http.data(),
        Some(&Data::Binary(Bytes::from_static(b"<much wow=\"xml\"/>")))
    );
}

#[test]
fn json_object_data_example_reads_the_same_in_both_forms() {
    let event = Event::from_json(OBJECT_DATA_JSON.as_bytes()).unwrap();
    common_checks(&event, "C234-1234-1234");
    let expected = json!({"appinfoA": "abc", "appinfoB": 123, "appinfoC": true});
    assert_eq!(event.json(), Some(&expected));

    let (headers, body) = binary(
        "ce-specversion: 1.0
         ce-type: com.example.someevent
         ce-source: /mycontext
         ce-id: C234-1234-1234
         ce-time: 2018-04-05T17:31:00Z
         ce-comexampleextension1: value
         ce-comexampleothervalue: 5
         content-type: application/json",
        b"{\n  \"appinfoA\" : \"abc\",\n  \"appinfoB\" : 123,\n  \"appinfoC\" : true\n}",
    );
    let from_http: Event = cloudevents::decode(&headers, &body).unwrap();
    assert_eq!(from_http.json(), Some(&expected));
    assert_eq!(from_http.datacontenttype(), Some("application/json"));
}

#[test]
fn string_data_without_content_type_is_json_and_gains_application_json_in_binary_mode() {
    let event = Event::from_json(STRING_DATA_JSON.as_bytes()).unwrap();
    common_checks(&event, "D234-1234-1234");
    assert_eq!(event.json(), Some(&json!("I'm just a string")));
    assert_eq!(event.datacontenttype(), None);

    // Re-encoded in binary mode, the implied content type is made explicit and the string
    // stays a quoted JSON string, as the specification's example shows.
    let (headers, body) = cloudevents::encode(&event, Mode::Binary)
        .unwrap()
        .into_parts();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(&body[..], b"\"I'm just a string\"");

    let (headers, body) = binary(
        "ce-specversion: 1.0
         ce-type: com.example.someevent
         ce-source: /mycontext
         ce-id: D234-1234-1234
         ce-time: 2018-04-05T17:31:00Z
         ce-comexampleextension1: value
         ce-comexampleothervalue: 5
         content-type: application/json",
        b"\"I'm just a string\"",
    );
    let from_http: Event = cloudevents::decode(&headers, &body).unwrap();
    assert_eq!(from_http.json(), Some(&json!("I'm just a string")));

    // Without the quotes, the body is not the JSON its content type declares.
    let (headers, body) = binary(
        "ce-specversion: 1.0
         ce-type: com.example.someevent
         ce-source: /mycontext
         ce-id: D234-1234-1234
         content-type: application/json",
        b"I'm just a string",
    );
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&headers, &body),
        Err(EventError::BodyMismatch { .. })
    ));
}

#[test]
fn batch_example_and_empty_batch_read_with_the_batch_media_type() {
    let events = Event::<serde_json::Value>::from_json_batch(BATCH_JSON.as_bytes()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].source(), "/mycontext/4");
    assert_eq!(events[1].ty(), "com.example.someotherevent");
    assert_eq!(events[1].time().unwrap().unix_seconds(), 1522949465);

    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/cloudevents-batch+json; charset=utf-8"),
    );
    let read: Vec<Event> = cloudevents::decode_batch(&headers, BATCH_JSON.as_bytes()).unwrap();
    assert_eq!(read, events);
    assert!(matches!(
        cloudevents::decode::<serde_json::Value>(&headers, BATCH_JSON.as_bytes()),
        Err(EventError::UnexpectedBatch)
    ));
    let empty: Vec<Event> = cloudevents::decode_batch(&headers, b"[]").unwrap();
    assert!(empty.is_empty());
}

#[test]
fn structured_mode_reads_every_json_example() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/cloudevents+json; charset=UTF-8"),
    );
    for json in [
        BINARY_DATA_JSON,
        XML_DATA_JSON,
        OBJECT_DATA_JSON,
        STRING_DATA_JSON,
    ] {
        let event: Event = cloudevents::decode(&headers, json.as_bytes()).unwrap();
        assert_eq!(event, Event::from_json(json.as_bytes()).unwrap());
    }
}

#[test]
fn every_json_example_survives_writing_and_reading_again() {
    for json in [
        BINARY_DATA_JSON,
        XML_DATA_JSON,
        OBJECT_DATA_JSON,
        STRING_DATA_JSON,
    ] {
        let event: Event = Event::from_json(json.as_bytes()).unwrap();
        let written = event.to_json().unwrap();
        assert_eq!(Event::from_json(&written).unwrap(), event, "{json}");
    }
}

#[test]
fn header_values_are_percent_encoded_as_the_binding_specifies() {
    let event = Event::builder()
        .id("1")
        .ty("t")
        .source("/s")
        .subject("Euro € 😀")
        .extension("quote", "say \"hi\" 100%")
        .build()
        .unwrap();
    let (headers, _) = cloudevents::encode(&event, Mode::Binary)
        .unwrap()
        .into_parts();
    assert_eq!(headers["ce-subject"], "Euro%20%E2%82%AC%20%F0%9F%98%80");
    assert_eq!(headers["ce-quote"], "say%20%22hi%22%20100%25");
    let back: Event = cloudevents::decode(&headers, b"").unwrap();
    assert_eq!(back.subject(), Some("Euro € 😀"));
    assert_eq!(
        back.extension("quote"),
        Some(&ExtensionValue::String("say \"hi\" 100%".into()))
    );
}

#[test]
fn percent_decoding_accepts_lowercase_and_needless_escapes_and_rejects_overlong_utf8() {
    let (headers, _) = binary(
        "ce-specversion: 1.0
         ce-type: t
         ce-source: /s
         ce-id: %31
         ce-subject: Euro%20%e2%82%ac",
        b"",
    );
    let event: Event = cloudevents::decode(&headers, b"").unwrap();
    assert_eq!(event.id(), "1");
    assert_eq!(event.subject(), Some("Euro €"));

    let (headers, _) = binary(
        "ce-specversion: 1.0
         ce-type: t
         ce-source: /s
         ce-id: 1
         ce-subject: %C0%A0",
        b"",
    );
    match cloudevents::decode::<serde_json::Value>(&headers, b"") {
        Err(EventError::InvalidHeader { name, .. }) => assert_eq!(name, "ce-subject"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn quoted_header_values_from_older_senders_are_unescaped() {
    let (headers, _) = binary(
        r#"ce-specversion: 1.0
         ce-type: t
         ce-source: /s
         ce-id: 1
         ce-subject: "hello \"world\"""#,
        b"",
    );
    let event: Event = cloudevents::decode(&headers, b"").unwrap();
    assert_eq!(event.subject(), Some("hello \"world\""));
}

//! Interoperability with the CloudEvents SDK for Rust (`cloudevents-sdk`), in the JSON event
//! format (structured mode) and the JSON batch format, both ways: what one side writes, the
//! other reads as the same event, attribute by attribute.
//!
//! Binary mode is compared too, through the SDK's `http-binding`, for the attribute values both
//! sides write alike: the SDK neither percent-encodes nor decodes `ce-` header values, which
//! the HTTP binding requires (CloudEvents HTTP Protocol Binding 1.0.2, §3.1.3.2), so values
//! with a space, `"`, `%` or anything outside printable ASCII are left out of that comparison
//! by [`written_alike_in_headers`], which documents the deviation instead of hiding it.
#![cfg(feature = "chrono")]

use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use hookwire::event::{Event, ExtensionValue};
use proptest::prelude::*;

/// Attribute text in the three classes the binding cares about: plain ASCII, printable ASCII
/// with space, `"` and `%`, and any valid CloudEvents string (no control characters, no
/// noncharacters).
fn text() -> impl Strategy<Value = String> {
    // Noncharacters are U+FDD0 to U+FDEF and the last two code points of every plane.
    let noncharacter = |c: char| {
        let code = u32::from(c);
        (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
    };
    prop_oneof![
        "[a-zA-Z0-9._-]{1,24}".boxed(),
        "[ -~]{1,24}".boxed(),
        "[^\\p{Cc}]{1,24}"
            .prop_map(move |s| {
                s.chars()
                    .map(|c| if noncharacter(c) { 'x' } else { c })
                    .collect()
            })
            .boxed(),
    ]
}

#[derive(Debug, Clone)]
struct Attributes {
    id: String,
    source: String,
    ty: String,
    subject: Option<String>,
    time: Option<(i64, u32)>,
    extensions: Vec<(String, String)>,
    data: Option<serde_json::Value>,
}

fn attributes() -> impl Strategy<Value = Attributes> {
    (
        text(),
        "/[a-z]{1,12}(/[a-z0-9]{1,8}){0,2}",
        "[a-z]{1,10}(\\.[a-z]{1,10}){0,2}",
        proptest::option::of(text()),
        proptest::option::of((0i64..253_402_300_799, 0u32..1_000_000_000)),
        proptest::collection::btree_map("[a-z][a-z0-9]{0,9}", text(), 0..4),
        proptest::option::of(prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            text().prop_map(|t| serde_json::json!({ "note": t, "n": [1, 2.5, null, true] })),
        ]),
    )
        .prop_map(
            |(id, source, ty, subject, time, extensions, data)| Attributes {
                id,
                source,
                ty,
                subject,
                time,
                extensions: extensions
                    .into_iter()
                    .filter(|(name, _)| !RESERVED.contains(&name.as_str()))
                    .collect(),
                data,
            },
        )
}

/// Names the specification keeps for its own attributes.
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

fn ours(a: &Attributes) -> Event {
    let mut builder = Event::builder()
        .as_given()
        .id(&a.id)
        .source(&a.source)
        .ty(&a.ty);
    if let Some(subject) = &a.subject {
        builder = builder.subject(subject);
    }
    if let Some((seconds, nanos)) = a.time {
        let at = chrono::DateTime::from_timestamp(seconds, nanos).unwrap();
        builder = builder.time(hookwire::event::Timestamp::try_from(at).unwrap());
    }
    for (name, value) in &a.extensions {
        builder = builder.extension(name, value.as_str());
    }
    match &a.data {
        Some(data) => builder
            .datacontenttype("application/json")
            .data(data.clone())
            .build()
            .unwrap(),
        None => builder.build().unwrap(),
    }
}

fn theirs(a: &Attributes) -> cloudevents::Event {
    let mut builder = EventBuilderV10::new()
        .id(&a.id)
        .source(a.source.as_str())
        .ty(&a.ty);
    if let Some(subject) = &a.subject {
        builder = builder.subject(subject.as_str());
    }
    if let Some((seconds, nanos)) = a.time {
        builder = builder.time(chrono::DateTime::from_timestamp(seconds, nanos).unwrap());
    }
    for (name, value) in &a.extensions {
        builder = builder.extension(name, value.as_str());
    }
    if let Some(data) = &a.data {
        builder = builder.data("application/json", data.clone());
    }
    builder.build().unwrap()
}

/// The two events carry the same attributes and data.
fn same(ours: &Event, theirs: &cloudevents::Event) -> Result<(), TestCaseError> {
    prop_assert_eq!(ours.id(), theirs.id());
    prop_assert_eq!(ours.source(), theirs.source().as_str());
    prop_assert_eq!(ours.ty(), theirs.ty());
    prop_assert_eq!(ours.subject(), theirs.subject());
    prop_assert_eq!(ours.datacontenttype(), theirs.datacontenttype());
    prop_assert_eq!(
        ours.time()
            .map(chrono::DateTime::<chrono::FixedOffset>::from),
        theirs.time().map(|time| time.fixed_offset())
    );
    let their_extensions: Vec<(String, String)> = theirs
        .iter_extensions()
        .map(|(name, value)| (name.to_owned(), value.to_string()))
        .collect();
    let our_extensions: Vec<(String, String)> = ours
        .extensions()
        .iter()
        .map(|(name, value)| match value {
            ExtensionValue::String(text) => (name.clone(), text.clone()),
            other => (name.clone(), other.to_canonical_string().unwrap()),
        })
        .collect();
    let mut their_extensions = their_extensions;
    their_extensions.sort();
    prop_assert_eq!(our_extensions, their_extensions);
    let their_data = match theirs.data() {
        Some(cloudevents::Data::Json(value)) => Some(value.clone()),
        // In binary mode the SDK keeps the body as bytes, whatever its content type.
        Some(cloudevents::Data::Binary(bytes))
            if theirs.datacontenttype() == Some("application/json") =>
        {
            Some(serde_json::from_slice(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?)
        }
        None => None,
        Some(other) => return Err(TestCaseError::fail(format!("unexpected data {other:?}"))),
    };
    prop_assert_eq!(ours.json().cloned(), their_data);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// What hookwire writes in the JSON format, the SDK reads as the same event.
    #[test]
    fn the_sdk_reads_what_hookwire_writes(a in attributes()) {
        let ours = ours(&a);
        let theirs: cloudevents::Event = serde_json::from_slice(&ours.to_json().unwrap()).unwrap();
        same(&ours, &theirs)?;
    }

    /// What the SDK writes in the JSON format, hookwire reads as the same event.
    #[test]
    fn hookwire_reads_what_the_sdk_writes(a in attributes()) {
        let theirs = theirs(&a);
        let ours: Event = Event::from_json(&serde_json::to_vec(&theirs).unwrap()).unwrap();
        same(&ours, &theirs)?;
    }

    /// A JSON batch written by either side is read by the other, event by event.
    #[test]
    fn batches_cross_both_ways(batch in proptest::collection::vec(attributes(), 0..4)) {
        let ours_batch: Vec<Event> = batch.iter().map(ours).collect();
        let read: Vec<cloudevents::Event> =
            serde_json::from_slice(&Event::to_json_batch(&ours_batch).unwrap()).unwrap();
        prop_assert_eq!(read.len(), ours_batch.len());
        for (ours, theirs) in ours_batch.iter().zip(&read) {
            same(ours, theirs)?;
        }
        let theirs_batch: Vec<cloudevents::Event> = batch.iter().map(theirs).collect();
        let read: Vec<Event> = Event::from_json_batch(&serde_json::to_vec(&theirs_batch).unwrap()).unwrap();
        for (ours, theirs) in read.iter().zip(&theirs_batch) {
            same(ours, theirs)?;
        }
    }
}

/// Whether every attribute and extension value is one the SDK writes and reads in a `ce-`
/// header as the binding says: printable ASCII without space, `"` or `%`, which need no
/// percent-encoding (CloudEvents HTTP Protocol Binding 1.0.2, §3.1.3.2). The SDK does not
/// percent-encode or decode, so for other values the two sides differ by design of the SDK.
fn written_alike_in_headers(a: &Attributes) -> bool {
    let plain = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'%')
    };
    plain(&a.id)
        && plain(&a.source)
        && plain(&a.ty)
        && a.subject.as_deref().is_none_or(plain)
        && a.extensions.iter().all(|(_, value)| plain(value))
}

/// The headers and body of the SDK's binary-mode message.
struct Collect(hookwire::http::HeaderMap);

impl cloudevents::binding::http::Builder<(hookwire::http::HeaderMap, Vec<u8>)> for Collect {
    fn header(&mut self, key: &str, value: hookwire::http::HeaderValue) {
        let name = hookwire::http::HeaderName::from_bytes(key.as_bytes()).unwrap();
        self.0.append(name, value);
    }
    fn body(
        &mut self,
        bytes: Vec<u8>,
    ) -> cloudevents::message::Result<(hookwire::http::HeaderMap, Vec<u8>)> {
        Ok((std::mem::take(&mut self.0), bytes))
    }
    fn finish(&mut self) -> cloudevents::message::Result<(hookwire::http::HeaderMap, Vec<u8>)> {
        self.body(Vec::new())
    }
}

proptest! {
    // About one case in six has only values both write alike; 256 of those are compared.
    #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 65_536, ..ProptestConfig::default() })]

    /// In binary mode, each side reads what the other writes, for the values both write
    /// alike (see [`written_alike_in_headers`]); the others are skipped.
    #[test]
    fn binary_mode_crosses_both_ways_where_the_sdk_follows_the_binding(a in attributes()) {
        prop_assume!(written_alike_in_headers(&a));
        let ours = ours(&a);
        let (headers, body) = hookwire::event::cloudevents::encode(&ours, hookwire::event::cloudevents::Mode::Binary)
            .unwrap()
            .into_parts();
        let read = cloudevents::binding::http::to_event(&headers, body.to_vec()).unwrap();
        same(&ours, &read)?;

        let theirs = theirs(&a);
        let (headers, body) = cloudevents::message::BinaryDeserializer::deserialize_binary(
            theirs.clone(),
            cloudevents::binding::http::Serializer::new(Collect(Default::default())),
        )
        .unwrap();
        let read: Event = hookwire::event::cloudevents::decode(&headers, &body).unwrap();
        same(&read, &theirs)?;
    }
}

/// A real receiver: events the SDK writes, in binary, structured and batch modes, signed by
/// hookwire and sent over loopback by a real client, reach hookwire's axum receiver as the
/// same events. The SDK's own reqwest binding wraps reqwest 0.12; the SDK's HTTP
/// serialisation is used here and reqwest 0.13 sends it, so that one HTTP stack is built.
#[cfg(all(feature = "axum", feature = "hyper"))]
#[tokio::test]
async fn events_the_sdk_writes_reach_the_axum_receiver_in_every_mode() {
    use axum::Router;
    use axum::routing::post;
    use hookwire::adapters::axum::WebhookEvents;
    use hookwire::adapters::server::WebhookConfig;
    use hookwire::webhook::{Message, Sign, StandardWebhooks, message_id};

    async fn receive(WebhookEvents { events, .. }: WebhookEvents) -> String {
        events
            .iter()
            .map(|event| format!("{}:{}", event.id(), event.ty()))
            .collect::<Vec<_>>()
            .join(",")
    }
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(WebhookConfig::new(scheme.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let event = |id: &str, ty: &str| {
        EventBuilderV10::new()
            .id(id)
            .source("/treasury")
            .ty(ty)
            .data("application/json", serde_json::json!({"amount": "12.50"}))
            .build()
            .unwrap()
    };
    let (binary_headers, binary_body) =
        cloudevents::message::BinaryDeserializer::deserialize_binary(
            event("b-1", "transfer.settled"),
            cloudevents::binding::http::Serializer::new(Collect(Default::default())),
        )
        .unwrap();
    let mut structured_headers = hookwire::http::HeaderMap::new();
    structured_headers.insert(
        "content-type",
        "application/cloudevents+json".parse().unwrap(),
    );
    let mut batch_headers = hookwire::http::HeaderMap::new();
    batch_headers.insert(
        "content-type",
        "application/cloudevents-batch+json".parse().unwrap(),
    );
    let cases = [
        (
            "binary",
            binary_headers,
            binary_body,
            "b-1:transfer.settled",
        ),
        (
            "structured",
            structured_headers,
            serde_json::to_vec(&event("s-1", "account.opened")).unwrap(),
            "s-1:account.opened",
        ),
        (
            "batch",
            batch_headers,
            serde_json::to_vec(&vec![event("x-1", "a.one"), event("x-2", "a.two")]).unwrap(),
            "x-1:a.one,x-2:a.two",
        ),
    ];
    let client = reqwest::Client::new();
    for (mode, headers, body, expected) in cases {
        let signed = scheme.sign(&Message::new(&message_id(), &body)).unwrap();
        let response = client
            .post(format!("http://{address}/events"))
            .headers(headers)
            .headers(signed)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{mode}");
        assert_eq!(response.text().await.unwrap(), expected, "{mode}");
    }
}

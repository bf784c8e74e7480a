//! Reading a verified delivery's envelope: no panic on any body under any envelope, and every
//! event read has its id, source and type, and survives the inbox's stored form unchanged.
#![no_main]

use hookwire::consume::Envelope;
use hookwire::event::RawEvent;
use hookwire::http::HeaderMap;
use libfuzzer_sys::fuzz_target;

const ENVELOPES: [Envelope; 6] = [
    Envelope::CloudEvents,
    Envelope::StandardWebhooks,
    Envelope::Stripe,
    Envelope::GitHub,
    Envelope::Shopify,
    Envelope::Slack,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let envelope = ENVELOPES[usize::from(pick) % ENVELOPES.len()];
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", "msg_1"),
        ("x-github-event", "pull_request"),
        ("x-github-delivery", "d1"),
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-event-id", "e1"),
        (
            "content-type",
            if pick & 0x80 == 0 {
                "application/json"
            } else {
                "application/cloudevents+json"
            },
        ),
        ("ce-specversion", "1.0"),
        ("ce-id", "c1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    if let Ok(event) = envelope.read("https://sender.example", &headers, body) {
        assert!(!event.id().is_empty() && !event.source().is_empty() && !event.ty().is_empty());
        let stored = event.to_json().expect("an event read is an event written");
        let back = RawEvent::from_json(&stored).expect("and read back");
        assert_eq!(
            (back.id(), back.source(), back.ty()),
            (event.id(), event.source(), event.ty())
        );
    }
});

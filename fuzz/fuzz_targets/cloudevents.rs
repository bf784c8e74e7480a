//! CloudEvents readers: structured, binary and batch modes and the JSON format, on arbitrary
//! headers and bodies. No panic; what is read is written back and read again the same.
#![no_main]

use hookwire::event::{Event, RawEvent, cloudevents};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (headers, body) = common::request(data);
    let _ = cloudevents::decode::<serde_json::Value>(&headers, body);
    let _ = cloudevents::decode_batch::<serde_json::Value>(&headers, body);
    let _ = RawEvent::from_json(body);
    if let Ok(event) = Event::<serde_json::Value>::from_json(body) {
        let written = event.to_json().expect("a read event is writable");
        let again = Event::<serde_json::Value>::from_json(&written).expect("reads back");
        assert_eq!(again.id(), event.id());
        assert_eq!(again.ty(), event.ty());
    }
});

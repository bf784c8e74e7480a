//! What the API client reads from servers: `Link` headers, `Retry-After` and problem+json.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use hookwire::api::{Problem, next_link};
use hookwire::retry::retry_after;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (headers, body) = common::request(data);
    let _ = next_link(&headers);
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    if let Ok(Some(wait)) = retry_after(&headers, now) {
        // A wait is a duration, never an overflow.
        let _ = now.checked_add(wait);
    }
    let _ = serde_json::from_slice::<Problem>(body);
});

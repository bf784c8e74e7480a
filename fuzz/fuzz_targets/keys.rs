//! Secret and key parsing: no panic on any text, and what parses round-trips.
#![no_main]

use hookwire::webhook::{PublicKey, Secret, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Secret::parse(text);
    let _ = Secret::parse_weak(text);
    if let Ok(key) = PublicKey::parse(text) {
        assert_eq!(PublicKey::parse(&key.to_whpk()).ok(), Some(key));
    }
    if let Ok(key) = SigningKey::parse(text) {
        let again = SigningKey::parse(&key.expose_whsk()).expect("round trip");
        assert_eq!(again.public_key(), key.public_key());
    }
});

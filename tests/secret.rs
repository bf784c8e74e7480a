//! Parsing, generating and handling webhook secrets.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use hookwire::webhook::{
    GitHub, Message, Secret, SecretError, Sign, Slack, StandardWebhooks, message_id,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn secret_parse_requires_the_whsec_prefix_so_plain_provider_secrets_are_never_decoded() {
    let with = Secret::parse(SECRET).unwrap();
    assert_eq!(with.expose_bytes().len(), 24);
    // Slack's documented signing secret is valid base64: decoding it would give a wrong key.
    for plain in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "8f742231b10e8888abcd99yyyzzz85a5",
    ] {
        assert_eq!(Secret::parse(plain), Err(SecretError::MissingPrefix));
        assert_eq!(Secret::parse_weak(plain), Err(SecretError::MissingPrefix));
    }
    let text = SecretError::MissingPrefix.to_string();
    assert!(
        text.contains("whsec_") && text.contains("scheme's constructor"),
        "{text}"
    );
}

#[test]
fn standard_webhooks_reads_its_secret_with_or_without_the_prefix_as_its_libraries_do() {
    let message = Message::new("msg_1", b"{}").at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let with = StandardWebhooks::new(SECRET)
        .unwrap()
        .sign(&message)
        .unwrap();
    let without = StandardWebhooks::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap()
        .sign(&message)
        .unwrap();
    let parsed = StandardWebhooks::new(&Secret::parse(SECRET).unwrap())
        .unwrap()
        .sign(&message)
        .unwrap();
    assert_eq!(with, without);
    assert_eq!(with, parsed);
}

#[test]
fn provider_text_secrets_are_used_byte_for_byte_and_match_the_same_bytes_as_a_secret() {
    let message = Message::new("d-1", b"{}").at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let text = "8f742231b10e8888abcd99yyyzzz85a5";
    let bytes = Secret::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(
        Slack::new(text).unwrap().sign(&message).unwrap(),
        Slack::new(&bytes).unwrap().sign(&message).unwrap()
    );
    assert_eq!(
        GitHub::new(text).unwrap().sign(&message).unwrap(),
        GitHub::new(&bytes).unwrap().sign(&message).unwrap()
    );
}

#[test]
fn surrounding_white_space_is_ignored() {
    assert_eq!(
        Secret::parse(&format!("  {SECRET}\n")).unwrap(),
        Secret::parse(SECRET).unwrap()
    );
}

#[test]
fn base64_without_padding_is_accepted() {
    // 25 bytes encode to 36 characters, the last 2 of them padding.
    let key = [7u8; 25];
    let padded = Secret::from_bytes(key).unwrap().expose_whsec();
    assert!(padded.ends_with("=="));
    let unpadded = padded.trim_end_matches('=');
    assert_eq!(
        Secret::parse(unpadded).unwrap().expose_bytes(),
        key.as_slice()
    );
}

#[test]
fn empty_secrets_are_refused() {
    for s in ["", "whsec_", "   ", " whsec_ "] {
        assert_eq!(Secret::parse(s), Err(SecretError::Empty), "{s:?}");
        assert_eq!(Secret::parse_weak(s), Err(SecretError::Empty), "{s:?}");
    }
    assert_eq!(Secret::from_bytes(Vec::new()), Err(SecretError::Empty));
    assert_eq!(Secret::from_bytes_weak(Vec::new()), Err(SecretError::Empty));
}

#[test]
fn undecodable_secrets_are_refused_without_echoing_them() {
    for s in [
        "whsec_not base64 at all!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "whsec_ñññ",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw====",
    ] {
        let error = Secret::parse(s).unwrap_err();
        assert_eq!(error, SecretError::InvalidBase64, "{s:?}");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("MfKQ"), "{text}");
        assert!(!text.contains("ñ"), "{text}");
    }
}

#[test]
fn keys_shorter_than_24_bytes_are_refused_unless_weak_is_asked_for() {
    let short = "whsec_c2hvcnQta2V5"; // "short-key", 9 bytes
    assert_eq!(
        Secret::parse(short),
        Err(SecretError::TooShort { len: 9, min: 24 })
    );
    assert_eq!(
        Secret::parse_weak(short).unwrap().expose_bytes(),
        b"short-key"
    );
    assert_eq!(
        Secret::from_bytes(*b"23-bytes-long-secret-ab"),
        Err(SecretError::TooShort { len: 23, min: 24 })
    );
    assert!(Secret::from_bytes(*b"24-bytes-long-secret-abc").is_ok());
    assert!(Secret::from_bytes_weak(*b"x").is_ok());
    let message = Secret::parse(short).unwrap_err().to_string();
    assert!(message.contains("parse_weak"), "{message}");
}

#[test]
fn keys_longer_than_64_bytes_are_accepted() {
    assert!(Secret::from_bytes(vec![1u8; 200]).is_ok());
}

#[test]
fn debug_is_redacted() {
    let secret = Secret::parse(SECRET).unwrap();
    assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
    assert_eq!(format!("{secret:#?}"), "Secret([REDACTED])");
    let short = Secret::parse_weak("whsec_c2hvcnQ=").unwrap();
    let text = format!(
        "{secret:?} {short:?} {}",
        Secret::parse("whsec_c2hvcnQ=").unwrap_err()
    );
    common::assert_no_leak(&text, &[secret.expose_bytes(), short.expose_bytes()]);
}

#[test]
fn from_str_is_parse() {
    let secret: Secret = SECRET.parse().unwrap();
    assert_eq!(secret, Secret::parse(SECRET).unwrap());
    assert!("".parse::<Secret>().is_err());
}

#[test]
fn generated_secrets_are_32_random_bytes_that_round_trip_through_whsec() {
    let a = Secret::generate();
    let b = Secret::generate();
    assert_eq!(a.expose_bytes().len(), Secret::GENERATED_LEN);
    assert_ne!(a, b);
    let shown = a.expose_whsec();
    assert!(shown.starts_with("whsec_"));
    assert_eq!(Secret::parse(&shown).unwrap(), a);
}

#[test]
fn expose_whsec_reproduces_the_published_form() {
    assert_eq!(
        Secret::parse(SECRET).unwrap().expose_whsec().as_str(),
        SECRET
    );
}

#[test]
fn message_ids_are_prefixed_unique_and_sorted_by_creation() {
    let ids: Vec<String> = (0..1000).map(|_| message_id()).collect();
    for id in &ids {
        assert!(id.starts_with("msg_"), "{id}");
        assert_eq!(id.len(), 4 + 32, "{id}");
        assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "ids sort in creation order");
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "ids are unique");
}

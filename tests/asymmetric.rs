//! Standard Webhooks `v1a` (ed25519), with the `ed25519` feature.
//!
//! Vector sources:
//! - The key pair is RFC 8032 §7.1 TEST 1 (secret key 9d61b1…7f60, public key d75a98…511a),
//!   written in the `whsk_` / `whpk_` forms.
//! - V1A-1 signs SW-1's message (`msg_p5jXN8AQM9LWM0D4loKWxJek`, 1614265330,
//!   `{"test": 2432232314}`) with that key; the Standard Webhooks project publishes no `v1a`
//!   vector, so it was computed independently with Python's `cryptography` package (OpenSSL),
//!   which reproduces RFC 8032 TEST 1's own signature with the same key.
#![cfg(feature = "ed25519")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::SignedExt;

use hookwire::http::HeaderMap;
use hookwire::webhook::{
    Inbound, KeyError, Message, PublicKey, Secret, Sign, SignError, SigningKey, StandardWebhooks,
    Verify, VerifyError,
};

const WHSK: &str = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const WHSK_PAIR: &str =
    "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==";
const WHPK: &str = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: u64 = 1614265330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const V1A_1: &str =
    "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn headers(signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("webhook-id", ID.parse().unwrap());
    map.insert("webhook-timestamp", TS.to_string().parse().unwrap());
    map.insert("webhook-signature", signature.parse().unwrap());
    map
}

#[test]
fn rfc8032_seed_derives_the_rfc8032_public_key() {
    let key = SigningKey::parse(WHSK).unwrap();
    assert_eq!(key.public_key(), PublicKey::parse(WHPK).unwrap());
    assert_eq!(key.public_key().to_whpk(), WHPK);
    assert_eq!(key.expose_whsk().as_str(), WHSK);
}

#[test]
fn signer_reproduces_the_independent_v1a_vector() {
    let signed = StandardWebhooks::from_signing_key(&SigningKey::parse(WHSK).unwrap())
        .sign(&Message::new(ID, BODY).at(at(TS)))
        .unwrap();
    assert_eq!(signed.signature(), V1A_1);
}

#[test]
fn verifier_accepts_the_v1a_vector_and_rejects_changes() {
    let verifier = StandardWebhooks::from_public_key(&PublicKey::parse(WHPK).unwrap());
    let map = headers(V1A_1);
    let verified = verifier
        .verify_at(Inbound::new(&map, BODY), at(TS))
        .unwrap();
    assert_eq!(verified.id(), Some(ID));
    assert_eq!(
        verifier.verify_at(Inbound::new(&headers(V1A_1), b"{}"), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    let flipped = V1A_1.replace("fldx", "fldy");
    assert_eq!(
        verifier.verify_at(Inbound::new(&headers(&flipped), BODY), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    let other = StandardWebhooks::from_public_key(&SigningKey::generate().public_key());
    assert_eq!(
        other.verify_at(Inbound::new(&headers(V1A_1), BODY), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn key_pair_form_is_accepted_when_its_halves_match_and_refused_otherwise() {
    let pair = SigningKey::parse(WHSK_PAIR).unwrap();
    assert_eq!(pair.public_key().to_whpk(), WHPK);

    // The RFC seed with another key's public half.
    let mut bytes = [0u8; 64];
    let seed = SigningKey::parse(WHSK).unwrap();
    let other = SigningKey::generate().public_key().to_whpk();
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    engine
        .decode_slice(
            seed.expose_whsk().trim_start_matches("whsk_"),
            &mut bytes[..33],
        )
        .unwrap();
    engine
        .decode_slice(other.trim_start_matches("whpk_"), &mut bytes[32..])
        .unwrap();
    let mismatched = format!("whsk_{}", engine.encode(bytes));
    assert_eq!(
        SigningKey::parse(&mismatched).unwrap_err(),
        KeyError::Mismatched
    );
}

#[test]
fn bad_keys_are_typed_errors_that_echo_nothing() {
    assert_eq!(
        SigningKey::parse("whsk_!!!").unwrap_err(),
        KeyError::InvalidBase64
    );
    assert!(matches!(
        SigningKey::parse("whsk_AAAA").unwrap_err(),
        KeyError::WrongLength { len: 3, .. }
    ));
    assert!(matches!(
        PublicKey::parse("whpk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==")
            .unwrap_err(),
        KeyError::WrongLength { .. }
    ));
    assert!(SigningKey::parse(&"A".repeat(400)).is_err());
    assert!(PublicKey::parse("").is_err());
    let text = format!(
        "{:?} {}",
        SigningKey::parse(WHSK).unwrap(),
        KeyError::Mismatched
    );
    assert!(!text.contains("nWGxne"), "{text}");
    assert_eq!(
        format!("{:?}", SigningKey::generate()),
        "SigningKey([REDACTED])"
    );
}

#[test]
fn one_verifier_checks_v1_and_v1a_and_one_signer_emits_both() {
    let secret = Secret::generate();
    let key = SigningKey::generate();
    let signed = StandardWebhooks::new(&secret)
        .expect("a key")
        .with_signing_key(&key)
        .sign(&Message::new(ID, BODY).at(at(TS)))
        .unwrap();
    let entries: Vec<&str> = signed.signature().split(' ').collect();
    assert!(entries[0].starts_with("v1,") && entries[1].starts_with("v1a,"));
    let map = signed;

    assert!(
        StandardWebhooks::new(&secret)
            .expect("a key")
            .verify_at(Inbound::new(&map, BODY), at(TS))
            .is_ok()
    );
    assert!(
        StandardWebhooks::from_public_key(&key.public_key())
            .verify_at(Inbound::new(&map, BODY), at(TS))
            .is_ok()
    );
    let both = StandardWebhooks::new(&Secret::generate())
        .expect("a key")
        .with_public_key(&key.public_key());
    assert!(both.verify_at(Inbound::new(&map, BODY), at(TS)).is_ok());
}

#[test]
fn v1a_only_header_is_unsupported_for_a_verifier_without_public_keys() {
    let verifier = StandardWebhooks::new(&Secret::generate()).expect("a key");
    assert!(matches!(
        verifier.verify_at(Inbound::new(&headers(V1A_1), BODY), at(TS)),
        Err(VerifyError::NoSupportedSignature { .. })
    ));
    let only_public = StandardWebhooks::from_public_key(&PublicKey::parse(WHPK).unwrap());
    assert!(matches!(
        only_public.verify_at(
            Inbound::new(
                &headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                BODY
            ),
            at(TS)
        ),
        Err(VerifyError::NoSupportedSignature { .. })
    ));
}

#[test]
fn malformed_v1a_signatures_do_not_match_and_do_not_panic() {
    let verifier = StandardWebhooks::from_public_key(&PublicKey::parse(WHPK).unwrap());
    for signature in [
        "v1a,",
        "v1a,AAAA",
        "v1a,!!!!",
        &format!("v1a,{}", "A".repeat(88)),
        &format!("v1a,{}", "/".repeat(86) + "=="),
    ] {
        assert_eq!(
            verifier.verify_at(Inbound::new(&headers(signature), BODY), at(TS)),
            Err(VerifyError::NoMatchingSignature),
            "{signature}"
        );
    }
}

#[test]
fn a_verifier_of_public_keys_only_cannot_sign() {
    let verifier = StandardWebhooks::from_public_key(&PublicKey::parse(WHPK).unwrap());
    assert_eq!(
        Sign::sign(&verifier, &Message::new("m", b"")).unwrap_err(),
        SignError::NoKey
    );
}

#[test]
fn public_key_round_trips_through_display_and_from_str() {
    let key: PublicKey = WHPK.parse().unwrap();
    assert_eq!(key.to_string(), WHPK);
    let signing: SigningKey = WHSK.parse().unwrap();
    assert_eq!(signing.public_key(), key);
}

#[test]
fn weak_public_keys_are_refused() {
    use base64::Engine;
    // The identity point (y = 1) and the point of order 2 (y = -1): small-order keys under
    // which a signature with R = identity and s = 0 verifies every message.
    let identity = {
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes
    };
    let order_two = {
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xec;
        bytes[31] = 0x7f;
        bytes
    };
    for weak in [identity, order_two] {
        let text = format!(
            "whpk_{}",
            base64::engine::general_purpose::STANDARD.encode(weak)
        );
        assert_eq!(PublicKey::parse(&text), Err(KeyError::WeakKey), "{text}");
    }
    assert!(PublicKey::parse(WHPK).is_ok());
}

#[test]
fn a_forged_signature_with_a_small_order_r_is_refused() {
    use base64::Engine;
    // R = identity, s = 0: the forgery that weak keys accept. Under a real key it must fail
    // too, and quickly, whatever the message.
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let entry = format!(
        "v1a,{}",
        base64::engine::general_purpose::STANDARD.encode(forged)
    );
    let verifier = StandardWebhooks::from_public_key(&PublicKey::parse(WHPK).unwrap());
    assert_eq!(
        verifier.verify_at(Inbound::new(&headers(&entry), BODY), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn only_the_first_few_v1a_entries_are_checked() {
    use hookwire::webhook::MAX_V1A_CANDIDATES;
    let junk = format!("v1a,{}==", "A".repeat(86));
    let verifier = StandardWebhooks::from_public_key(&PublicKey::parse(WHPK).unwrap());
    // The genuine signature within the bound verifies.
    let within = vec![junk.as_str(); MAX_V1A_CANDIDATES - 1]
        .into_iter()
        .chain([V1A_1])
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        verifier
            .verify_at(Inbound::new(&headers(&within), BODY), at(TS))
            .is_ok()
    );
    // Behind 1 000 junk entries it is not reached: the work per request is bounded.
    let flooded = vec![junk.as_str(); 1000]
        .into_iter()
        .chain([V1A_1])
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        verifier.verify_at(Inbound::new(&headers(&flooded), BODY), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

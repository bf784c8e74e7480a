//! Published Standard Webhooks v1 test vectors, each with its source.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::http::HeaderMap;
mod common;
use common::SignedExt;
use hookwire::webhook::{Inbound, Message, Secret, Sign, StandardWebhooks, Verify, VerifyError};

struct Vector {
    source: &'static str,
    secret: &'static str,
    id: &'static str,
    timestamp: u64,
    payload: Vec<u8>,
    signature: &'static str,
}

/// SW-1: the `test_sign` tests of the reference libraries in
/// github.com/standard-webhooks/standard-webhooks.
fn sw1() -> Vector {
    Vector {
        source: "standard-webhooks reference libraries, test_sign",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: 1614265330,
        payload: br#"{"test": 2432232314}"#.to_vec(),
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
}

/// SW-2: the Rust reference library, libraries/rust in
/// github.com/standard-webhooks/standard-webhooks.
fn sw2() -> Vector {
    Vector {
        source: "standard-webhooks Rust library",
        secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        timestamp: 1649367553,
        payload: br#"{"email":"test@example.com","username":"test_user"}"#.to_vec(),
        signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    }
}

/// SW-3..5: the C# library tests in github.com/svix/svix-webhooks: SW-1's secret, id and
/// timestamp over the byte `a` repeated N times.
fn sw_large(n: usize, signature: &'static str) -> Vector {
    Vector {
        source: "svix-webhooks C# library tests",
        payload: vec![b'a'; n],
        signature,
        ..sw1()
    }
}

fn all() -> Vec<Vector> {
    vec![
        sw1(),
        sw2(),
        sw_large(1_048_576, "v1,txpEUxqWZJ5nteTnymUVa+7C4NHpBeXJ6CsBAW0c3/A="),
        sw_large(262_144, "v1,Mw4Pe2WgApuT7NSqnSq0PQPV9gbLdggCl9B865x5Xh0="),
        sw_large(262_143, "v1,NTItnqyWMoFhk2Bbe5V/BMdcFRWgcSQaTgqLHX7FC7c="),
    ]
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", id.parse().unwrap());
    headers.insert("webhook-timestamp", timestamp.parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    headers
}

#[test]
fn signer_reproduces_every_published_signature() {
    for v in all() {
        let secret = Secret::parse(v.secret).unwrap();
        let signed = StandardWebhooks::new(&secret)
            .expect("a key")
            .sign(&Message::new(v.id, &v.payload).at(at(v.timestamp)))
            .unwrap();
        assert_eq!(signed.signature(), v.signature, "{}", v.source);
        assert_eq!(signed.id(), v.id);
        assert_eq!(signed.timestamp(), v.timestamp.to_string());
    }
}

#[test]
fn verifier_accepts_every_published_signature_from_headers_and_from_parts() {
    for v in all() {
        let verifier = StandardWebhooks::new(&Secret::parse(v.secret).unwrap()).expect("a key");
        let timestamp = v.timestamp.to_string();
        let map = headers(v.id, &timestamp, v.signature);
        let verified = verifier
            .verify_at(Inbound::new(&map, &v.payload), at(v.timestamp))
            .unwrap_or_else(|e| panic!("{}: {e}", v.source));
        assert_eq!(verified.id(), Some(v.id));
        assert_eq!(verified.timestamp(), Some(v.timestamp as i64));

        let verified = verifier
            .verify_parts_at(v.id, &timestamp, v.signature, &v.payload, at(v.timestamp))
            .unwrap();
        assert_eq!(verified.id(), Some(v.id));
    }
}

#[test]
fn verifier_accepts_published_signatures_under_svix_header_names() {
    for v in all() {
        let verifier = StandardWebhooks::new(&Secret::parse(v.secret).unwrap()).expect("a key");
        let mut map = HeaderMap::new();
        map.insert("svix-id", v.id.parse().unwrap());
        map.insert("svix-timestamp", v.timestamp.to_string().parse().unwrap());
        map.insert("svix-signature", v.signature.parse().unwrap());
        verifier
            .verify_at(Inbound::new(&map, &v.payload), at(v.timestamp))
            .unwrap_or_else(|e| panic!("{}: {e}", v.source));
    }
}

/// The negative vector published beside SW-2.
#[test]
fn published_wrong_signature_for_sw2_is_rejected() {
    let v = sw2();
    let verifier = StandardWebhooks::new(&Secret::parse(v.secret).unwrap()).expect("a key");
    let map = headers(
        v.id,
        &v.timestamp.to_string(),
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    );
    assert_eq!(
        verifier.verify_at(Inbound::new(&map, &v.payload), at(v.timestamp)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn published_vectors_fail_with_one_byte_changed_in_payload_id_or_timestamp() {
    for v in all() {
        let verifier = StandardWebhooks::new(&Secret::parse(v.secret).unwrap()).expect("a key");
        let ts = v.timestamp.to_string();
        let mut payload = v.payload.clone();
        payload[0] ^= 1;
        let other_id = format!("{}x", v.id);
        let other_ts = (v.timestamp + 1).to_string();
        let now = at(v.timestamp);
        let expected = Err(VerifyError::NoMatchingSignature);
        assert_eq!(
            verifier.verify_parts_at(v.id, &ts, v.signature, &payload, now),
            expected
        );
        assert_eq!(
            verifier.verify_parts_at(&other_id, &ts, v.signature, &v.payload, now),
            expected
        );
        assert_eq!(
            verifier.verify_parts_at(v.id, &other_ts, v.signature, &v.payload, now),
            expected
        );
    }
}

#[test]
fn published_vector_fails_under_another_secret() {
    let v = sw1();
    let verifier = StandardWebhooks::new(&Secret::parse(sw2().secret).unwrap()).expect("a key");
    let ts = v.timestamp.to_string();
    assert_eq!(
        verifier.verify_parts_at(v.id, &ts, v.signature, &v.payload, at(v.timestamp)),
        Err(VerifyError::NoMatchingSignature)
    );
}

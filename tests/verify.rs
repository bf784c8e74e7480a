//! The Standard Webhooks verifier on bad, odd and hostile input: every case is a typed error,
//! never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
use hookwire::webhook::{
    DEFAULT_TOLERANCE, Inbound, Message, Secret, Sign, StandardWebhooks, Verify, VerifyError,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: u64 = 1614265330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret() -> Secret {
    Secret::parse(SECRET).unwrap()
}

fn verifier() -> StandardWebhooks {
    StandardWebhooks::new(&secret()).expect("a key")
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn check(timestamp: &str, signature: &str) -> Result<(), VerifyError> {
    verifier()
        .verify_parts_at(ID, timestamp, signature, BODY, at(TS))
        .map(|_| ())
}

fn headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_static(ID));
    headers.insert("webhook-timestamp", HeaderValue::from_static("1614265330"));
    headers.insert("webhook-signature", HeaderValue::from_static(SIG));
    headers
}

#[test]
fn each_missing_header_is_named() {
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut map = headers();
        map.remove(name);
        let error = verifier()
            .verify_at(Inbound::new(&map, BODY), at(TS))
            .unwrap_err();
        assert_eq!(
            error,
            VerifyError::MissingHeader(HeaderName::from_static(name))
        );
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn empty_header_map_reports_the_id_header_missing() {
    assert_eq!(
        verifier().verify_at(Inbound::new(&HeaderMap::new(), BODY), at(TS)),
        Err(VerifyError::MissingHeader(HeaderName::from_static(
            "webhook-id"
        )))
    );
}

#[test]
fn non_ascii_header_bytes_are_an_invalid_header_error() {
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut map = headers();
        map.insert(name, HeaderValue::from_bytes(b"caf\xc3\xa9 \xff").unwrap());
        assert_eq!(
            verifier().verify_at(Inbound::new(&map, BODY), at(TS)),
            Err(VerifyError::InvalidHeader(HeaderName::from_static(name))),
        );
    }
}

#[test]
fn svix_header_names_are_named_in_their_own_errors() {
    let mut map = HeaderMap::new();
    map.insert("svix-id", HeaderValue::from_bytes(b"\xff").unwrap());
    map.insert("svix-timestamp", HeaderValue::from_static("1614265330"));
    map.insert("svix-signature", HeaderValue::from_static(SIG));
    assert_eq!(
        verifier().verify_at(Inbound::new(&map, BODY), at(TS)),
        Err(VerifyError::InvalidHeader(HeaderName::from_static(
            "svix-id"
        )))
    );
}

#[test]
fn malformed_timestamps_are_rejected_without_panic() {
    for ts in [
        "",
        " ",
        "abc",
        "1614265330.5",
        "1e9",
        "0x10",
        "99999999999999999999999999",
        "9223372036854775808",
        "-9223372036854775809",
        "１２３",
    ] {
        assert_eq!(
            check(ts, SIG),
            Err(VerifyError::MalformedTimestamp),
            "{ts:?}"
        );
    }
}

#[test]
fn extreme_timestamps_are_too_old_or_too_new_without_overflow() {
    for ts in ["-1", "0", "-9223372036854775808"] {
        assert!(
            matches!(check(ts, SIG), Err(VerifyError::TooOld { .. })),
            "{ts}"
        );
    }
    assert!(matches!(
        check("9223372036854775807", SIG),
        Err(VerifyError::TooNew { .. })
    ));
    // And with a clock at the far ends of what SystemTime holds.
    let far_past = UNIX_EPOCH - Duration::from_secs(u64::MAX / 4);
    let result = verifier().verify_parts_at(ID, "9223372036854775807", SIG, BODY, far_past);
    assert!(matches!(result, Err(VerifyError::TooNew { .. })));
    let far_future = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
    let result = verifier().verify_parts_at(ID, "-9223372036854775808", SIG, BODY, far_future);
    assert!(matches!(result, Err(VerifyError::TooOld { .. })));
}

#[test]
fn default_tolerance_is_five_minutes_both_ways_inclusive() {
    assert_eq!(DEFAULT_TOLERANCE, Duration::from_secs(300));
    let v = verifier();
    let ok = |now| v.verify_parts_at(ID, "1614265330", SIG, BODY, now).is_ok();
    assert!(ok(at(TS + 300)));
    assert!(ok(at(TS - 300)));
    assert_eq!(
        v.verify_parts_at(ID, "1614265330", SIG, BODY, at(TS + 301)),
        Err(VerifyError::TooOld {
            age: Duration::from_secs(301),
            tolerance: DEFAULT_TOLERANCE
        })
    );
    assert_eq!(
        v.verify_parts_at(ID, "1614265330", SIG, BODY, at(TS - 301)),
        Err(VerifyError::TooNew {
            ahead: Duration::from_secs(301),
            tolerance: DEFAULT_TOLERANCE
        })
    );
}

#[test]
fn tolerance_is_configurable() {
    let v = verifier().tolerance(Duration::from_secs(10));
    assert!(
        v.verify_parts_at(ID, "1614265330", SIG, BODY, at(TS + 10))
            .is_ok()
    );
    assert!(matches!(
        v.verify_parts_at(ID, "1614265330", SIG, BODY, at(TS + 11)),
        Err(VerifyError::TooOld { .. })
    ));
}

#[test]
fn timestamp_error_messages_give_the_skew() {
    let error = check("1614265029", SIG).unwrap_err();
    assert_eq!(
        error,
        VerifyError::TooOld {
            age: Duration::from_secs(301),
            tolerance: DEFAULT_TOLERANCE
        }
    );
    let error = verifier()
        .verify_parts_at(ID, "1614265330", SIG, BODY, at(TS + 3600))
        .unwrap_err();
    assert!(error.to_string().contains("3600s old"), "{error}");
}

#[test]
fn system_clock_variant_rejects_a_message_signed_long_ago() {
    assert!(matches!(
        verifier().verify(Inbound::new(&headers(), BODY)),
        Err(VerifyError::TooOld { .. })
    ));
}

#[test]
fn system_clock_variant_accepts_a_message_signed_now() {
    let map = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new(ID, BODY))
        .unwrap();
    let verifier = verifier();
    let verified = verifier.verify(Inbound::new(&map, BODY)).unwrap();
    assert_eq!(verified.id(), Some(ID));
    let (id, ts, sig) = (
        map["webhook-id"].to_str().unwrap(),
        map["webhook-timestamp"].to_str().unwrap(),
        map["webhook-signature"].to_str().unwrap(),
    );
    assert!(
        verifier
            .verify_parts_at(id, ts, sig, BODY, SystemTime::now())
            .is_ok()
    );
}

#[test]
fn empty_or_blank_signature_header_is_malformed() {
    for sig in ["", " ", "     "] {
        assert!(
            matches!(
                check("1614265330", sig),
                Err(VerifyError::MalformedSignature { .. })
            ),
            "{sig:?}"
        );
    }
}

#[test]
fn signature_entry_without_a_comma_is_malformed() {
    for sig in [
        "v1",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,AAAA v1",
        "v2,AAAA garbage",
    ] {
        assert!(
            matches!(
                check("1614265330", sig),
                Err(VerifyError::MalformedSignature { .. })
            ),
            "{sig:?}"
        );
    }
}

#[test]
fn a_matching_signature_wins_over_malformed_neighbours() {
    assert!(check("1614265330", &format!("garbage {SIG} v1")).is_ok());
}

#[test]
fn v1_comma_with_nothing_after_it_does_not_match_and_does_not_panic() {
    assert_eq!(
        check("1614265330", "v1,"),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        check("1614265330", "v1, v1,"),
        Err(VerifyError::NoMatchingSignature)
    );
    assert!(matches!(
        check("1614265330", ","),
        Err(VerifyError::NoSupportedSignature { .. })
    ));
}

#[test]
fn undecodable_or_wrong_length_v1_signatures_do_not_match() {
    for sig in [
        "v1,!!!!",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=g0hM",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OEg0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,AAAA",
        "v1,,,,",
        "v1,é",
    ] {
        assert_eq!(
            check("1614265330", sig),
            Err(VerifyError::NoMatchingSignature),
            "{sig:?}"
        );
    }
}

#[test]
fn only_unknown_versions_is_no_supported_signature() {
    for sig in [
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,AAAA",
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ] {
        assert!(
            matches!(
                check("1614265330", sig),
                Err(VerifyError::NoSupportedSignature { .. })
            ),
            "{sig:?}"
        );
    }
}

#[test]
fn a_valid_v1_among_unknown_versions_and_wrong_signatures_passes() {
    let sig =
        format!("v1a,AAAA v2,bbbb v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=  {SIG} v3,x");
    assert!(check("1614265330", &sig).is_ok());
}

#[test]
fn ten_thousand_signatures_in_one_header_are_handled() {
    let wrong = "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";
    let mut many = vec![wrong; 10_000].join(" ");
    assert_eq!(
        check("1614265330", &many),
        Err(VerifyError::NoMatchingSignature)
    );
    many.push(' ');
    many.push_str(SIG);
    assert!(check("1614265330", &many).is_ok());
    // The same through a HeaderMap.
    let mut map = headers();
    map.insert("webhook-signature", many.parse().unwrap());
    assert!(
        verifier()
            .verify_at(Inbound::new(&map, BODY), at(TS))
            .is_ok()
    );
}

#[test]
fn non_utf8_body_signs_and_verifies() {
    let body: Vec<u8> = (0..=255u8).rev().collect();
    assert!(std::str::from_utf8(&body).is_err());
    let signed = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new(ID, &body).at(at(TS)))
        .unwrap();
    let map = signed;
    assert!(
        verifier()
            .verify_at(Inbound::new(&map, &body), at(TS))
            .is_ok()
    );
    assert_eq!(
        verifier().verify_at(Inbound::new(&map, &body[1..]), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn empty_body_and_empty_id_are_verified_like_any_other() {
    let map = StandardWebhooks::new(&secret())
        .expect("a key")
        .sign(&Message::new(ID, b"").at(at(TS)))
        .unwrap();
    assert!(
        verifier()
            .verify_at(Inbound::new(&map, b""), at(TS))
            .is_ok()
    );
    assert_eq!(
        verifier().verify_at(Inbound::new(&map, b" "), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    // An empty id cannot be signed, but verifying one is simply a mismatch.
    assert_eq!(
        verifier().verify_parts_at("", "1614265330", SIG, BODY, at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn rotation_verifier_accepts_messages_signed_with_either_secret() {
    let old = secret();
    let new = Secret::generate();
    let both = StandardWebhooks::new(&new)
        .and_then(|scheme| scheme.with_secret(&old))
        .expect("two keys");
    // The index of the matching secret, in the order they were added, tells when the old one
    // can be retired.
    for (index, key) in [(1, &old), (0, &new)] {
        let map = StandardWebhooks::new(key)
            .expect("a key")
            .sign(&Message::new(ID, BODY).at(at(TS)))
            .unwrap();
        let verified = both.verify_at(Inbound::new(&map, BODY), at(TS)).unwrap();
        assert_eq!(verified.key(), Some(index));
    }
    let stranger = StandardWebhooks::new(&Secret::generate())
        .expect("a key")
        .sign(&Message::new(ID, BODY).at(at(TS)))
        .unwrap();
    assert_eq!(
        both.verify_at(Inbound::new(&stranger, BODY), at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn rotation_signer_emits_one_signature_per_secret_and_each_verifies_alone() {
    let old = secret();
    let new = Secret::generate();
    let signed = StandardWebhooks::new(&old)
        .expect("a key")
        .with_secret(&new)
        .expect("a key")
        .sign(&Message::new(ID, BODY).at(at(TS)))
        .unwrap();
    let parts: Vec<&str> = signed["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0], SIG);
    assert!(parts[1].starts_with("v1,"));
    for key in [&old, &new] {
        assert!(
            StandardWebhooks::new(key)
                .expect("a key")
                .verify_at(Inbound::new(&signed, BODY), at(TS))
                .is_ok()
        );
    }
}

#[test]
fn error_messages_never_contain_the_secret_or_the_body() {
    let key_b64 = SECRET.trim_start_matches("whsec_");
    let body = b"top-secret-body-content";
    let cases = [
        check("abc", SIG),
        check("0", SIG),
        check("1614265330", ""),
        check("1614265330", "v2,x"),
        verifier()
            .verify_parts_at(ID, "1614265330", SIG, body, at(TS))
            .map(|_| ()),
    ];
    for error in cases.into_iter().map(Result::unwrap_err) {
        let text = format!("{error} {error:?}");
        assert!(!text.contains(key_b64), "{text}");
        assert!(!text.contains("top-secret"), "{text}");
    }
}

#[test]
fn verifier_and_signer_debug_show_no_key_material() {
    let text = format!(
        "{:?} {:?}",
        verifier().with_secret(&Secret::generate()),
        StandardWebhooks::new(&secret()).expect("a key")
    );
    assert!(text.contains("secrets: 2"), "{text}");
    assert!(!text.contains("MfKQ9r8"), "{text}");
}

#[test]
fn verified_borrows_id_and_reports_timestamp() {
    let map = headers();
    let verifier = verifier();
    let verified = verifier
        .verify_at(Inbound::new(&map, BODY), at(TS))
        .unwrap();
    assert_eq!(verified.id(), Some(ID));
    assert_eq!(verified.timestamp(), Some(TS as i64));
}

#[test]
fn verifier_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<StandardWebhooks>();
    assert_traits::<StandardWebhooks>();
    assert_traits::<Secret>();
    assert_traits::<VerifyError>();
}

#[test]
fn webhook_names_win_over_svix_names_and_the_first_repeated_value_wins() {
    let mut svix_after = headers();
    svix_after.insert("svix-signature", HeaderValue::from_static("v1,AAAA"));
    svix_after.insert("svix-id", HeaderValue::from_static("msg_other"));

    let mut repeated = headers();
    repeated.append("webhook-id", HeaderValue::from_static("msg_second"));

    // All three Svix names before the standard ones: the scan may stop early only once the
    // standard names are found, not once any three are.
    let mut svix_before = HeaderMap::new();
    svix_before.insert("svix-id", HeaderValue::from_static("msg_other"));
    svix_before.insert("svix-timestamp", HeaderValue::from_static("1614265330"));
    svix_before.insert("svix-signature", HeaderValue::from_static("v1,AAAA"));
    svix_before.extend(headers());

    let verifier = verifier();
    for (case, map) in [
        ("svix names after", svix_after),
        ("a repeated id", repeated),
        ("svix names before", svix_before),
    ] {
        let verified = verifier.verify_at(Inbound::new(&map, BODY), at(TS));
        assert_eq!(
            verified.map(|v| v.id().map(str::to_owned)),
            Ok(Some(ID.to_owned())),
            "{case}"
        );
    }
}

#[test]
fn names_are_mixed_per_header_between_the_two_spellings() {
    let mut map = HeaderMap::new();
    map.insert("webhook-id", HeaderValue::from_static(ID));
    map.insert("svix-timestamp", HeaderValue::from_static("1614265330"));
    map.insert("svix-signature", HeaderValue::from_static(SIG));
    assert!(
        verifier()
            .verify_at(Inbound::new(&map, BODY), at(TS))
            .is_ok()
    );
}

#[test]
fn non_canonical_timestamps_are_refused_as_such_before_any_signature_is_checked() {
    let verifier = verifier();
    for (text, canonical) in [
        ("1614265330", true),
        ("+1614265330", false),
        ("01614265330", false),
        ("-0", false),
        ("00", false),
        ("0", true),
    ] {
        let result = verifier.verify_parts_at(ID, text, SIG, BODY, at(TS));
        if canonical {
            assert!(
                !matches!(result, Err(VerifyError::NonCanonicalTimestamp)),
                "{text}: {result:?}"
            );
        } else {
            assert_eq!(result, Err(VerifyError::NonCanonicalTimestamp), "{text}");
        }
    }
    let text = VerifyError::NonCanonicalTimestamp.to_string();
    assert!(
        text.contains("canonical") && !text.contains("no signature"),
        "{text}"
    );
}

/// Base64 candidates of every length from empty to far past a tag (valid base64 alphabet,
/// with and without padding) are refused as not matching, and the real signature beside them
/// still verifies: the decoder never writes past its buffer, whatever the length.
#[test]
fn base64_candidates_of_every_length_are_refused_without_panic() {
    let good = SIG.strip_prefix("v1,").expect("a v1 signature");
    let mut refused = 0;
    for len in 0..=400 {
        let mut candidate: String = "ABCD".chars().cycle().take(len).collect();
        if len % 4 == 0 && len >= 4 {
            candidate.replace_range(len - 1.., "=");
        }
        assert_eq!(
            check("1614265330", &format!("v1,{candidate}")),
            Err(VerifyError::NoMatchingSignature),
            "length {len}"
        );
        refused += 1;
        // The real signature after the junk one still verifies.
        assert_eq!(
            check("1614265330", &format!("v1,{candidate} v1,{good}")),
            Ok(()),
            "length {len}"
        );
    }
    assert_eq!(refused, 401);
}

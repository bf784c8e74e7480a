//! Rules that hold for all inputs: sign-then-verify round trips, any one-byte change fails,
//! rotation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::webhook::{Secret, Signer, Verifier, VerifyError};
use proptest::prelude::*;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 24..=96)
}

/// Ids as a sender may choose them: printable ASCII.
fn id() -> impl Strategy<Value = String> {
    "[ -~]{1,64}"
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

/// Seconds since the epoch up to the year 2500, and a skew within the default tolerance.
fn times() -> impl Strategy<Value = (u64, i64)> {
    (0u64..16_725_225_600, -300i64..=300)
}

fn shifted(seconds: u64, skew: i64) -> SystemTime {
    if skew >= 0 {
        at(seconds) + Duration::from_secs(skew as u64)
    } else {
        at(seconds) - Duration::from_secs(skew.unsigned_abs())
    }
}

proptest! {
    #[test]
    fn signed_messages_verify_for_any_key_id_body_and_time_within_tolerance(
        key in key(), id in id(), body in body(), (sent, skew) in times()
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = Signer::new(&secret).sign(&id, at(sent), &body).unwrap();
        let verifier = Verifier::new(&secret);
        let now = shifted(sent, skew);
        let headers = signed.to_header_map();
        let verified = verifier.verify_at(&headers, &body, now).unwrap();
        prop_assert_eq!(verified.id(), Some(id.as_str()));
        prop_assert_eq!(verified.timestamp(), Some(sent as i64));
        let verified = verifier
            .verify_parts_at(signed.id(), signed.timestamp(), signed.signature(), &body, now)
            .unwrap();
        prop_assert_eq!(verified.id(), Some(id.as_str()));
    }

    #[test]
    fn any_one_byte_change_in_the_body_fails(
        key in key(), id in id(), body in proptest::collection::vec(any::<u8>(), 1..2048),
        index in any::<prop::sample::Index>(), flip in 1u8..=255
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = Signer::new(&secret).sign(&id, at(1_700_000_000), &body).unwrap();
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= flip;
        let headers = signed.to_header_map();
        prop_assert_eq!(
            Verifier::new(&secret).verify_at(&headers, &tampered, at(1_700_000_000)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn any_one_byte_change_in_the_id_fails(
        key in key(), id in id(), body in body(),
        index in any::<prop::sample::Index>(), replacement in 0x20u8..0x7f
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = Signer::new(&secret).sign(&id, at(1_700_000_000), &body).unwrap();
        let mut other = id.clone().into_bytes();
        let i = index.index(other.len());
        prop_assume!(other[i] != replacement);
        other[i] = replacement;
        let other = String::from_utf8(other).unwrap();
        prop_assert_eq!(
            Verifier::new(&secret)
                .verify_parts_at(&other, signed.timestamp(), signed.signature(), &body, at(1_700_000_000))
                .map(|_| ()),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn any_change_of_the_timestamp_fails(
        key in key(), id in id(), body in body(), delta in -300i64..=300
    ) {
        prop_assume!(delta != 0);
        let secret = Secret::from_bytes(key).unwrap();
        let sent = 1_700_000_000u64;
        let signed = Signer::new(&secret).sign(&id, at(sent), &body).unwrap();
        let other = (sent as i64 + delta).to_string();
        prop_assert_eq!(
            Verifier::new(&secret)
                .verify_parts_at(&id, &other, signed.signature(), &body, at(sent))
                .map(|_| ()),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn any_one_byte_change_in_the_signature_fails(
        key in key(), id in id(), body in body(),
        index in any::<prop::sample::Index>(), replacement in 0x21u8..0x7f
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = Signer::new(&secret).sign(&id, at(1_700_000_000), &body).unwrap();
        // Change one byte of the base64 part (after "v1,").
        let mut signature = signed.signature().as_bytes().to_vec();
        let i = 3 + index.index(signature.len() - 3);
        prop_assume!(signature[i] != replacement);
        signature[i] = replacement;
        let signature = String::from_utf8(signature).unwrap();
        let result = Verifier::new(&secret)
            .verify_parts_at(&id, signed.timestamp(), &signature, &body, at(1_700_000_000))
            .map(|_| ());
        prop_assert!(result.is_err(), "{signature} verified");
    }

    #[test]
    fn a_message_signed_with_any_one_of_several_secrets_verifies_under_all_of_them(
        keys in proptest::collection::vec(key(), 1..6),
        signer_index in any::<prop::sample::Index>(),
        id in id(), body in body()
    ) {
        let secrets: Vec<Secret> = keys.into_iter().map(|k| Secret::from_bytes(k).unwrap()).collect();
        let chosen = &secrets[signer_index.index(secrets.len())];
        let signed = Signer::new(chosen).sign(&id, at(1_700_000_000), &body).unwrap();
        let verifier = secrets[1..]
            .iter()
            .fold(Verifier::new(&secrets[0]), |v, s| v.with_secret(s));
        prop_assert!(verifier.verify_at(&signed.to_header_map(), &body, at(1_700_000_000)).is_ok());
    }

    #[test]
    fn timestamps_beyond_the_tolerance_fail_whatever_the_signature(
        key in key(), id in id(), body in body(), sent in 1_000_000u64..16_725_225_600,
        beyond in 301u64..1_000_000, past in any::<bool>()
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = Signer::new(&secret).sign(&id, at(sent), &body).unwrap();
        let now = if past { at(sent) + Duration::from_secs(beyond) } else { at(sent) - Duration::from_secs(beyond) };
        let headers = signed.to_header_map();
        let result = Verifier::new(&secret).verify_at(&headers, &body, now);
        if past {
            prop_assert!(matches!(result, Err(VerifyError::TooOld { .. })), "{result:?}");
        } else {
            prop_assert!(matches!(result, Err(VerifyError::TooNew { .. })), "{result:?}");
        }
    }

    #[test]
    fn arbitrary_header_strings_never_panic(
        id in ".{0,64}", timestamp in ".{0,32}", signature in ".{0,256}", body in body()
    ) {
        let verifier = Verifier::new(&Secret::generate());
        let _ = verifier.verify_parts_at(&id, &timestamp, &signature, &body, at(1_700_000_000));
    }

    #[test]
    fn arbitrary_secret_strings_never_panic(input in ".{0,128}") {
        let _ = Secret::parse(&input);
        let _ = Secret::parse_weak(&input);
    }
}

mod schemes {
    use std::time::{Duration, UNIX_EPOCH};

    use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
    use hookwire::webhook::{
        Algorithm, Encoding, GitHub, HmacScheme, Message, Scheme, Secret, Shopify, Slack, Stripe,
    };
    use proptest::prelude::*;

    /// Every scheme with `secret` (printable ASCII, as providers issue them).
    fn all(secret: &str) -> Vec<Box<dyn Scheme>> {
        vec![
            Box::new(Stripe::new(secret).unwrap()),
            Box::new(GitHub::new(secret).unwrap().allow_sha1()),
            Box::new(Slack::new(secret).unwrap()),
            Box::new(Shopify::new(secret).unwrap()),
            Box::new(
                HmacScheme::new(
                    HeaderName::from_static("x-sig"),
                    &Secret::from_bytes_weak(secret).unwrap(),
                )
                .algorithm(Algorithm::Sha512)
                .encoding(Encoding::Base64)
                .timestamp(HeaderName::from_static("x-ts"), "", "."),
            ),
        ]
    }

    const NAMES: [&str; 9] = [
        "stripe-signature",
        "x-hub-signature-256",
        "x-hub-signature",
        "x-github-delivery",
        "x-slack-signature",
        "x-slack-request-timestamp",
        "x-shopify-hmac-sha256",
        "x-sig",
        "x-ts",
    ];

    proptest! {
        #[test]
        fn every_scheme_verifies_what_it_signs_and_nothing_else(
            secret in "[!-~]{1,64}",
            body in proptest::collection::vec(any::<u8>(), 1..1024),
            sent in 0u64..16_725_225_600,
            skew in 0u64..=300,
            index in any::<prop::sample::Index>(),
        ) {
            let at = UNIX_EPOCH + Duration::from_secs(sent);
            let now = at + Duration::from_secs(skew);
            let mut tampered = body.clone();
            let i = index.index(tampered.len());
            tampered[i] ^= 0x01;
            for scheme in all(&secret) {
                let headers = scheme.sign(&Message::new("id-1", &body).at(at)).unwrap();
                prop_assert!(scheme.detect(&headers));
                let verified = scheme.verify_at(&headers, &body, now);
                prop_assert!(verified.is_ok(), "{}: {verified:?}", scheme.name());
                prop_assert!(scheme.verify_at(&headers, &tampered, now).is_err(), "{}", scheme.name());
            }
        }

        #[test]
        fn arbitrary_header_values_never_panic_any_scheme(
            values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..128), NAMES.len()),
            body in proptest::collection::vec(any::<u8>(), 0..256),
            now in any::<u64>(),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in NAMES.iter().zip(values) {
                if let Ok(value) = HeaderValue::from_bytes(&value) {
                    headers.insert(*name, value);
                }
            }
            let now = UNIX_EPOCH + Duration::from_secs(now / 4);
            for scheme in all("secret") {
                let _ = scheme.verify_at(&headers, &body, now);
            }
        }

        #[test]
        fn arbitrary_text_values_in_scheme_syntax_never_panic(
            t in "-?[0-9]{0,25}",
            v1 in "[0-9a-fA-F=,v ]{0,140}",
        ) {
            let stripe = Stripe::new("whsec_x").unwrap();
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&format!("t={t},v1={v1}")) {
                headers.insert("stripe-signature", value);
            }
            let _ = stripe.verify(&headers, b"{}");
            let slack = Slack::new("x").unwrap();
            if let (Ok(ts), Ok(sig)) = (HeaderValue::from_str(&t), HeaderValue::from_str(&format!("v0={v1}"))) {
                headers.insert("x-slack-request-timestamp", ts);
                headers.insert("x-slack-signature", sig);
            }
            let _ = slack.verify(&headers, b"{}");
        }
    }
}

//! Rules that hold for all inputs: sign-then-verify round trips, any one-byte change fails,
//! rotation.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::collections::BTreeMap;

use common::SignedExt;
use hookwire::webhook::{
    Inbound, Message, Secret, SecretError, Sign, StandardWebhooks, Verify, VerifyError,
};
use proptest::prelude::*;

/// Where a verification ended: `verified`, `compared` (the signature compare ran and refused),
/// or the error's variant.
fn ended(result: Result<(), VerifyError>) -> &'static str {
    match result {
        Ok(()) => "verified",
        Err(VerifyError::NoMatchingSignature) => "compared",
        Err(VerifyError::MalformedSignature { .. }) => "malformed signature",
        Err(VerifyError::NoSupportedSignature { .. }) => "no supported signature",
        Err(VerifyError::MalformedTimestamp) => "malformed timestamp",
        Err(VerifyError::NonCanonicalTimestamp) => "non-canonical timestamp",
        Err(VerifyError::TooOld { .. }) => "too old",
        Err(VerifyError::TooNew { .. }) => "too new",
        Err(VerifyError::MissingHeader(_)) => "missing header",
        Err(VerifyError::InvalidHeader(_)) => "invalid header",
        Err(_) => "other",
    }
}

/// Asserts that every case ended in `allowed`, at least `compare_floor` (a share of the
/// cases) reached the signature compare, and at least `success_floor` verified.
fn assert_coverage(
    what: &str,
    counts: &BTreeMap<&'static str, u32>,
    allowed: &[&str],
    compare_floor: f64,
    success_floor: f64,
) {
    let total: u32 = counts.values().sum();
    eprintln!("{what}: {counts:?}");
    for outcome in counts.keys() {
        assert!(
            allowed.contains(outcome),
            "{what}: ended in {outcome}: {counts:?}"
        );
    }
    let verified = counts.get("verified").copied().unwrap_or(0);
    let compared = counts.get("compared").copied().unwrap_or(0) + verified;
    assert!(
        f64::from(compared) >= compare_floor * f64::from(total),
        "{what}: only {compared} of {total} reached the signature compare: {counts:?}"
    );
    assert!(
        f64::from(verified) >= success_floor * f64::from(total),
        "{what}: only {verified} of {total} verified: {counts:?}"
    );
}

const NOW: u64 = 1_800_000_000;

/// One entry of a `webhook-signature` header, as senders and attackers write them.
fn entry(genuine: String) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(genuine),
        2 => proptest::collection::vec(any::<u8>(), 32)
            .prop_map(|bytes| format!("v1,{}", base64_encode(&bytes))),
        1 => proptest::collection::vec(any::<u8>(), 0..48)
            .prop_map(|bytes| format!("v1,{}", base64_encode(&bytes))),
        1 => "v1,[ -~]{0,60}".prop_map(|text| text.replace(' ', "")),
        1 => "v1a,[A-Za-z0-9+/]{0,90}={0,2}",
        1 => "v[0-9],[A-Za-z0-9+/=]{0,50}",
        1 => "[!-~]{0,20}",
    ]
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

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
        let signed = StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, &body).at(at(sent))).unwrap();
        let verifier = StandardWebhooks::new(&secret).expect("a key");
        let now = shifted(sent, skew);
        let verified = verifier.verify_at(Inbound::new(&signed, &body), now).unwrap();
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
        let signed = StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, &body).at(at(1_700_000_000))).unwrap();
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= flip;
        let headers = signed;
        let verifier = StandardWebhooks::new(&secret).expect("a key");
        prop_assert_eq!(
            verifier.verify_at(Inbound::new(&headers, &tampered), at(1_700_000_000)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn any_one_byte_change_in_the_id_fails(
        key in key(), id in id(), body in body(),
        index in any::<prop::sample::Index>(), replacement in 0x20u8..0x7f
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, &body).at(at(1_700_000_000))).unwrap();
        let mut other = id.clone().into_bytes();
        let i = index.index(other.len());
        prop_assume!(other[i] != replacement);
        other[i] = replacement;
        let other = String::from_utf8(other).unwrap();
        prop_assert_eq!(
            StandardWebhooks::new(&secret).expect("a key")
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
        let signed = StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, &body).at(at(sent))).unwrap();
        let other = (sent as i64 + delta).to_string();
        prop_assert_eq!(
            StandardWebhooks::new(&secret).expect("a key")
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
        let signed = StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, &body).at(at(1_700_000_000))).unwrap();
        // Change one byte of the base64 part (after "v1,").
        let mut signature = signed.signature().as_bytes().to_vec();
        let i = 3 + index.index(signature.len() - 3);
        prop_assume!(signature[i] != replacement);
        signature[i] = replacement;
        let signature = String::from_utf8(signature).unwrap();
        let result = StandardWebhooks::new(&secret).expect("a key")
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
        let signed = StandardWebhooks::new(chosen).expect("a key").sign(&Message::new(&id, &body).at(at(1_700_000_000))).unwrap();
        let verifier = secrets[1..]
            .iter()
            .fold(StandardWebhooks::new(&secrets[0]).expect("a key"), |v, s| v.with_secret(s).expect("a key"));
        prop_assert!(verifier.verify_at(Inbound::new(&signed, &body), at(1_700_000_000)).is_ok());
    }

    #[test]
    fn timestamps_beyond_the_tolerance_fail_whatever_the_signature(
        key in key(), id in id(), body in body(), sent in 1_000_000u64..16_725_225_600,
        beyond in 301u64..1_000_000, past in any::<bool>()
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let signed = StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, &body).at(at(sent))).unwrap();
        let now = if past { at(sent) + Duration::from_secs(beyond) } else { at(sent) - Duration::from_secs(beyond) };
        let headers = signed;
        let verifier = StandardWebhooks::new(&secret).expect("a key");
        let result = verifier.verify_at(Inbound::new(&headers, &body), now);
        if past {
            prop_assert!(matches!(result, Err(VerifyError::TooOld { .. })), "{result:?}");
        } else {
            prop_assert!(matches!(result, Err(VerifyError::TooNew { .. })), "{result:?}");
        }
    }
}

/// A Standard Webhooks request built from the header grammar: a printable id, a timestamp
/// that is usually well formed and near now, one to four signature entries (the genuine one
/// among them in most cases), and a body that is sometimes changed after signing.
fn standard_request() -> impl Strategy<Value = (String, String, String, Vec<u8>)> {
    let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    (
        "[ -~]{1,64}",
        prop_oneof![
            8 => (-400i64..=400).prop_map(|skew| (NOW as i64 + skew).to_string()),
            1 => "[0-9+-]{0,12}",
            1 => "[ -~]{0,20}",
        ],
        proptest::collection::vec(any::<u8>(), 0..512),
        any::<bool>(),
    )
        .prop_flat_map(move |(id, timestamp, body, tamper)| {
            let genuine = timestamp
                .parse::<u64>()
                .ok()
                .and_then(|sent| {
                    StandardWebhooks::new(&secret)
                        .expect("a key")
                        .sign(&Message::new(&id, &body).at(at(sent)))
                        .ok()
                        .map(|signed| signed.signature().to_owned())
                })
                .unwrap_or_else(|| "v1,AAAA".to_owned());
            let entries = proptest::collection::vec(entry(genuine), 1..=4);
            (Just(id), Just(timestamp), entries, Just(body), Just(tamper))
        })
        .prop_map(|(id, timestamp, entries, mut body, tamper)| {
            if tamper {
                body.push(b'!');
            }
            (id, timestamp, entries.join(" "), body)
        })
}

#[test]
fn header_strings_from_the_grammar_reach_the_signature_compare() {
    let verifier =
        StandardWebhooks::new(&Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap())
            .expect("a key");
    let counts = common::outcomes(
        2560,
        standard_request(),
        |(id, timestamp, signature, body)| {
            ended(
                verifier
                    .verify_parts_at(&id, &timestamp, &signature, &body, at(NOW))
                    .map(|_| ()),
            )
        },
    );
    assert_coverage(
        "standard webhooks",
        &counts,
        &[
            "verified",
            "compared",
            "malformed signature",
            "no supported signature",
            "malformed timestamp",
            "non-canonical timestamp",
            "too old",
            "too new",
        ],
        0.25,
        0.05,
    );
    for outcome in [
        "malformed timestamp",
        "too old",
        "too new",
        "no supported signature",
    ] {
        assert!(
            counts.contains_key(outcome),
            "{outcome} never reached: {counts:?}"
        );
    }
}

#[test]
fn secret_strings_reach_every_outcome_of_the_parser() {
    let strategy = prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| format!("whsec_{}", base64_encode(&bytes))),
        // Without the prefix: a provider's plain secret, never decoded by mistake.
        2 => proptest::collection::vec(any::<u8>(), 1..64).prop_map(|bytes| base64_encode(&bytes)),
        1 => ".{0,80}".prop_map(|text| format!("whsec_{text}")),
        1 => Just(String::new()),
    ];
    let counts = common::outcomes(2560, strategy, |text| {
        let weak = Secret::parse_weak(&text);
        match Secret::parse(&text) {
            Ok(secret) => {
                assert!(weak.is_ok());
                assert!(secret.expose_bytes().len() >= 24);
                "ok"
            }
            Err(SecretError::Empty) => "empty",
            Err(SecretError::InvalidBase64) => {
                assert!(weak.is_err());
                "invalid base64"
            }
            Err(SecretError::TooShort { .. }) => {
                assert!(
                    weak.is_ok(),
                    "a short key is still a key when weak ones are allowed"
                );
                "too short"
            }
            Err(SecretError::MissingPrefix) => {
                assert!(!text.trim().starts_with("whsec_"));
                assert_eq!(weak, Err(SecretError::MissingPrefix));
                "missing prefix"
            }
            Err(_) => "other",
        }
    });
    for outcome in [
        "ok",
        "empty",
        "invalid base64",
        "too short",
        "missing prefix",
    ] {
        let share = f64::from(counts.get(outcome).copied().unwrap_or(0)) / 2560.0;
        assert!(share >= 0.01, "{outcome}: {counts:?}");
    }
    assert!(!counts.contains_key("other"), "{counts:?}");
}

mod schemes {
    use std::time::{Duration, UNIX_EPOCH};

    use super::Both;
    use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
    use hookwire::webhook::{
        Algorithm, Encoding, GitHub, HmacScheme, Inbound, Message, Secret, Shopify, Sign, Slack,
        Stripe, Verify,
    };
    use proptest::prelude::*;

    /// Every scheme with `secret` (printable ASCII, as providers issue them).
    fn all(secret: &str) -> Vec<Box<dyn Both>> {
        vec![
            Box::new(Stripe::new(secret).unwrap()),
            Box::new(GitHub::new(secret).unwrap().allow_sha1()),
            Box::new(Slack::new(secret).unwrap()),
            Box::new(Shopify::new(secret).unwrap()),
            Box::new(
                HmacScheme::builder("x-sig")
                    .algorithm(Algorithm::Sha512)
                    .encoding(Encoding::Base64)
                    .timestamp("x-ts", "", ".")
                    .build(&Secret::from_bytes_weak(secret).unwrap())
                    .unwrap(),
            ),
        ]
    }

    use super::common::outcomes;
    use super::{NOW, assert_coverage, ended};

    /// One way to change a header value: none, one character replaced, truncated, junk
    /// appended, or the header removed.
    #[derive(Debug, Clone)]
    enum Mutation {
        None,
        Replace(prop::sample::Index, u8),
        Truncate(prop::sample::Index),
        Append(String),
        Remove,
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            4 => Just(Mutation::None),
            3 => (any::<prop::sample::Index>(), 0x21u8..0x7f)
                .prop_map(|(i, b)| Mutation::Replace(i, b)),
            1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
            1 => ",?[ -~]{0,20}".prop_map(Mutation::Append),
            1 => Just(Mutation::Remove),
        ]
    }

    fn mutate(headers: &mut HeaderMap, name: &HeaderName, mutation: &Mutation) {
        let Some(value) = headers.get(name).map(|v| v.as_bytes().to_vec()) else {
            return;
        };
        let changed = match mutation {
            Mutation::None => return,
            Mutation::Remove => {
                headers.remove(name);
                return;
            }
            Mutation::Replace(index, byte) if !value.is_empty() => {
                let mut value = value;
                let i = index.index(value.len());
                value[i] = *byte;
                value
            }
            Mutation::Truncate(index) if !value.is_empty() => {
                value[..index.index(value.len())].to_vec()
            }
            Mutation::Append(junk) => [value, junk.clone().into_bytes()].concat(),
            _ => value,
        };
        match HeaderValue::from_bytes(&changed) {
            Ok(changed) => {
                headers.insert(name.clone(), changed);
            }
            Err(_) => {
                headers.remove(name);
            }
        }
    }

    #[test]
    fn mutated_signed_requests_reach_every_schemes_compare() {
        let strategy = || {
            (
                "[!-~]{1,64}",
                proptest::collection::vec(any::<u8>(), 0..512),
                0u64..=300,
                any::<prop::sample::Index>(),
                mutation(),
                any::<bool>(),
            )
        };
        for index in 0..all("secret").len() {
            let name = all("secret")[index].name().to_owned();
            let counts = outcomes(
                1024,
                strategy(),
                |(secret, body, skew, which, mutation, tamper): (
                    String,
                    Vec<u8>,
                    u64,
                    prop::sample::Index,
                    Mutation,
                    bool,
                )| {
                    let scheme = all(&secret).remove(index);
                    let sent = UNIX_EPOCH + Duration::from_secs(NOW);
                    let mut headers = scheme.sign(&Message::new("id-1", &body).at(sent)).unwrap();
                    let names: Vec<HeaderName> = headers.keys().cloned().collect();
                    let target = &names[which.index(names.len())];
                    mutate(&mut headers, target, &mutation);
                    let mut body = body;
                    if tamper && matches!(mutation, Mutation::None) {
                        body.push(b'!');
                    }
                    let now = sent + Duration::from_secs(skew);
                    ended(
                        scheme
                            .verify_at(Inbound::new(&headers, &body), now)
                            .map(|_| ()),
                    )
                },
            );
            assert_coverage(
                &name,
                &counts,
                &[
                    "verified",
                    "compared",
                    "malformed signature",
                    "no supported signature",
                    "malformed timestamp",
                    "non-canonical timestamp",
                    "too old",
                    "too new",
                    "missing header",
                    "invalid header",
                ],
                0.25,
                0.05,
            );
        }
    }

    #[test]
    fn stripe_and_slack_syntax_with_current_timestamps_reaches_the_compare() {
        let strategy = (
            prop_oneof![
                8 => (-300i64..=300).prop_map(|skew| (NOW as i64 + skew).to_string()),
                1 => "-?[0-9]{0,25}",
            ],
            prop_oneof![
                4 => "[0-9a-f]{64}",
                1 => "[0-9a-fA-F=,v ]{0,140}",
            ],
        );
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let stripe = Stripe::new("whsec_x").unwrap();
        let counts = outcomes(1024, strategy.clone(), |(t, v1)| {
            let mut headers = HeaderMap::new();
            match HeaderValue::from_str(&format!("t={t},v1={v1}")) {
                Ok(value) => {
                    headers.insert("stripe-signature", value);
                }
                Err(_) => return "invalid header",
            }
            ended(
                stripe
                    .verify_at(Inbound::new(&headers, b"{}"), now)
                    .map(|_| ()),
            )
        });
        let allowed = [
            "compared",
            "malformed signature",
            "no supported signature",
            "malformed timestamp",
            "non-canonical timestamp",
            "too old",
            "too new",
            "invalid header",
        ];
        assert_coverage("stripe", &counts, &allowed, 0.25, 0.0);
        let slack = Slack::new("x").unwrap();
        let counts = outcomes(1024, strategy, |(t, v1)| {
            let mut headers = HeaderMap::new();
            match (
                HeaderValue::from_str(&t),
                HeaderValue::from_str(&format!("v0={v1}")),
            ) {
                (Ok(ts), Ok(sig)) => {
                    headers.insert("x-slack-request-timestamp", ts);
                    headers.insert("x-slack-signature", sig);
                }
                _ => return "invalid header",
            }
            ended(
                slack
                    .verify_at(Inbound::new(&headers, b"{}"), now)
                    .map(|_| ()),
            )
        });
        assert_coverage("slack", &counts, &allowed, 0.25, 0.0);
    }

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
                prop_assert!(scheme.detect(Inbound::new(&headers, &body)));
                let verified = scheme.verify_at(Inbound::new(&headers, &body), now);
                prop_assert!(verified.is_ok(), "{}: {verified:?}", scheme.name());
                prop_assert!(scheme.verify_at(Inbound::new(&headers, &tampered), now).is_err(), "{}", scheme.name());
            }
        }
    }
}

/// A scheme that both verifies and signs, so that a test can sign with it and verify with it.
trait Both: hookwire::webhook::Verify + hookwire::webhook::Sign {}
impl<T: hookwire::webhook::Verify + hookwire::webhook::Sign> Both for T {}

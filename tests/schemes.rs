//! Stripe, GitHub, Slack, Shopify and the configurable HMAC scheme: published vectors, rotation,
//! tolerance and bad input, and the multi-scheme verifier.
//!
//! Vector sources:
//! - GH-1: GitHub's docs, "Validating webhook deliveries", section "Testing the webhook payload
//!   validation".
//! - SLACK-1: Slack's docs, "Verifying requests from Slack", the worked example.
//! - Stripe publishes no fixed vector (its SDK tests sign at run time, with the secret
//!   `whsec_test_secret`); STRIPE-1 and STRIPE-2 were computed independently with Python's
//!   `hmac` module, following Stripe's documented construction `HMAC-SHA256(secret, "{t}.{body}")`.
//! - Shopify publishes no fixed vector; SHOPIFY-1 was computed the same way, following its
//!   documented construction `base64(HMAC-SHA256(client secret, body))`.
//! - GH-SHA1 and ACME-512 were computed the same way.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
use hookwire::webhook::{
    Algorithm, Encoding, GitHub, HmacScheme, Inbound, Message, MultiVerifier, SchemeError, Secret,
    SecretError, Shopify, Sign, Slack, StandardWebhooks, Stripe, Verify, VerifyError,
};

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

// ---------------------------------------------------------------- GitHub

const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_BODY: &[u8] = b"Hello, World!";
const GH_1: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const GH_SHA1: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

#[test]
fn github_published_vector_verifies_and_reports_the_delivery_id() {
    let github = GitHub::new(GH_SECRET).unwrap();
    let map = headers(&[
        ("x-hub-signature-256", GH_1),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ]);
    let verified = github.verify(Inbound::new(&map, GH_BODY)).unwrap();
    assert_eq!(verified.scheme(), "github");
    assert_eq!(verified.id(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    assert_eq!(verified.timestamp(), None);
}

#[test]
fn github_signer_reproduces_the_published_vector() {
    let github = GitHub::new(GH_SECRET).unwrap();
    let signed = github.sign(&Message::new("d-1", GH_BODY)).unwrap();
    assert_eq!(signed["x-hub-signature-256"], GH_1);
    assert_eq!(signed["x-github-delivery"], "d-1");
    assert!(!signed.contains_key("x-hub-signature"));
}

#[test]
fn github_rejects_tampered_body_uppercase_prefix_and_wrong_secret() {
    let github = GitHub::new(GH_SECRET).unwrap();
    let map = headers(&[("x-hub-signature-256", GH_1)]);
    assert_eq!(
        github.verify(Inbound::new(&map, b"Hello, World?")),
        Err(VerifyError::NoMatchingSignature)
    );
    let other = GitHub::new("another secret").unwrap();
    assert_eq!(
        other.verify(Inbound::new(&map, GH_BODY)),
        Err(VerifyError::NoMatchingSignature)
    );
    let upper = headers(&[("x-hub-signature-256", &GH_1.replace("sha256=", "SHA256="))]);
    assert!(matches!(
        github.verify(Inbound::new(&upper, GH_BODY)),
        Err(VerifyError::MalformedSignature { .. })
    ));
}

#[test]
fn github_accepts_uppercase_hex_digits() {
    let github = GitHub::new(GH_SECRET).unwrap();
    let upper = format!("sha256={}", GH_1["sha256=".len()..].to_uppercase());
    assert!(
        github
            .verify(Inbound::new(
                &headers(&[("x-hub-signature-256", &upper)]),
                GH_BODY
            ))
            .is_ok()
    );
}

#[test]
fn github_sha1_only_counts_when_opted_in_and_never_over_sha256() {
    let sha1_only = headers(&[("x-hub-signature", GH_SHA1)]);
    let github = GitHub::new(GH_SECRET).unwrap();
    assert!(matches!(
        github.verify(Inbound::new(&sha1_only, GH_BODY)),
        Err(VerifyError::NoSupportedSignature { .. })
    ));
    assert!(!github.detect(Inbound::new(&sha1_only, GH_BODY)));

    let legacy = GitHub::new(GH_SECRET).unwrap().allow_sha1();
    assert!(legacy.detect(Inbound::new(&sha1_only, GH_BODY)));
    assert!(legacy.verify(Inbound::new(&sha1_only, GH_BODY)).is_ok());

    // With both headers present, SHA-256 decides: a bad SHA-256 cannot fall back to SHA-1.
    let bad_256 = headers(&[
        ("x-hub-signature-256", "sha256=00"),
        ("x-hub-signature", GH_SHA1),
    ]);
    assert_eq!(
        legacy.verify(Inbound::new(&bad_256, GH_BODY)),
        Err(VerifyError::NoMatchingSignature)
    );
    let signed = legacy.sign(&Message::new("d", GH_BODY)).unwrap();
    assert_eq!(signed["x-hub-signature"], GH_SHA1);
    assert_eq!(signed["x-hub-signature-256"], GH_1);
}

#[test]
fn github_rotation_accepts_either_secret_and_signs_with_the_first() {
    let github = GitHub::new("new secret")
        .unwrap()
        .with_secret(GH_SECRET)
        .unwrap();
    assert!(
        github
            .verify(Inbound::new(
                &headers(&[("x-hub-signature-256", GH_1)]),
                GH_BODY
            ))
            .is_ok()
    );
    let signed = github.sign(&Message::new("d", GH_BODY)).unwrap();
    assert!(
        GitHub::new("new secret")
            .unwrap()
            .verify(Inbound::new(&signed, GH_BODY))
            .is_ok()
    );
    // SHA-1 allowed after the rotation was set up keeps both secrets.
    let legacy = github.allow_sha1();
    assert!(
        legacy
            .verify(Inbound::new(
                &headers(&[("x-hub-signature", GH_SHA1)]),
                GH_BODY
            ))
            .is_ok()
    );
}

#[test]
fn github_missing_or_malformed_headers_are_typed_errors() {
    let github = GitHub::new(GH_SECRET).unwrap();
    assert_eq!(
        github.verify(Inbound::new(&HeaderMap::new(), GH_BODY)),
        Err(VerifyError::MissingHeader(HeaderName::from_static(
            "x-hub-signature-256"
        )))
    );
    for bad in ["", "sha256=", "sha256=zz", "sha256=757107", "757107ea0eb2"] {
        let map = headers(&[("x-hub-signature-256", bad)]);
        assert!(
            github.verify(Inbound::new(&map, GH_BODY)).is_err(),
            "{bad:?}"
        );
    }
    let mut map = headers(&[("x-hub-signature-256", GH_1)]);
    map.insert(
        "x-github-delivery",
        HeaderValue::from_bytes(b"\xff").unwrap(),
    );
    assert_eq!(
        github.verify(Inbound::new(&map, GH_BODY)),
        Err(VerifyError::InvalidHeader(HeaderName::from_static(
            "x-github-delivery"
        )))
    );
}

// ---------------------------------------------------------------- Slack

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS: u64 = 1531420618;
const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_1: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn slack_headers(ts: &str, signature: &str) -> HeaderMap {
    headers(&[
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", signature),
    ])
}

#[test]
fn slack_published_vector_verifies_and_signs() {
    let slack = Slack::new(SLACK_SECRET).unwrap();
    let map = slack_headers("1531420618", SLACK_1);
    let verified = slack
        .verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS))
        .unwrap();
    assert_eq!(verified.scheme(), "slack");
    assert_eq!(verified.timestamp(), Some(SLACK_TS as i64));
    let signed = slack
        .sign(&Message::new("", SLACK_BODY).at(at(SLACK_TS)))
        .unwrap();
    assert_eq!(signed["x-slack-signature"], SLACK_1);
    assert_eq!(signed["x-slack-request-timestamp"], "1531420618");
}

#[test]
fn slack_rejects_a_changed_timestamp_body_or_signature() {
    let slack = Slack::new(SLACK_SECRET).unwrap();
    let now = at(SLACK_TS);
    assert_eq!(
        slack.verify_at(
            Inbound::new(&slack_headers("1531420619", SLACK_1), SLACK_BODY),
            now
        ),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        slack.verify_at(
            Inbound::new(&slack_headers("1531420618", SLACK_1), &SLACK_BODY[1..]),
            now
        ),
        Err(VerifyError::NoMatchingSignature)
    );
    let wrong = SLACK_1.replace("a2114d57b4", "a2114d57b5");
    assert_eq!(
        slack.verify_at(
            Inbound::new(&slack_headers("1531420618", &wrong), SLACK_BODY),
            now
        ),
        Err(VerifyError::NoMatchingSignature)
    );
    let v1 = SLACK_1.replace("v0=", "v1=");
    assert!(matches!(
        slack.verify_at(
            Inbound::new(&slack_headers("1531420618", &v1), SLACK_BODY),
            now
        ),
        Err(VerifyError::MalformedSignature { .. })
    ));
}

#[test]
fn slack_tolerance_is_five_minutes_both_ways_and_configurable() {
    let slack = Slack::new(SLACK_SECRET).unwrap();
    let map = slack_headers("1531420618", SLACK_1);
    assert!(
        slack
            .verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS + 300))
            .is_ok()
    );
    assert!(
        slack
            .verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS - 300))
            .is_ok()
    );
    assert!(matches!(
        slack.verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS + 301)),
        Err(VerifyError::TooOld { .. })
    ));
    assert!(matches!(
        slack.verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS - 301)),
        Err(VerifyError::TooNew { .. })
    ));
    let strict = Slack::new(SLACK_SECRET)
        .unwrap()
        .tolerance(Duration::from_secs(5));
    assert!(matches!(
        strict.verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS + 6)),
        Err(VerifyError::TooOld { .. })
    ));
}

#[test]
fn slack_bad_timestamps_are_typed_errors() {
    let slack = Slack::new(SLACK_SECRET).unwrap();
    for ts in ["", "abc", "1.5", "99999999999999999999", "-"] {
        assert_eq!(
            slack.verify_at(
                Inbound::new(&slack_headers(ts, SLACK_1), SLACK_BODY),
                at(SLACK_TS)
            ),
            Err(VerifyError::MalformedTimestamp),
            "{ts:?}"
        );
    }
    let missing = headers(&[("x-slack-signature", SLACK_1)]);
    assert_eq!(
        slack.verify_at(Inbound::new(&missing, SLACK_BODY), at(SLACK_TS)),
        Err(VerifyError::MissingHeader(HeaderName::from_static(
            "x-slack-request-timestamp"
        )))
    );
}

#[test]
fn slack_rotation_accepts_either_secret() {
    let slack = Slack::new("new-signing-secret")
        .unwrap()
        .with_secret(SLACK_SECRET)
        .unwrap();
    let map = slack_headers("1531420618", SLACK_1);
    assert!(
        slack
            .verify_at(Inbound::new(&map, SLACK_BODY), at(SLACK_TS))
            .is_ok()
    );
}

// ---------------------------------------------------------------- Stripe

const STRIPE_SECRET: &str = "whsec_test_secret";
const STRIPE_BODY: &[u8] = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
const STRIPE_TS: u64 = 1_700_000_000;
const STRIPE_1: &str = "4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";
/// The same message under `whsec_test_secret_rolled_key`.
const STRIPE_2: &str = "dc80d0334b78e0dbbc3d5352c151a428b746163b94ad381096bb293b9e650f1e";

fn stripe_header(value: &str) -> HeaderMap {
    headers(&[("stripe-signature", value)])
}

#[test]
fn stripe_vector_verifies_with_the_secret_used_as_text_not_base64() {
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let map = stripe_header(&format!("t=1700000000,v1={STRIPE_1}"));
    let verified = stripe
        .verify_at(Inbound::new(&map, STRIPE_BODY), at(STRIPE_TS))
        .unwrap();
    assert_eq!(verified.scheme(), "stripe");
    assert_eq!(verified.timestamp(), Some(STRIPE_TS as i64));
    assert_eq!(verified.id(), None);
    let signed = stripe
        .sign(&Message::new("", STRIPE_BODY).at(at(STRIPE_TS)))
        .unwrap();
    assert_eq!(
        signed["stripe-signature"],
        format!("t=1700000000,v1={STRIPE_1}").as_str()
    );
}

#[test]
fn stripe_tries_every_v1_and_ignores_other_schemes() {
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let now = at(STRIPE_TS);
    // A rolled secret: the header carries both signatures, in either order.
    for value in [
        format!("t=1700000000,v1={STRIPE_2},v1={STRIPE_1}"),
        format!("t=1700000000,v1={STRIPE_1},v1={STRIPE_2}"),
        format!("v0=abc,t=1700000000,v1=bad_signature,v1={STRIPE_1}"),
        format!("t=1700000000, v1={STRIPE_1}"),
    ] {
        assert!(
            stripe
                .verify_at(Inbound::new(&stripe_header(&value), STRIPE_BODY), now)
                .is_ok(),
            "{value}"
        );
    }
    // A v0 signature (even a "correct" one computed as a v1 would be) never counts.
    let downgrade = stripe_header(&format!("t=1700000000,v0={STRIPE_1}"));
    assert!(matches!(
        stripe.verify_at(Inbound::new(&downgrade, STRIPE_BODY), now),
        Err(VerifyError::NoSupportedSignature { .. })
    ));
    let rolled = Stripe::new("whsec_test_secret_rolled_key").unwrap();
    let both = stripe_header(&format!("t=1700000000,v1={STRIPE_1},v1={STRIPE_2}"));
    assert!(
        rolled
            .verify_at(Inbound::new(&both, STRIPE_BODY), now)
            .is_ok()
    );
}

#[test]
fn stripe_rotation_on_the_receiver_accepts_either_secret_and_signs_with_all() {
    let stripe = Stripe::new("whsec_other")
        .unwrap()
        .with_secret(STRIPE_SECRET)
        .unwrap();
    let map = stripe_header(&format!("t=1700000000,v1={STRIPE_1}"));
    assert!(
        stripe
            .verify_at(Inbound::new(&map, STRIPE_BODY), at(STRIPE_TS))
            .is_ok()
    );
    let signed = stripe
        .sign(&Message::new("", STRIPE_BODY).at(at(STRIPE_TS)))
        .unwrap();
    let value = signed["stripe-signature"].to_str().unwrap();
    assert_eq!(value.matches(",v1=").count(), 2);
    assert!(value.ends_with(STRIPE_1));
}

#[test]
fn stripe_malformed_headers_are_typed_errors() {
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let now = at(STRIPE_TS);
    let malformed = VerifyError::MalformedSignature { expected: "" };
    let unsupported = VerifyError::NoSupportedSignature { found: "" };
    let cases = [
        ("", &malformed),
        (",,,", &malformed),
        ("t=", &VerifyError::MalformedTimestamp),
        ("t=abc,v1=00", &VerifyError::MalformedTimestamp),
        ("v1=00", &malformed),
        ("v1,flag", &malformed),
        ("t=1700000000", &unsupported),
        ("t=1700000000,v1=", &VerifyError::NoMatchingSignature),
        ("t=1700000000,v1=zz", &VerifyError::NoMatchingSignature),
    ];
    for (value, expected) in cases {
        let error = stripe
            .verify_at(Inbound::new(&stripe_header(value), STRIPE_BODY), now)
            .unwrap_err();
        assert_eq!(
            std::mem::discriminant(&error),
            std::mem::discriminant(expected),
            "{value:?}: {error:?}"
        );
    }
    assert_eq!(
        stripe.verify_at(Inbound::new(&HeaderMap::new(), STRIPE_BODY), now),
        Err(VerifyError::MissingHeader(HeaderName::from_static(
            "stripe-signature"
        )))
    );
}

#[test]
fn stripe_skips_items_it_does_not_know_as_stripes_libraries_do() {
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let now = at(STRIPE_TS);
    for value in [
        format!("t={STRIPE_TS},v1={STRIPE_1},flag"),
        format!("flag,t={STRIPE_TS},v0=abc,v1={STRIPE_1}"),
        format!("t={STRIPE_TS},,v1={STRIPE_1},future=1,=x"),
    ] {
        let map = stripe_header(&value);
        let verified = stripe.verify_at(Inbound::new(&map, STRIPE_BODY), now);
        assert_eq!(
            verified.map(|v| v.timestamp()),
            Ok(Some(STRIPE_TS as i64)),
            "{value}"
        );
    }
}

#[test]
fn stripe_tolerance_defaults_to_300_seconds_both_ways() {
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let map = stripe_header(&format!("t=1700000000,v1={STRIPE_1}"));
    assert!(
        stripe
            .verify_at(Inbound::new(&map, STRIPE_BODY), at(STRIPE_TS + 300))
            .is_ok()
    );
    assert!(matches!(
        stripe.verify_at(Inbound::new(&map, STRIPE_BODY), at(STRIPE_TS + 301)),
        Err(VerifyError::TooOld { .. })
    ));
    assert!(matches!(
        stripe.verify_at(Inbound::new(&map, STRIPE_BODY), at(STRIPE_TS - 301)),
        Err(VerifyError::TooNew { .. })
    ));
    let relaxed = Stripe::new(STRIPE_SECRET)
        .unwrap()
        .tolerance(Duration::from_secs(3600));
    assert!(
        relaxed
            .verify_at(Inbound::new(&map, STRIPE_BODY), at(STRIPE_TS + 3000))
            .is_ok()
    );
}

// ---------------------------------------------------------------- Shopify

const SHOPIFY_BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
const SHOPIFY_1: &str = "D0UMXmhjwBRi4y66TmhJrDlhQABD7zI2fm3p6/QLMo8=";

#[test]
fn shopify_vector_verifies_and_signs_and_reports_the_webhook_id() {
    let shopify = Shopify::new("hush").unwrap();
    let map = headers(&[
        ("x-shopify-hmac-sha256", SHOPIFY_1),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
    ]);
    let verified = shopify.verify(Inbound::new(&map, SHOPIFY_BODY)).unwrap();
    assert_eq!(verified.scheme(), "shopify");
    assert_eq!(verified.id(), Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
    let signed = shopify.sign(&Message::new("w-1", SHOPIFY_BODY)).unwrap();
    assert_eq!(signed["x-shopify-hmac-sha256"], SHOPIFY_1);
    assert_eq!(signed["x-shopify-webhook-id"], "w-1");
}

#[test]
fn shopify_rejects_tampering_hex_and_unpadded_forms_of_nothing() {
    let shopify = Shopify::new("hush").unwrap();
    assert_eq!(
        shopify.verify(Inbound::new(
            &headers(&[("x-shopify-hmac-sha256", SHOPIFY_1)]),
            b"{}"
        )),
        Err(VerifyError::NoMatchingSignature)
    );
    for bad in ["", "=", "D0UMXmhj", "not base64!", "0f450c5e"] {
        assert_eq!(
            shopify.verify(Inbound::new(
                &headers(&[("x-shopify-hmac-sha256", bad)]),
                SHOPIFY_BODY
            )),
            Err(VerifyError::NoMatchingSignature),
            "{bad:?}"
        );
    }
    let rotated = Shopify::new("new").unwrap().with_secret("hush").unwrap();
    assert!(
        rotated
            .verify(Inbound::new(
                &headers(&[("x-shopify-hmac-sha256", SHOPIFY_1)]),
                SHOPIFY_BODY
            ))
            .is_ok()
    );
}

// ---------------------------------------------------------------- configurable

const ACME_512: &str =
    "ZQtoW3iOOrpSM7bVU3RlZsz4cXVCwifDo4sFO5nKXmhCT1mAZCh2nByF60JkLBNpHu6ZV6z1p4KXzjrO91SP8Q==";

fn acme() -> HmacScheme {
    HmacScheme::builder("X-Acme-Signature")
        .name("acme")
        .prefix("sha512=")
        .encoding(Encoding::Base64)
        .algorithm(Algorithm::Sha512)
        .timestamp("X-Acme-Timestamp", "", ".")
        .id_header("X-Acme-Delivery")
        .build("acme-endpoint-secret")
        .unwrap()
}

#[test]
fn configurable_sha512_base64_timestamped_vector_verifies_and_signs() {
    let map = headers(&[
        ("x-acme-signature", &format!("sha512={ACME_512}")),
        ("x-acme-timestamp", "1700000000"),
        ("x-acme-delivery", "d-9"),
    ]);
    let scheme = acme();
    let verified = scheme
        .verify_at(Inbound::new(&map, b"{}"), at(1_700_000_000))
        .unwrap();
    assert_eq!(verified.scheme(), "acme");
    assert_eq!(verified.id(), Some("d-9"));
    assert_eq!(verified.timestamp(), Some(1_700_000_000));
    let signed = acme()
        .sign(&Message::new("d-9", b"{}").at(at(1_700_000_000)))
        .unwrap();
    assert_eq!(signed, map);
}

#[test]
fn configurable_scheme_runtime_header_names_work_and_are_named_in_errors() {
    let name = String::from("X-Runtime-Signature");
    let scheme = HmacScheme::builder(&name).build("k").unwrap();
    assert_eq!(
        scheme.verify(Inbound::new(&HeaderMap::new(), b"")),
        Err(VerifyError::MissingHeader(HeaderName::from_static(
            "x-runtime-signature"
        )))
    );
    let signed = scheme.sign(&Message::new("x", b"body")).unwrap();
    assert!(scheme.verify(Inbound::new(&signed, b"body")).is_ok());
    assert_eq!(scheme.name(), "hmac");
}

#[test]
fn configurable_scheme_defaults_sign_the_body_in_hex_sha256() {
    let scheme = HmacScheme::builder("x-hub-signature-256")
        .prefix("sha256=")
        .build(GH_SECRET)
        .unwrap();
    assert!(
        scheme
            .verify(Inbound::new(
                &headers(&[("x-hub-signature-256", GH_1)]),
                GH_BODY
            ))
            .is_ok()
    );
}

#[test]
fn configurable_extra_secrets_are_keyed_with_the_configured_algorithm_and_reported_by_index() {
    let scheme = HmacScheme::builder("x-sig")
        .algorithm(Algorithm::Sha512)
        .build("first")
        .and_then(|scheme| Ok(scheme.with_secret(&Secret::from_bytes_weak("second").unwrap())?))
        .unwrap();
    let only_second = HmacScheme::builder("x-sig")
        .algorithm(Algorithm::Sha512)
        .build("second")
        .unwrap();
    let signed = only_second.sign(&Message::new("m", b"x")).unwrap();
    assert_eq!(signed["x-sig"].len(), 128);
    assert_eq!(
        scheme.verify(Inbound::new(&signed, b"x")).unwrap().key(),
        Some(1)
    );
}

#[test]
fn configurable_header_names_in_any_case_or_invalid_are_read_or_refused_without_panic() {
    let upper = HmacScheme::builder("X-SIG").build("k").unwrap();
    let lower = HmacScheme::builder("x-sig").build("k").unwrap();
    let signed = upper.sign(&Message::new("m", b"x")).unwrap();
    assert!(signed.contains_key("x-sig"));
    assert!(lower.verify(Inbound::new(&signed, b"x")).is_ok());
    for bad in ["", "x sig", "x-sig\n", "é"] {
        let error = HmacScheme::builder(bad).build("k").unwrap_err();
        assert_eq!(
            error,
            SchemeError::HeaderName {
                name: bad.to_owned()
            }
        );
        assert!(error.to_string().contains("not a valid HTTP header name"));
        let error = HmacScheme::builder("x-sig")
            .timestamp(bad, "", ".")
            .build("k")
            .unwrap_err();
        assert_eq!(
            error,
            SchemeError::HeaderName {
                name: bad.to_owned()
            }
        );
    }
    assert_eq!(
        HmacScheme::builder("x-sig").build("").unwrap_err(),
        SchemeError::Secret(SecretError::Empty)
    );
}

#[test]
fn malformed_signature_errors_name_each_schemes_own_format() {
    let map = |name: &'static str, value: &str| {
        headers(&[(name, value), ("x-slack-request-timestamp", "1531420618")])
    };
    let cases: Vec<(Box<dyn Verify>, HeaderMap, &str)> = vec![
        (
            Box::new(GitHub::new(GH_SECRET).unwrap()),
            map("x-hub-signature-256", "md5=00"),
            "`sha256=`",
        ),
        (
            Box::new(Slack::new(SLACK_SECRET).unwrap()),
            map("x-slack-signature", "v1=00"),
            "`v0=`",
        ),
        (
            Box::new(Stripe::new(STRIPE_SECRET).unwrap()),
            map("stripe-signature", "v1=00"),
            "`t=<unix seconds>,v1=<hex>`",
        ),
        (
            Box::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()),
            headers(&[
                ("webhook-id", "m"),
                ("webhook-timestamp", "1531420618"),
                ("webhook-signature", "garbage"),
            ]),
            "`v1,<base64>`",
        ),
    ];
    for (scheme, map, names) in cases {
        let error = scheme
            .verify_at(Inbound::new(&map, b"{}"), at(SLACK_TS))
            .unwrap_err();
        let text = error.to_string();
        assert!(
            matches!(error, VerifyError::MalformedSignature { .. }),
            "{}: {error:?}",
            scheme.name()
        );
        assert!(text.contains(names), "{}: {text}", scheme.name());
        if scheme.name() != "standard-webhooks" {
            assert!(!text.contains("v1,"), "{}: {text}", scheme.name());
        }
    }
}

#[test]
fn configurable_tolerance_applies_whether_set_before_or_after_the_timestamp() {
    let secret = Secret::from_bytes_weak("k").unwrap();
    let ts = "x-ts";
    let before = HmacScheme::builder("x-sig")
        .tolerance(Duration::from_secs(10))
        .timestamp(ts, "", ".")
        .build(&secret)
        .unwrap();
    let after = HmacScheme::builder("x-sig")
        .timestamp(ts, "", ".")
        .tolerance(Duration::from_secs(10))
        .build(&secret)
        .unwrap();
    for scheme in [before, after] {
        let signed = scheme.sign(&Message::new("m", b"x").at(at(1000))).unwrap();
        assert!(
            scheme
                .verify_at(Inbound::new(&signed, b"x"), at(1010))
                .is_ok()
        );
        assert!(matches!(
            scheme.verify_at(Inbound::new(&signed, b"x"), at(1011)),
            Err(VerifyError::TooOld { .. })
        ));
    }
}

#[test]
fn configurable_prefix_that_cannot_be_a_header_value_is_a_sign_error() {
    let scheme = HmacScheme::builder("x-sig")
        .prefix("bad\nprefix=")
        .build("k")
        .unwrap();
    assert!(scheme.sign(&Message::new("m", b"x")).is_err());
}

// ---------------------------------------------------------------- several schemes

#[test]
fn multi_verifier_picks_the_scheme_by_the_headers_present() {
    let sw_secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let verifier = MultiVerifier::new()
        .with(StandardWebhooks::new(&sw_secret).expect("a key"))
        .with(Stripe::new(STRIPE_SECRET).unwrap())
        .with(GitHub::new(GH_SECRET).unwrap())
        .with(Slack::new(SLACK_SECRET).unwrap())
        .with(Shopify::new("hush").unwrap());

    let cases: Vec<(HeaderMap, &[u8], SystemTime, &str)> = vec![
        (
            headers(&[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            ]),
            br#"{"test": 2432232314}"#,
            at(1614265330),
            "standard-webhooks",
        ),
        (
            stripe_header(&format!("t=1700000000,v1={STRIPE_1}")),
            STRIPE_BODY,
            at(STRIPE_TS),
            "stripe",
        ),
        (
            headers(&[("x-hub-signature-256", GH_1)]),
            GH_BODY,
            at(0),
            "github",
        ),
        (
            slack_headers("1531420618", SLACK_1),
            SLACK_BODY,
            at(SLACK_TS),
            "slack",
        ),
        (
            headers(&[("x-shopify-hmac-sha256", SHOPIFY_1)]),
            SHOPIFY_BODY,
            at(0),
            "shopify",
        ),
    ];
    for (map, body, now, scheme) in &cases {
        let verified = verifier.verify_at(Inbound::new(map, body), *now).unwrap();
        assert_eq!(verified.scheme(), *scheme);
    }
    // A Stripe header with a GitHub body is judged by Stripe, and fails.
    assert_eq!(
        verifier.verify_at(Inbound::new(&cases[1].0, GH_BODY), at(STRIPE_TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        verifier.verify(Inbound::new(&headers(&[("x-other", "1")]), b"")),
        Err(VerifyError::NoScheme)
    );
    assert_eq!(
        format!("{verifier:?}"),
        r#"["standard-webhooks", "stripe", "github", "slack", "shopify"]"#
    );
}

#[test]
fn standard_webhooks_verifier_is_a_scheme_that_signs_with_its_secrets() {
    let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let verifier = StandardWebhooks::new(&secret).expect("a key");
    let signed = Sign::sign(
        &verifier,
        &Message::new("msg_p5jXN8AQM9LWM0D4loKWxJek", br#"{"test": 2432232314}"#)
            .at(at(1614265330)),
    )
    .unwrap();
    assert_eq!(
        signed["webhook-signature"],
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    assert!(Verify::detect(&verifier, Inbound::new(&signed, b"")));
    assert!(
        Verify::verify_at(
            &verifier,
            Inbound::new(&signed, br#"{"test": 2432232314}"#),
            at(1614265330)
        )
        .is_ok()
    );
}

#[test]
fn secrets_of_text_schemes_must_not_be_empty() {
    assert!(Stripe::new("").is_err());
    assert!(GitHub::new("").is_err());
    assert!(Slack::new("").is_err());
    assert!(Shopify::new("").is_err());
    assert!(GitHub::new("x").unwrap().with_secret("").is_err());
}

#[test]
fn scheme_debug_output_shows_no_secret() {
    let text = format!(
        "{:?} {:?} {:?} {:?} {:?}",
        Stripe::new(STRIPE_SECRET).unwrap(),
        GitHub::new(GH_SECRET).unwrap(),
        Slack::new(SLACK_SECRET).unwrap(),
        Shopify::new("hush-hush-secret").unwrap(),
        acme()
    );
    for secret in [
        "test_secret",
        "Everybody",
        "8f742231",
        "hush-hush",
        "acme-endpoint",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    common::assert_no_leak(
        &text,
        &[
            STRIPE_SECRET.as_bytes(),
            GH_SECRET.as_bytes(),
            SLACK_SECRET.as_bytes(),
            b"hush-hush-secret",
        ],
    );
    // Nor does an error print the signature it refused.
    let signed = GitHub::new(GH_SECRET)
        .unwrap()
        .sign(&Message::new("d-1", b"{}"))
        .unwrap();
    let error = GitHub::new("another secret")
        .unwrap()
        .verify(Inbound::new(&signed, b"{}"))
        .unwrap_err();
    let signature = signed["x-hub-signature-256"].to_str().unwrap();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&signature[7..]), "{text}");
}

/// Schemes that read several headers in one pass (Twitch, and the configurable scheme under
/// Slack and Shopify) read each header's first value, as a lookup would, whatever else the
/// request carries around them: a second value never stands in for a bad first one, and a
/// missing header is named.
#[test]
fn headers_read_in_one_pass_take_the_first_of_repeated_values() {
    let now = at(1_700_000_000);
    let body = br#"{"event":"x"}"#;
    let schemes: Vec<(Box<dyn Both>, &str)> = vec![
        (
            Box::new(hookwire::webhook::Twitch::new("twitch secret").unwrap()),
            "twitch-eventsub-message-signature",
        ),
        (
            Box::new(Slack::new("slack secret").unwrap()),
            "x-slack-signature",
        ),
        (
            Box::new(Shopify::new("shopify secret").unwrap()),
            "x-shopify-hmac-sha256",
        ),
    ];
    let mut checked = 0;
    for (scheme, signature) in &schemes {
        let signed = scheme
            .sign(&Message::new("delivery-1", body).at(now))
            .unwrap();
        let good = signed[*signature].clone();
        let bad = HeaderValue::from_static("sha256=00");
        // Unrelated headers around the signed ones.
        let mut first_good = headers(&[("user-agent", "sender/1.0"), ("x-request-id", "r-1")]);
        first_good.extend(signed.clone());
        first_good.append(*signature, bad.clone());
        assert!(
            scheme
                .verify_at(Inbound::new(&first_good, body), now)
                .is_ok(),
            "{signature}: the first value verifies"
        );
        let mut first_bad = signed.clone();
        first_bad.insert(*signature, bad);
        first_bad.append(*signature, good);
        assert!(
            scheme
                .verify_at(Inbound::new(&first_bad, body), now)
                .is_err(),
            "{signature}: a second value does not stand in for the first"
        );
        for name in signed.keys() {
            let mut missing = signed.clone();
            missing.remove(name);
            if let Err(VerifyError::MissingHeader(missing_name)) =
                scheme.verify_at(Inbound::new(&missing, body), now)
            {
                assert_eq!(&missing_name, name);
                checked += 1;
            }
        }
    }
    // Twitch's signature, id and timestamp, Slack's signature and timestamp, Shopify's signature.
    assert_eq!(checked, 6);
}

/// A scheme that both verifies and signs.
trait Both: Verify + Sign {}
impl<T: Verify + Sign> Both for T {}

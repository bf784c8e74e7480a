//! Why a webhook was rejected: each hint `diagnose` gives, from the mistake that causes it,
//! none where nothing is wrong with that part, and none that quotes a secret, a signature or
//! the body.

mod common;

use std::time::{Duration, SystemTime};

use hookwire::http::{HeaderMap, HeaderValue};
use hookwire::webhook::{
    Diagnosis, GitHub, Hint, Inbound, Message, Secret, Sign, Slack, StandardWebhooks, Stripe,
    Verify, VerifyError, diagnose,
};

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &str =
    r#"{"type":"transfer.settled","data":{"amount":"12.50","note":"body-marker-51c3"}}"#;

/// Verifies `body` against `headers` with `verifier`, which must fail, and diagnoses it; checks
/// that the diagnosis quotes no secret, no signature and no body.
fn diagnosed(
    verifier: &dyn Verify,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&[u8]],
) -> Diagnosis {
    let request = Inbound::new(headers, body);
    let error = verifier
        .verify_at(request, SystemTime::now())
        .expect_err("the request must fail");
    let diagnosis = diagnose(verifier, request, error);
    let text = diagnosis.to_string();
    common::assert_no_leak(&text, secrets);
    assert!(!text.contains("body-marker"), "the body leaked: {text}");
    for value in headers.values() {
        let value = value.to_str().unwrap();
        if value.len() >= 16 {
            assert!(!text.contains(value), "a header value leaked: {text}");
        }
        for signature in value.split([' ', ',', '=']).filter(|part| part.len() >= 16) {
            assert!(!text.contains(signature), "a signature leaked: {text}");
        }
    }
    diagnosis
}

fn standard() -> StandardWebhooks {
    StandardWebhooks::new(SW_SECRET).unwrap()
}

fn sw_secret() -> Vec<u8> {
    SW_SECRET.parse::<Secret>().unwrap().expose_bytes().to_vec()
}

#[test]
fn a_body_changed_on_the_way_is_seen_in_its_length() {
    let sender = standard();
    let mut headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()))
        .unwrap();
    headers.insert("content-length", HeaderValue::from(BODY.len()));
    let changed = BODY.replace("12.50", "12.5");
    let diagnosis = diagnosed(&sender, &headers, changed.as_bytes(), &[&sw_secret()]);
    assert_eq!(diagnosis.error(), &VerifyError::NoMatchingSignature);
    assert_eq!(
        diagnosis.hints(),
        [Hint::BodyLengthDiffers {
            content_length: BODY.len() as u64,
            received: changed.len()
        }]
    );
    assert!(diagnosis.to_string().contains("raw bytes"), "{diagnosis}");
}

#[test]
fn a_body_written_out_again_by_a_serializer_is_recognised_and_a_compact_one_is_not() {
    let sender = standard();
    let headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(BODY).unwrap();
    for reserialised in [
        serde_json::to_string_pretty(&value).unwrap(),
        BODY.replace("\":", "\": "),
    ] {
        let diagnosis = diagnosed(&sender, &headers, reserialised.as_bytes(), &[&sw_secret()]);
        assert_eq!(diagnosis.hints(), [Hint::ReformattedJson], "{reserialised}");
    }
    // Compact JSON signed with another secret: nothing about the layout.
    let other = StandardWebhooks::new(&Secret::generate()).unwrap();
    let diagnosis = diagnosed(&other, &headers, BODY.as_bytes(), &[&sw_secret()]);
    assert_eq!(diagnosis.hints(), []);
    // Stripe sends indented JSON itself: its layout says nothing.
    let stripe = Stripe::new("whsec_stripe_endpoint_secret").unwrap();
    let signed = stripe
        .sign(&Message::new("evt_1", BODY.as_bytes()))
        .unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let diagnosis = diagnosed(
        &stripe,
        &signed,
        pretty.as_bytes(),
        &[b"whsec_stripe_endpoint_secret"],
    );
    assert_eq!(diagnosis.hints(), []);
}

#[test]
fn a_timestamp_outside_the_tolerance_says_how_far_and_which_way() {
    let sender = standard();
    let sent = SystemTime::now() - Duration::from_secs(2 * 3600);
    let headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()).at(sent))
        .unwrap();
    let diagnosis = diagnosed(&sender, &headers, BODY.as_bytes(), &[&sw_secret()]);
    match diagnosis.hints() {
        [
            Hint::ClockSkew {
                behind: true,
                by,
                tolerance,
            },
        ] => {
            assert!((7199..=7201).contains(&by.as_secs()), "{by:?}");
            assert_eq!(*tolerance, Duration::from_secs(300));
        }
        other => panic!("{other:?}"),
    }
    let ahead = sender
        .sign(
            &Message::new("msg_1", BODY.as_bytes())
                .at(SystemTime::now() + Duration::from_secs(900)),
        )
        .unwrap();
    let diagnosis = diagnosed(&sender, &ahead, BODY.as_bytes(), &[&sw_secret()]);
    assert!(
        matches!(diagnosis.hints(), [Hint::ClockSkew { behind: false, .. }]),
        "{diagnosis}"
    );
    assert!(
        diagnosis
            .to_string()
            .contains("ahead of this server's clock"),
        "{diagnosis}"
    );
}

#[test]
fn only_signatures_the_verifier_has_no_key_for_are_named() {
    let sender = standard();
    let mut headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()))
        .unwrap();
    headers.insert(
        "webhook-signature",
        HeaderValue::from_static("v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    );
    let diagnosis = diagnosed(&sender, &headers, BODY.as_bytes(), &[&sw_secret()]);
    assert!(
        matches!(diagnosis.hints(), [Hint::UnsupportedVersions { found }] if found.contains("v1a")),
        "{diagnosis}"
    );
}

#[test]
fn a_secret_of_the_wrong_kind_is_named_and_a_right_one_is_not() {
    let github_sender = GitHub::new("the-real-github-secret").unwrap();
    let headers = github_sender
        .sign(&Message::new("delivery-1", BODY.as_bytes()))
        .unwrap();
    // A Standard Webhooks secret pasted into GitHub's scheme.
    let diagnosis = diagnosed(
        &GitHub::new(SW_SECRET).unwrap(),
        &headers,
        BODY.as_bytes(),
        &[SW_SECRET.as_bytes(), b"the-real-github-secret"],
    );
    assert!(
        matches!(diagnosis.hints(), [Hint::SecretForm { advice }] if advice.contains("StandardWebhooks")),
        "{diagnosis}"
    );
    // The right kind, the wrong secret: no advice.
    let diagnosis = diagnosed(
        &GitHub::new("another-github-secret").unwrap(),
        &headers,
        BODY.as_bytes(),
        &[b"another-github-secret", b"the-real-github-secret"],
    );
    assert_eq!(diagnosis.hints(), []);

    // Stripe: an API key, then a secret without `whsec_`, then a proper one.
    let stripe_sender = Stripe::new("whsec_real_endpoint_secret").unwrap();
    let signed = stripe_sender
        .sign(&Message::new("evt_1", BODY.as_bytes()))
        .unwrap();
    for (secret, expected) in [
        ("sk_live_51Habc", Some("API key")),
        ("real_endpoint_secret", Some("does not start with `whsec_`")),
        ("whsec_another_endpoint", None),
    ] {
        let diagnosis = diagnosed(
            &Stripe::new(secret).unwrap(),
            &signed,
            BODY.as_bytes(),
            &[secret.as_bytes(), b"whsec_real_endpoint_secret"],
        );
        match (diagnosis.hints(), expected) {
            ([Hint::SecretForm { advice }], Some(expected)) => {
                assert!(advice.contains(expected), "{advice}");
            }
            ([], None) => {}
            (hints, _) => panic!("{secret}: {hints:?}"),
        }
    }

    // Slack: a bot token where the signing secret belongs.
    let slack_sender = Slack::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap();
    let signed = slack_sender
        .sign(&Message::new("", BODY.as_bytes()))
        .unwrap();
    let diagnosis = diagnosed(
        &Slack::new("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy").unwrap(),
        &signed,
        BODY.as_bytes(),
        &[
            b"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            b"8f742231b10e8888abcd99yyyzzz85a5",
        ],
    );
    assert!(
        matches!(diagnosis.hints(), [Hint::SecretForm { advice }] if advice.contains("Slack token")),
        "{diagnosis}"
    );

    // Standard Webhooks given the text of its secret as key bytes.
    let text_as_bytes = Secret::from_bytes(SW_SECRET.as_bytes().to_vec()).unwrap();
    let sender = standard();
    let headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()))
        .unwrap();
    let diagnosis = diagnosed(
        &StandardWebhooks::new(&text_as_bytes).unwrap(),
        &headers,
        BODY.as_bytes(),
        &[SW_SECRET.as_bytes(), &sw_secret()],
    );
    assert!(
        matches!(diagnosis.hints(), [Hint::SecretForm { advice }] if advice.contains("taken as bytes")),
        "{diagnosis}"
    );
}

#[test]
fn another_providers_signature_header_is_named_first() {
    let sender = standard();
    let headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()))
        .unwrap();
    let github = GitHub::new("It's a Secret to Everybody").unwrap();
    let diagnosis = diagnosed(&github, &headers, BODY.as_bytes(), &[&sw_secret()]);
    assert!(matches!(diagnosis.error(), VerifyError::MissingHeader(_)));
    assert_eq!(
        diagnosis.hints()[0],
        Hint::OtherProvider {
            provider: "Standard Webhooks",
            header: "webhook-signature"
        }
    );
    assert!(
        diagnosis
            .to_string()
            .contains("is this endpoint set up for Standard Webhooks?"),
        "{diagnosis}"
    );
    // Its own header present: no such hint.
    let diagnosis = diagnosed(
        &StandardWebhooks::new(&Secret::generate()).unwrap(),
        &headers,
        BODY.as_bytes(),
        &[&sw_secret()],
    );
    assert!(
        !diagnosis
            .hints()
            .iter()
            .any(|hint| matches!(hint, Hint::OtherProvider { .. })),
        "{diagnosis}"
    );
}

/// The server adapters diagnose what they refuse: the reason (with its hints) goes to the
/// report always, and to the response body only when asked.
#[cfg(feature = "hyper")]
#[tokio::test]
async fn the_adapters_explain_a_refusal_only_when_asked() {
    use hookwire::adapters::server::{Rejection, Rejections, verify_request};
    use hookwire::http::Request;
    use http_body_util::Full;

    let sender = standard();
    let headers = sender
        .sign(&Message::new("msg_1", BODY.as_bytes()))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(BODY).unwrap();
    let mut request = Request::post("http://127.0.0.1/hooks")
        .body(Full::new(bytes::Bytes::from(
            serde_json::to_string_pretty(&value).unwrap(),
        )))
        .unwrap();
    *request.headers_mut() = headers;
    let rejection = verify_request(&sender, request, 1 << 20, SystemTime::now())
        .await
        .unwrap_err();
    let Rejection::Verify(diagnosis) = &rejection else {
        panic!("{rejection:?}");
    };
    assert_eq!(diagnosis.hints(), [Hint::ReformattedJson]);
    let quiet = rejection.respond(Rejections::new());
    assert_eq!(quiet.status(), 401);
    assert_eq!(quiet.body(), "webhook signature or timestamp rejected\n");
    let explained = rejection.respond(Rejections::new().explain());
    let text = std::str::from_utf8(explained.body()).unwrap();
    assert!(
        text.starts_with("401 Unauthorized: the webhook failed verification: no signature matches"),
        "{text}"
    );
    assert!(
        text.contains("laid out as a serializer writes it"),
        "{text}"
    );
    common::assert_no_leak(text, &[&sw_secret()]);
    assert!(!text.contains("body-marker"), "{text}");
}

//! Zoom, Gitea, Bitbucket, Intercom, Typeform and GitLab: each provider's signature layout,
//! with a vector and the negative cases (tampered body, wrong key, missing and malformed
//! headers, stale and future timestamps where one is signed), rotation, and signing for tests.
//!
//! None of these providers publishes a test vector or ships an SDK test with one, so each
//! vector was computed independently of hookwire, with Python's standard library, from the
//! provider's documented layout:
//!
//! ```text
//! import hmac, hashlib, base64
//! zoom      = hmac.new(b"zoom-secret-token", b"v0:1700000000:" + ZOOM_BODY, hashlib.sha256).hexdigest()
//! gitea     = hmac.new(b"gitea-webhook-secret", GIT_BODY, hashlib.sha256).hexdigest()
//! bitbucket = hmac.new(b"bitbucket-webhook-secret", GIT_BODY, hashlib.sha256).hexdigest()
//! intercom  = hmac.new(b"intercom-client-secret", INTERCOM_BODY, hashlib.sha1).hexdigest()
//! typeform  = base64.b64encode(hmac.new(b"typeform-webhook-secret", TYPEFORM_BODY, hashlib.sha256).digest())
//! calendly  = hmac.new(b"calendly-signing-key", b"1700000000." + CALENDLY_BODY, hashlib.sha256).hexdigest()
//! paddle    = hmac.new(b"pdl_ntfset_01h_secret", b"1700000000:" + PADDLE_BODY, hashlib.sha256).hexdigest()
//! ```
//!
//! Layouts: Zoom, "Verify webhook events" (`x-zm-signature: v0=` + hex HMAC-SHA256 of
//! `v0:{x-zm-request-timestamp}:{body}`); Gitea, "Webhooks" (`X-Gitea-Signature`, hex
//! HMAC-SHA256 of the body); Bitbucket, "Secure webhooks" (`X-Hub-Signature: sha256=` + hex);
//! Intercom, "Webhooks: signed notifications" (`X-Hub-Signature: sha1=` + hex HMAC-SHA1);
//! Typeform, "Secure your webhooks" (`Typeform-Signature: sha256=` + base64); GitLab,
//! "Webhooks: secret token" (`X-Gitlab-Token`, the token itself); Calendly, "Webhook
//! signatures" (`Calendly-Webhook-Signature: t=…,v1=<hex>` over `{t}.{body}`); Paddle Billing,
//! "Verify webhook signatures" (`Paddle-Signature: ts=…;h1=<hex>` over `{ts}:{body}`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
use hookwire::webhook::{
    Bitbucket, Calendly, GitLab, Gitea, Inbound, Intercom, Message, Paddle, Sign, Typeform, Verify,
    VerifyError, Zoom,
};

const ZOOM_BODY: &[u8] =
    br#"{"event":"meeting.started","payload":{"object":{"id":"85649203571"}}}"#;
const GIT_BODY: &[u8] = br#"{"ref":"refs/heads/main","after":"5a2f1e"}"#;
const INTERCOM_BODY: &[u8] =
    br#"{"type":"notification_event","topic":"conversation.user.created"}"#;
const CALENDLY_BODY: &[u8] =
    br#"{"event":"invitee.created","payload":{"uri":"https://api.calendly.com/scheduled_events/X"}}"#;
const PADDLE_BODY: &[u8] = br#"{"event_id":"evt_01h","event_type":"transaction.completed"}"#;
const TYPEFORM_BODY: &[u8] = br#"{"event_id":"01HZX","event_type":"form_response"}"#;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect()
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// The checks every body-signing scheme passes: the vector verifies, a changed body or key
/// does not, a missing or malformed signature header says so, rotation accepts both keys,
/// and what it signs it verifies.
fn body_scheme<V, F>(
    make: F,
    secret: &str,
    signed: HeaderMap,
    body: &[u8],
    signature_header: &str,
    (sent, now): (SystemTime, SystemTime),
) where
    V: Verify + Sign,
    F: Fn(&str) -> V,
{
    let scheme = make(secret);
    let verified = scheme.verify_at(Inbound::new(&signed, body), now);
    assert!(
        verified.is_ok(),
        "{}: the vector verifies: {verified:?}",
        scheme.name()
    );
    let mut tampered = body.to_vec();
    tampered[body.len() / 2] ^= 1;
    assert_eq!(
        scheme
            .verify_at(Inbound::new(&signed, &tampered), now)
            .unwrap_err(),
        VerifyError::NoMatchingSignature,
        "{}: a changed body",
        scheme.name()
    );
    assert_eq!(
        make("another secret")
            .verify_at(Inbound::new(&signed, body), now)
            .unwrap_err(),
        VerifyError::NoMatchingSignature,
        "{}: another key",
        scheme.name()
    );
    // Rotation: the old secret still passes beside a new one.
    let rotated = make("the new secret");
    let both = Sign::sign(&rotated, &Message::new("id-1", body).at(now)).unwrap();
    assert!(scheme.verify_at(Inbound::new(&both, body), now).is_err());
    let mut without = signed.clone();
    without.remove(signature_header);
    assert!(matches!(
        scheme.verify_at(Inbound::new(&without, body), now).unwrap_err(),
        VerifyError::MissingHeader(name) if name == signature_header
    ));
    let mut malformed = signed.clone();
    malformed.insert(
        HeaderName::from_bytes(signature_header.as_bytes()).unwrap(),
        HeaderValue::from_static("not a signature"),
    );
    assert!(matches!(
        scheme
            .verify_at(Inbound::new(&malformed, body), now)
            .unwrap_err(),
        VerifyError::MalformedSignature { .. } | VerifyError::NoMatchingSignature
    ));
    // Signing for tests: what the scheme signs, it verifies, and it matches the vector.
    let mine = scheme.sign(&Message::new("id-1", body).at(sent)).unwrap();
    assert_eq!(
        mine.get(signature_header),
        signed.get(signature_header),
        "{}: signing reproduces the vector",
        scheme.name()
    );
}

#[test]
fn zoom_signs_v0_timestamp_and_body_and_checks_the_timestamp() {
    let signed = headers(&[
        (
            "x-zm-signature",
            "v0=308710aa86da8659d81428f5d46a71d1aee9e4f9dd14ffb9184fcab555d691fd",
        ),
        ("x-zm-request-timestamp", "1700000000"),
    ]);
    let now = at(1_700_000_060);
    body_scheme(
        |s| Zoom::new(s).unwrap(),
        "zoom-secret-token",
        signed.clone(),
        ZOOM_BODY,
        "x-zm-signature",
        (at(1_700_000_000), now),
    );
    let zoom = Zoom::new("zoom-secret-token").unwrap();
    assert!(matches!(
        zoom.verify_at(Inbound::new(&signed, ZOOM_BODY), at(1_700_000_301))
            .unwrap_err(),
        VerifyError::TooOld { .. }
    ));
    assert!(matches!(
        zoom.verify_at(Inbound::new(&signed, ZOOM_BODY), at(1_699_999_699))
            .unwrap_err(),
        VerifyError::TooNew { .. }
    ));
    // The timestamp is signed: another one does not verify.
    let mut moved = signed.clone();
    moved.insert(
        "x-zm-request-timestamp",
        HeaderValue::from_static("1700000001"),
    );
    assert_eq!(
        zoom.verify_at(Inbound::new(&moved, ZOOM_BODY), now)
            .unwrap_err(),
        VerifyError::NoMatchingSignature
    );
    let rotated = Zoom::new("new token")
        .unwrap()
        .with_secret("zoom-secret-token")
        .unwrap();
    assert_eq!(
        rotated
            .verify_at(Inbound::new(&signed, ZOOM_BODY), now)
            .unwrap()
            .key(),
        Some(1)
    );
}

#[test]
fn gitea_bitbucket_intercom_and_typeform_sign_the_body_as_documented() {
    let now = SystemTime::now();
    body_scheme(
        |s| Gitea::new(s).unwrap(),
        "gitea-webhook-secret",
        headers(&[
            (
                "x-gitea-signature",
                "1866df656bfbf9542da0bbfa6b444d156d2567d76460b8387ac484f65931d5a1",
            ),
            ("x-gitea-delivery", "id-1"),
        ]),
        GIT_BODY,
        "x-gitea-signature",
        (now, now),
    );
    body_scheme(
        |s| Bitbucket::new(s).unwrap(),
        "bitbucket-webhook-secret",
        headers(&[
            (
                "x-hub-signature",
                "sha256=11f3ffcf84de2090fda5a6a25ef328e558e1117577e62963ff7c62d2a6e13c0c",
            ),
            ("x-request-uuid", "id-1"),
        ]),
        GIT_BODY,
        "x-hub-signature",
        (now, now),
    );
    body_scheme(
        |s| Intercom::new(s).unwrap(),
        "intercom-client-secret",
        headers(&[(
            "x-hub-signature",
            "sha1=2a5169d6640c1e953bb0102d004186efb644750f",
        )]),
        INTERCOM_BODY,
        "x-hub-signature",
        (now, now),
    );
    body_scheme(
        |s| Typeform::new(s).unwrap(),
        "typeform-webhook-secret",
        headers(&[(
            "typeform-signature",
            "sha256=o2Hbfc8/65n+GxpkvPNOc7KcOOjN3WEwiJ8lOlmQJAo=",
        )]),
        TYPEFORM_BODY,
        "typeform-signature",
        (now, now),
    );
    // The delivery ids are reported.
    let gitea = Gitea::new("gitea-webhook-secret").unwrap();
    let signed = gitea.sign(&Message::new("d-42", GIT_BODY)).unwrap();
    assert_eq!(
        gitea.verify(Inbound::new(&signed, GIT_BODY)).unwrap().id(),
        Some("d-42")
    );
    // Bitbucket's SHA-256 and Intercom's SHA-1 share a header and do not cross.
    let intercom_signed = Intercom::new("k")
        .unwrap()
        .sign(&Message::new("", GIT_BODY))
        .unwrap();
    assert!(matches!(
        Bitbucket::new("k")
            .unwrap()
            .verify(Inbound::new(&intercom_signed, GIT_BODY))
            .unwrap_err(),
        VerifyError::MalformedSignature { .. }
    ));
}

#[test]
fn gitlab_compares_its_token_and_reports_the_event_id() {
    let gitlab = GitLab::new("a long random token").unwrap();
    let sent = headers(&[
        ("x-gitlab-token", "a long random token"),
        ("x-gitlab-event-uuid", "5f8c4d9e"),
    ]);
    let verified = gitlab.verify(Inbound::new(&sent, b"{}")).unwrap();
    assert_eq!(
        (verified.scheme(), verified.id(), verified.key()),
        ("gitlab", Some("5f8c4d9e"), Some(0))
    );
    for wrong in [
        "a long random toke",
        "a long random token ",
        "A long random token",
        "x",
    ] {
        let forged = headers(&[("x-gitlab-token", wrong)]);
        assert_eq!(
            gitlab.verify(Inbound::new(&forged, b"{}")).unwrap_err(),
            VerifyError::NoMatchingSignature,
            "{wrong:?}"
        );
    }
    assert!(matches!(
        gitlab.verify(Inbound::new(&HeaderMap::new(), b"{}")).unwrap_err(),
        VerifyError::MissingHeader(name) if name == "x-gitlab-token"
    ));
    let rotating = GitLab::new("new token")
        .unwrap()
        .with_secret("a long random token")
        .unwrap();
    assert_eq!(
        rotating.verify(Inbound::new(&sent, b"{}")).unwrap().key(),
        Some(1)
    );
    assert_eq!(gitlab.sign(&Message::new("5f8c4d9e", b"{}")).unwrap(), sent);
    // The token never shows in what the scheme prints.
    assert!(!format!("{gitlab:?}").contains("random"));
}

#[test]
fn calendly_and_paddle_sign_a_timestamp_and_the_body_in_one_header_with_their_windows() {
    let calendly = headers(&[(
        "calendly-webhook-signature",
        "t=1700000000,v1=955d7ad168c7dc28e6d070cf9f4f505cd5d6cc66bc84697993c922c962d3ac13",
    )]);
    body_scheme(
        |s| Calendly::new(s).unwrap(),
        "calendly-signing-key",
        calendly.clone(),
        CALENDLY_BODY,
        "calendly-webhook-signature",
        (at(1_700_000_000), at(1_700_000_100)),
    );
    let scheme = Calendly::new("calendly-signing-key").unwrap();
    assert!(matches!(
        scheme
            .verify_at(Inbound::new(&calendly, CALENDLY_BODY), at(1_700_000_181))
            .unwrap_err(),
        VerifyError::TooOld { .. }
    ));
    let paddle = headers(&[(
        "paddle-signature",
        "ts=1700000000;h1=f9d3b075f6e0b21ce2157f39a9eaee0b1ae03f81e030c52eb85157fb19c926c4",
    )]);
    body_scheme(
        |s| Paddle::new(s).unwrap(),
        "pdl_ntfset_01h_secret",
        paddle.clone(),
        PADDLE_BODY,
        "paddle-signature",
        (at(1_700_000_000), at(1_700_000_004)),
    );
    let scheme = Paddle::new("pdl_ntfset_01h_secret").unwrap();
    // Paddle's window is 5 seconds.
    assert!(matches!(
        scheme
            .verify_at(Inbound::new(&paddle, PADDLE_BODY), at(1_700_000_006))
            .unwrap_err(),
        VerifyError::TooOld { .. }
    ));
    assert!(matches!(
        scheme
            .verify_at(Inbound::new(&paddle, PADDLE_BODY), at(1_699_999_994))
            .unwrap_err(),
        VerifyError::TooNew { .. }
    ));
    // Only `h1` signatures count: a header with another kind is refused as such.
    let other = headers(&[("paddle-signature", "ts=1700000000;h2=abcd")]);
    assert!(matches!(
        scheme
            .verify_at(Inbound::new(&other, PADDLE_BODY), at(1_700_000_000))
            .unwrap_err(),
        VerifyError::NoSupportedSignature { .. }
    ));
    // During a rotation, the header carries one `h1` per secret; either secret verifies.
    let rotating = Paddle::new("new secret")
        .unwrap()
        .with_secret("pdl_ntfset_01h_secret")
        .unwrap();
    let signed = rotating
        .sign(&Message::new("", PADDLE_BODY).at(at(1_700_000_000)))
        .unwrap();
    assert_eq!(
        signed["paddle-signature"]
            .to_str()
            .unwrap()
            .matches(";h1=")
            .count(),
        2
    );
    assert_eq!(
        scheme
            .verify_at(Inbound::new(&signed, PADDLE_BODY), at(1_700_000_000))
            .unwrap()
            .key(),
        Some(0)
    );
    assert_eq!(
        rotating
            .verify_at(Inbound::new(&paddle, PADDLE_BODY), at(1_700_000_000))
            .unwrap()
            .key(),
        Some(1)
    );
}

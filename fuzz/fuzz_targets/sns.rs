//! AWS SNS messages through `Sns` (a `VerifyAsync` scheme), with the certificate served by a
//! closure (no network): no panic on any body, and a message that verifies fails once any byte
//! of its signed `Message` changes. The same body through the subscription handshake (as if
//! verified): no panic, and a confirmation is requested only from an SNS host, over HTTPS,
//! with `Action=ConfirmSubscription`, and only for a `SubscriptionConfirmation`.
#![no_main]

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use hookwire::http::{HeaderMap, Request, Response};
use hookwire::transport::TransportError;
use hookwire::webhook::{Inbound, Sns, VerifyAsync};
use libfuzzer_sys::fuzz_target;

/// A self-signed certificate (made with Python's `cryptography`, as in tests/sns.rs).
const CERT: &str = r##"-----BEGIN CERTIFICATE-----
MIICxTCCAa2gAwIBAgIBATANBgkqhkiG9w0BAQsFADAmMSQwIgYDVQQDDBtzbnMu
dXMtZWFzdC0xLmFtYXpvbmF3cy5jb20wHhcNMjMwMTAxMDAwMDAwWhcNMzMwMTAx
MDAwMDAwWjAmMSQwIgYDVQQDDBtzbnMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20w
ggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDJM3C+dSA/E9zjA67KrP//
mLbuIfZm6pSCd9jnbN2C2bYUqqMkVGwNdwrniYUQR6FapgXbKKzy8d1pc4YYP1BE
EHVYMbsbpbxCkFBVDcECSZWD004/GxuGNSFP1NQcNIvP/MAjXDMs7agGp+53Qv39
4nj2AfvMOhftKjIhsmijyqBp7XjAkJqxRxtX7sIsj66fA+u62PZYWajcOUXYjTc/
y2XF1/VsT/NTKpUKC7hMaH0Fsjg/Lr+RWH0RvWw9lsn0GAO/zLd+TNftYBGChAjI
MILoFTX7dSVDE7jZIRazV4GHcqGJl23obhNuJGoyTuXenk93i1C6a09ZVjd0nV2p
AgMBAAEwDQYJKoZIhvcNAQELBQADggEBALWSy3rsvf82pXbVDq8i9pLmIRPHTiuh
zdNIQpqqAvu5p7vqbiwtSsPQXEoAGTqMqbBWY1v53u/L8nvSkoYyzw5ebCBFqBMa
cglwWDYQ30ixFaCDJy78PGBh1Es8KityfMSyLNsZz/RY+ek1rRVF/yeREk3NO+1B
Akl8qtkWtuT68hLi5z5okQwnUsx43RZOGjFEaY389hQM8j/Cb3hT1CXXgQ3NNeHf
/Sfo8rYeXz+4BuY8aTFXkKKZEG55R1ScB8LQ7KwFS05ijuupmhr5T8npBVyIc/Iu
xQBzgRNmaaRwO2J4fWc82CyMWiqlHgjxV8eC8CW0PD5Zk3vh0xLlZaQ=
-----END CERTIFICATE-----
"##;

static SNS: LazyLock<Sns> = LazyLock::new(|| {
    let certificates = |_request: Request<Bytes>| async {
        Ok::<_, TransportError>(Response::new(Bytes::from_static(CERT.as_bytes())))
    };
    Sns::new(certificates)
});

/// The message type, the one field the property reads.
#[derive(serde::Deserialize)]
struct Kind<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
}

/// The addresses the confirming scheme requested, in order.
static REQUESTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

static CONFIRMING: LazyLock<Sns> = LazyLock::new(|| {
    let client = |request: Request<Bytes>| async move {
        if let Ok(mut requested) = REQUESTED.lock() {
            requested.push(request.uri().to_string());
        }
        Ok::<_, TransportError>(Response::new(Bytes::new()))
    };
    Sns::new(client).confirm_subscriptions()
});

/// Runs the handshake on `body` as a verified request; checks what it asked SNS for.
fn handshake(body: &[u8]) {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-sns-message-type",
        "SubscriptionConfirmation".parse().unwrap(),
    );
    let answer =
        futures_executor::block_on(CONFIRMING.handshake_async(Inbound::new(&headers, body), true));
    let requested = std::mem::take(&mut *REQUESTED.lock().unwrap());
    assert!(requested.len() <= 1, "{requested:?}");
    if let Some(url) = requested.first() {
        assert!(
            answer.is_some(),
            "a confirmation was requested without an answer"
        );
        let uri: hookwire::http::Uri = url.parse().expect("the requested address parses");
        let host = uri.host().unwrap_or_default();
        assert_eq!(uri.scheme_str(), Some("https"), "{url}");
        assert!(uri.port().is_none(), "{url}");
        assert!(
            host.starts_with("sns.")
                && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")),
            "{url}"
        );
        assert!(
            uri.query().is_some_and(|q| q
                .split('&')
                .any(|pair| pair == "Action=ConfirmSubscription")),
            "{url}"
        );
        // Read the way the scheme reads it: serde_json skips the fields it ignores without
        // checking their UTF-8.
        let message: Kind<'_> = serde_json::from_slice(body).expect("a confirmed body is JSON");
        assert_eq!(message.kind, "SubscriptionConfirmation");
    }
}

fn verifies(body: &[u8]) -> bool {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-sns-message-type", "Notification".parse().unwrap());
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
    futures_executor::block_on(SNS.verify_async(Inbound::new(&headers, body), now)).is_ok()
}

fuzz_target!(|data: &[u8]| {
    handshake(data);
    if verifies(data) {
        // The signed message text starts after `"Message":"`.
        let Some(at) = data.windows(11).position(|w| w == b"\"Message\":\"") else {
            return;
        };
        let mut changed = data.to_vec();
        if let Some(byte) = changed.get_mut(at + 11) {
            *byte ^= 0x01;
            if std::str::from_utf8(&changed).is_ok() {
                assert!(!verifies(&changed));
            }
        }
    }
});

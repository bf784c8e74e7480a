//! AWS SNS messages through `Sns` (a `VerifyAsync` scheme), with the certificate served by a
//! closure (no network): no panic on any body, and a message that verifies fails once any byte
//! of its signed `Message` changes.
#![no_main]

use std::sync::LazyLock;
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

fn verifies(body: &[u8]) -> bool {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-sns-message-type", "Notification".parse().unwrap());
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
    futures_executor::block_on(SNS.verify_async(Inbound::new(&headers, body), now)).is_ok()
}

fuzz_target!(|data: &[u8]| {
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

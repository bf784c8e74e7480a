//! OpenID Connect tokens (`Authorization: Bearer <JWT>`) through `Oidc`, with a key set served
//! by a closure (no network): no panic on any header, and a token that verifies fails once any
//! byte of it changes.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use hookwire::http::{HeaderMap, HeaderValue, Request, Response};
use hookwire::transport::TransportError;
use hookwire::webhook::{Inbound, Oidc, VerifyAsync};
use libfuzzer_sys::fuzz_target;

/// A key set holding `k1` (made with Python's `cryptography`, as in tests/oidc.rs).
const SET_A: &str = "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"k1\",\"n\":\"wpVEdjXDdk58-Nz7F1OPPCW5ABnw1cVZHxKk7F0oxHIcpCP-IGwP9AKzRHR5DprqqRkAZobwp_mQGIWnPuY19XQKtVYDftcBuv6tJSviVFykrdYyinYkWHVGAjo8azSZB11QQXI7R4tsAig_Ko_-Qq8iFFwkp4jnp6x3TkZra0-pIfRihC1HTp6mJjFpwOKXdOEPLVB7fZWWqg9r5e2NGnV8eBzxIr4aqRQNMZF7IsJg2h_M1Q8HvxkVjq9YVF5oCxa_JVlQmkjTY9r474DtO4Fg2neJ9tj99eExRCvQLX_XvT_8OUDOq3cbGh74zJx0mU4BWRXYwPYtE5wmzTtD1Q\",\"e\":\"AQAB\"}]}";

static OIDC: LazyLock<Oidc> = LazyLock::new(|| {
    let keys = |_request: Request<Bytes>| async {
        Ok::<_, TransportError>(Response::new(Bytes::from_static(SET_A.as_bytes())))
    };
    Oidc::google(keys, "https://hooks.example.com/pubsub")
});

fn verifies(token: &[u8]) -> bool {
    let Ok(value) = HeaderValue::from_bytes(token) else {
        return false;
    };
    let mut headers = HeaderMap::new();
    headers.insert("authorization", value);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
    futures_executor::block_on(OIDC.verify_async(Inbound::new(&headers, b"{}"), now)).is_ok()
}

fuzz_target!(|data: &[u8]| {
    if verifies(data) {
        for index in [7, data.len() / 2, data.len().saturating_sub(1)] {
            let mut changed = data.to_vec();
            if let Some(byte) = changed.get_mut(index) {
                *byte ^= 0x01;
                assert!(!verifies(&changed));
            }
        }
    }
});

//! Google Pub/Sub push and other OpenID Connect pushes: RS256 tokens checked against a key set
//! served by a real loopback server, through the guarded hyper client: one fetch for a hundred
//! requests on a cold cache, one refetch for a rotated key id, none for made-up key ids within
//! 30 seconds, and every claim checked.
//!
//! The key sets and tokens were made independently of hookwire, with Python's `cryptography`
//! package (two fresh 2048-bit RSA keys, `k1` and `k2`; PKCS #1 v1.5 with SHA-256 over
//! `base64url(header).base64url(claims)`; claims `iss` `https://accounts.google.com`, `aud`
//! `https://hooks.example.com/pubsub`, `iat` 1700000000, `exp` 1700003600, a verified `email`):
//! `SET_A` holds `k1`, `SET_B` `k1` and `k2`; each token changes one thing.
#![cfg(all(feature = "oidc", feature = "hyper", feature = "test-util"))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::loopback::serve_for_the_test;
use hookwire::adapters::hyper::HyperClient;
use hookwire::http::{HeaderMap, Response};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{
    GitHub, Inbound, Message, MultiVerifierAsync, Oidc, OidcError, Sign, VerifyAsync, VerifyError,
};
use http_body_util::Full;

const SET_A: &str = "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"k1\",\"n\":\"wpVEdjXDdk58-Nz7F1OPPCW5ABnw1cVZHxKk7F0oxHIcpCP-IGwP9AKzRHR5DprqqRkAZobwp_mQGIWnPuY19XQKtVYDftcBuv6tJSviVFykrdYyinYkWHVGAjo8azSZB11QQXI7R4tsAig_Ko_-Qq8iFFwkp4jnp6x3TkZra0-pIfRihC1HTp6mJjFpwOKXdOEPLVB7fZWWqg9r5e2NGnV8eBzxIr4aqRQNMZF7IsJg2h_M1Q8HvxkVjq9YVF5oCxa_JVlQmkjTY9r474DtO4Fg2neJ9tj99eExRCvQLX_XvT_8OUDOq3cbGh74zJx0mU4BWRXYwPYtE5wmzTtD1Q\",\"e\":\"AQAB\"}]}";
const SET_B: &str = "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"k1\",\"n\":\"wpVEdjXDdk58-Nz7F1OPPCW5ABnw1cVZHxKk7F0oxHIcpCP-IGwP9AKzRHR5DprqqRkAZobwp_mQGIWnPuY19XQKtVYDftcBuv6tJSviVFykrdYyinYkWHVGAjo8azSZB11QQXI7R4tsAig_Ko_-Qq8iFFwkp4jnp6x3TkZra0-pIfRihC1HTp6mJjFpwOKXdOEPLVB7fZWWqg9r5e2NGnV8eBzxIr4aqRQNMZF7IsJg2h_M1Q8HvxkVjq9YVF5oCxa_JVlQmkjTY9r474DtO4Fg2neJ9tj99eExRCvQLX_XvT_8OUDOq3cbGh74zJx0mU4BWRXYwPYtE5wmzTtD1Q\",\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"k2\",\"n\":\"6SczKoed5RwPUwN8m2HeyT90h-07ms_dPWKxhs3U75q2j3a32irYABNI0evbeeQhBZs9XGMUoz3P2Xx1LIKjU47nW5htsH3Zkk_p_PBXXdXtUWGVh4AYPVF-shKsrp90Dhq83eqdbGoh7ll3IaF4KdFdURClOkMIyBzdJ5mFN0b2gMn0idNTRTE4Kk8JTWpxjZz5Emdk3A_r3xAVhJD5BXLb4wmcePVWodU2csNpm_1yy9ChU80UXGMegFVix84EeZ0HaSJS_WN8dRguWC5fGYI_XTtty0egnQDJuufW61EGQ4tPmVb2o3YHDqM6VdF0DpzZkfAPjp8MthWVVxzQdQ\",\"e\":\"AQAB\"}]}";
const TOKEN_K1: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOiJodHRwczovL2hvb2tzLmV4YW1wbGUuY29tL3B1YnN1YiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.vcPkNKThKQgwBNB8HjVnRT3NDq10FHuByzfeZ0j358ibJY53Ir-9vKRcS1KA5Y_KwfdW97_yV3GQJ0VzlqlL3bODs5V29Bq1EHkR1DReW0WGn4NmCStwheVYtYqXWC7vKAXxasuoKmthfiHHDCyFNLsLZbunITo0Dntti7igDdliGIXEM6H9flJ4fZnZE2RVaZXEE-lM8_oDZUj2_bEt2W_ETnvTb8ujbiDV5FY4Ti57toGCZ-P27DhF3nnii77ZKMvOWcPDwMPcj0jIsxMPWwHLz09sEHWgC4NU8qd97cMKyPBewdE8MJH_J55nwkhBgLV1hqiEY9tMz1aPX-eIyw";
const TOKEN_K2: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsyIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOiJodHRwczovL2hvb2tzLmV4YW1wbGUuY29tL3B1YnN1YiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.KX776hwvHGuLW0epw9xm5UULfDV9LDXiNapOQ8RbozuwAL943ET4KtJCuPhkwinxOrwDmwSlA3Z2KY6qTDYk3Zbqdipc8Gg-sUcY11pYrYRB8dP1i1YzRa7ggL5qB9ZT4btRuNMfYS1sXOdShbgUG8UwC6HO7LjvymPk8r8LXzzIvxv6Js-1SfNCtiLxTbUq8myXBxVXe7ykKh_wPKhx-8A0j6ypaAheajrWhEWuF-3-s3STWheNiXLuRk6tNZNdAwv3eHraiNDF2CpWPYWFr5NYqRtbZgbEeErJvOby6exqQTrJzPxd0RqziCGM3IavNSEpdfehqXDKUz53ifxKxQ";
const TOKEN_OTHER_AUD: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOiJodHRwczovL2Vsc2V3aGVyZS5leGFtcGxlLmNvbSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.XUduVsqLwF9WnfKNoRVX8KR3RR0CtQhNWVhTypK-gpcI2fvgINLXb-xGxt0dAZ0OPUqqkIfG_aHE1oLstl2JOVtOYTUU4vMusuKyB43ccBepnXgGSmxGp-jrojW-tx4xXFIf8NLaxlrBpO2diFU5PkDq7GUccWSAHlxqFRqOxK7Oxzp2R7k3A-K76IQuzhttEkCvJLTAADrrnXj5xn0SOUVMD6ljWXrWenNIHaM1GuUnriarzFaF8pguDHj_9mASaazEn1gDt1cFytu3lOJd72TbfoyX20jDJ-dbYxBB7URVII-EkUu6wThxItDR2FQprlkVyzkJtmGbhPDNxTyASQ";
const TOKEN_OTHER_ISS: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2V2aWwuZXhhbXBsZS5jb20iLCJhdWQiOiJodHRwczovL2hvb2tzLmV4YW1wbGUuY29tL3B1YnN1YiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.H3AZJFkyHNcEOSJ2r5OtAIlXdm3NlozJPoNoFvEdXzl2DpWN_aOlLodJpmYoYIsArI4mFi1hLkcnOwP4bB1dPDmp_5OmnxPO9nArWJA5Us_NE8W_xEdVOW1nAEDjCX6lIAi1mL3vGouuW8RQcMbSE0EJxitLmUfIpFAkJPZjlb87bCx_TeiO3hFh7qd7q1pWK1LQSAb6cf6fJpaZPUeEBvjRmOroFdRlcO5XQwTGfY9QyiSe_iETA5ammd-w0CaEhC6Tru3R44Y0-5GZLAvyTPU5Z6_susrHzH2U91VClTGMHKjy4XnYo_OpQF51SC_pJY3Y-gMU7O0t-K13E6MBJg";
const TOKEN_UNVERIFIED_EMAIL: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOiJodHRwczovL2hvb2tzLmV4YW1wbGUuY29tL3B1YnN1YiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOmZhbHNlLCJzdWIiOiIxMjM0In0.l-NzTtjlgSH-EJbDy5IkJO4dPPllGDVkc1xU-gRfDZvup65hZsA1zm-r4MGPOeD74YXiWXVS4gJ2ut2eK-zS7m2GFXWHcbrRMQdD-OS_UANIaWZRvp1-vhJ63wzL5Oq0DvmuuXUXCch5cgMVRp1ic50d2xFEBchaaiUKB75gHFfeigSCYSi525Pn_yg65RIzJ6Up4V_S9Zz7EpEOTe5rksCoBnejAl4u7yOpbuDsI3ztV8XrFyfUc9nFlZUNIeEtdn_YzDYtJ9S6HZkWk8--93I1l7z5ezFKMyoKUbuKLMgJ2hmocgI_o5eLr7miCKpersrMtmKCLN-6qdZeg0jcAg";
const TOKEN_HS256: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOiJodHRwczovL2hvb2tzLmV4YW1wbGUuY29tL3B1YnN1YiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.gZI1CUY7eLT-UCIkifJRb5VeZE19UquQUWqHQtCjLO76kB9Md4XmvQsPO01BML299uVU1MrjpVTdVgg40yO3nhqr2wnanridR0cL8QDcaSCyvjnBlPUc1iSYMwQZlEuBBauhSpJZds6O0POmwfb9FbtEDZr0481iBrRA2aEuQIRMzszZf4MelxJuqOBkithWGbJ2rvGQnR8rnMcNwmQR1j1sXc0lxXmNSHZWkQWffi_vkZU3RlsyUKPRsE1b2o2PG377d1xEunPsKwx-vdoVFY_405ou9b_FgGTTq2fVqaBkmn95nzSaFw8bP__3P3ATrJs_CsMQzGmpMyFCrLplcg";
const TOKEN_K9: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ims5IiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOiJodHRwczovL2hvb2tzLmV4YW1wbGUuY29tL3B1YnN1YiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.P2gZkYVyVw59QZlNZalI3ydnXPZH781yT1byc2Yo7PH6pmIOnCfsxEjSemyOE5aFFH_YyRXRPoqgEVC1YJxGuE9PF5fKDkSHc_HQ_uCOst6o_e71sHr8izM3PJes5dFR7CL4OURrqbY21dVuA2TloqnEovBKuKE9zYyz6MP4wlmDnEI8btot12jiBt1uuVNyxcgFA6anu6DgB40wVTv_ysFIzlSIhx236veCC67kO8HBUNNXC1qpuDo1U_Rmi9-VzCOpr5KTVpeuakt3yrIgpJmeX9do6_15vCjD3S8_iYQ3aavVEcTVnO52QVaFZjzh6t3Gh8fsQcHJxWGAEQZy1w";
const TOKEN_AUD_LIST: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20iLCJhdWQiOlsieCIsImh0dHBzOi8vaG9va3MuZXhhbXBsZS5jb20vcHVic3ViIl0sImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJlbWFpbCI6InB1c2hlckBwcm9qLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWUsInN1YiI6IjEyMzQifQ.iFlKwSaPrniPPLEf5kj748mGd30EYg_5_vxRNj7qNPARZLFf2wlLSQg86_-UeAK-QDNATVIk7yLgTZQ4SGKQbIkXr3LmIJsIVDRMtO7IZV7Jc4R25zG4fnm-S3BhzMBYaOWnT56ncnB4EmwnQjY2rQj2psVZs5yxNj4t4UZFc7zbEKrgp47v9y0ZlOx4x3n4jAvz7d_eXfF1blQ3497hnFGKTJTO2IL2sbbcutQiwp5q4SH0BIjy0I8bQfp1tCgW2QKgHz_8P97qPmwFG6P2Nm534INZJDXQeKIJR9wEaZcRVlZ0Xx7vx2TwSwRjkGd_dLdxvH1BbQ-LNxm_sbk79A";

const AUDIENCE: &str = "https://hooks.example.com/pubsub";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A key set server on loopback: `SET_A`, or `SET_B` once `rotated`, or 500 once `failing`;
/// it counts the requests it answers.
struct KeyServer {
    url: String,
    requests: Arc<AtomicUsize>,
    rotated: Arc<AtomicBool>,
    failing: Arc<AtomicBool>,
}

async fn key_server() -> KeyServer {
    let requests = Arc::new(AtomicUsize::new(0));
    let rotated = Arc::new(AtomicBool::new(false));
    let failing = Arc::new(AtomicBool::new(false));
    let (count, rotation, failure) = (requests.clone(), rotated.clone(), failing.clone());
    let address = serve_for_the_test(move |_request| {
        let (count, rotation, failure) = (count.clone(), rotation.clone(), failure.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            // Slow enough that every concurrent request is waiting while the fetch runs.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if failure.load(Ordering::SeqCst) {
                let mut response = Response::new(Full::new(Bytes::from_static(b"down")));
                *response.status_mut() = hookwire::http::StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
            let set = if rotation.load(Ordering::SeqCst) {
                SET_B
            } else {
                SET_A
            };
            Response::builder()
                .header("content-type", "application/json")
                .header("cache-control", "public, max-age=3600")
                .body(Full::new(Bytes::from_static(set.as_bytes())))
                .unwrap()
        }
    })
    .await;
    KeyServer {
        url: format!("http://{address}/oauth2/v3/certs"),
        requests,
        rotated,
        failing,
    }
}

fn google(server: &KeyServer) -> Oidc {
    let client = HyperClient::guarded(AddressPolicy::new().allow("127.0.0.0/8").unwrap());
    Oidc::google(client, AUDIENCE).keys_url_for_tests(&server.url)
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers
}

async fn verify(oidc: &Oidc, token: &str, now: u64) -> Result<Option<i64>, VerifyError> {
    let headers = bearer(token);
    oidc.verify_async(Inbound::new(&headers, b"{}"), at(now))
        .await
        .map(|verified| verified.timestamp())
}

/// A push endpoint that Pub/Sub and GitHub both call: the OIDC scheme recognizes a bearer
/// token and nothing else, so a `MultiVerifierAsync` sends each request to its own scheme,
/// whatever the order they were added in; a request neither recognizes is `NoScheme`, and only
/// the OIDC request fetches keys.
#[tokio::test]
async fn a_multi_verifier_sends_bearer_tokens_to_oidc_and_signed_bodies_to_their_scheme() {
    let server = key_server().await;
    let github = GitHub::new("github hook secret").unwrap();
    let signed = github.sign(&Message::new("delivery-1", b"{}")).unwrap();
    let mut basic = HeaderMap::new();
    basic.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());

    assert!(google(&server).recognizes(Inbound::new(&bearer(TOKEN_K1), b"{}")));
    assert!(!google(&server).recognizes(Inbound::new(&basic, b"{}")));
    assert!(!google(&server).recognizes(Inbound::new(&signed, b"{}")));

    let both_orders = [
        MultiVerifierAsync::new()
            .with_async(google(&server))
            .with(GitHub::new("github hook secret").unwrap()),
        MultiVerifierAsync::new()
            .with(GitHub::new("github hook secret").unwrap())
            .with_async(google(&server)),
    ];
    let pushed = bearer(TOKEN_K1);
    for verifier in &both_orders {
        let push = verifier
            .verify_async(Inbound::new(&pushed, b"{}"), at(1_700_000_100))
            .await
            .unwrap();
        assert_eq!(push.scheme(), "google-oidc");
        let hook = verifier
            .verify_async(Inbound::new(&signed, b"{}"), at(1_700_000_100))
            .await
            .unwrap();
        assert_eq!(hook.scheme(), "github");
        assert_eq!(
            verifier
                .verify_async(Inbound::new(&basic, b"{}"), at(1_700_000_100))
                .await
                .unwrap_err(),
            VerifyError::NoScheme
        );
        // A tampered body is GitHub's to refuse, not a reason to try the next scheme.
        assert_eq!(
            verifier
                .verify_async(Inbound::new(&signed, b"{ }"), at(1_700_000_100))
                .await
                .unwrap_err(),
            VerifyError::NoMatchingSignature
        );
    }
    // Each verifier fetched the key set once, for its one push.
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_requests_on_a_cold_cache_fetch_the_keys_once_and_a_rotation_once_more() {
    let server = key_server().await;
    let oidc = Arc::new(google(&server));
    let now = 1_700_000_100;
    let wave = |token: &'static str, now: u64| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let oidc = oidc.clone();
                tokio::spawn(async move { verify(&oidc, token, now).await })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for handle in handles {
                results.push(handle.await.unwrap());
            }
            results
        }
    };
    let results = wave(TOKEN_K1, now).await;
    assert!(
        results.iter().all(|r| *r == Ok(Some(1_700_000_000))),
        "{:?}",
        results[0]
    );
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        1,
        "one fetch for a cold cache"
    );
    assert_eq!(oidc.key_fetches(), 1);

    // The issuer rotates: a token names `k2`, which the cached set lacks. A hundred such
    // requests cause one refetch.
    server.rotated.store(true, Ordering::SeqCst);
    let results = wave(TOKEN_K2, now + 60).await;
    assert!(results.iter().all(|r| r.is_ok()), "{:?}", results[0]);
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        2,
        "one refetch for a new key id"
    );
    // The old key still verifies, from the cache.
    assert!(verify(&oidc, TOKEN_K1, now + 61).await.is_ok());

    // A key id the fresh set lacks: refused, and no fetch within 30 seconds of the last one.
    for _ in 0..20 {
        assert_eq!(
            verify(&oidc, TOKEN_K9, now + 70).await,
            Err(VerifyError::NoMatchingSignature)
        );
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    // Later, one more fetch may look for it.
    assert_eq!(
        verify(&oidc, TOKEN_K9, now + 200).await,
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    // The set lives for its max-age (3600 s from the last fetch, at `now + 200`): then it is
    // fetched again, before the (by then expired) token is refused.
    assert!(verify(&oidc, TOKEN_K1, now + 200 + 3_599).await.is_err());
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    assert!(matches!(
        verify(&oidc, TOKEN_K1, now + 200 + 3_600).await,
        Err(VerifyError::TooOld { .. })
    ));
    assert_eq!(server.requests.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn every_claim_is_checked_after_the_signature() {
    let server = key_server().await;
    server.rotated.store(true, Ordering::SeqCst);
    let oidc = google(&server).email("pusher@proj.iam.gserviceaccount.com");
    let now = 1_700_000_100;
    assert_eq!(verify(&oidc, TOKEN_K1, now).await, Ok(Some(1_700_000_000)));
    assert_eq!(
        verify(&oidc, TOKEN_AUD_LIST, now).await,
        Ok(Some(1_700_000_000))
    );
    for token in [
        TOKEN_OTHER_AUD,
        TOKEN_OTHER_ISS,
        TOKEN_UNVERIFIED_EMAIL,
        TOKEN_HS256,
    ] {
        assert!(
            matches!(
                verify(&oidc, token, now).await,
                Err(VerifyError::NoSupportedSignature { .. })
            ),
            "{token}"
        );
    }
    // Expired (60 seconds of leeway), and not yet issued.
    assert!(verify(&oidc, TOKEN_K1, 1_700_003_659).await.is_ok());
    assert!(matches!(
        verify(&oidc, TOKEN_K1, 1_700_003_660).await,
        Err(VerifyError::TooOld { .. })
    ));
    assert!(matches!(
        verify(&oidc, TOKEN_K1, 1_699_999_000).await,
        Err(VerifyError::TooNew { .. })
    ));
    // Claims changed under the signature, or the signature of one key under another key's id.
    let (head, rest) = TOKEN_K1.split_once('.').unwrap();
    let (_, signature) = rest.rsplit_once('.').unwrap();
    let (_, other_claims) = TOKEN_OTHER_AUD.split_once('.').unwrap();
    let (other_claims, _) = other_claims.rsplit_once('.').unwrap();
    let swapped = format!("{head}.{other_claims}.{signature}");
    assert_eq!(
        verify(&oidc, &swapped, now).await,
        Err(VerifyError::NoMatchingSignature)
    );
    let (_, k2_rest) = TOKEN_K2.split_once('.').unwrap();
    let k2_under_k1 = format!("{head}.{k2_rest}");
    assert_eq!(
        verify(&oidc, &k2_under_k1, now).await,
        Err(VerifyError::NoMatchingSignature)
    );
    // Not a bearer token, not a JWT, no header.
    for text in ["Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c"] {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", text.parse().unwrap());
        assert!(matches!(
            oidc.verify_async(Inbound::new(&headers, b"{}"), at(now))
                .await,
            Err(VerifyError::MalformedSignature { .. })
        ));
    }
    assert!(matches!(
        oidc.verify_async(Inbound::new(&HeaderMap::new(), b"{}"), at(now))
            .await,
        Err(VerifyError::MissingHeader(_))
    ));
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_unavailable_and_only_https_is_accepted() {
    let server = key_server().await;
    server.failing.store(true, Ordering::SeqCst);
    let oidc = google(&server);
    assert!(matches!(
        verify(&oidc, TOKEN_K1, 1_700_000_100).await,
        Err(VerifyError::KeysUnavailable { .. })
    ));
    server.failing.store(false, Ordering::SeqCst);
    assert!(verify(&oidc, TOKEN_K1, 1_700_000_101).await.is_ok());
    // A guarded client refuses a key set on an address its policy forbids, without sending.
    let refused = Oidc::google(HyperClient::guarded(AddressPolicy::new()), AUDIENCE)
        .keys_url_for_tests(&server.url);
    let before = server.requests.load(Ordering::SeqCst);
    assert!(matches!(
        verify(&refused, TOKEN_K1, 1_700_000_100).await,
        Err(VerifyError::KeysUnavailable { .. })
    ));
    assert_eq!(server.requests.load(Ordering::SeqCst), before);
    // Outside tests, the key set's URL must be https.
    let client = HyperClient::guarded(AddressPolicy::new());
    assert!(matches!(
        Oidc::new(client, "https://issuer.example.com", &server.url, AUDIENCE),
        Err(OidcError::KeysUrl(_))
    ));
}

/// Through axum's `Webhook` extractor and tower's `VerifyLayer` on a real loopback server,
/// configured with `WebhookConfig::new_async` at a fixed time: a valid push reaches the
/// handler; a token for another audience or with no header is refused; a key set that cannot
/// be fetched answers 503, so that the push is sent again.
#[cfg(feature = "axum")]
#[tokio::test]
async fn the_axum_and_tower_adapters_verify_pushes_and_answer_503_without_keys() {
    use axum::Router;
    use axum::routing::post;
    use hookwire::adapters::axum::Webhook;
    use hookwire::adapters::server::WebhookConfig;
    use hookwire::adapters::tower::VerifyLayer;
    use hookwire::testing::FakeClock;
    use hookwire::transport::HttpClient;

    async fn push(Webhook(webhook): Webhook) -> String {
        format!("handled {}", webhook.verified().scheme())
    }
    let keys = key_server().await;
    let config = WebhookConfig::new_async(google(&keys)).clock(FakeClock::at(at(1_700_000_100)));
    let mut addresses = Vec::new();
    for layered in [false, true] {
        let app = Router::new().route("/push", post(push));
        let app = match layered {
            true => app.layer(VerifyLayer::new(config.clone())),
            false => app,
        }
        .with_state(config.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let client = HyperClient::new();
    let send = |address: std::net::SocketAddr, token: Option<&str>| {
        let mut request = hookwire::http::Request::post(format!("http://{address}/push"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Bytes::from_static(b"{\"message\":{}}"))
            .unwrap();
        let client = client.clone();
        async move {
            let response = client.send(request).await.unwrap();
            let body = String::from_utf8(response.body().to_vec()).unwrap();
            (response.status().as_u16(), body)
        }
    };
    for &address in &addresses {
        // The first request fails to fetch keys; the next one (its own fetch) succeeds.
        keys.failing.store(true, Ordering::SeqCst);
        let requests = keys.requests.load(Ordering::SeqCst);
        assert_eq!(send(address, Some(TOKEN_K1)).await.0, 503, "{address}");
        assert_eq!(keys.requests.load(Ordering::SeqCst), requests + 1);
        keys.failing.store(false, Ordering::SeqCst);
    }
    for &address in &addresses {
        assert_eq!(
            send(address, Some(TOKEN_K1)).await,
            (200, "handled google-oidc".to_owned())
        );
        assert_eq!(send(address, Some(TOKEN_OTHER_AUD)).await.0, 401);
        assert_eq!(send(address, None).await.0, 400);
    }
}

//! The typed API client, driven by the scripted transport: endpoints, auth, errors, retries,
//! pagination and bad server input.
#![cfg(feature = "test-util")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt;
use hookwire::api::{
    ApiError, ApiKey, AuthError, Authenticate, Basic, Bearer, Body, Client, Endpoint,
    IDEMPOTENCY_KEY, Paginated, RawBytes, RefreshingToken, Token, next_link, segment,
};
use hookwire::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hookwire::retry::{Backoff, Jitter, RetryPolicy, retry_after};
use hookwire::testing::{FakeClock, MockClient, MockResponse};
use hookwire::transport::{HttpClient, TransportError, TransportErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

// ---------------------------------------------------------------- a small treasury API

#[derive(Debug, Deserialize, PartialEq)]
struct Account {
    id: String,
    balance: String,
}

struct GetAccount(&'static str);

impl Endpoint for GetAccount {
    type Response = Account;
    fn path(&self) -> String {
        format!("accounts/{}", segment(self.0))
    }
}

#[derive(Serialize)]
struct CreateTransfer {
    from: &'static str,
    amount: &'static str,
    #[serde(skip)]
    key: Option<&'static str>,
}

impl Endpoint for CreateTransfer {
    type Response = serde_json::Value;
    fn method(&self) -> Method {
        Method::POST
    }
    fn path(&self) -> String {
        "/transfers".into()
    }
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(key) = self.key {
            headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static(key));
        }
        headers
    }
    fn body(&self) -> Result<Body, ApiError> {
        Body::json(self)
    }
}

fn client(mock: &MockClient) -> Client<MockClient> {
    Client::new(mock.clone(), "https://api.bank.example/v1").unwrap()
}

fn account_json() -> MockResponse {
    MockResponse::json(200, &json!({"id": "acc 1/2", "balance": "10.00"}))
}

// ---------------------------------------------------------------- transport

#[tokio::test]
async fn a_closure_is_a_transport_and_dyn_transports_work_too() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let closure = move |request: Request<Bytes>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            assert_eq!(request.uri(), "https://api.bank.example/v1/accounts/a");
            Ok::<_, TransportError>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Bytes::from_static(br#"{"id":"a","balance":"1"}"#))
                    .unwrap(),
            )
        }
    };
    let arc: Arc<dyn HttpClient> = Arc::new(closure.clone());
    let boxed: Box<dyn HttpClient> = Box::new(closure.clone());
    for_each_transport(closure).await;
    for_each_transport(arc).await;
    for_each_transport(boxed).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

async fn for_each_transport(transport: impl HttpClient) {
    let client = Client::new(transport, "https://api.bank.example/v1/").unwrap();
    assert_eq!(client.send(&GetAccount("a")).await.unwrap().id, "a");
}

#[test]
fn transport_errors_tell_their_kinds_apart_and_keep_the_source() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let connect = TransportError::connect(io);
    assert!(connect.is_connect() && !connect.is_timeout());
    assert!(std::error::Error::source(&connect).is_some());
    // Each level of the report says its own part once: the cause is the source, not repeated
    // in the message.
    assert!(!connect.to_string().contains("refused"), "{connect}");
    let report = common::report(&connect);
    assert_eq!(report.matches("refused").count(), 1, "{report}");
    let api = ApiError::Transport(connect);
    let report = common::report(&api);
    assert_eq!(report.matches("refused").count(), 1, "{report}");
    assert_eq!(report.lines().count(), 3, "{report}");
    assert!(TransportError::timeout().is_timeout());
    assert_eq!(
        TransportError::body(std::io::Error::other("reset")).kind(),
        TransportErrorKind::Body
    );
    assert_eq!(
        TransportError::too_large(10).kind(),
        TransportErrorKind::TooLarge { limit: 10 }
    );
}

// ---------------------------------------------------------------- building requests

#[tokio::test]
async fn base_urls_join_with_and_without_trailing_slashes_and_segments_are_encoded() {
    for base in [
        "https://api.bank.example/v1",
        "https://api.bank.example/v1/",
    ] {
        let mock = MockClient::new().push(account_json());
        let client = Client::new(mock.clone(), base).unwrap();
        client.send(&GetAccount("acc 1/2?x#y")).await.unwrap();
        assert_eq!(
            mock.requests()[0].uri(),
            "https://api.bank.example/v1/accounts/acc%201%2F2%3Fx%23y"
        );
    }
    let mock = MockClient::new().push(account_json());
    Client::new(mock.clone(), "https://api.bank.example")
        .unwrap()
        .send(&GetAccount("a"))
        .await
        .unwrap();
    assert_eq!(
        mock.requests()[0].uri(),
        "https://api.bank.example/accounts/a"
    );
    assert!(matches!(
        Client::new(MockClient::new(), "not a url"),
        Err(ApiError::Build(_))
    ));
    assert!(matches!(
        Client::new(MockClient::new(), "mailto:x@y"),
        Err(ApiError::Build(_))
    ));
}

#[derive(Serialize)]
struct Search {
    q: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

impl Endpoint for Search {
    type Response = Vec<Account>;
    fn path(&self) -> String {
        "accounts".into()
    }
    fn query(&self) -> impl Serialize {
        self
    }
}

#[tokio::test]
async fn query_is_urlencoded_and_appended_to_a_base_query() {
    let mock = MockClient::new()
        .push(MockResponse::json(200, &json!([])))
        .push(MockResponse::json(200, &json!([])));
    let client = Client::new(mock.clone(), "https://api.bank.example/v1?tenant=eu").unwrap();
    client
        .send(&Search {
            q: "a&b c",
            limit: Some(5),
        })
        .await
        .unwrap();
    client
        .send(&Search {
            q: "x",
            limit: None,
        })
        .await
        .unwrap();
    let requests = mock.requests();
    assert_eq!(
        requests[0].uri(),
        "https://api.bank.example/v1/accounts?tenant=eu&q=a%26b+c&limit=5"
    );
    assert_eq!(
        requests[1].uri(),
        "https://api.bank.example/v1/accounts?tenant=eu&q=x"
    );
}

#[tokio::test]
async fn json_form_and_raw_bodies_carry_their_content_types() {
    struct Form;
    impl Endpoint for Form {
        type Response = ();
        fn method(&self) -> Method {
            Method::POST
        }
        fn path(&self) -> String {
            "form".into()
        }
        fn body(&self) -> Result<Body, ApiError> {
            Body::form(&[("a", "1 2"), ("b", "&")])
        }
    }
    struct Upload;
    impl Endpoint for Upload {
        type Response = ();
        fn method(&self) -> Method {
            Method::PUT
        }
        fn path(&self) -> String {
            "statements/2026-11.pdf".into()
        }
        fn body(&self) -> Result<Body, ApiError> {
            Ok(Body::raw(
                HeaderValue::from_static("application/pdf"),
                &b"%PDF-1.7"[..],
            ))
        }
    }
    let mock = MockClient::new()
        .push(
            MockResponse::status(201)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .push(MockResponse::status(204))
        .push(MockResponse::status(204));
    let client = client(&mock);
    client
        .send(&CreateTransfer {
            from: "acc_1",
            amount: "5.00",
            key: None,
        })
        .await
        .unwrap();
    client.send(&Form).await.unwrap();
    client.send(&Upload).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests[0].headers()["content-type"], "application/json");
    assert_eq!(
        &requests[0].body()[..],
        br#"{"from":"acc_1","amount":"5.00"}"#
    );
    assert_eq!(
        requests[1].headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(&requests[1].body()[..], b"a=1+2&b=%26");
    assert_eq!(requests[2].headers()["content-type"], "application/pdf");
    assert_eq!(requests[2].method(), Method::PUT);
}

#[tokio::test]
async fn default_headers_user_agent_and_endpoint_headers_combine() {
    let mock = MockClient::new()
        .push(
            MockResponse::status(200)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .push(account_json());
    let client = client(&mock)
        .user_agent(HeaderValue::from_static("treasury-sync/2.0"))
        .header(
            HeaderName::from_static("x-tenant"),
            HeaderValue::from_static("eu"),
        );
    client
        .send(&CreateTransfer {
            from: "a",
            amount: "1",
            key: Some("k-1"),
        })
        .await
        .unwrap();
    client.send(&GetAccount("a")).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests[0].headers()["user-agent"], "treasury-sync/2.0");
    assert_eq!(requests[0].headers()["x-tenant"], "eu");
    assert_eq!(requests[0].headers()["idempotency-key"], "k-1");
    assert_eq!(requests[0].headers()["accept"], "application/json");
    assert!(!requests[1].headers().contains_key("idempotency-key"));
}

// ---------------------------------------------------------------- responses

#[tokio::test]
async fn raw_returns_any_status_and_ignore_checks_only_the_status() {
    let mock = MockClient::new()
        .push(MockResponse::status(404).body("nope"))
        .push(
            MockResponse::status(200)
                .header("content-type", "text/plain")
                .body("not json"),
        )
        .push(MockResponse::status(500));
    let client = client(&mock);
    let raw = client.raw(&GetAccount("a")).await.unwrap();
    assert_eq!(raw.status(), StatusCode::NOT_FOUND);
    assert_eq!(&raw.body()[..], b"nope");
    client.ignore(&GetAccount("a")).await.unwrap();
    assert_eq!(
        client.ignore(&GetAccount("a")).await.unwrap_err().status(),
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
}

#[tokio::test]
async fn unit_responses_accept_an_empty_body_and_raw_bytes_take_anything() {
    struct Delete;
    impl Endpoint for Delete {
        type Response = ();
        fn method(&self) -> Method {
            Method::DELETE
        }
        fn path(&self) -> String {
            "accounts/a".into()
        }
    }
    struct Statement;
    impl Endpoint for Statement {
        type Response = RawBytes;
        fn path(&self) -> String {
            "statements/1".into()
        }
    }
    let mock = MockClient::new().push(MockResponse::status(204)).push(
        MockResponse::status(200)
            .header("content-type", "application/pdf")
            .body(&b"%PDF\x00\xff"[..]),
    );
    let client = client(&mock);
    client.send(&Delete).await.unwrap();
    assert_eq!(
        &client.send(&Statement).await.unwrap().0[..],
        b"%PDF\x00\xff"
    );
}

#[tokio::test]
async fn non_2xx_keeps_status_headers_body_and_decodes_problem_documents() {
    let problem = json!({
        "type": "https://bank.example/problems/insufficient-funds",
        "title": "Insufficient funds",
        "status": 422,
        "detail": "Account acc_1 has 3.00 EUR, 5.00 EUR needed",
        "instance": "/transfers/tr_9",
        "balance": "3.00"
    });
    let mock = MockClient::new()
        .push(
            MockResponse::status(422)
                .header("content-type", "application/problem+json; charset=utf-8")
                .header("x-request-id", "req-7")
                .body(serde_json::to_vec(&problem).unwrap()),
        )
        .push(
            MockResponse::status(409)
                .header("content-type", "application/json")
                .body(r#"{"error":"dup"}"#),
        );
    let client = client(&mock);
    let error = client
        .send(&CreateTransfer {
            from: "acc_1",
            amount: "5.00",
            key: None,
        })
        .await
        .unwrap_err();
    assert!(error.is_status());
    assert_eq!(error.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(error.headers().unwrap()["x-request-id"], "req-7");
    let decoded = error.problem().unwrap();
    assert_eq!(decoded.title.as_deref(), Some("Insufficient funds"));
    assert_eq!(decoded.status, Some(422));
    assert_eq!(decoded.extensions["balance"], json!("3.00"));
    assert!(error.to_string().contains("5.00 EUR needed"), "{error}");

    let error = client
        .send(&CreateTransfer {
            from: "a",
            amount: "1",
            key: None,
        })
        .await
        .unwrap_err();
    assert!(error.problem().is_none());
    assert_eq!(&error.body().unwrap()[..], br#"{"error":"dup"}"#);
}

#[tokio::test]
async fn bad_server_input_is_a_decode_error_that_keeps_the_raw_body() {
    let mock = MockClient::new()
        .push(
            MockResponse::status(200)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .push(
            MockResponse::status(200)
                .header("content-type", "text/html")
                .body("<html>"),
        )
        .push(MockResponse::status(200).header("content-type", "application/json"))
        .push(
            MockResponse::status(200)
                .header("content-type", "application/json")
                .body(r#"{"id":1}"#),
        );
    let client = client(&mock);
    let error = client.send(&GetAccount("a")).await.unwrap_err();
    assert!(error.is_decode());
    assert_eq!(&error.body().unwrap()[..], b"{not json");
    let ApiError::Decode(decode) = &error else {
        panic!()
    };
    assert!(decode.source.is_some());

    let error = client.send(&GetAccount("a")).await.unwrap_err();
    assert!(error.to_string().contains("text/html"), "{error}");

    let error = client.send(&GetAccount("a")).await.unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");

    let error = client.send(&GetAccount("a")).await.unwrap_err();
    assert!(error.is_decode());
}

#[tokio::test]
async fn a_response_over_the_size_limit_is_refused() {
    let mock = MockClient::new().push(
        MockResponse::status(200)
            .header("content-type", "application/json")
            .body(vec![b' '; 2048]),
    );
    let client = client(&mock).max_response_size(1024);
    match client.send(&GetAccount("a")).await.unwrap_err() {
        ApiError::Transport(error) => {
            assert_eq!(error.kind(), TransportErrorKind::TooLarge { limit: 1024 })
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn static_credentials_are_added_and_marked_sensitive() {
    let cases: Vec<(Box<dyn Authenticate>, &str, &str)> = vec![
        (Box::new(Bearer::new("tok")), "authorization", "Bearer tok"),
        (
            Box::new(Basic::new("user", "pa:ss")),
            "authorization",
            "Basic dXNlcjpwYTpzcw==",
        ),
        (
            Box::new(ApiKey::header(HeaderName::from_static("x-api-key"), "k-1")),
            "x-api-key",
            "k-1",
        ),
    ];
    for (auth, name, value) in cases {
        let mut request = Request::new(Bytes::new());
        auth.authenticate(&mut request).await.unwrap();
        assert_eq!(request.headers()[name], value);
        assert!(request.headers()[name].is_sensitive());
    }
    let mock = MockClient::new().push(account_json());
    client(&mock)
        .auth(ApiKey::query("api_key", "s&cret"))
        .send(&GetAccount("a"))
        .await
        .unwrap();
    assert_eq!(
        mock.requests()[0].uri(),
        "https://api.bank.example/v1/accounts/a?api_key=s%26cret"
    );
    let debug = format!(
        "{:?} {:?} {:?}",
        Bearer::new("tok_live_4f9a"),
        Basic::new("user-7", "pw-s3cr3t!"),
        ApiKey::query("k", "key_live_c0ffee")
    );
    assert!(
        !debug.contains("tok_live") && !debug.contains("s3cr3t") && !debug.contains("c0ffee"),
        "{debug}"
    );
    // Nor in the forms they travel in: the Basic credential's base64, any hex or base64.
    common::assert_no_leak(
        &debug,
        &[
            b"tok_live_4f9a",
            b"user-7:pw-s3cr3t!",
            b"pw-s3cr3t!",
            b"key_live_c0ffee",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_requests_cause_exactly_one_refresh() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let token = RefreshingToken::new(move || {
        let counter = counter.clone();
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, AuthError>(
                Token::new(format!("token-{n}")).expires_in(Duration::from_secs(3600)),
            )
        }
    });
    let transport = |request: Request<Bytes>| async move {
        assert_eq!(request.headers()["authorization"], "Bearer token-0");
        Ok::<_, TransportError>(Response::new(Bytes::from_static(
            br#"{"id":"a","balance":"0"}"#,
        )))
    };
    let client = Arc::new(
        Client::new(transport, "https://api.bank.example")
            .unwrap()
            .auth(token),
    );
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = client.clone();
        tasks.push(tokio::spawn(
            async move { client.send(&GetAccount("a")).await },
        ));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_token_is_refreshed_shortly_before_expiry_and_after_invalidation() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let token = RefreshingToken::new(move || {
        let counter = counter.clone();
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, AuthError>(
                Token::new(format!("token-{n}")).expires_in(Duration::from_millis(300)),
            )
        }
    })
    .refresh_margin(Duration::from_millis(200));
    let mut request = Request::new(Bytes::new());
    token.authenticate(&mut request).await.unwrap();
    token.authenticate(&mut request).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // The margin is at most half the lifetime (150 ms here): at 170 ms the token is due.
    tokio::time::sleep(Duration::from_millis(170)).await;
    token.authenticate(&mut request).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(request.headers()["authorization"], "Bearer token-1");
    token.invalidate().await;
    token.authenticate(&mut request).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn client_credentials_posts_the_grant_and_caches_the_token() {
    let idp = MockClient::new().push(MockResponse::json(
        200,
        &json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}),
    ));
    let token = RefreshingToken::client_credentials(
        idp.clone(),
        "https://idp.example/oauth/token",
        "client-1",
        "s3cret",
        &["accounts:read", "transfers:write"],
    );
    let api = MockClient::new().push(account_json()).push(account_json());
    let client = client(&api).auth(token);
    client.send(&GetAccount("a")).await.unwrap();
    client.send(&GetAccount("b")).await.unwrap();
    let grant = &idp.requests()[0];
    assert_eq!(grant.method(), Method::POST);
    assert_eq!(
        grant.headers()["authorization"],
        "Basic Y2xpZW50LTE6czNjcmV0"
    );
    assert_eq!(
        &grant.body()[..],
        b"grant_type=client_credentials&scope=accounts%3Aread+transfers%3Awrite"
    );
    assert_eq!(idp.requests().len(), 1);
    assert!(
        api.requests()
            .iter()
            .all(|r| r.headers()["authorization"] == "Bearer at-1")
    );
}

#[tokio::test]
async fn a_refused_grant_is_an_auth_error_that_names_the_oauth_error() {
    let idp = MockClient::new().push(MockResponse::json(
        401,
        &json!({"error": "invalid_client", "error_description": "unknown client"}),
    ));
    let token = RefreshingToken::client_credentials(
        idp,
        "https://idp.example/token",
        "c",
        "wrong-secret",
        &[],
    );
    let error = client(&MockClient::new())
        .auth(token)
        .send(&GetAccount("a"))
        .await
        .unwrap_err();
    let text = common::report(&error);
    assert!(matches!(error, ApiError::Auth(_)));
    assert!(
        text.contains("invalid_client") && text.contains("401"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"));
}

// ---------------------------------------------------------------- retries

fn retrying(mock: &MockClient, timer: &FakeClock) -> Client<MockClient> {
    client(mock).retry(
        RetryPolicy::for_requests().backoff(
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2), 4)
                .jitter(Jitter::Full),
        ),
        timer.clone(),
    )
}

#[tokio::test]
async fn idempotent_requests_retry_transient_failures_then_succeed() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .fail(TransportError::connect(std::io::Error::other("refused")))
        .fail(TransportError::timeout())
        .push(MockResponse::status(503))
        .push(account_json());
    let account = retrying(&mock, &timer)
        .send(&GetAccount("a"))
        .await
        .unwrap();
    assert_eq!(account.balance, "10.00");
    assert_eq!(mock.requests().len(), 4);
    let sleeps = timer.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (retry, sleep) in sleeps.iter().enumerate() {
        let ceiling = Duration::from_millis(100 * (1 << retry)).min(Duration::from_secs(2));
        assert!(*sleep <= ceiling, "retry {retry}: {sleep:?} > {ceiling:?}");
    }
}

#[test]
fn backoff_is_full_jitter_up_to_the_exponential_ceiling_not_zero() {
    let policy = RetryPolicy::for_requests()
        .backoff(
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2), 10)
                .jitter(Jitter::Full),
        )
        .budget(Duration::from_secs(3600));
    let refused: Result<Response<Bytes>, TransportError> =
        Err(TransportError::connect(std::io::Error::other("refused")));
    let now = SystemTime::now();
    for (retry, ceiling_ms) in [(0u32, 100u128), (2, 400), (6, 2000)] {
        let samples: Vec<u128> = (0..400)
            .map(|_| {
                policy
                    .next_delay(retry + 1, policy.classify(&refused, now), Duration::ZERO)
                    .expect("retried")
                    .as_millis()
            })
            .collect();
        let mean = samples.iter().sum::<u128>() / samples.len() as u128;
        let max = *samples.iter().max().unwrap();
        assert!(
            max <= ceiling_ms,
            "retry {retry}: {max} ms over {ceiling_ms}"
        );
        // Uniform over 0..=ceiling: the mean near half, the largest near the ceiling.
        assert!(
            mean * 10 >= ceiling_ms * 3 && mean * 10 <= ceiling_ms * 7,
            "retry {retry}: mean {mean} ms for a ceiling of {ceiling_ms}"
        );
        assert!(
            max * 10 >= ceiling_ms * 8,
            "retry {retry}: largest {max} ms"
        );
    }
}

#[tokio::test]
async fn retried_statuses_are_429_502_503_504_and_no_others() {
    for status in [429, 502, 503, 504] {
        let timer = FakeClock::new();
        let mock = MockClient::new()
            .push(MockResponse::status(status))
            .push(account_json());
        retrying(&mock, &timer)
            .send(&GetAccount("a"))
            .await
            .unwrap();
        assert_eq!(mock.requests().len(), 2, "{status}");
    }
    for status in [400, 401, 404, 409, 500, 501] {
        let timer = FakeClock::new();
        let mock = MockClient::new()
            .push(MockResponse::status(status))
            .push(account_json());
        let error = retrying(&mock, &timer)
            .send(&GetAccount("a"))
            .await
            .unwrap_err();
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(mock.requests().len(), 1, "{status}");
    }
    let timer = FakeClock::new();
    let mock = MockClient::new().fail(TransportError::body(std::io::Error::other("reset")));
    assert!(
        retrying(&mock, &timer)
            .send(&GetAccount("a"))
            .await
            .is_err()
    );
    assert_eq!(mock.requests().len(), 1, "body failures are not retried");
}

#[tokio::test]
async fn non_idempotent_requests_retry_only_with_an_idempotency_key() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(503))
        .push(MockResponse::status(201));
    let client = retrying(&mock, &timer);
    let error = client
        .send(&CreateTransfer {
            from: "a",
            amount: "1",
            key: None,
        })
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(mock.requests().len(), 1);

    let mock = MockClient::new().push(MockResponse::status(503)).push(
        MockResponse::status(201)
            .header("content-type", "application/json")
            .body("{}"),
    );
    let client = retrying(&mock, &timer);
    client
        .send(&CreateTransfer {
            from: "a",
            amount: "1",
            key: Some("k-9"),
        })
        .await
        .unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].headers()["idempotency-key"],
        requests[1].headers()["idempotency-key"]
    );
    assert_eq!(requests[0].body(), requests[1].body());
}

#[tokio::test]
async fn retry_after_in_seconds_or_as_a_date_is_honoured_up_to_the_cap() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(429).header("retry-after", "7"))
        .push(account_json());
    retrying(&mock, &timer)
        .send(&GetAccount("a"))
        .await
        .unwrap();
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(7)]);

    let timer = FakeClock::new();
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    let mock = MockClient::new()
        .push(MockResponse::status(503).header("retry-after", &date))
        .push(account_json());
    retrying(&mock, &timer)
        .send(&GetAccount("a"))
        .await
        .unwrap();
    let waited = timer.sleeps()[0];
    assert!(
        waited > Duration::from_secs(27) && waited <= Duration::from_secs(30),
        "{waited:?}"
    );

    // Beyond the cap, the client stops rather than wait less than the server asked.
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(503).header("retry-after", "3600"))
        .push(account_json());
    let error = retrying(&mock, &timer)
        .send(&GetAccount("a"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(timer.sleeps().is_empty());
}

#[tokio::test]
async fn an_invalid_retry_after_falls_back_to_backoff() {
    for bad in ["soon", "-5", "1.5", "Tue, 99 Foo 2026 99:99:99 GMT"] {
        let timer = FakeClock::new();
        let mock = MockClient::new()
            .push(MockResponse::status(503).header("retry-after", bad))
            .push(account_json());
        retrying(&mock, &timer)
            .send(&GetAccount("a"))
            .await
            .unwrap();
        let waited = timer.sleeps();
        assert_eq!(waited.len(), 1, "{bad}: retried once, on the backoff");
        assert!(waited[0] <= Duration::from_millis(100), "{bad}: {waited:?}");
    }
}

#[test]
fn retry_after_parses_seconds_and_dates_and_refuses_the_rest() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut headers = HeaderMap::new();
    assert_eq!(retry_after(&headers, now), Ok(None));
    // 1_800_000_000 seconds after the epoch is Fri, 15 Jan 2027 08:00:00 GMT.
    for (value, expected) in [
        ("0", Duration::ZERO),
        ("120", Duration::from_secs(120)),
        ("99999999999999999999999", Duration::from_secs(u64::MAX)),
        ("Fri, 15 Jan 2027 08:01:00 GMT", Duration::from_secs(60)),
        ("Fri, 15 Jan 2027 08:00:00 GMT", Duration::ZERO),
    ] {
        headers.insert("retry-after", HeaderValue::from_static(value));
        assert_eq!(retry_after(&headers, now), Ok(Some(expected)), "{value}");
    }
    headers.insert(
        "retry-after",
        HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
    );
    assert_eq!(
        retry_after(&headers, now),
        Ok(Some(Duration::ZERO)),
        "a past date asks for no wait"
    );
    for bad in ["", "soon", "-1", "1e3", "12 s"] {
        headers.insert("retry-after", HeaderValue::from_str(bad).unwrap());
        assert!(retry_after(&headers, now).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn attempts_and_the_time_budget_bound_the_retries() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(503))
        .push(MockResponse::status(503))
        .push(MockResponse::status(503))
        .push(MockResponse::status(503))
        .push(account_json());
    let error = retrying(&mock, &timer)
        .send(&GetAccount("a"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(mock.requests().len(), 4, "max_attempts(4)");

    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(503).header("retry-after", "20"))
        .push(MockResponse::status(503).header("retry-after", "20"))
        .push(account_json());
    let client = client(&mock).retry(
        RetryPolicy::for_requests()
            .backoff(
                Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5), 5)
                    .jitter(Jitter::Full),
            )
            .budget(Duration::from_secs(30)),
        timer.clone(),
    );
    assert!(client.send(&GetAccount("a")).await.is_err());
    assert_eq!(
        timer.sleeps(),
        vec![Duration::from_secs(20)],
        "a second 20 s wait would pass the 30 s budget"
    );
    assert_eq!(mock.requests().len(), 2);
}

/// A credential that changes on every call: `Bearer 1`, `Bearer 2`, …
struct Counting(AtomicUsize);

#[hookwire::async_trait]
impl Authenticate for Counting {
    async fn authenticate(&self, request: &mut Request<Bytes>) -> Result<(), AuthError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {n}")).unwrap(),
        );
        Ok(())
    }
}

#[tokio::test]
async fn credentials_are_added_again_on_each_attempt() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(503))
        .push(MockResponse::status(503))
        .push(account_json());
    retrying(&mock, &timer)
        .auth(Counting(AtomicUsize::new(0)))
        .send(&GetAccount("a"))
        .await
        .unwrap();
    let sent: Vec<_> = mock
        .requests()
        .iter()
        .map(|r| {
            r.headers()
                .get_all("authorization")
                .iter()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    // Each attempt was authenticated afresh, and carries that attempt's credential alone.
    assert_eq!(sent, [vec!["Bearer 1"], vec!["Bearer 2"], vec!["Bearer 3"]]);
}

// ---------------------------------------------------------------- pagination

#[derive(Deserialize)]
struct CursorPage {
    accounts: Vec<String>,
    next_cursor: Option<String>,
}

#[derive(Clone, Serialize)]
struct ByCursor {
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

impl Endpoint for ByCursor {
    type Response = CursorPage;
    fn path(&self) -> String {
        "accounts".into()
    }
    fn query(&self) -> impl Serialize {
        self
    }
}

impl Paginated for ByCursor {
    type Item = String;
    fn items(page: CursorPage) -> Vec<String> {
        page.accounts
    }
    fn next(&self, page: &CursorPage, _: &HeaderMap) -> Option<Self> {
        page.next_cursor.clone().map(|cursor| ByCursor {
            cursor: Some(cursor),
        })
    }
}

#[tokio::test]
async fn cursor_pages_stream_every_item_in_order() {
    let mock = MockClient::new()
        .push(MockResponse::json(
            200,
            &json!({"accounts": ["a", "b"], "next_cursor": "c2"}),
        ))
        .push(MockResponse::json(
            200,
            &json!({"accounts": ["c"], "next_cursor": "c3"}),
        ))
        .push(MockResponse::json(
            200,
            &json!({"accounts": ["d"], "next_cursor": null}),
        ));
    let items: Vec<String> = client(&mock)
        .paged(ByCursor { cursor: None })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items, ["a", "b", "c", "d"]);
    let uris: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(uris[1], "https://api.bank.example/v1/accounts?cursor=c2");
}

#[derive(Clone)]
struct ByLink {
    url: Option<String>,
}

impl Endpoint for ByLink {
    type Response = Vec<String>;
    fn path(&self) -> String {
        self.url.clone().unwrap_or_else(|| "transactions".into())
    }
}

impl Paginated for ByLink {
    type Item = String;
    fn items(page: Vec<String>) -> Vec<String> {
        page
    }
    fn next(&self, _: &Vec<String>, headers: &HeaderMap) -> Option<Self> {
        next_link(headers).map(|url| ByLink { url: Some(url) })
    }
}

#[tokio::test]
async fn link_header_pages_follow_rel_next_until_it_is_gone() {
    let mock = MockClient::new()
        .push(MockResponse::json(200, &json!(["t1"])).header(
            "link",
            r#"<https://api.bank.example/v1/transactions?page=2>; rel="next", <https://api.bank.example/v1/transactions?page=3>; rel="last""#,
        ))
        .push(MockResponse::json(200, &json!(["t2"])).header(
            "link",
            r#"<https://api.bank.example/v1/transactions?page=1>; rel="prev first""#,
        ));
    let items: Vec<String> = client(&mock)
        .paged(ByLink { url: None })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items, ["t1", "t2"]);
    assert_eq!(
        mock.requests()[1].uri(),
        "https://api.bank.example/v1/transactions?page=2"
    );
}

#[test]
fn next_link_reads_rfc_8288_forms() {
    let mut headers = HeaderMap::new();
    assert_eq!(next_link(&headers), None);
    for (value, expected) in [
        (r#"<https://x/2>; rel="next""#, Some("https://x/2")),
        (r#"<https://x/2>;rel=next"#, Some("https://x/2")),
        (
            r#"<https://x/1>; rel="prev", <https://x/3>; rel="next""#,
            Some("https://x/3"),
        ),
        (
            r#"<https://x/a,b>; title="a, b"; rel="next""#,
            Some("https://x/a,b"),
        ),
        (r#"<https://x/3>; rel="prev next""#, Some("https://x/3")),
        (r#"<https://x/9>; rel="last""#, None),
        (r#"garbage"#, None),
        (r#"<unterminated; rel="next""#, None),
    ] {
        headers.insert("link", HeaderValue::from_str(value).unwrap());
        assert_eq!(next_link(&headers).as_deref(), expected, "{value}");
    }
}

#[derive(Clone, Serialize)]
struct ByNumber {
    page: u32,
}

#[derive(Deserialize)]
struct NumberedPage {
    items: Vec<u32>,
    total_pages: u32,
}

impl Endpoint for ByNumber {
    type Response = NumberedPage;
    fn path(&self) -> String {
        "rates".into()
    }
    fn query(&self) -> impl Serialize {
        self
    }
}

impl Paginated for ByNumber {
    type Item = u32;
    fn items(page: NumberedPage) -> Vec<u32> {
        page.items
    }
    fn next(&self, page: &NumberedPage, _: &HeaderMap) -> Option<Self> {
        (self.page < page.total_pages).then(|| ByNumber {
            page: self.page + 1,
        })
    }
}

#[tokio::test]
async fn numbered_pages_stop_at_the_last_and_the_page_limit_guards_runaways() {
    let mock = MockClient::new()
        .push(MockResponse::json(
            200,
            &json!({"items": [1, 2], "total_pages": 2}),
        ))
        .push(MockResponse::json(
            200,
            &json!({"items": [3], "total_pages": 2}),
        ));
    let items: Vec<u32> = client(&mock)
        .paged(ByNumber { page: 1 })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items, [1, 2, 3]);
    assert_eq!(
        mock.requests()[1].uri(),
        "https://api.bank.example/v1/rates?page=2"
    );

    // A server that always says there is one more page.
    let mut mock = MockClient::new();
    for _ in 0..10 {
        mock = mock.push(MockResponse::json(
            200,
            &json!({"items": [0], "total_pages": 1000}),
        ));
    }
    let result: Result<Vec<u32>, ApiError> = client(&mock)
        .max_pages(5)
        .paged(ByNumber { page: 1 })
        .try_collect()
        .await;
    assert!(matches!(result, Err(ApiError::PageLimit { limit: 5 })));
    assert_eq!(mock.requests().len(), 5);
}

#[tokio::test]
async fn an_error_on_a_later_page_ends_the_stream_with_that_error() {
    let mock = MockClient::new()
        .push(MockResponse::json(
            200,
            &json!({"accounts": ["a"], "next_cursor": "c2"}),
        ))
        .push(MockResponse::status(500));
    let result: Result<Vec<String>, ApiError> = client(&mock)
        .paged(ByCursor { cursor: None })
        .try_collect()
        .await;
    assert_eq!(
        result.unwrap_err().status(),
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
}

// ---------------------------------------------------------------- the mock itself

#[tokio::test]
async fn the_mock_waits_on_its_timer_and_says_when_its_script_is_empty() {
    let timer = FakeClock::new();
    let mock =
        MockClient::with_clock(timer.clone()).push(account_json().delay(Duration::from_secs(3)));
    client(&mock).send(&GetAccount("a")).await.unwrap();
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(3)]);
    let error = client(&mock).send(&GetAccount("a")).await.unwrap_err();
    let report = common::report(&error);
    assert!(report.contains("no response left"), "{report}");
    assert_eq!(mock.remaining(), 0);
}

struct AnyPath(String);

impl Endpoint for AnyPath {
    type Response = RawBytes;
    fn path(&self) -> String {
        self.0.clone()
    }
}

proptest::proptest! {
    /// However a path is written, the request goes where the url crate's join sends it, as a
    /// path (`./` first, so that a colon in the first segment is not a scheme).
    #[test]
    fn relative_paths_join_exactly_as_the_url_crate_joins_them(
        path in "[a-zA-Z0-9./%?&=~!$'()*+,;:@ _#é-]{0,24}",
        slash in proptest::bool::ANY,
    ) {
        let base = if slash { "https://api.bank.example/v1/" } else { "https://api.bank.example/v1" };
        let mock = MockClient::new().push(MockResponse::status(200));
        let client = Client::new(mock.clone(), base).unwrap();
        let sent = futures_util::FutureExt::now_or_never(client.send(&AnyPath(path.clone())))
            .expect("ready");
        let expected = url::Url::parse("https://api.bank.example/v1/")
            .unwrap()
            .join(&format!("./{}", path.trim_start_matches('/')));
        match (sent, expected) {
            (Ok(_), Ok(url)) => {
                let uri = mock.requests()[0].uri().to_string();
                let mut expected = url.to_string();
                if let Some(at) = expected.find('#') {
                    expected.truncate(at);
                }
                proptest::prop_assert_eq!(uri, expected);
            }
            (Err(_), Err(_)) => {}
            (Err(error), Ok(_)) => {
                // The client refuses on purpose only what would climb out of its path.
                let decoded = path.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase().replace("%2e", ".");
                let dot_segment = decoded.split('/').any(|segment| segment == "." || segment == "..");
                proptest::prop_assert!(
                    dot_segment && matches!(error, ApiError::Build(_)),
                    "refused though url accepts it: {error}"
                );
            }
            (Ok(_), Err(error)) => proptest::prop_assert!(false, "sent though url refuses it: {error}"),
        }
    }
}

// ---------------------------------------------------------------- hardening

#[tokio::test]
async fn credentials_never_follow_a_link_to_another_origin() {
    for (link, expected) in [
        ("http://evil.example/collect", "http://evil.example/collect"),
        // A plain-http downgrade of the API's own host is another origin too.
        (
            "http://api.bank.example/v1/transactions?page=2",
            "http://api.bank.example/v1/transactions?page=2",
        ),
    ] {
        let mock = MockClient::new()
            .push(
                MockResponse::json(200, &json!(["t1"]))
                    .header("link", &format!(r#"<{link}>; rel="next""#)),
            )
            .push(MockResponse::json(200, &json!(["t2"])));
        let items: Vec<String> = client(&mock)
            .auth(Bearer::new("tok_live_s3cr3t"))
            .paged(ByLink { url: None })
            .try_collect()
            .await
            .unwrap();
        assert_eq!(items, ["t1", "t2"]);
        let requests = mock.requests();
        assert_eq!(
            requests[0].headers()["authorization"],
            "Bearer tok_live_s3cr3t"
        );
        assert_eq!(requests[1].uri(), expected);
        assert!(
            requests[1].headers().get("authorization").is_none(),
            "{link}: the token went to another origin"
        );
    }
    // Trusted on purpose, it does go.
    let mock = MockClient::new()
        .push(
            MockResponse::json(200, &json!(["t1"]))
                .header("link", r#"<https://pages.bank.example/t?p=2>; rel="next""#),
        )
        .push(MockResponse::json(200, &json!(["t2"])));
    let _: Vec<String> = client(&mock)
        .auth(Bearer::new("tok"))
        .send_credentials_to("https://pages.bank.example/")
        .unwrap()
        .paged(ByLink { url: None })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(mock.requests()[1].headers()["authorization"], "Bearer tok");
}

#[tokio::test]
async fn relative_link_targets_resolve_against_the_request_url() {
    let mock = MockClient::new()
        .push(
            MockResponse::json(200, &json!(["t1"]))
                .header("link", r#"</v1/transactions?page=2>; rel="next""#),
        )
        .push(
            MockResponse::json(200, &json!(["t2"]))
                .header("link", r#"<transactions?page=3>; rel="next""#),
        )
        .push(MockResponse::json(200, &json!(["t3"])));
    let items: Vec<String> = client(&mock)
        .auth(Bearer::new("tok"))
        .paged(ByLink { url: None })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items, ["t1", "t2", "t3"]);
    let uris: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(
        uris,
        [
            "https://api.bank.example/v1/transactions",
            "https://api.bank.example/v1/transactions?page=2",
            "https://api.bank.example/v1/transactions?page=3",
        ]
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.headers()["authorization"] == "Bearer tok")
    );
}

struct Statements(String);

struct RawPath(&'static str);

impl Endpoint for RawPath {
    type Response = serde_json::Value;
    fn path(&self) -> String {
        self.0.into()
    }
}

impl Endpoint for Statements {
    type Response = serde_json::Value;
    fn path(&self) -> String {
        format!("accounts/{}/statements", segment(&self.0))
    }
}

#[tokio::test]
async fn dot_segments_never_climb_out_of_their_segment() {
    for value in ["..", "."] {
        let mock = MockClient::new().push(MockResponse::json(200, &json!({})));
        let error = client(&mock)
            .send(&Statements(value.into()))
            .await
            .unwrap_err();
        assert!(matches!(error, ApiError::Build(_)), "{value}: {error:?}");
        assert!(mock.requests().is_empty(), "{value} was sent");
    }
    // Paths written by hand, with the dots percent-encoded as the url crate still resolves.
    for path in [
        "accounts/%2E%2E/statements",
        "accounts/.%2e/statements",
        "accounts/%2e./statements",
        "accounts/%2e/statements",
        "../admin",
    ] {
        let mock = MockClient::new().push(MockResponse::json(200, &json!({})));
        let error = client(&mock).send(&RawPath(path)).await.unwrap_err();
        assert!(matches!(error, ApiError::Build(_)), "{path}: {error:?}");
        assert!(mock.requests().is_empty(), "{path} was sent");
    }
    // Encoded by `segment`, a value that merely spells an escape is harmless text.
    let mock = MockClient::new().push(MockResponse::json(200, &json!({})));
    client(&mock)
        .send(&Statements("%2E%2E".into()))
        .await
        .unwrap();
    assert_eq!(
        mock.requests()[0].uri(),
        "https://api.bank.example/v1/accounts/%252E%252E/statements"
    );
    // Dots inside a segment are ordinary.
    let mock = MockClient::new().push(MockResponse::json(200, &json!({})));
    client(&mock)
        .send(&Statements("a..b".into()))
        .await
        .unwrap();
    assert_eq!(
        mock.requests()[0].uri(),
        "https://api.bank.example/v1/accounts/a..b/statements"
    );
}

#[tokio::test]
async fn an_absurd_token_lifetime_is_no_panic_and_no_refetch() {
    let idp = MockClient::new().push(MockResponse::json(
        200,
        &json!({"access_token": "at-1", "expires_in": u64::MAX}),
    ));
    let token =
        RefreshingToken::client_credentials(idp.clone(), "https://idp.example/t", "c", "s", &[]);
    let mut request = Request::new(Bytes::new());
    token.authenticate(&mut request).await.unwrap();
    token.authenticate(&mut request).await.unwrap();
    assert_eq!(request.headers()["authorization"], "Bearer at-1");
    assert_eq!(idp.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_is_shared_with_the_requests_waiting_on_it() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let token = Arc::new(RefreshingToken::new(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err::<Token, _>(AuthError::new("the identity provider is down"))
        }
    }));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut request = Request::new(Bytes::new());
            token.authenticate(&mut request).await
        }));
    }
    for task in tasks {
        let error = task.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("down"), "{error}");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "each waiter fetched again"
    );
    // A later request tries again.
    let mut request = Request::new(Bytes::new());
    assert!(token.authenticate(&mut request).await.is_err());
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_shorter_lived_than_the_margin_is_not_fetched_on_every_call() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let token = RefreshingToken::new(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, AuthError>(Token::new("short".to_owned()).expires_in(Duration::from_secs(30)))
        }
    });
    let mut request = Request::new(Bytes::new());
    for _ in 0..5 {
        token.authenticate(&mut request).await.unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

/// tokio's sleep as a timer (the test runs without hookwire's `tokio` feature).
struct Sleep;

#[hookwire::async_trait]
impl hookwire::clock::Clock for Sleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[tokio::test]
async fn a_hanging_token_fetch_times_out() {
    let token =
        RefreshingToken::new(|| async { std::future::pending::<Result<Token, AuthError>>().await })
            .fetch_timeout(Duration::from_millis(50), Sleep);
    let mut request = Request::new(Bytes::new());
    let error = tokio::time::timeout(Duration::from_secs(5), token.authenticate(&mut request))
        .await
        .expect("the fetch was bounded")
        .unwrap_err();
    assert!(error.to_string().contains("longer than"), "{error}");
}

#[test]
fn build_errors_are_typed_and_keep_their_cause_as_the_source() {
    let error = Client::new(MockClient::new(), "not a url").err().unwrap();
    assert!(
        matches!(&error, ApiError::Build(hookwire::api::BuildError::BaseUrl { url, .. }) if url == "not a url"),
        "{error:?}"
    );
    let report = common::report(&error);
    assert_eq!(
        report.lines().count(),
        3,
        "the call, the URL, the parser's finding: {report}"
    );
    let error = Client::new(MockClient::new(), "mailto:ops@bank.example")
        .err()
        .unwrap();
    assert!(matches!(
        error,
        ApiError::Build(hookwire::api::BuildError::NotABase { .. })
    ));
}

#[tokio::test]
async fn a_path_that_climbs_out_is_a_typed_dot_segment_error() {
    let error = client(&MockClient::new())
        .send(&AnyPath("accounts/../admin".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ApiError::Build(hookwire::api::BuildError::DotSegment { path }) if path.contains("..")),
        "{error:?}"
    );
}

#[test]
#[should_panic(expected = "not a valid HTTP status")]
fn a_mock_response_with_an_impossible_status_is_a_mistake_in_the_test() {
    let _ = MockResponse::status(42);
}

#[test]
#[should_panic(expected = "not a valid header value")]
fn a_mock_header_that_cannot_be_sent_is_a_mistake_in_the_test() {
    let _ = MockResponse::status(200).header("x-fine", "line\nbreak");
}

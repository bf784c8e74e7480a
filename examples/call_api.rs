//! A typed client for a small treasury-bank API: list accounts page by page, then create a
//! transfer with an `Idempotency-Key`, retried when the server is briefly unavailable.
//!
//! The API is served in-process by a closure: any async closure is a transport, which is how
//! tests stand in for a server. Run with `cargo run --example call_api`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use hookwire::api::{
    ApiError, Bearer, Body, Client, Endpoint, IDEMPOTENCY_KEY, Paginated, next_link,
};
use hookwire::bytes::Bytes;
use hookwire::clock::Clock;
use hookwire::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hookwire::retry::RetryPolicy;
use hookwire::transport::TransportError;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- the API, as types

#[derive(Debug, Deserialize)]
struct Account {
    id: String,
    currency: String,
    balance: String,
}

/// `GET /accounts`, paginated with `Link: <…>; rel="next"`.
#[derive(Clone)]
struct ListAccounts {
    next: Option<String>,
}

impl Endpoint for ListAccounts {
    type Response = Vec<Account>;
    fn path(&self) -> String {
        self.next
            .clone()
            .unwrap_or_else(|| "accounts?per_page=2".into())
    }
}

impl Paginated for ListAccounts {
    type Item = Account;
    fn items(page: Vec<Account>) -> Vec<Account> {
        page
    }
    fn next(&self, _: &Vec<Account>, headers: &HeaderMap) -> Option<Self> {
        next_link(headers).map(|url| ListAccounts { next: Some(url) })
    }
}

/// `POST /transfers`, safe to retry thanks to its idempotency key.
#[derive(Serialize)]
struct CreateTransfer<'a> {
    from: &'a str,
    to: &'a str,
    amount: &'a str,
    #[serde(skip)]
    idempotency_key: &'a str,
}

#[derive(Debug, Deserialize)]
struct Transfer {
    id: String,
    status: String,
}

impl Endpoint for CreateTransfer<'_> {
    type Response = Transfer;
    fn method(&self) -> Method {
        Method::POST
    }
    fn path(&self) -> String {
        "transfers".into()
    }
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(key) = HeaderValue::from_str(self.idempotency_key) {
            headers.insert(IDEMPOTENCY_KEY, key);
        }
        headers
    }
    fn body(&self) -> Result<Body, ApiError> {
        Body::json(self)
    }
}

// ---------------------------------------------------------------- a timer over tokio

struct TokioSleep;

#[hookwire::async_trait]
impl Clock for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

// ---------------------------------------------------------------- an in-process server

fn json(status: StatusCode, body: serde_json::Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

async fn serve(request: Request<Bytes>, transfer_posts: Arc<AtomicUsize>) -> Response<Bytes> {
    let authorized = request
        .headers()
        .get("authorization")
        .is_some_and(|value| value == "Bearer demo-token");
    if !authorized {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"title": "no token"}),
        );
    }
    let base = "https://api.bank.example/v1";
    let accounts = [
        ("acc_eur_ops", "EUR", "120500.00"),
        ("acc_eur_payroll", "EUR", "48210.55"),
        ("acc_usd_ops", "USD", "90310.10"),
        ("acc_gbp_ops", "GBP", "15000.00"),
        ("acc_chf_reserve", "CHF", "250000.00"),
    ];
    match (request.method().clone(), request.uri().path()) {
        (Method::GET, "/v1/accounts") => {
            let query = request.uri().query().unwrap_or_default();
            let page: usize = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("page="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let items: Vec<_> = accounts
                .iter()
                .skip((page - 1) * 2)
                .take(2)
                .map(|(id, currency, balance)| {
                    serde_json::json!({"id": id, "currency": currency, "balance": balance})
                })
                .collect();
            let mut response = json(StatusCode::OK, serde_json::Value::from(items));
            if page * 2 < accounts.len() {
                let link = format!(
                    r#"<{base}/accounts?per_page=2&page={}>; rel="next""#,
                    page + 1
                );
                if let Ok(value) = HeaderValue::from_str(&link) {
                    response.headers_mut().insert("link", value);
                }
            }
            response
        }
        (Method::POST, "/v1/transfers") => {
            // The first attempt meets a briefly overloaded server.
            if transfer_posts.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut response = json(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({}));
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from_static("1"));
                return response;
            }
            let key = request
                .headers()
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            json(
                StatusCode::CREATED,
                serde_json::json!({"id": format!("tr_{key}"), "status": "pending"}),
            )
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"title": "not found"}),
        ),
    }
}

// ---------------------------------------------------------------- the client

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("call_api failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), ApiError> {
    let transfer_posts = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let server = {
        let (transfer_posts, requests) = (transfer_posts.clone(), requests.clone());
        move |request: Request<Bytes>| {
            let (transfer_posts, requests) = (transfer_posts.clone(), requests.clone());
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                Ok::<_, TransportError>(serve(request, transfer_posts).await)
            }
        }
    };

    let client = Client::new(server, "https://api.bank.example/v1")?
        .user_agent(HeaderValue::from_static("treasury-sync/1.0"))
        .auth(Bearer::new("demo-token"))
        .retry(RetryPolicy::for_requests(), TokioSleep);

    println!("accounts, page by page:");
    let accounts: Vec<Account> = client
        .paged(ListAccounts { next: None })
        .try_collect()
        .await?;
    for account in &accounts {
        println!(
            "  {:<16} {} {:>10}",
            account.id, account.currency, account.balance
        );
    }

    let transfer = client
        .send(&CreateTransfer {
            from: "acc_eur_ops",
            to: "acc_eur_payroll",
            amount: "12500.00",
            idempotency_key: "payroll-2026-11",
        })
        .await?;
    println!(
        "transfer {} is {} ({} POST attempts: the first met a 503 with Retry-After: 1)",
        transfer.id,
        transfer.status,
        transfer_posts.load(Ordering::SeqCst)
    );
    println!(
        "{} accounts over {} requests in all",
        accounts.len(),
        requests.load(Ordering::SeqCst)
    );
    Ok(())
}

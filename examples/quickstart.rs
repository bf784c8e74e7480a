//! hookwire end to end, on loopback: a receiver verifies and handles signed webhooks from a
//! small treasury bank, refuses a tampered one and says why, and the same process serves an API
//! endpoint that a typed client calls.
//!
//! Run with `cargo run --example quickstart --features hyper`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use hookwire::adapters::hyper::HyperClient;
use hookwire::adapters::server::verify_request;
use hookwire::api::{Client, Endpoint, segment};
use hookwire::bytes::Bytes;
use hookwire::event::Event;
use hookwire::http::{Method, Request, Response, StatusCode};
use hookwire::transport::BodyLimit;
use hookwire::transport::HttpClient;
use hookwire::webhook::{Message, Secret, Sign, StandardWebhooks, message_id};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// What the receiver saw, for the report.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Account {
    id: String,
    currency: String,
    balance: String,
}

/// `GET /v1/accounts/{id}`, served by this process.
struct GetAccount<'a>(&'a str);

impl Endpoint for GetAccount<'_> {
    type Response = Account;
    fn path(&self) -> String {
        format!("accounts/{}", segment(self.0))
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

/// The receiver: webhooks at `POST /webhooks`, the API at `GET /v1/accounts/{id}`.
async fn route(
    request: Request<Incoming>,
    verifier: Arc<StandardWebhooks>,
    log: Arc<Log>,
) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/webhooks") => {
            match verify_request(
                &*verifier,
                request,
                BodyLimit::WEBHOOK.bytes(),
                SystemTime::now(),
            )
            .await
            {
                Ok(webhook) => {
                    let id = webhook.verified().id().unwrap_or_default().to_owned();
                    match Event::<serde_json::Value>::from_standard_webhooks(
                        &id,
                        "https://bank.example",
                        &webhook.body,
                    ) {
                        Ok(event) => {
                            log.push(format!(
                                "  handled {:<18} {}  data {}",
                                event.ty(),
                                event.id(),
                                event.json().map(ToString::to_string).unwrap_or_default()
                            ));
                            text(StatusCode::NO_CONTENT, Bytes::new())
                        }
                        Err(error) => {
                            log.push(format!("  verified, but not an event: {error}"));
                            text(StatusCode::BAD_REQUEST, "not an event\n")
                        }
                    }
                }
                Err(rejection) => {
                    log.push(format!("  rejected ({}): {rejection}", rejection.status()));
                    rejection.to_response().map(Full::new)
                }
            }
        }
        (&Method::GET, path) if path.starts_with("/v1/accounts/") => {
            let id = path.trim_start_matches("/v1/accounts/");
            let account = Account {
                id: id.to_owned(),
                currency: "EUR".into(),
                balance: "120500.00".into(),
            };
            let mut response = text(
                StatusCode::OK,
                serde_json::to_vec(&account).unwrap_or_default(),
            );
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().expect("valid"));
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

async fn start_receiver(
    verifier: Arc<StandardWebhooks>,
    log: Arc<Log>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (verifier, log) = (verifier.clone(), log.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let (verifier, log) = (verifier.clone(), log.clone());
                    async move { Ok::<_, Infallible>(route(request, verifier, log).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    // The bank (sender) issues a secret to its customer (receiver) once, out of band.
    let secret = Secret::generate();
    let log = Arc::new(Log::default());
    let scheme = StandardWebhooks::new(&secret)?;
    let address = start_receiver(Arc::new(scheme.clone()), log.clone()).await?;
    println!("receiver listening on http://{address}");

    // The sender: three events, each signed afresh and POSTed with a real client adapter.
    let http = HyperClient::new();
    let events = [
        Event::builder()
            .ty("account.opened")
            .source("/treasury/accounts")
            .data(serde_json::json!({"account_id": "acc_42", "currency": "EUR"}))
            .build()?,
        Event::builder()
            .ty("transfer.settled")
            .source("/treasury/transfers")
            .data(serde_json::json!({"transfer_id": "tr_8841", "amount": "1250.00"}))
            .build()?,
        Event::builder()
            .ty("fx.rate.published")
            .source("/treasury/fx")
            .data(serde_json::json!({"pair": "EUR/USD", "rate": "1.0842"}))
            .build()?,
    ];
    println!("\nsender delivers {} signed events:", events.len());
    for event in &events {
        let body = Bytes::from(event.to_standard_webhooks()?);
        let id = message_id();
        let mut request = Request::post(format!("http://{address}/webhooks"))
            .header("content-type", "application/json")
            .body(body.clone())?;
        let signed = scheme.sign(&Message::new(&id, &body))?;
        request.headers_mut().extend(signed);
        let response = http.send(request).await?;
        println!("  POST {:<18} {id} -> {}", event.ty(), response.status());
        if response.status() != StatusCode::NO_CONTENT {
            return Err(format!(
                "the receiver refused a valid webhook: {}",
                response.status()
            )
            .into());
        }
    }

    // An attacker raises the amount on the way; the signature no longer matches.
    let body = Bytes::from(events[1].to_standard_webhooks()?);
    let headers = scheme.sign(&Message::new(&message_id(), &body))?;
    let forged = Bytes::from(String::from_utf8_lossy(&body).replace("1250.00", "9250.00"));
    let mut request = Request::post(format!("http://{address}/webhooks")).body(forged)?;
    request.headers_mut().extend(headers);
    let response = http.send(request).await?;
    println!("  POST a tampered copy     -> {}", response.status());
    if response.status() != StatusCode::UNAUTHORIZED {
        return Err("a tampered webhook was not refused".into());
    }

    println!("\nreceiver:");
    for line in log.lines() {
        println!("{line}");
    }

    // The pull side: a typed API call to the endpoint this process serves.
    let client = Client::new(HyperClient::new(), &format!("http://{address}/v1"))?;
    let account = client.send(&GetAccount("acc_42")).await?;
    println!(
        "\nAPI: GET /v1/accounts/acc_42 -> {} {} {}",
        account.id, account.balance, account.currency
    );

    println!(
        "\ndone in {} ms: 3 webhooks verified and handled, 1 forgery refused, 1 typed API call",
        started.elapsed().as_millis()
    );
    Ok(())
}

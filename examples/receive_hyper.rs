//! A webhook receiver on plain hyper: verifies Standard Webhooks (and `svix-*`) signatures,
//! answers the CloudEvents validation handshake, and hands verified bodies to a handler.
//!
//! `cargo run --example receive_hyper --features hyper` serves on 127.0.0.1:3000 (or `$PORT`)
//! with a fresh secret that it prints; add `-- --self-test` to send itself one signed webhook
//! and exit.

use std::convert::Infallible;
use std::sync::Arc;

use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::adapters::server::validation_response;
use hookwire::bytes::Bytes;
use hookwire::http::{Request, Response, StatusCode};
use hookwire::transport::BodyLimit;
use hookwire::transport::HttpClient;
use hookwire::webhook::{Message, Secret, Sign, StandardWebhooks, message_id};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = Secret::generate();
    let verifier = Arc::new(StandardWebhooks::new(&secret)?);
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let self_test = std::env::args().any(|arg| arg == "--self-test");
    let listener = TcpListener::bind(("127.0.0.1", if self_test { 0 } else { port })).await?;
    let address = listener.local_addr()?;
    println!(
        "receiving webhooks on http://{address}/ with secret {}",
        secret.expose_whsec().as_str()
    );

    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let verifier = verifier.clone();
                    async move {
                        if let Some(answer) = validation_response(&request, |_| true, Some(600)) {
                            return Ok::<_, Infallible>(answer.map(Full::new));
                        }
                        Ok(handle(
                            &*verifier,
                            BodyLimit::WEBHOOK.bytes(),
                            request,
                            |webhook| async move {
                                let verified = webhook.verified();
                                println!(
                                    "verified webhook {:?} ({} bytes): {}",
                                    verified.id(),
                                    webhook.body.len(),
                                    String::from_utf8_lossy(&webhook.body)
                                );
                                let mut response = Response::new(Bytes::new());
                                *response.status_mut() = StatusCode::NO_CONTENT;
                                response
                            },
                        )
                        .await)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    if self_test {
        let body = Bytes::from_static(br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"amount":"12.50"}}"#);
        let mut request = Request::post(format!("http://{address}/")).body(body.clone())?;
        let signed = StandardWebhooks::new(&secret)?.sign(&Message::new(&message_id(), &body))?;
        request.headers_mut().extend(signed);
        let response = HyperClient::new().send(request).await?;
        println!("self-test: {}", response.status());
        return Ok(());
    }
    server.await?;
    Ok(())
}

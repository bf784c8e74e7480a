//! A webhook receiver on axum: the `WebhookEvent` extractor verifies the signature and decodes
//! the event; a second route shows the `VerifyLayer` for handlers that take the raw body.
//!
//! `cargo run --example receive_axum --features axum,hyper` serves on 127.0.0.1:3000 (or `$PORT`)
//! with a fresh secret that it prints; add `-- --self-test` to send itself one signed webhook
//! and exit.

use axum::routing::post;
use axum::{Extension, Router};
use hookwire::adapters::axum::WebhookEvent;
use hookwire::adapters::server::{VerifiedWebhook, WebhookConfig};
use hookwire::adapters::tower::VerifyLayer;
use hookwire::webhook::{Message, Secret, Sign, StandardWebhooks, message_id};
use serde::Deserialize;
use tokio::net::TcpListener;

#[derive(Debug, Deserialize)]
struct TransferSettled {
    transfer_id: String,
    amount: String,
}

/// A typed event, verified and decoded before the handler runs.
async fn transfer_settled(
    WebhookEvent { event, .. }: WebhookEvent<TransferSettled>,
) -> &'static str {
    if let Some(data) = event.json() {
        println!(
            "{} settled {} ({})",
            event.id(),
            data.transfer_id,
            data.amount
        );
    }
    "ok"
}

/// Anything, verified by the layer; the handler reads the body as it likes.
async fn audit(Extension(webhook): Extension<VerifiedWebhook>, body: String) -> &'static str {
    println!("audit webhook {:?}: {body}", webhook.verified().id());
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = Secret::generate();
    let config = WebhookConfig::new(StandardWebhooks::new(&secret)?).max_body_size(256 * 1024);
    let app = Router::new()
        .route("/audit", post(audit))
        .layer(VerifyLayer::new(config.clone()))
        .merge(
            Router::new()
                .route("/transfers", post(transfer_settled))
                .with_state(config),
        );

    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let self_test = std::env::args().any(|arg| arg == "--self-test");
    let listener = TcpListener::bind(("127.0.0.1", if self_test { 0 } else { port })).await?;
    let address = listener.local_addr()?;
    println!(
        "receiving webhooks on http://{address}/transfers and /audit with secret {}",
        secret.expose_whsec().as_str()
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    if self_test {
        let body = br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"transfer_id":"tr_1","amount":"12.50"}}"#;
        let signed = StandardWebhooks::new(&secret)?.sign(&Message::new(&message_id(), body))?;
        let request = hookwire::http::Request::post(format!("http://{address}/transfers"))
            .body(hookwire::bytes::Bytes::from_static(body))?;
        let mut request = request;
        request.headers_mut().extend(signed);
        let transport = hookwire::adapters::hyper::HyperClient::new();
        let response = hookwire::transport::HttpClient::send(&transport, request).await?;
        println!("self-test: {}", response.status());
        return Ok(());
    }
    server.await??;
    Ok(())
}

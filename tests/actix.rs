//! The actix-web extractor on a real actix-web server bound to 127.0.0.1:0 (in a thread of its
//! own, on actix's runtime), driven by real clients: it verifies and hands on, refuses what
//! does not verify, stops reading a body at its limit, answers handshakes, passes the request
//! line to schemes that sign the URL, and says when it was not configured.
#![cfg(all(feature = "actix", feature = "reqwest"))]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpServer, web};
use hookwire::adapters::actix::Webhook;
use hookwire::adapters::server::WebhookConfig;
use hookwire::http::HeaderMap;
use hookwire::webhook::{
    Message, MultiVerifier, Secret, Sign, Slack, StandardWebhooks, Twilio, Verify,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: usize = 1024;

/// Answers what was verified, counting the requests that reached it.
async fn receive(Webhook(webhook): Webhook, handled: web::Data<AtomicUsize>) -> String {
    handled.fetch_add(1, Ordering::SeqCst);
    format!(
        "{} {} {}",
        webhook.verified().scheme(),
        webhook.verified().id().unwrap_or("-"),
        webhook.body.len()
    )
}

/// An actix-web server on its own thread, with `config` in its app data (or none), and the
/// count of requests its handler saw.
fn serve(config: Option<WebhookConfig>) -> (SocketAddr, web::Data<AtomicUsize>) {
    let (sender, address) = std::sync::mpsc::channel();
    let handled = web::Data::new(AtomicUsize::new(0));
    let counter = handled.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let config = config.map(web::Data::new);
            let server = HttpServer::new(move || {
                let app = App::new()
                    .app_data(counter.clone())
                    .route("/hooks", web::post().to(receive));
                match &config {
                    Some(config) => app.app_data(config.clone()),
                    None => app,
                }
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("a loopback port");
            sender.send(server.addrs()[0]).expect("the test waits");
            server.run().await.expect("the server runs");
        });
    });
    (address.recv().expect("the server starts"), handled)
}

fn secret() -> Secret {
    Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

async fn post(
    address: SocketAddr,
    path: &str,
    headers: &HeaderMap,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}{path}"))
        .body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let response = request.send().await.expect("an answer");
    (
        response.status().as_u16(),
        response.text().await.expect("a body"),
    )
}

#[tokio::test]
async fn the_actix_extractor_verifies_hands_on_and_refuses() {
    let scheme = StandardWebhooks::new(&secret()).unwrap();
    let (address, handled) = serve(Some(
        WebhookConfig::new(StandardWebhooks::new(&secret()).unwrap()).max_body_size(LIMIT),
    ));
    let body: &'static [u8] = br#"{"type":"invoice.paid"}"#;
    let signed = scheme.sign(&Message::new("msg_actix", body)).unwrap();
    assert_eq!(
        post(address, "/hooks", &signed, body).await,
        (200, format!("standard-webhooks msg_actix {}", body.len()))
    );
    // A changed body, another key, no signature: refused, and the handler never runs.
    let tampered: &'static [u8] = br#"{"type":"invoice.void"}"#;
    assert_eq!(post(address, "/hooks", &signed, tampered).await.0, 401);
    let other =
        StandardWebhooks::new(&Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap())
            .unwrap()
            .sign(&Message::new("msg_actix", body))
            .unwrap();
    assert_eq!(post(address, "/hooks", &other, body).await.0, 401);
    assert_eq!(
        post(address, "/hooks", &HeaderMap::new(), body).await.0,
        400
    );
    // A declared length over the limit: 413 before anything is read.
    let large = vec![b'x'; 64 * 1024];
    let signed_large = scheme.sign(&Message::new("msg_large", &large)).unwrap();
    assert_eq!(post(address, "/hooks", &signed_large, large).await.0, 413);
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

/// A chunked body that never ends is answered 413 at the limit: the server stops reading, and
/// the client's writes fail long before the 64 MiB it would send.
#[tokio::test]
async fn the_actix_extractor_stops_reading_an_endless_body_at_the_limit() {
    let (address, handled) = serve(Some(
        WebhookConfig::new(StandardWebhooks::new(&secret()).unwrap()).max_body_size(LIMIT),
    ));
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = "POST /hooks HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\nwebhook-id: msg_endless\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,AAAA\r\n\r\n";
    writer.write_all(head.as_bytes()).await.unwrap();
    let writing = tokio::spawn(async move {
        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 {
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            sent += 1024;
        }
        sent
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = reader.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed without answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    let status = String::from_utf8_lossy(&answer);
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    drop(reader);
    let sent = writing.await.unwrap();
    assert!(sent < 16 * 1024 * 1024, "the client sent {sent} bytes");
    assert_eq!(handled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_actix_extractor_answers_handshakes_and_passes_the_request_line() {
    const SLACK: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    let multi = MultiVerifier::new()
        .with(Slack::new(SLACK).unwrap())
        .with(Twilio::new("12345").unwrap());
    let (address, handled) = serve(Some(WebhookConfig::new(multi).handshakes(true)));
    let challenge: &'static str = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let slack = Slack::new(SLACK).unwrap();
    let signed = slack.sign(&Message::new("", challenge.as_bytes())).unwrap();
    assert_eq!(
        post(address, "/hooks", &signed, challenge).await,
        (
            200,
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".to_owned()
        )
    );
    let forged = Slack::new("another secret")
        .unwrap()
        .sign(&Message::new("", challenge.as_bytes()))
        .unwrap();
    assert_eq!(post(address, "/hooks", &forged, challenge).await.0, 401);
    assert_eq!(handled.load(Ordering::SeqCst), 0, "no handshake is handled");

    // Twilio signs the URL: the extractor passes the path, query and `Host` the server saw.
    let form = "CallSid=CA1234567890ABCDE&Digits=1234";
    let url = format!("https://{address}/hooks?foo=1");
    let mut signed = Twilio::new("12345")
        .unwrap()
        .sign(&Message::new("idem-1", form.as_bytes()).to("POST", &url))
        .unwrap();
    signed.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_eq!(
        post(address, "/hooks?foo=1", &signed, form).await,
        (200, format!("twilio idem-1 {}", form.len()))
    );
    assert_eq!(post(address, "/hooks?foo=2", &signed, form).await.0, 401);
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_actix_extractor_without_a_configuration_says_so() {
    let (address, handled) = serve(None);
    let scheme = StandardWebhooks::new(&secret()).unwrap();
    let signed = scheme.sign(&Message::new("msg_1", b"{}")).unwrap();
    assert_eq!(post(address, "/hooks", &signed, "{}").await.0, 500);
    assert_eq!(handled.load(Ordering::SeqCst), 0);
    assert!(scheme.detect(hookwire::webhook::Inbound::new(&signed, b"{}")));
}

//! A guarded reqwest client ignores the proxy settings in the environment: with
//! `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` pointing at a loopback proxy, nothing reaches
//! the proxy and every refused target stays refused. (Its own test binary: it changes the
//! process environment, which no other test may share.)
#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use hookwire::adapters::reqwest::ReqwestClient;
use hookwire::http::Request;
use hookwire::transport::{AddressPolicy, HttpClient, TransportErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_guarded_reqwest_client_never_uses_the_environments_proxy() {
    // A "proxy" that answers 200 to anything, counting connections.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut buffer = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    let proxy_url = format!("http://{proxy}");
    // SAFETY: this test binary runs this one test, so no other thread reads the environment.
    unsafe {
        for name in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
        ] {
            std::env::set_var(name, &proxy_url);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }

    // The control: an ordinary reqwest client does use it.
    let ordinary = ReqwestClient::new().unwrap();
    let response = ordinary
        .send(
            Request::get("http://hooks.customer.example/")
                .body(Bytes::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the control did not use the proxy"
    );

    let guarded = ReqwestClient::guarded(AddressPolicy::new()).unwrap();
    for url in [
        "http://localhost:6379/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://169.254.169.254.nip.io/latest/meta-data/",
        "http://127.0.0.1:6379/",
    ] {
        let error = guarded
            .send(Request::get(url).body(Bytes::new()).unwrap())
            .await
            .unwrap_err();
        // Refused by policy, or unresolvable here (no DNS): never a response from the proxy.
        assert!(
            matches!(
                error.kind(),
                TransportErrorKind::Refused | TransportErrorKind::Connect
            ),
            "{url}: {error}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the guarded client used the proxy"
    );
}

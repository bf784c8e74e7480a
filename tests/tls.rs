//! HTTPS through `HyperClient` with rustls (feature `rustls`), against a real TLS server on
//! 127.0.0.1:0 with a certificate made for the test.
#![cfg(feature = "rustls")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use hookwire::adapters::hyper::HyperClient;
use hookwire::http::{Request, Response, Version};
use hookwire::transport::{HttpClient, TransportErrorKind};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server for `localhost` that answers with the protocol version it spoke, and counts
/// the TCP connections it accepted.
async fn tls_server() -> (SocketAddr, CertificateDer<'static>, Arc<AtomicUsize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    |request: Request<hyper::body::Incoming>| async move {
                        let version = format!("{:?}", request.version());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(version))))
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (address, cert, accepted)
}

/// The whole chain of causes, as text.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(" / ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

#[tokio::test]
async fn https_round_trip_with_a_trusted_certificate_negotiates_http2() {
    let (address, cert, _) = tls_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = HyperClient::with_tls_config(config);
    let request = Request::get(format!("https://localhost:{}/", address.port()))
        .body(Bytes::new())
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.body(), "HTTP/2.0");
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error_that_names_the_certificate() {
    let (address, _, _) = tls_server().await;
    let client = HyperClient::https().unwrap();
    let request = Request::get(format!("https://localhost:{}/", address.port()))
        .body(Bytes::new())
        .unwrap();
    let error = client.send(request).await.unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Connect, "{error}");
    let text = chain(&error).to_lowercase();
    assert!(text.contains("certificate"), "{text}");
}

fn trusting(cert: CertificateDer<'static>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test]
async fn the_guarded_https_client_delivers_to_a_permitted_tls_receiver_and_refuses_others() {
    use hookwire::transport::{AddressError, AddressPolicy};
    let (address, cert, accepted) = tls_server().await;
    let url = format!("https://localhost:{}/", address.port());
    let loopback = AddressPolicy::new()
        .allow("127.0.0.0/8")
        .unwrap()
        .allow("::1/128")
        .unwrap();
    let allowed = HyperClient::guarded_https(loopback, trusting(cert.clone()));
    let response = allowed
        .send(Request::get(&url).body(Bytes::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let refused = HyperClient::guarded_https(AddressPolicy::new(), trusting(cert));
    for url in [
        url.clone(),
        format!("https://127.0.0.1:{}/", address.port()),
    ] {
        let error = refused
            .send(Request::get(&url).body(Bytes::new()).unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), TransportErrorKind::Refused, "{url}: {error}");
        assert!(
            matches!(
                error.refusal(),
                Some(AddressError::RefusedHost(_) | AddressError::Refused(_))
            ),
            "{url}: {error:?}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "no refused connection was made"
    );
}

#[tokio::test]
async fn an_https_only_guarded_client_refuses_plain_http_where_it_connects() {
    use hookwire::transport::{AddressError, AddressPolicy};
    let (_, cert, _) = tls_server().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = listener.local_addr().unwrap();
    let policy = AddressPolicy::new()
        .allow("127.0.0.0/8")
        .unwrap()
        .https_only();
    let client = HyperClient::guarded_https(policy, trusting(cert));
    for url in [
        format!("http://{plain}/"),
        format!("http://localhost:{}/", plain.port()),
    ] {
        let error = client
            .send(Request::get(&url).body(Bytes::new()).unwrap())
            .await
            .unwrap_err();
        assert_eq!(
            error.refusal(),
            Some(&AddressError::NotHttps),
            "{url}: {error}"
        );
    }
    // Nothing reached the plain listener.
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(50), listener.accept()).await;
    assert!(accepted.is_err(), "a plain-http connection was made");
}

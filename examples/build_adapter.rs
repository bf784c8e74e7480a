//! A complete transport adapter in one file: an `HttpClient` over a plain tokio `TcpStream`,
//! speaking HTTP/1.1 through hyper's low-level `conn` API, and the checks that show it works.
//!
//! Run with `cargo run --example build_adapter --features hyper`.

use std::convert::Infallible;

use hookwire::api::{Client, Endpoint};
use hookwire::bytes::Bytes;
use hookwire::http::header::HOST;
use hookwire::http::{HeaderValue, Request, Response, Uri};
use hookwire::transport::{HttpClient, TransportError, TransportErrorKind};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// One TCP connection per request; bodies read up to `max_body` bytes.
struct Http1OverTcp {
    max_body: usize,
}

#[hookwire::async_trait]
impl HttpClient for Http1OverTcp {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        // 1. Where to connect, from the absolute URI the core always gives.
        let authority =
            request.uri().authority().cloned().ok_or_else(|| {
                TransportError::new(TransportErrorKind::Other, "the URI has no host")
            })?;
        let port = authority.port_u16().unwrap_or(80);
        let stream = TcpStream::connect((authority.host(), port))
            .await
            .map_err(TransportError::connect)?;

        // 2. The HTTP/1.1 handshake; the connection task drives the socket.
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(TransportError::connect)?;
        tokio::spawn(connection);

        // 3. Origin-form target and a Host header, as HTTP/1.1 servers expect.
        let (mut parts, body) = request.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = Uri::try_from(target).map_err(|e| {
            TransportError::new(TransportErrorKind::Other, "invalid path").caused_by(e)
        })?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| {
            TransportError::new(TransportErrorKind::Other, "invalid host").caused_by(e)
        })?;
        parts.headers.insert(HOST, host);

        // 4. Send, then read the body up to the limit; map each failure to its kind.
        let response = sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(|e| {
                TransportError::new(TransportErrorKind::Other, "the exchange failed").caused_by(e)
            })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    TransportError::too_large(self.max_body)
                } else {
                    TransportError::body(e)
                }
            })?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    }
}

struct Ping;

impl Endpoint for Ping {
    type Response = serde_json::Value;
    fn path(&self) -> String {
        "ping".into()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A server to talk to, on loopback.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: Request<hyper::body::Incoming>| async move {
                        let body = match request.uri().path() {
                            "/v1/ping" => Bytes::from_static(br#"{"pong":true}"#),
                            _ => Bytes::from(vec![b'x'; 4096]),
                        };
                        let mut response = Response::new(Full::new(body));
                        response
                            .headers_mut()
                            .insert("content-type", HeaderValue::from_static("application/json"));
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    // The adapter in use, through the typed client.
    let client = Client::new(
        Http1OverTcp { max_body: 1024 },
        &format!("http://{address}/v1"),
    )?;
    let pong = client.send(&Ping).await?;
    assert_eq!(pong["pong"], true);

    // The checks an adapter should pass: the limit, and a refused connection.
    let big = Request::get(format!("http://{address}/big")).body(Bytes::new())?;
    let too_large = Http1OverTcp { max_body: 1024 }.send(big).await.unwrap_err();
    assert_eq!(
        too_large.kind(),
        TransportErrorKind::TooLarge { limit: 1024 }
    );
    let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
    let refused = Request::get(format!("http://{closed}/")).body(Bytes::new())?;
    assert!(
        Http1OverTcp { max_body: 1024 }
            .send(refused)
            .await
            .unwrap_err()
            .is_connect()
    );

    println!("custom adapter: typed call ok, limit enforced, refused connection mapped");
    Ok(())
}

//! A local HTTP server, and `hookwire listen`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hookwire::adapters::hyper::HyperClient;
use hookwire::http::{Request, Response, StatusCode};
use hookwire::transport::{BodyLimit, HttpClient};
use hookwire::webhook::{Inbound, Verify, diagnose};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::Failure;
use crate::schemes::{self, SchemeName};

/// A request as a server read it: its parts and its whole body (up to the webhook limit).
pub struct Received {
    pub parts: hookwire::http::request::Parts,
    pub body: Bytes,
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves `handle` until Ctrl-C or SIGTERM;
/// prints `listening on <address>` first, so that scripts and tests can find the port.
pub async fn serve<F, Fut>(port: u16, handle: F) -> Result<(), Failure>
where
    F: Fn(Received) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Bytes>> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| {
            Failure(format!(
                "cannot listen on 127.0.0.1:{port}: {error}; pick another --port"
            ))
        })?;
    let address: SocketAddr = listener.local_addr()?;
    eprintln!("listening on http://{address}");
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let handle = handle.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let answer = match Limited::new(body, BodyLimit::WEBHOOK.bytes())
                        .collect()
                        .await
                    {
                        Ok(body) => {
                            handle(Received {
                                parts,
                                body: body.to_bytes(),
                            })
                            .await
                        }
                        Err(_) => status(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "the body is too large or broke off\n",
                        ),
                    };
                    Ok::<_, Infallible>(answer.map(Full::new))
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// A response with `status` and a text body.
pub fn status(status: StatusCode, text: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::copy_from_slice(text.as_bytes()));
    *response.status_mut() = status;
    response
}

/// The time of day, for log lines.
pub fn clock() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "{:02}:{:02}:{:02}",
        now / 3600 % 24,
        now / 60 % 60,
        now % 60
    )
}

/// The event type a body names, where it is JSON with a `type` member.
pub fn event_type(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("type")?.as_str().map(str::to_owned)
}

/// `hookwire listen`.
pub async fn listen(
    port: u16,
    schemes: &[SchemeName],
    secrets: &[String],
    forward_to: Option<String>,
    json: bool,
) -> Result<bool, Failure> {
    let verifier: Arc<dyn Verify> = Arc::from(schemes::verifier(schemes, secrets)?);
    let forward = forward_to.map(|url| (url, HyperClient::new()));
    let forward = Arc::new(forward);
    serve(port, move |received: Received| {
        let (verifier, forward) = (verifier.clone(), forward.clone());
        async move {
            let inbound = Inbound::from_parts(&received.parts, &received.body);
            let ty = event_type(&received.body);
            match verifier.verify_at(inbound, SystemTime::now()) {
                Err(error) => {
                    let diagnosis = diagnose(&*verifier, inbound, error);
                    report(
                        json,
                        None,
                        ty.as_deref(),
                        "rejected",
                        &diagnosis.to_string(),
                        None,
                    );
                    status(
                        StatusCode::UNAUTHORIZED,
                        &format!("rejected: {diagnosis}\n"),
                    )
                }
                Ok(verified) => {
                    let id = verified.id().map(str::to_owned);
                    let Some((url, client)) = &*forward else {
                        report(
                            json,
                            id.as_deref(),
                            ty.as_deref(),
                            "verified",
                            verified.scheme(),
                            None,
                        );
                        return status(StatusCode::NO_CONTENT, "");
                    };
                    let mut request = Request::new(received.body.clone());
                    *request.method_mut() = received.parts.method.clone();
                    *request.headers_mut() = received.parts.headers.clone();
                    request.headers_mut().remove(hookwire::http::header::HOST);
                    *request.uri_mut() = match url.parse() {
                        Ok(uri) => uri,
                        Err(_) => {
                            return status(
                                StatusCode::BAD_GATEWAY,
                                "the --forward-to URL does not parse\n",
                            );
                        }
                    };
                    match client.send(request).await {
                        Ok(answer) => {
                            report(
                                json,
                                id.as_deref(),
                                ty.as_deref(),
                                "verified",
                                verified.scheme(),
                                Some(answer.status()),
                            );
                            answer
                        }
                        Err(error) => {
                            let text = format!("the application at {url} did not answer: {error}");
                            report(json, id.as_deref(), ty.as_deref(), "verified", &text, None);
                            status(StatusCode::BAD_GATEWAY, &format!("{text}\n"))
                        }
                    }
                }
            }
        }
    })
    .await?;
    Ok(true)
}

/// One line per request.
fn report(
    json: bool,
    id: Option<&str>,
    ty: Option<&str>,
    verdict: &str,
    detail: &str,
    forwarded: Option<StatusCode>,
) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "time": clock(),
                "id": id,
                "type": ty,
                "verdict": verdict,
                "detail": detail,
                "forwarded": forwarded.map(|status| status.as_u16()),
            })
        );
    } else {
        let forwarded = forwarded.map_or(String::new(), |status| format!(" -> {status}"));
        println!(
            "{} {} {} {verdict} ({detail}){forwarded}",
            clock(),
            id.unwrap_or("-"),
            ty.unwrap_or("-")
        );
    }
}

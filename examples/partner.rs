//! A partner of a treasury bank consumes the bank's events by push, with pull as a backstop.
//!
//! The bank (in this process, on loopback) emits 24 events: it sends each as a signed webhook
//! (CloudEvents, signed with Standard Webhooks), but a quarter of them are lost on the way, and
//! it serves every event on its events API. The partner verifies each webhook and stores it in
//! a durable inbox (SQLite) before answering; a poller reads the events API into the same
//! inbox; a processor handles each event once, whichever way it came, and the partner prints
//! what came by which path.
//!
//! Run with `cargo run --example partner --features hyper,sqlite`.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::api::{Client, Endpoint};
use hookwire::bytes::Bytes;
use hookwire::clock::TokioClock;
use hookwire::consume::{Envelope, Feed, FeedPage, HandlerError, Inbox, Poller, Processor, Router};
use hookwire::deliver::{Destination, Dispatcher, Outbox, Payload, SqliteOutbox, State};
use hookwire::event::{Event, RawEvent};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::transport::{AddressPolicy, BodyLimit};
use hookwire::webhook::{Secret, StandardWebhooks};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::net::TcpListener;

const EVENTS: usize = 24;
const BANK: &str = "https://bank.example";

/// Serves `service` on a loopback port.
async fn serve<F, Fut>(service: F) -> std::io::Result<std::net::SocketAddr>
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = service(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

/// The bank's events API: `GET /v1/events?after=N` lists the events after the N-th.
#[derive(Serialize)]
struct ListEvents {
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

#[derive(Deserialize)]
struct EventsPage {
    events: Vec<Box<RawValue>>,
    next: String,
}

impl Endpoint for ListEvents {
    type Response = EventsPage;
    fn path(&self) -> String {
        "events".into()
    }
    fn query(&self) -> impl Serialize {
        self
    }
}

/// How the partner reads the bank's feed; it notes which events it saw there.
struct BankFeed {
    pulled: Arc<Mutex<BTreeSet<String>>>,
}

impl Feed for BankFeed {
    type Request = ListEvents;
    fn request(&self, cursor: Option<&str>) -> ListEvents {
        ListEvents {
            after: cursor.map(str::to_owned),
        }
    }
    fn read(&self, page: EventsPage) -> Result<FeedPage, HandlerError> {
        let events = page
            .events
            .iter()
            .map(|raw| RawEvent::from_json(raw.get().as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pulled = self.pulled.lock().expect("lock");
        pulled.extend(events.iter().map(|e| e.id().to_owned()));
        Ok(FeedPage::new(events, Some(page.next), false))
    }
}

#[derive(Deserialize)]
struct Transfer {
    amount: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = Secret::generate();

    // The partner's durable inbox, in an SQLite file of its own.
    let dir = std::env::temp_dir().join(format!("hookwire-partner-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteOutbox::open(dir.join("inbox.db")).await?);
    let inbox = Inbox::new(store.clone());

    // Push: the partner's webhook receiver verifies, stores, and answers 204.
    let pushed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let verifier = Arc::new(StandardWebhooks::new(&secret)?);
    let receiver = {
        let (inbox, pushed) = (inbox.clone(), pushed.clone());
        serve(move |request| {
            let (verifier, inbox, pushed) = (verifier.clone(), inbox.clone(), pushed.clone());
            async move {
                handle(
                    &*verifier,
                    BodyLimit::WEBHOOK.bytes(),
                    request,
                    |webhook| async move {
                        let status =
                            match Envelope::CloudEvents.read(BANK, &webhook.headers, &webhook.body)
                            {
                                Ok(event) => match inbox.accept(&event, SystemTime::now()).await {
                                    Ok(()) => {
                                        pushed.lock().expect("lock").insert(event.id().to_owned());
                                        StatusCode::NO_CONTENT
                                    }
                                    Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                                },
                                // Verified, but not an event: acknowledged, so the bank stops.
                                Err(_) => StatusCode::ACCEPTED,
                            };
                        let mut response = Response::new(Bytes::new());
                        *response.status_mut() = status;
                        response
                    },
                )
                .await
            }
        })
        .await?
    };

    // The bank: its events, its events API, and its webhooks to the partner.
    let emitted: Arc<Mutex<Vec<String>>> = Arc::default();
    let bank_api = {
        let emitted = emitted.clone();
        serve(move |request| {
            let emitted = emitted.clone();
            async move {
                let after: usize = request
                    .uri()
                    .query()
                    .and_then(|q| q.strip_prefix("after="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let emitted = emitted.lock().expect("lock");
                let page = &emitted[after.min(emitted.len())..];
                let body = format!(
                    r#"{{"events":[{}],"next":"{}"}}"#,
                    page.join(","),
                    emitted.len()
                );
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response
                    .headers_mut()
                    .insert("content-type", "application/json".parse().expect("valid"));
                response
            }
        })
        .await?
    };
    let policy = AddressPolicy::new().allow("127.0.0.0/8")?;
    let dispatcher = Dispatcher::new(HyperClient::guarded(policy), TokioClock)?;
    let destination = Destination::new(&format!("http://{receiver}/webhooks"), &secret)?;

    // Pull: the partner polls the bank's events API into the same inbox.
    let pulled: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let api = Arc::new(Client::new(
        HyperClient::new(),
        &format!("http://{bank_api}/v1/"),
    )?);
    let feed = BankFeed {
        pulled: pulled.clone(),
    };
    let poller = Poller::new("bank", api, feed, inbox.clone(), TokioClock)
        .interval(Duration::from_millis(200), Duration::from_secs(1));
    let (stop_polling, stopped) = tokio::sync::oneshot::channel::<()>();
    let polling = tokio::spawn(poller.run(async move {
        let _ = stopped.await;
    }));

    // The partner's handlers: each event once.
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = handled.clone();
    let router = Router::new().on("transfer.settled", move |event: Event<Transfer>| {
        let seen = seen.clone();
        async move {
            let amount = event.json().map_or("?", |t| t.amount.as_str()).to_owned();
            seen.lock()
                .expect("lock")
                .push(format!("{} ({amount})", event.id()));
            Ok::<(), std::io::Error>(())
        }
    });
    let processor = Processor::new(inbox, router, TokioClock);
    let (stop_processing, stopped) = tokio::sync::oneshot::channel::<()>();
    let processing = tokio::spawn(processor.run(async move {
        let _ = stopped.await;
    }));

    // The bank emits; a quarter of its webhooks are lost on the way.
    for n in 0..EVENTS {
        let event = Event::builder()
            .source(BANK)
            .ty("transfer.settled")
            .data(serde_json::json!({"transfer_id": format!("tr_{n}"), "amount": format!("{}.00", 100 + n)}))
            .build()?;
        emitted
            .lock()
            .expect("lock")
            .push(String::from_utf8(event.to_json()?)?);
        if n % 4 == 3 {
            continue;
        }
        let mut payload = Payload::json(event.id(), event.ty(), event.to_json()?);
        payload.content_type = "application/cloudevents+json".parse()?;
        dispatcher.deliver(&destination, &payload).await;
    }

    while store.count(Some(State::Delivered)).await? < EVENTS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_polling.send(());
    let _ = stop_processing.send(());
    polling.await?;
    processing.await??;

    let (pushed, pulled) = (pushed.lock().expect("lock"), pulled.lock().expect("lock"));
    let handled = handled.lock().expect("lock");
    println!("the partner handled {} events, each once:", handled.len());
    for line in handled.iter() {
        let id = line.split(' ').next().unwrap_or_default();
        let path = match (pushed.contains(id), pulled.contains(id)) {
            (true, true) => "pushed, and pulled again (stored once)",
            (true, false) => "pushed",
            (false, true) => "pulled: its webhook was lost",
            (false, false) => "?",
        };
        println!("  {line:<48} {path}");
    }
    let only_pulled = handled
        .iter()
        .filter(|line| !pushed.contains(line.split(' ').next().unwrap_or_default()))
        .count();
    println!(
        "{} by push, {only_pulled} caught up by pull; {} handled in all",
        pushed.len(),
        handled.len()
    );
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

//! Push meets pull, end to end on loopback: a treasury bank emits 5 000 events, serving them
//! on its events API and sending each as a signed webhook, but 30 % of the webhooks are lost
//! and 10 % arrive twice. The consumer (receiver, poller and processor on one SQLite inbox) is
//! stopped mid-run and started again on the same file. Every event is handled exactly once,
//! and the last is handled within a bound of its emission.
#![cfg(all(feature = "hyper", feature = "sqlite"))]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::api::{Client, Endpoint};
use hookwire::clock::TokioClock;
use hookwire::consume::{Envelope, Feed, FeedPage, HandlerError, Inbox, Poller, Processor, Router};
use hookwire::deliver::{Destination, Dispatcher, Outbox, Payload, SqliteOutbox, State};
use hookwire::event::{Event, RawEvent};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::{AddressPolicy, BodyLimit};
use hookwire::webhook::{Secret, StandardWebhooks};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::net::TcpListener;

const EVENTS: usize = 5_000;
const BANK: &str = "https://bank.example";

/// Serves `service` on loopback until the returned sender is dropped or fired.
async fn serve<F, Fut>(service: F) -> (SocketAddr, tokio::sync::oneshot::Sender<()>)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { return };
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
    (address, stop)
}

#[derive(Serialize)]
struct ListEvents {
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

#[derive(Deserialize)]
struct EventsPage {
    events: Vec<Box<RawValue>>,
    next: String,
    more: bool,
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

struct BankFeed;

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
        Ok(FeedPage::new(events, Some(page.next), page.more))
    }
}

/// One run of the consumer: its receiver, poller and processor on the inbox at `path`.
struct Consumer {
    address: SocketAddr,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn start_consumer(
    path: &Path,
    secret: &Secret,
    bank_api: SocketAddr,
    handled: Arc<Mutex<HashMap<String, (usize, Instant)>>>,
) -> Consumer {
    let store = Arc::new(SqliteOutbox::open(path).await.unwrap());
    let inbox = Inbox::new(store);
    let verifier = Arc::new(StandardWebhooks::new(secret).unwrap());
    let receiving = inbox.clone();
    let (address, stop_receiving) = serve(move |request| {
        let (verifier, inbox) = (verifier.clone(), receiving.clone());
        async move {
            handle(
                &*verifier,
                BodyLimit::WEBHOOK.bytes(),
                request,
                |webhook| async move {
                    let status =
                        match Envelope::CloudEvents.read(BANK, &webhook.headers, &webhook.body) {
                            Ok(event) => match inbox.accept(&event, SystemTime::now()).await {
                                Ok(()) => StatusCode::NO_CONTENT,
                                Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                            },
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
    .await;

    let api = Arc::new(Client::new(HyperClient::new(), &format!("http://{bank_api}/v1/")).unwrap());
    let poller = Poller::new("bank", api, BankFeed, inbox.clone(), TokioClock)
        .interval(Duration::from_millis(100), Duration::from_millis(400));
    let (stop_polling, stopped) = tokio::sync::oneshot::channel::<()>();
    let polling = tokio::spawn(poller.run(async move {
        let _ = stopped.await;
    }));

    let router = Router::new().on("transfer.settled", move |event: Event| {
        let handled = handled.clone();
        async move {
            let mut handled = handled.lock().unwrap();
            let entry = handled
                .entry(event.id().to_owned())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
            Ok::<(), std::io::Error>(())
        }
    });
    let processor = Processor::new(inbox, router, TokioClock).concurrency(32);
    let (stop_processing, stopped) = tokio::sync::oneshot::channel::<()>();
    let processing = tokio::spawn(async move {
        processor
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Consumer {
        address,
        stops: vec![stop_receiving, stop_polling, stop_processing],
        tasks: vec![polling, processing],
    }
}

impl Consumer {
    /// Stops it as a deploy would: no new requests, then the work in flight finishes.
    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_events_lost_repeated_and_a_restart_each_handled_once_whichever_way_it_came()
{
    let secret = Secret::generate();
    // The bank's events API.
    let emitted: Arc<Mutex<Vec<String>>> = Arc::default();
    let api_events = emitted.clone();
    let (bank_api, _stop_api) = serve(move |request| {
        let emitted = api_events.clone();
        async move {
            let after: usize = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("after="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let emitted = emitted.lock().unwrap();
            let end = emitted.len().min(after + 500);
            let body = format!(
                r#"{{"events":[{}],"next":"{end}","more":{}}}"#,
                emitted[after.min(end)..end].join(","),
                end < emitted.len()
            );
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
        }
    })
    .await;

    let dir = std::env::temp_dir().join(format!(
        "hookwire-push-pull-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    let handled: Arc<Mutex<HashMap<String, (usize, Instant)>>> = Arc::default();
    let mut consumer = Some(start_consumer(&path, &secret, bank_api, handled.clone()).await);
    let receiver = Arc::new(Mutex::new(consumer.as_ref().unwrap().address));

    // The bank's webhooks: one attempt each (a lost one is for the poller to catch up).
    let policy = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    let dispatcher = Arc::new(
        Dispatcher::new(HyperClient::guarded(policy), TokioClock)
            .unwrap()
            .retry(RetryPolicy::for_deliveries().backoff(Backoff::list(vec![Duration::ZERO]))),
    );
    let (mut lost, mut repeated, mut restarted_at) = (0, 0, None);
    for n in 0..EVENTS {
        let event = Event::builder()
            .source(BANK)
            .ty("transfer.settled")
            .data(serde_json::json!({ "n": n }))
            .build()
            .unwrap();
        let json = event.to_json().unwrap();
        emitted
            .lock()
            .unwrap()
            .push(String::from_utf8(json.clone()).unwrap());
        // A fixed pseudo-random pick: 30 % lost, 10 % sent twice.
        let roll = (n as u64).wrapping_mul(2_654_435_761) % 100;
        let copies = match roll {
            0..=29 => {
                lost += 1;
                0
            }
            30..=39 => {
                repeated += 1;
                2
            }
            _ => 1,
        };
        let address = *receiver.lock().unwrap();
        let destination = Destination::new(&format!("http://{address}/hooks"), &secret).unwrap();
        let mut payload = Payload::json(event.id(), event.ty(), json);
        payload.content_type = "application/cloudevents+json".parse().unwrap();
        for _ in 0..copies {
            let dispatcher = dispatcher.clone();
            let (destination, payload) = (destination.clone(), payload.clone());
            tokio::spawn(async move { dispatcher.deliver(&destination, &payload).await });
        }
        if n == EVENTS * 2 / 5 {
            // A deploy, once the consumer is under way: it stops (webhooks in flight meanwhile
            // are refused, and lost) and starts again on the same inbox file, at a new address.
            let under_way = Instant::now() + Duration::from_secs(60);
            while handled.lock().unwrap().len() < 100 {
                assert!(Instant::now() < under_way, "the consumer handled nothing");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            consumer.take().unwrap().stop().await;
            restarted_at = Some(handled.lock().unwrap().len());
            let next = start_consumer(&path, &secret, bank_api, handled.clone()).await;
            *receiver.lock().unwrap() = next.address;
            consumer = Some(next);
        }
        if n % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let last_emitted = Instant::now();

    let deadline = last_emitted + Duration::from_secs(60);
    while handled.lock().unwrap().len() < EVENTS {
        assert!(
            Instant::now() < deadline,
            "{} of {EVENTS} handled",
            handled.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught_up = last_emitted.elapsed();
    consumer.take().unwrap().stop().await;

    let store = SqliteOutbox::open(&path).await.unwrap();
    assert_eq!(
        store.count(None).await.unwrap(),
        EVENTS,
        "each event stored once"
    );
    assert_eq!(store.count(Some(State::Delivered)).await.unwrap(), EVENTS);
    let handled = handled.lock().unwrap();
    assert_eq!(handled.len(), EVENTS, "every event handled");
    assert!(
        handled.values().all(|(n, _)| *n == 1),
        "each exactly once, across the restart"
    );
    let restarted_at = restarted_at.unwrap();
    assert!(
        (100..EVENTS).contains(&restarted_at),
        "the restart came mid-run ({restarted_at} handled)"
    );
    assert!((1400..=1600).contains(&lost) && (400..=600).contains(&repeated));
    // Bound by the inbox's SQLite commits (each accept and each settle is one, synchronous
    // = FULL): about 7 s here in a debug build; the poller itself waits at most 400 ms.
    assert!(
        caught_up < Duration::from_secs(30),
        "the last event was handled {caught_up:?} after it was emitted"
    );
    eprintln!(
        "{lost} webhooks lost, {repeated} sent twice, {restarted_at} handled before the restart; caught up {caught_up:?} after the last emission"
    );
    let _ = std::fs::remove_dir_all(dir);
}

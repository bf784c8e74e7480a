//! Running a worker or an inbox's processor for as long as a test needs it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hookwire::clock::TokioClock;
use hookwire::consume::{Inbox, Processor, Router};
use hookwire::deliver::{MemoryOutbox, Outbox, OutboxError, State};
use hookwire::event::{Event, RawEvent};
use hookwire::retry::Backoff;

/// What stops a worker or processor: the future its `run` takes.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `run` (a `Worker::run` or `Processor::run`) until `store` holds `delivered` delivered
/// (or handled) jobs, which must happen `within`; then stops it and waits for it to end.
pub async fn until_delivered<O, R, Fut>(store: &O, delivered: usize, within: Duration, run: R)
where
    O: Outbox + ?Sized,
    R: FnOnce(Shutdown) -> Fut,
    Fut: Future<Output = Result<(), OutboxError>> + Send + 'static,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(run(Box::pin(async move {
        let _ = stopped.await;
    })));
    let deadline = tokio::time::Instant::now() + within;
    while store.count(Some(State::Delivered)).await.unwrap() < delivered {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{delivered} not delivered within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// An inbox in memory holding one `transfer.settled` event (id `evt_1`, with `data`) whose
/// handler fails once with `error`, then succeeds; processed until handled.
pub async fn an_event_that_fails_once(data: serde_json::Value, error: &'static str) {
    let store = Arc::new(MemoryOutbox::new());
    let inbox = Inbox::new(store.clone());
    let event = Event::builder()
        .id("evt_1")
        .source("https://bank.example")
        .ty("transfer.settled")
        .data(data)
        .build()
        .unwrap();
    inbox
        .accept(
            &RawEvent::from_json(&event.to_json().unwrap()).unwrap(),
            SystemTime::now(),
        )
        .await
        .unwrap();
    let failed = Arc::new(Mutex::new(false));
    let router = Router::new().on("transfer.settled", move |_: RawEvent| {
        let failed = failed.clone();
        async move {
            let first = !std::mem::replace(&mut *failed.lock().unwrap(), true);
            if first {
                Err(std::io::Error::other(error))
            } else {
                Ok(())
            }
        }
    });
    let processor = Processor::new(inbox, router, TokioClock).backoff(Backoff::list(vec![
        Duration::ZERO,
        Duration::from_millis(5),
    ]));
    until_delivered(&*store, 1, Duration::from_secs(30), |stop| {
        processor.run(stop)
    })
    .await;
}

//! What hookwire records through the `metrics` facade, read back with the metrics crate's
//! debugging recorder while the adapter, delivery, worker, inbox and API paths run for real on
//! loopback: each metric the `observe` module lists, with its labels and exact counts.
#![cfg(all(feature = "metrics", feature = "hyper", feature = "tokio"))]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::loopback::serve;
use hookwire::adapters::hyper::{HyperClient, handle};
use hookwire::api::{Client, Endpoint};
use hookwire::clock::TokioClock;
use hookwire::deliver::{Destination, Dispatcher, Job, MemoryOutbox, Outbox, Payload, Worker};
use hookwire::http::{Response, StatusCode};
use hookwire::observe::names;
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Secret, StandardWebhooks};
use http_body_util::Full;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

struct Account;

impl Endpoint for Account {
    type Response = serde_json::Value;
    fn path(&self) -> String {
        "accounts/acct_1".into()
    }
}

/// Each metric by name and sorted labels, as `name{k=v,…}`.
fn snapshot(snapshotter: &metrics_util::debugging::Snapshotter) -> HashMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_records_its_metrics_with_their_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let secret = Secret::generate();
    let verifier = Arc::new(StandardWebhooks::new(&secret).unwrap());
    // A receiver that fails the first request it verifies with 500, then answers 204.
    let answered = Arc::new(Mutex::new(0));
    let (receiver, _stop) = serve(move |request| {
        let (verifier, answered) = (verifier.clone(), answered.clone());
        async move {
            handle(&*verifier, 1 << 20, request, |_| async move {
                let mut answered = answered.lock().unwrap();
                *answered += 1;
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = if *answered == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                };
                response
            })
            .await
        }
    })
    .await;
    let policy = AddressPolicy::new().allow("127.0.0.0/8").unwrap();
    let dispatcher = Arc::new(
        Dispatcher::new(HyperClient::guarded(policy), TokioClock)
            .unwrap()
            .retry(RetryPolicy::for_deliveries().backoff(Backoff::list(vec![
                Duration::ZERO,
                Duration::from_millis(5),
            ]))),
    );
    let url = format!("http://{receiver}/hooks");
    let good = Destination::new(&url, &secret).unwrap();
    // 500, then 204: two verifications, two attempts, one delivery.
    dispatcher
        .deliver(&good, &Payload::json("msg_1", "t", "{}"))
        .await;
    // Signed with another secret: refused (401) twice; the schedule runs out.
    let bad = Destination::new(&url, &Secret::generate()).unwrap();
    dispatcher
        .deliver(&bad, &Payload::json("msg_2", "t", "{}"))
        .await;

    // A worker that finds three jobs waiting, one due since a minute ago.
    let outbox = Arc::new(MemoryOutbox::new());
    let now = SystemTime::now();
    for (n, due) in [(1, now - Duration::from_secs(60)), (2, now), (3, now)] {
        outbox
            .enqueue(
                Job::new("customer-7", Payload::json(format!("msg_q{n}"), "t", "{}")),
                due,
            )
            .await
            .unwrap();
    }
    let worker = Worker::new(outbox.clone(), dispatcher.clone(), move |_: &str| {
        Some(good.clone())
    });
    common::running::until_delivered(&*outbox, 3, Duration::from_secs(30), |stop| {
        worker.run(stop)
    })
    .await;

    // An inbox event whose handler fails once.
    common::running::an_event_that_fails_once(serde_json::json!({}), "busy").await;

    // Two API calls: one answered 200, one 404.
    let (api, _stop_api) = serve(|request| async move {
        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
        if request.uri().path().ends_with("missing") {
            *response.status_mut() = StatusCode::NOT_FOUND;
        }
        response
    })
    .await;
    let client = Client::new(HyperClient::new(), &format!("http://{api}/v1/")).unwrap();
    client.send(&Account).await.unwrap();
    struct Missing;
    impl Endpoint for Missing {
        type Response = serde_json::Value;
        fn path(&self) -> String {
            "missing".into()
        }
    }
    client.send(&Missing).await.unwrap_err();

    let metrics = snapshot(&snapshotter);
    let counter = |key: &str| match metrics.get(key) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{key}: {other:?} in {:#?}", metrics.keys()),
    };
    let verified = format!(
        "{}{{outcome=verified,reason=none,scheme=standard-webhooks}}",
        names::VERIFICATIONS
    );
    let rejected = format!(
        "{}{{outcome=rejected,reason=no_matching_signature,scheme=standard-webhooks}}",
        names::VERIFICATIONS
    );
    assert_eq!(counter(&verified), 5, "msg_1 twice, the three queued");
    assert_eq!(counter(&rejected), 2);
    assert_eq!(
        counter(&format!(
            "{}{{reason=no_matching_signature}}",
            names::REJECTIONS
        )),
        2
    );
    assert_eq!(
        counter(&format!("{}{{status_class=2xx}}", names::ATTEMPTS)),
        4
    );
    assert_eq!(
        counter(&format!("{}{{status_class=5xx}}", names::ATTEMPTS)),
        1
    );
    assert_eq!(
        counter(&format!("{}{{status_class=4xx}}", names::ATTEMPTS)),
        2
    );
    assert_eq!(
        counter(&format!("{}{{outcome=delivered}}", names::DELIVERIES)),
        4
    );
    assert_eq!(
        counter(&format!("{}{{outcome=exhausted}}", names::DELIVERIES)),
        1
    );
    assert_eq!(
        counter(&format!("{}{{outcome=retry}}", names::INBOX_EVENTS)),
        1
    );
    assert_eq!(
        counter(&format!("{}{{outcome=handled}}", names::INBOX_EVENTS)),
        1
    );
    assert_eq!(
        counter(&format!("{}{{status_class=2xx}}", names::API_REQUESTS)),
        1
    );
    assert_eq!(
        counter(&format!("{}{{status_class=4xx}}", names::API_REQUESTS)),
        1
    );
    match &metrics[&format!("{}{{}}", names::ATTEMPT_DURATION)] {
        DebugValue::Histogram(values) => {
            assert_eq!(values.len(), 7, "one per attempt");
            assert!(
                values.iter().all(|v| v.0 >= 0.0 && v.0 < 10.0),
                "{values:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    match &metrics[&format!("{}{{}}", names::DELIVERY_LAG)] {
        DebugValue::Histogram(values) => {
            assert_eq!(values.len(), 4, "one per delivery");
            // msg_q1 was due a minute before the worker started.
            assert!(values.iter().any(|v| v.0 >= 60.0), "{values:?}");
        }
        other => panic!("{other:?}"),
    }
    // The gauges, as the worker counted them when it started: three pending, the oldest
    // due a minute ago; and the inbox's, as its processor counted it.
    match &metrics[&format!("{}{{queue=outbox}}", names::PENDING)] {
        DebugValue::Gauge(pending) => assert_eq!(pending.0, 3.0),
        other => panic!("{other:?}"),
    }
    match &metrics[&format!("{}{{queue=outbox}}", names::OLDEST_PENDING_AGE)] {
        DebugValue::Gauge(age) => assert!((60.0..70.0).contains(&age.0), "{age:?}"),
        other => panic!("{other:?}"),
    }
    match &metrics[&format!("{}{{queue=inbox}}", names::PENDING)] {
        DebugValue::Gauge(pending) => assert_eq!(pending.0, 1.0),
        other => panic!("{other:?}"),
    }
}

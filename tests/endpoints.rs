//! Sending as a service, over real loopback connections: 50 subscribed endpoints, 2 000
//! published events, and the endpoints that fail (500), hang, answer 410 and ask for a pause
//! (429 with `Retry-After`) beside healthy ones; secret rotation as receivers see it; and,
//! on a fake clock, an endpoint that fails for five days is disabled and its owner told.
#![cfg(all(feature = "hyper", feature = "test-util"))]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use common::loopback::serve_for_the_test;
use hookwire::adapters::hyper::HyperClient;
use hookwire::clock::TokioClock;
use hookwire::deliver::{
    DisabledReason, Dispatcher, EndpointDisabled, ListQuery, MemoryOutbox, Outbox, Payload, State,
    Status, Subscription, Subscriptions, Worker,
};
use hookwire::http::{Response, StatusCode};
use hookwire::retry::{Backoff, RetryPolicy};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Inbound, Secret, StandardWebhooks, Verify};
use http_body_util::{BodyExt, Full};

fn loopback() -> AddressPolicy {
    AddressPolicy::new().allow("127.0.0.0/8").unwrap()
}

const TYPES: [&str; 4] = [
    "transfer.created",
    "transfer.settled",
    "account.opened",
    "account.closed",
];

/// What endpoint `i` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Fails,
    Hangs,
    Gone,
    Throttles,
    Healthy,
}

fn behaviour(i: usize) -> Behaviour {
    match i {
        0..=2 => Behaviour::Fails,
        3..=4 => Behaviour::Hangs,
        5 => Behaviour::Gone,
        6 => Behaviour::Throttles,
        _ => Behaviour::Healthy,
    }
}

/// The event types endpoint `i` subscribes to, written out (not computed by the library).
fn subscribed_types(i: usize) -> &'static [&'static str] {
    match i % 3 {
        0 => &["transfer.created", "transfer.settled"],
        1 => &["account.closed", "transfer.settled"],
        _ => &TYPES,
    }
}

fn patterns(i: usize) -> Vec<&'static str> {
    match i % 3 {
        0 => vec!["transfer.*"],
        1 => vec!["account.closed", "transfer.settled"],
        _ => vec![],
    }
}

/// What each endpoint's server saw: every request's arrival, every verified message id with
/// its arrival (duplicates included), and when it answered 410 or 429.
#[derive(Default)]
struct Seen {
    arrivals: Vec<Instant>,
    verified: Vec<(String, Instant)>,
    refused_at: Option<Instant>,
}

fn respond(status: u16, headers: &[(&str, &str)]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(
            hookwire::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_endpoints_two_thousand_events_bad_endpoints_are_throttled_and_healthy_ones_not_held_up()
 {
    let endpoints = 50;
    let secrets: Vec<Secret> = (0..endpoints).map(|_| Secret::generate()).collect();
    let seen: Arc<Vec<Mutex<Seen>>> = Arc::new((0..endpoints).map(|_| Mutex::default()).collect());
    let verifiers: Arc<Vec<StandardWebhooks>> = Arc::new(
        secrets
            .iter()
            .map(|secret| StandardWebhooks::new(secret).unwrap())
            .collect(),
    );
    let address = {
        let (seen, verifiers) = (seen.clone(), verifiers.clone());
        serve_for_the_test(move |request: hyper::Request<hyper::body::Incoming>| {
            let (seen, verifiers) = (seen.clone(), verifiers.clone());
            async move {
                let arrived = Instant::now();
                let i: usize = request.uri().path()[2..].parse().unwrap();
                seen[i].lock().unwrap().arrivals.push(arrived);
                let (parts, body) = request.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let Ok(verified) = verifiers[i].verify(Inbound::new(&parts.headers, &body)) else {
                    return respond(401, &[]);
                };
                let id = verified.id().unwrap_or_default().to_owned();
                match behaviour(i) {
                    Behaviour::Fails => respond(500, &[]),
                    Behaviour::Hangs => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        respond(200, &[])
                    }
                    Behaviour::Gone => {
                        let mut seen = seen[i].lock().unwrap();
                        seen.refused_at.get_or_insert(Instant::now());
                        respond(410, &[])
                    }
                    Behaviour::Throttles => {
                        let mut seen = seen[i].lock().unwrap();
                        if seen.refused_at.is_none() {
                            seen.refused_at = Some(Instant::now());
                            return respond(429, &[("retry-after", "2")]);
                        }
                        seen.verified.push((id, arrived));
                        respond(200, &[])
                    }
                    Behaviour::Healthy => {
                        seen[i].lock().unwrap().verified.push((id, arrived));
                        respond(200, &[])
                    }
                }
            }
        })
        .await
    };

    let store = MemoryOutbox::new();
    for (i, secret) in secrets.iter().enumerate() {
        let subscription = Subscription::new(
            format!("e{i:02}"),
            format!("tenant{}", i % 10),
            &format!("http://{address}/e{i}"),
            secret.clone(),
        )
        .unwrap()
        .event_types(patterns(i))
        .unwrap();
        store.save(&subscription).await.unwrap();
    }
    let outbox = Arc::new(store);
    let dispatcher = Dispatcher::new(HyperClient::guarded(loopback()), TokioClock)
        .unwrap()
        .retry(
            RetryPolicy::for_deliveries()
                .backoff(Backoff::exponential(
                    Duration::from_millis(200),
                    Duration::from_secs(2),
                    30,
                ))
                .retry_after_cap(Duration::from_secs(10)),
        )
        .attempt_timeout(Duration::from_millis(500));
    let disabled: Arc<Mutex<Vec<EndpointDisabled>>> = Arc::default();
    let worker = {
        let disabled = disabled.clone();
        Worker::with_destinations(outbox.clone(), Arc::new(dispatcher), outbox.clone())
            .concurrency(16)
            .lease_for(Duration::from_secs(5))
            .circuit_breaker(5, Duration::from_secs(1))
            .on_disabled(move |event| disabled.lock().unwrap().push(event))
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    // 2 000 events over about three seconds, across ten tenants and four types.
    let mut published_at = HashMap::new();
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut queued_for: BTreeMap<usize, usize> = BTreeMap::new();
    let started = Instant::now();
    for j in 0..2000usize {
        let (tenant, ty) = (j % 10, TYPES[(j / 10) % 4]);
        let id = format!("msg_{j:04}");
        let payload = Payload::json(&id, ty, format!(r#"{{"n":{j}}}"#));
        published_at.insert(id.clone(), Instant::now());
        let published = outbox
            .publish(&format!("tenant{tenant}"), &payload, &[], SystemTime::now())
            .await
            .unwrap();
        let wanted: Vec<usize> = (0..endpoints)
            .filter(|i| i % 10 == tenant && subscribed_types(*i).contains(&ty))
            .collect();
        // The endpoint that answered 410 takes no more after it was disabled.
        let queued: Vec<usize> = published
            .endpoints
            .iter()
            .map(|e| e[1..].parse().unwrap())
            .collect();
        assert!(
            queued.iter().all(|i| wanted.contains(i)),
            "{id} ({ty}) queued for {queued:?}, wanted by {wanted:?}"
        );
        for i in &queued {
            *queued_for.entry(*i).or_default() += 1;
        }
        for i in wanted {
            if behaviour(i) != Behaviour::Gone {
                assert!(queued.contains(&i), "{id} was not queued for e{i:02}");
            }
            expected.entry(i).or_default().push(id.clone());
        }
        if j % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
    println!("published in {:?}", started.elapsed());
    // Publishing twice queues nothing.
    let again = outbox
        .publish(
            "tenant0",
            &Payload::json("msg_0000", TYPES[0], "{}"),
            &[],
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert!(again.duplicate && again.endpoints.is_empty());

    // Every message for a healthy (or paused, then healthy) endpoint arrives.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: usize = (0..endpoints)
            .filter(|i| matches!(behaviour(*i), Behaviour::Healthy | Behaviour::Throttles))
            .map(|i| {
                expected[&i]
                    .len()
                    .saturating_sub(seen[i].lock().unwrap().verified.len())
            })
            .sum();
        if missing == 0 {
            break;
        }
        if started.elapsed().as_millis() % 1000 < 50 {
            let t = seen[6].lock().unwrap().verified.len();
            println!(
                "{:?}: {missing} missing, throttled has {t}",
                started.elapsed()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{missing} healthy deliveries missing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run_time = started.elapsed();
    // Long enough for the tripped endpoints to be probed a few times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    // Healthy: exactly once each (duplicates counted), and promptly.
    let mut latencies = Vec::new();
    for i in (0..endpoints).filter(|i| behaviour(*i) == Behaviour::Healthy) {
        let seen = seen[i].lock().unwrap();
        let mut ids: Vec<&str> = seen.verified.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        let mut want: Vec<&str> = expected[&i].iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(
            ids, want,
            "e{i:02} received each of its messages exactly once"
        );
        for (id, at) in &seen.verified {
            latencies.push(at.duration_since(published_at[id]));
        }
    }
    latencies.sort_unstable();
    let (p50, p99, max) = (
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1],
    );
    println!(
        "{} healthy deliveries in {run_time:?}: latency p50 {p50:?}, p99 {p99:?}, max {max:?}",
        latencies.len()
    );
    // The hanging endpoints hold an attempt for 500 ms each; were they to take the worker's
    // slots, healthy messages would queue behind them for seconds.
    assert!(
        p99 < Duration::from_millis(1500) && max < Duration::from_millis(3000),
        "healthy deliveries were held up: p99 {p99:?}, max {max:?}"
    );

    // 410: disabled after its first 410; nothing started after that answer.
    {
        let gone = seen[5].lock().unwrap();
        let refused = gone.refused_at.expect("the 410 endpoint was called");
        assert!(
            gone.arrivals.iter().all(|at| *at <= refused),
            "a request reached the 410 endpoint after it answered 410"
        );
        assert!(gone.arrivals.len() <= 4, "{} requests", gone.arrivals.len());
    }
    let status = outbox.subscription("e05").await.unwrap().unwrap();
    assert!(
        matches!(status.status(), Status::Disabled { reason, .. } if reason.contains("410")),
        "{:?}",
        status.status()
    );
    let notified = disabled.lock().unwrap().clone();
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(
        (notified[0].endpoint.as_str(), &notified[0].reason),
        ("e05", &DisabledReason::Gone)
    );
    // The rest of its queue stopped: dead-lettered without an attempt.
    let entries = outbox.list(&ListQuery::new().limit(100_000)).await.unwrap();
    let gone_entries: Vec<_> = entries.iter().filter(|e| e.job.endpoint == "e05").collect();
    assert_eq!(gone_entries.len(), queued_for[&5]);
    assert!(
        gone_entries
            .iter()
            .all(|e| (e.state == State::Gone && !e.attempts.is_empty())
                || (e.state == State::DeadLettered && e.attempts.is_empty())),
        "every message of the 410 endpoint is gone or dead-lettered unsent"
    );

    // 429: nothing arrived between its answer and the end of its Retry-After.
    let throttled = seen[6].lock().unwrap();
    let asked = throttled.refused_at.expect("the 429 endpoint was called");
    let pause_end = asked + Duration::from_secs(2) - Duration::from_millis(10);
    let early: Vec<_> = throttled
        .arrivals
        .iter()
        .filter(|at| **at > asked && **at < pause_end)
        .collect();
    assert!(
        early.is_empty(),
        "{} requests during the pause",
        early.len()
    );
    let mut ids: Vec<&str> = throttled
        .verified
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        expected[&6].len(),
        "the paused endpoint got all, once"
    );
    assert_eq!(throttled.verified.len(), expected[&6].len());

    // Failing and hanging: tripped and probed, not flooded.
    for i in 0..5 {
        let seen = seen[i].lock().unwrap();
        let (attempts, messages) = (seen.arrivals.len(), expected[&i].len());
        println!(
            "e{i:02} ({:?}): {attempts} attempts for {messages} messages",
            behaviour(i)
        );
        assert!(messages >= 100, "{messages}");
        assert!(
            (6..=20).contains(&attempts),
            "e{i:02} got {attempts} attempts for {messages} messages: probed, not flooded"
        );
        let first_trip = seen.arrivals[4];
        assert!(
            seen.arrivals.last().unwrap().duration_since(first_trip) >= Duration::from_secs(1),
            "e{i:02} was probed after it tripped"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_receivers_with_either_secret_verify_and_after_it_only_the_new_one() {
    let (old, new) = (Secret::generate(), Secret::generate());
    let seen: Arc<Mutex<Vec<(bool, bool)>>> = Arc::default();
    let address = {
        let seen = seen.clone();
        let (with_old, with_new) = (
            Arc::new(StandardWebhooks::new(&old).unwrap()),
            Arc::new(StandardWebhooks::new(&new).unwrap()),
        );
        serve_for_the_test(move |request: hyper::Request<hyper::body::Incoming>| {
            let (seen, with_old, with_new) = (seen.clone(), with_old.clone(), with_new.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                seen.lock().unwrap().push((
                    with_old.verify(Inbound::new(&parts.headers, &body)).is_ok(),
                    with_new.verify(Inbound::new(&parts.headers, &body)).is_ok(),
                ));
                respond(200, &[])
            }
        })
        .await
    };
    let store = MemoryOutbox::new();
    let mut subscription =
        Subscription::new("e", "acme", &format!("http://{address}/"), old.clone()).unwrap();
    store.save(&subscription).await.unwrap();
    let outbox = Arc::new(store);
    let dispatcher = Dispatcher::new(HyperClient::guarded(loopback()), TokioClock).unwrap();
    let worker = Worker::with_destinations(outbox.clone(), Arc::new(dispatcher), outbox.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let deliver = |n: usize| {
        let outbox = outbox.clone();
        let seen = seen.clone();
        async move {
            outbox
                .publish(
                    "acme",
                    &Payload::json(format!("m{n}"), "t", "{}"),
                    &[],
                    SystemTime::now(),
                )
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.lock().unwrap().len() < n + 1 {
                assert!(Instant::now() < deadline, "message {n} not delivered");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen.lock().unwrap()[n]
        }
    };
    assert_eq!(
        deliver(0).await,
        (true, false),
        "before the rotation: the old secret"
    );
    // Rotated now, with a grace of a second and a half: both sign until it ends.
    let grace = Duration::from_millis(1500);
    subscription.rotate(new.clone(), SystemTime::now(), grace);
    outbox.save(&subscription).await.unwrap();
    assert_eq!(
        deliver(1).await,
        (true, true),
        "during the grace: either verifies"
    );
    tokio::time::sleep(grace).await;
    assert_eq!(
        deliver(2).await,
        (false, true),
        "after the grace: only the new one"
    );
    // The store read back what was saved: the retired key is still listed, with its end.
    let stored = outbox.subscription("e").await.unwrap().unwrap();
    assert_eq!(stored.keys().len(), 2);
    assert!(stored.keys()[0].expires_at.is_some() && stored.keys()[1].expires_at.is_none());
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_failing_for_five_days_are_disabled_and_their_owner_told_in_fake_time() {
    use hookwire::clock::Clock;
    use hookwire::testing::{FakeClock, MockClient, MockResponse};

    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = FakeClock::at(start);
    let mut mock = MockClient::with_clock(clock.clone());
    for _ in 0..5000 {
        mock = mock.push(MockResponse::status(500));
    }
    let store = Arc::new(MemoryOutbox::new());
    for i in 0..3 {
        let subscription = Subscription::new(
            format!("failing{i}"),
            "acme",
            &format!("https://hooks{i}.example/"),
            Secret::generate(),
        )
        .unwrap();
        store.save(&subscription).await.unwrap();
    }
    let disabled: Arc<Mutex<Vec<EndpointDisabled>>> = Arc::default();
    let worker = {
        let disabled = disabled.clone();
        Worker::with_destinations(
            store.clone(),
            Arc::new(Dispatcher::unguarded(mock.clone(), clock.clone())),
            store.clone(),
        )
        .poll_interval(Duration::from_secs(3600))
        .on_disabled(move |event| disabled.lock().unwrap().push(event))
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    // The application publishes an event every hour for a week: written up front, each due
    // at its hour, so that the fake clock (which an idle worker's sleeps move forward) cannot
    // outrun the publishing.
    let real = Instant::now();
    let published = 7 * 24;
    for hour in 0..published {
        let payload = Payload::json(format!("m{hour}"), "invoice.paid", "{}");
        let at = start + Duration::from_secs(hour * 3600);
        store.publish("acme", &payload, &[], at).await.unwrap();
    }
    while disabled.lock().unwrap().len() < 3 {
        assert!(
            real.elapsed() < Duration::from_secs(30),
            "not disabled in 30 s of real time: {:?}; {} attempts, fake time {:?}",
            disabled.lock().unwrap(),
            mock.requests().len(),
            clock.now().duration_since(start)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    println!(
        "disabled after {published} events in {:?} of real time, {} attempts",
        real.elapsed(),
        mock.requests().len()
    );
    let five_days = Duration::from_secs(5 * 24 * 3600);
    let notified = disabled.lock().unwrap().clone();
    for event in &notified {
        let DisabledReason::Failing { since } = event.reason else {
            panic!("{event:?}");
        };
        let failing = event.at.duration_since(since).unwrap();
        assert!(
            failing >= five_days && failing < five_days + Duration::from_secs(3600),
            "{} disabled after failing for {failing:?}",
            event.endpoint
        );
        assert!(since >= start);
        let stored = store.subscription(&event.endpoint).await.unwrap().unwrap();
        assert!(
            matches!(stored.status(), Status::Disabled { reason, .. } if reason.contains("failed since"))
        );
    }
    let mut names: Vec<_> = notified.iter().map(|e| e.endpoint.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["failing0", "failing1", "failing2"],
        "each told once"
    );
    // Probed, not flooded: far fewer attempts than the schedule of every message would make.
    let attempts = mock.requests().len();
    assert!(attempts < 3 * 5 * 24 * 12, "{attempts} attempts");
    // A disabled endpoint is skipped by publish; enabling it lets the next one through.
    let skipped = store
        .publish(
            "acme",
            &Payload::json("after", "invoice.paid", "{}"),
            &[],
            clock.now(),
        )
        .await
        .unwrap();
    assert!(skipped.endpoints.is_empty());
    assert!(store.enable("failing0").await.unwrap());
    let next = store
        .publish(
            "acme",
            &Payload::json("enabled", "invoice.paid", "{}"),
            &[],
            clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(next.endpoints, ["failing0"]);
}

/// Each endpoint's verified message ids, with when they arrived.
type Arrivals = HashMap<String, Vec<(String, Instant)>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_endpoint_receives_in_publish_order_and_a_rate_limited_one_is_spaced() {
    use std::num::NonZeroU32;
    // "ordered": answers 500 to the first attempt of m0003, so that a later message could
    // overtake it; "limited": 4 attempts a second.
    let seen: Arc<Mutex<Arrivals>> = Arc::default();
    let failed_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (secret_ordered, secret_limited) = (Secret::generate(), Secret::generate());
    let address = {
        let (seen, failed_once) = (seen.clone(), failed_once.clone());
        let verifiers = Arc::new([
            StandardWebhooks::new(&secret_ordered).unwrap(),
            StandardWebhooks::new(&secret_limited).unwrap(),
        ]);
        serve_for_the_test(move |request: hyper::Request<hyper::body::Incoming>| {
            let (seen, failed_once, verifiers) =
                (seen.clone(), failed_once.clone(), verifiers.clone());
            async move {
                let name = request.uri().path()[1..].to_owned();
                let (parts, body) = request.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let verifier = &verifiers[usize::from(name == "limited")];
                let Ok(verified) = verifier.verify(Inbound::new(&parts.headers, &body)) else {
                    return respond(401, &[]);
                };
                let id = verified.id().unwrap_or_default().to_owned();
                if id == "m0003"
                    && name == "ordered"
                    && !failed_once.swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    return respond(500, &[]);
                }
                seen.lock()
                    .unwrap()
                    .entry(name)
                    .or_default()
                    .push((id, Instant::now()));
                respond(200, &[])
            }
        })
        .await
    };
    let store = Arc::new(MemoryOutbox::new());
    store
        .save(
            &Subscription::new(
                "ordered",
                "acme",
                &format!("http://{address}/ordered"),
                secret_ordered,
            )
            .unwrap()
            .ordered(true),
        )
        .await
        .unwrap();
    store
        .save(
            &Subscription::new(
                "limited",
                "globex",
                &format!("http://{address}/limited"),
                secret_limited,
            )
            .unwrap()
            .rate_limit(NonZeroU32::new(4).unwrap()),
        )
        .await
        .unwrap();
    let dispatcher = Dispatcher::new(HyperClient::guarded(loopback()), TokioClock)
        .unwrap()
        .retry(RetryPolicy::for_deliveries().backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_millis(200),
            10,
        )));
    let worker = Worker::with_destinations(store.clone(), Arc::new(dispatcher), store.clone())
        .concurrency(16)
        .lease_for(Duration::from_secs(20));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    for n in 0..12 {
        let id = format!("m{n:04}");
        store
            .publish(
                "acme",
                &Payload::json(&id, "t", "{}"),
                &[],
                SystemTime::now(),
            )
            .await
            .unwrap();
        store
            .publish(
                "globex",
                &Payload::json(&id, "t", "{}"),
                &[],
                SystemTime::now(),
            )
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = {
            let seen = seen.lock().unwrap();
            seen.get("ordered").map_or(0, Vec::len) == 12
                && seen.get("limited").map_or(0, Vec::len) == 12
        };
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered: {:?}",
            seen.lock().unwrap().keys()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    let seen = seen.lock().unwrap();
    let order: Vec<&str> = seen["ordered"].iter().map(|(id, _)| id.as_str()).collect();
    let published: Vec<String> = (0..12).map(|n| format!("m{n:04}")).collect();
    assert_eq!(order, published, "in publish order, m0003's retry included");
    assert!(failed_once.load(std::sync::atomic::Ordering::SeqCst));
    // 12 attempts at 4 a second, the first 4 at once (a full bucket): at least 2 s.
    let limited = &seen["limited"];
    let spread = limited.last().unwrap().1.duration_since(limited[0].1);
    assert!(
        spread >= Duration::from_millis(1900),
        "12 attempts at 4/s took only {spread:?}"
    );
    // Past the burst of 4, any 8 attempts in a row span at least (8 - 4) / 4 = 1 s.
    for window in limited.windows(8) {
        let span = window[7].1.duration_since(window[0].1);
        assert!(
            span >= Duration::from_millis(950),
            "eight attempts within {span:?}"
        );
    }
}

#[tokio::test]
async fn a_worker_keeping_payloads_shorter_empties_finished_bodies_and_keeps_the_log() {
    use hookwire::deliver::{Job, ListQuery};
    use hookwire::testing::MockClient;
    let store = Arc::new(MemoryOutbox::new());
    let now = SystemTime::now();
    store
        .enqueue(
            Job::new("e", Payload::json("m", "t", r#"{"card":"4242"}"#)),
            now,
        )
        .await
        .unwrap();
    let leased = store.lease(now, 1, Duration::from_secs(30)).await.unwrap();
    store
        .finish(
            &leased[0],
            State::Delivered,
            now.checked_sub(Duration::from_secs(7200)).unwrap(),
        )
        .await
        .unwrap();
    let worker = Worker::new(
        store.clone(),
        Arc::new(Dispatcher::unguarded(MockClient::new(), TokioClock)),
        |_: &str| None,
    )
    .keep_payloads(Duration::from_secs(3600));
    worker
        .run(tokio::time::sleep(Duration::from_millis(100)))
        .await
        .unwrap();
    let entries = store.list(&ListQuery::new()).await.unwrap();
    assert_eq!(entries.len(), 1, "the job and its history stay");
    assert!(
        entries[0].job.payload.body.is_empty(),
        "its body went after an hour"
    );

    // The control: a worker that keeps payloads as long as jobs leaves the body.
    let kept = Arc::new(MemoryOutbox::new());
    kept.enqueue(Job::new("e", Payload::json("m", "t", "{}")), now)
        .await
        .unwrap();
    let leased = kept.lease(now, 1, Duration::from_secs(30)).await.unwrap();
    kept.finish(
        &leased[0],
        State::Delivered,
        now.checked_sub(Duration::from_secs(7200)).unwrap(),
    )
    .await
    .unwrap();
    Worker::new(
        kept.clone(),
        Arc::new(Dispatcher::unguarded(MockClient::new(), TokioClock)),
        |_: &str| None,
    )
    .run(tokio::time::sleep(Duration::from_millis(100)))
    .await
    .unwrap();
    let entries = kept.list(&ListQuery::new()).await.unwrap();
    assert_eq!(&entries[0].job.payload.body[..], b"{}");
}

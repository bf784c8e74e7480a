//! Delivery: the schedule, response classification, the dispatcher, the address policy, the
//! outboxes and the replay guard.
#![cfg(feature = "test-util")]

mod common;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookwire::deliver::{Destination, Dispatcher, MemoryOutbox, Outcome, Payload};
use hookwire::http::{Request, Response, StatusCode};
use hookwire::retry::{Backoff, Jitter, RetryPolicy, Verdict};
use hookwire::testing::{FakeClock, MockClient, MockResponse};
use hookwire::transport::{
    AddressError, AddressPolicy, TransportError, TransportErrorKind, is_public,
};
use hookwire::webhook::{Inbound, Secret, StandardWebhooks, Verify};

// ---------------------------------------------------------------- schedule

#[test]
fn delays_near_the_largest_duration_saturate_instead_of_panicking() {
    let schedule =
        Backoff::list(vec![Duration::MAX, Duration::MAX]).jitter(Jitter::Proportional(0.5));
    for attempt in 0..2 {
        let delay = schedule.delay(attempt).unwrap();
        assert!(delay >= Duration::MAX / 2, "{delay:?}");
    }
    let exponential =
        Backoff::exponential(Duration::MAX, Duration::MAX, 40).jitter(Jitter::Proportional(0.2));
    assert!(exponential.delay(39).is_some());
}

#[test]
fn the_default_schedule_is_the_common_practice_with_twenty_percent_jitter() {
    let schedule = Backoff::default();
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let expected = [
        Duration::ZERO,
        Duration::from_secs(5),
        minutes(5),
        minutes(30),
        minutes(120),
        minutes(300),
        minutes(600),
        minutes(600),
    ];
    assert_eq!(schedule.attempts(), 8);
    for (attempt, nominal) in expected.iter().enumerate() {
        assert_eq!(schedule.nominal(attempt as u32), Some(*nominal));
        let delays: Vec<Duration> = (0..50)
            .map(|_| schedule.delay(attempt as u32).unwrap())
            .collect();
        for delay in &delays {
            assert!(
                *delay >= nominal.mul_f64(0.8) && *delay <= nominal.mul_f64(1.2),
                "{delay:?}"
            );
        }
        if !nominal.is_zero() {
            // Jitter there is: of 50 draws over ±20 %, some fall below -5 % and some above +5 %
            // (each side missed by all 50 with a probability near 1e-10).
            assert!(
                delays.iter().any(|d| *d < nominal.mul_f64(0.95))
                    && delays.iter().any(|d| *d > nominal.mul_f64(1.05)),
                "attempt {attempt}: no jitter in {delays:?}"
            );
        }
    }
    assert_eq!(schedule.delay(8), None);
}

#[test]
fn custom_and_exponential_schedules() {
    let list = Backoff::list(vec![Duration::ZERO, Duration::from_secs(1)]).jitter(Jitter::None);
    assert_eq!(list.delay(1), Some(Duration::from_secs(1)));
    assert_eq!(list.delay(2), None);
    let exponential = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10), 6)
        .jitter(Jitter::None);
    let delays: Vec<_> = (0..7).map(|a| exponential.delay(a)).collect();
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(delays, [s(0), s(1), s(2), s(4), s(8), s(10), None]);
    assert_eq!(
        Backoff::default()
            .jitter(Jitter::Proportional(f64::NAN))
            .delay(1),
        Some(Duration::from_secs(5))
    );
}

// ---------------------------------------------------------------- classification

fn response(status: u16) -> Result<Response<Bytes>, TransportError> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(response)
}

#[test]
fn responses_are_classified_as_the_practice_says() {
    let now = SystemTime::now();
    let policy = RetryPolicy::for_deliveries();
    let classify =
        |result: &Result<Response<Bytes>, TransportError>, now| policy.classify(result, now);
    for status in [200, 201, 202, 204] {
        assert_eq!(
            classify(&response(status), now),
            Verdict::Success,
            "{status}"
        );
    }
    assert_eq!(classify(&response(410), now), Verdict::Gone);
    for status in [
        301, 302, 307, 308, 400, 401, 404, 409, 429, 500, 502, 503, 504,
    ] {
        assert!(
            matches!(classify(&response(status), now), Verdict::Retry { .. }),
            "{status}"
        );
    }
    for error in [
        TransportError::timeout(),
        TransportError::connect(std::io::Error::other("x")),
    ] {
        assert_eq!(
            classify(&Err(error), now),
            Verdict::Retry { at_least: None }
        );
    }
    let mut limited = Response::new(Bytes::new());
    *limited.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    limited
        .headers_mut()
        .insert("retry-after", "120".parse().unwrap());
    assert_eq!(
        classify(&Ok(limited), now),
        Verdict::Retry {
            at_least: Some(Duration::from_secs(120))
        }
    );
}

// ---------------------------------------------------------------- dispatcher

fn secret() -> Secret {
    Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

fn destination() -> Destination {
    Destination::new("https://hooks.customer.example/in", &secret()).unwrap()
}

fn payload() -> Payload {
    Payload::json("msg_42", "transfer.settled", &br#"{"amount":"1.00"}"#[..])
}

fn policy() -> RetryPolicy {
    RetryPolicy::for_deliveries().backoff(
        Backoff::list(vec![
            Duration::ZERO,
            Duration::from_secs(5),
            Duration::from_secs(300),
        ])
        .jitter(Jitter::None),
    )
}

fn dispatcher(mock: &MockClient, timer: &FakeClock) -> Dispatcher<MockClient> {
    Dispatcher::new(mock.clone().guarded(AddressPolicy::new()), timer.clone())
        .expect("a guarded transport")
        .retry(policy())
}

#[tokio::test]
async fn every_attempt_is_signed_under_the_same_id_and_verifies() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(500).body("oops"))
        .push(MockResponse::status(204));
    let report = dispatcher(&mock, &timer)
        .deliver(&destination(), &payload())
        .await;
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(
        report.attempts[0].status,
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(report.attempts[0].body, "oops");
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(5)]);
    let verifier = StandardWebhooks::new(&secret()).expect("a key");
    for request in mock.requests() {
        assert_eq!(request.method(), "POST");
        assert_eq!(request.headers()["webhook-id"], "msg_42");
        assert_eq!(request.headers()["content-type"], "application/json");
        assert!(
            request.headers()["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("hookwire/")
        );
        verifier
            .verify(Inbound::new(request.headers(), request.body()))
            .unwrap();
    }
}

#[tokio::test]
async fn gone_stops_redirects_fail_and_the_schedule_runs_out() {
    let timer = FakeClock::new();
    let mock = MockClient::new().push(MockResponse::status(410));
    let report = dispatcher(&mock, &timer)
        .deliver(&destination(), &payload())
        .await;
    assert_eq!(report.outcome, Outcome::Gone);
    assert_eq!(report.attempts.len(), 1);

    let mock = MockClient::new()
        .push(MockResponse::status(302).header("location", "http://169.254.169.254/"))
        .push(MockResponse::status(308))
        .push(MockResponse::status(301));
    let report = dispatcher(&mock, &timer)
        .deliver(&destination(), &payload())
        .await;
    assert_eq!(report.outcome, Outcome::Exhausted);
    assert_eq!(mock.requests().len(), 3, "no redirect followed");
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.uri() == "https://hooks.customer.example/in")
    );
}

#[tokio::test]
async fn retry_after_is_honoured_between_the_scheduled_delay_and_the_cap() {
    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(429).header("retry-after", "60"))
        .push(MockResponse::status(503).header("retry-after", "1"))
        .push(MockResponse::status(204));
    let report = dispatcher(&mock, &timer)
        .deliver(&destination(), &payload())
        .await;
    assert_eq!(report.outcome, Outcome::Delivered);
    // 60 s asked > 5 s scheduled: 60 s; then 1 s asked < 300 s scheduled: 300 s.
    assert_eq!(
        timer.sleeps(),
        vec![Duration::from_secs(60), Duration::from_secs(300)]
    );

    let timer = FakeClock::new();
    let mock = MockClient::new()
        .push(MockResponse::status(503).header("retry-after", "999999"))
        .push(MockResponse::status(204));
    dispatcher(&mock, &timer)
        .retry(policy().retry_after_cap(Duration::from_secs(3600)))
        .deliver(&destination(), &payload())
        .await;
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(3600)]);
}

#[tokio::test]
async fn an_attempt_that_outlasts_its_timeout_is_a_timeout() {
    let timer = FakeClock::new();
    let never =
        |_: Request<Bytes>| std::future::pending::<Result<Response<Bytes>, TransportError>>();
    let dispatcher = Dispatcher::unguarded(never, timer.clone())
        .retry(RetryPolicy::none())
        .attempt_timeout(Duration::from_secs(15));
    let report = dispatcher.deliver(&destination(), &payload()).await;
    assert_eq!(report.outcome, Outcome::Exhausted);
    assert_eq!(report.attempts[0].error, Some(TransportErrorKind::Timeout));
    assert!(timer.sleeps().contains(&Duration::from_secs(15)));
}

#[tokio::test]
async fn only_the_first_64_kib_of_a_response_body_is_kept() {
    let timer = FakeClock::new();
    let mock = MockClient::new().push(MockResponse::status(500).body(vec![b'e'; 100_000]));
    let (attempt, _) = dispatcher(&mock, &timer)
        .attempt(&destination(), &payload())
        .await
        .unwrap();
    assert_eq!(attempt.body.len(), 64 * 1024);
}

#[tokio::test]
async fn private_addresses_are_refused_before_anything_is_sent() {
    let timer = FakeClock::new();
    for url in [
        "http://127.0.0.1/hook",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/",
        "http://[::ffff:192.168.1.1]/",
    ] {
        let mock = MockClient::new();
        let destination = Destination::new(url, &secret()).unwrap();
        let report = dispatcher(&mock, &timer)
            .deliver(&destination, &payload())
            .await;
        assert!(
            matches!(report.outcome, Outcome::Refused(AddressError::Refused(_))),
            "{url}"
        );
        assert!(mock.requests().is_empty(), "{url}");
    }
    let mock = MockClient::new().guarded(AddressPolicy::new().https_only());
    let report = Dispatcher::new(mock.clone(), timer.clone())
        .expect("a guarded transport")
        .deliver(
            &Destination::new("http://hooks.customer.example/", &secret()).unwrap(),
            &payload(),
        )
        .await;
    assert_eq!(report.outcome, Outcome::Refused(AddressError::NotHttps));
}

// ---------------------------------------------------------------- address policy

#[test]
fn non_public_ranges_are_refused_in_every_written_form() {
    let refused = [
        "0.0.0.0",
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "192.0.0.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "2001:db8::1",
        "100::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::10.0.0.1",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::",
        "2002:c0a8:0101::1",
        "fec0::1",
        // SIIT (IPv4-translated), SRv6, local-use NAT64 with the address in bits 48 to 87,
        // the 6to4 relay anycast range, and Azure's WireServer, which looks public.
        "::ffff:0:7f00:1",
        "::ffff:0:a9fe:a9fe",
        "5f00::1",
        "64:ff9b:1:808:8:800::",
        "64:ff9b:1:7f00:0:100::",
        "192.88.99.1",
        "168.63.129.16",
    ];
    for address in refused {
        let ip: IpAddr = address.parse().unwrap();
        assert!(
            !AddressPolicy::new().permits(ip),
            "{address} should be refused"
        );
    }
    let public = [
        "93.184.215.14",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:0808:0808::1",
    ];
    for address in public {
        assert!(
            AddressPolicy::new().permits(address.parse().unwrap()),
            "{address} should be allowed"
        );
    }
}

#[test]
fn the_allow_list_and_url_checks() {
    let policy = AddressPolicy::new().allow("10.20.0.0/16").unwrap();
    assert!(policy.permits("10.20.1.1".parse().unwrap()));
    assert!(!policy.permits("10.21.1.1".parse().unwrap()));
    let check = |p: &AddressPolicy, url: &str| p.check_url(&url::Url::parse(url).unwrap());
    assert_eq!(check(&policy, "https://hooks.example/"), Ok(()));
    assert_eq!(
        check(&policy, "ftp://hooks.example/"),
        Err(AddressError::Scheme)
    );
    assert!(matches!(
        check(&policy, "http://127.0.0.1:8080/"),
        Err(AddressError::Refused(_))
    ));
    assert_eq!(check(&policy, "http://10.20.0.9/"), Ok(()));
}

#[test]
fn the_deny_list_comes_before_the_allow_list_and_everything_needs_an_explicit_call() {
    use hookwire::transport::RangeError;
    for everything in ["0.0.0.0/0", "::/0"] {
        assert_eq!(
            AddressPolicy::new().allow(everything).unwrap_err(),
            RangeError::Everything(everything.into())
        );
    }
    assert!(matches!(
        AddressPolicy::new().allow("10.0.0.0/33"),
        Err(RangeError::Invalid(_))
    ));
    let open = AddressPolicy::new().allow_any_address();
    assert!(open.permits("127.0.0.1".parse().unwrap()));
    assert!(open.permits("10.1.2.3".parse().unwrap()));
    // The cloud deny-list holds even when everything is allowed.
    assert!(!open.permits("168.63.129.16".parse().unwrap()));
    assert!(!open.permits("::ffff:168.63.129.16".parse().unwrap()));

    let policy = AddressPolicy::new()
        .allow("10.20.0.0/16")
        .unwrap()
        .deny("10.20.5.0/24")
        .unwrap()
        .deny("93.184.215.14")
        .unwrap();
    assert!(policy.permits("10.20.4.1".parse().unwrap()));
    assert!(!policy.permits("10.20.5.1".parse().unwrap()));
    assert!(!policy.permits("::ffff:10.20.5.1".parse().unwrap()));
    assert!(!policy.permits("93.184.215.14".parse().unwrap()));
    assert!(policy.permits("93.184.215.15".parse().unwrap()));
}

#[test]
fn hosts_are_read_as_a_url_parser_reads_them() {
    let policy = AddressPolicy::new();
    for host in [
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "127.1",
        "017700000001",
        "0",
        "127.0.0.1.",
    ] {
        let uri: hookwire::http::Uri = format!("http://{host}:8080/").parse().unwrap();
        assert!(
            matches!(policy.check_uri(&uri), Err(AddressError::Refused(_))),
            "{host}"
        );
    }
    let uri: hookwire::http::Uri = "http://hooks.example:8080/".parse().unwrap();
    assert_eq!(policy.check_uri(&uri), Ok(()));
    let https_only = AddressPolicy::new().https_only();
    assert_eq!(https_only.check_uri(&uri), Err(AddressError::NotHttps));
}

// ---------------------------------------------------------------- outboxes

#[tokio::test]
async fn the_memory_outbox_keeps_the_contract() {
    common::contract::outbox_contract(&MemoryOutbox::new()).await;
    common::contract::paging_and_retention_contract(&MemoryOutbox::new()).await;
    common::contract::sequence_contract(&MemoryOutbox::new()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_sqlite_outbox_keeps_the_contract_and_its_data_across_reopening() {
    use hookwire::deliver::Outbox;

    let dir = std::env::temp_dir().join(format!(
        "hookwire-outbox-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("outbox.db");
    {
        let outbox = hookwire::deliver::SqliteOutbox::open(&path).await.unwrap();
        common::contract::outbox_contract(&outbox).await;
    }
    let reopened = hookwire::deliver::SqliteOutbox::open(&path).await.unwrap();
    assert_eq!(
        reopened.count(None).await.unwrap(),
        4,
        "every job the contract wrote"
    );
    let fresh = hookwire::deliver::SqliteOutbox::open(dir.join("paging.db"))
        .await
        .unwrap();
    common::contract::paging_and_retention_contract(&fresh).await;
    let sequenced = hookwire::deliver::SqliteOutbox::open(dir.join("sequences.db"))
        .await
        .unwrap();
    common::contract::sequence_contract(&sequenced).await;
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------- replay guard

proptest::proptest! {
    /// An IPv4 address written in any IPv6 form that carries it is judged as the address
    /// itself: no form smuggles a private address past the policy.
    #[test]
    fn ipv6_forms_of_an_ipv4_address_are_judged_as_the_address(octets in proptest::prelude::any::<[u8; 4]>()) {
        let v4 = std::net::Ipv4Addr::from(octets);
        let expected = is_public(IpAddr::V4(v4));
        let [a, b, c, d] = octets;
        let (hi, lo) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
        let forms = [
            v4.to_ipv6_mapped(),
            std::net::Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo),
            std::net::Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
            std::net::Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
        ];
        for form in forms {
            proptest::prop_assert_eq!(is_public(IpAddr::V6(form)), expected, "{} as {}", v4, form);
        }
    }
}

#[test]
fn one_retry_engine_classifies_for_requests_and_for_deliveries_each_by_its_own_rule() {
    let now = SystemTime::now();
    let requests = RetryPolicy::for_requests();
    let deliveries = RetryPolicy::for_deliveries();
    let retry = Verdict::Retry { at_least: None };
    let cases = [
        (200, Verdict::Success, Verdict::Success),
        (404, Verdict::Stop, retry),
        (410, Verdict::Stop, Verdict::Gone),
        (500, Verdict::Stop, retry),
        (502, retry, retry),
        (504, retry, retry),
    ];
    for (status, for_requests, for_deliveries) in cases {
        assert_eq!(
            requests.classify(&response(status), now),
            for_requests,
            "{status}"
        );
        assert_eq!(
            deliveries.classify(&response(status), now),
            for_deliveries,
            "{status}"
        );
    }
    let broken: Result<Response<Bytes>, TransportError> =
        Err(TransportError::body(std::io::Error::other("reset")));
    assert_eq!(requests.classify(&broken, now), Verdict::Stop);
    assert_eq!(deliveries.classify(&broken, now), retry);
    // A Retry-After beyond the cap: the caller gets the answer now; a delivery waits the cap.
    let asked = Verdict::Retry {
        at_least: Some(Duration::from_secs(2 * 24 * 3600)),
    };
    assert_eq!(requests.next_delay(1, asked, Duration::ZERO), None);
    assert_eq!(
        deliveries.next_delay(1, asked, Duration::ZERO),
        Some(Duration::from_secs(24 * 3600))
    );
}

#[tokio::test]
async fn a_delivery_that_cannot_be_signed_reports_why_instead_of_exhausted() {
    let timer = FakeClock::new();
    let mock = MockClient::new().push(MockResponse::status(204));
    let unsignable = Payload::json("msg\nbroken", "t", &b"{}"[..]);
    let report = dispatcher(&mock, &timer)
        .deliver(&destination(), &unsignable)
        .await;
    assert!(
        matches!(
            report.outcome,
            Outcome::Failed(hookwire::deliver::DeliverError::Sign(_))
        ),
        "{:?}",
        report.outcome
    );
    assert!(mock.requests().is_empty(), "nothing was sent");
    assert!(timer.sleeps().is_empty(), "nothing was retried");
}

#[tokio::test]
async fn a_destination_in_rotation_signs_every_attempt_with_both_secrets_and_refuses_bad_text() {
    let old = secret();
    let new = Secret::generate();
    let destination = Destination::new("https://hooks.customer.example/in", &old)
        .and_then(|destination| destination.with_secret(&*new.expose_whsec()))
        .unwrap();
    let timer = FakeClock::new();
    let mock = MockClient::new().push(MockResponse::status(204));
    let report = dispatcher(&mock, &timer)
        .deliver(&destination, &payload())
        .await;
    assert_eq!(report.outcome, Outcome::Delivered);
    let sent = &mock.requests()[0];
    let signatures = sent.headers()["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    for key in [&old, &new] {
        let receiver = StandardWebhooks::new(key).unwrap();
        assert!(
            receiver
                .verify(Inbound::new(sent.headers(), sent.body()))
                .is_ok()
        );
    }
    // Text that is not a Standard Webhooks secret is refused, not used as a key.
    assert!(matches!(
        Destination::new("https://hooks.customer.example/in", "not base64!"),
        Err(hookwire::deliver::DeliverError::Secret(_))
    ));
}

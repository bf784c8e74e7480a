//! The consumer side: each provider's envelope read into one event, and the typed router
//! (exact and prefix routes, the fallback for what no handler takes, handler failures).
//! The payloads follow each provider's documented shape.

use std::sync::{Arc, Mutex};

use hookwire::consume::{Envelope, EnvelopeError, Reason, Routed, Router};
use hookwire::event::{Event, RawEvent};
use hookwire::http::HeaderMap;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().unwrap());
    }
    map
}

fn data(event: &RawEvent) -> serde_json::Value {
    serde_json::from_str(event.json().unwrap().get()).unwrap()
}

#[test]
fn each_providers_envelope_gives_the_type_id_time_and_data_its_documentation_names() {
    // Stripe: the event object; the data is `data.object`.
    let stripe =
        br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2022-11-15",
        "created":1686089970,"type":"invoice.paid","livemode":false,
        "data":{"object":{"id":"in_1NG8Dt2eZvKYlo2C","object":"invoice","amount_paid":1250}}}"#;
    let event = Envelope::Stripe
        .read("https://stripe.com", &HeaderMap::new(), stripe)
        .unwrap();
    assert_eq!(event.id(), "evt_1NG8Du2eZvKYlo2CUI79vXWy");
    assert_eq!(event.ty(), "invoice.paid");
    assert_eq!(event.source(), "https://stripe.com");
    assert_eq!(event.time().unwrap().unix_seconds(), 1_686_089_970);
    assert_eq!(data(&event)["amount_paid"], 1250);

    // GitHub: the type is the header with the action; the data is the whole body.
    let github = br#"{"action":"opened","number":2,"pull_request":{"title":"Fix"}}"#;
    let event = Envelope::GitHub
        .read(
            "https://github.com",
            &headers(&[
                ("x-github-event", "pull_request"),
                ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ]),
            github,
        )
        .unwrap();
    assert_eq!(event.ty(), "pull_request.opened");
    assert_eq!(event.id(), "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(data(&event)["number"], 2);
    let push = Envelope::GitHub
        .read(
            "https://github.com",
            &headers(&[("x-github-event", "push"), ("x-github-delivery", "d1")]),
            br#"{"ref":"refs/heads/main"}"#,
        )
        .unwrap();
    assert_eq!(push.ty(), "push", "no action, no suffix");

    // Shopify: topic and event id from the headers.
    let event = Envelope::Shopify
        .read(
            "https://shop.example",
            &headers(&[
                ("x-shopify-topic", "orders/create"),
                ("x-shopify-event-id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
                ("x-shopify-triggered-at", "2023-03-29T18:00:27.877041743Z"),
            ]),
            br#"{"id":820982911946154508,"email":"jon@example.com"}"#,
        )
        .unwrap();
    assert_eq!(event.ty(), "orders/create");
    assert_eq!(event.id(), "98880550-7158-44d4-b7cd-2c97c8a091b5");
    assert!(event.time().is_some());
    assert_eq!(data(&event)["email"], "jon@example.com");

    // Slack: the inner event's type; the data is the inner event.
    let slack = br#"{"token":"x","team_id":"T0001","type":"event_callback","event_id":"Ev08MFMKH6",
        "event_time":1234567890,"event":{"type":"app_mention","user":"U061F7AUR","text":"hi"}}"#;
    let event = Envelope::Slack
        .read("https://slack.com", &HeaderMap::new(), slack)
        .unwrap();
    assert_eq!((event.ty(), event.id()), ("app_mention", "Ev08MFMKH6"));
    assert_eq!(data(&event)["text"], "hi");

    // Standard Webhooks: the id is the webhook-id header.
    let event = Envelope::StandardWebhooks
        .read(
            "https://bank.example",
            &headers(&[("webhook-id", "msg_2")]),
            br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"amount":"1.00"}}"#,
        )
        .unwrap();
    assert_eq!((event.ty(), event.id()), ("transfer.settled", "msg_2"));

    // CloudEvents, binary mode.
    let event = Envelope::CloudEvents
        .read(
            "unused",
            &headers(&[
                ("ce-specversion", "1.0"),
                ("ce-id", "A234-1234-1234"),
                ("ce-source", "/treasury"),
                ("ce-type", "fx.rate.published"),
                ("content-type", "application/json"),
            ]),
            br#"{"pair":"EUR/USD"}"#,
        )
        .unwrap();
    assert_eq!(
        event.source(),
        "/treasury",
        "CloudEvents carry their own source"
    );
    assert_eq!(data(&event)["pair"], "EUR/USD");
}

#[test]
fn a_delivery_without_its_envelopes_parts_is_a_typed_error_that_names_them() {
    let missing = Envelope::GitHub
        .read("https://github.com", &HeaderMap::new(), b"{}")
        .unwrap_err();
    assert!(matches!(
        missing,
        EnvelopeError::MissingHeader {
            header: "x-github-event",
            ..
        }
    ));
    assert!(missing.to_string().contains("x-github-event"), "{missing}");

    let not_json = Envelope::Stripe
        .read("https://stripe.com", &HeaderMap::new(), b"{\"id\":")
        .unwrap_err();
    assert!(
        matches!(not_json, EnvelopeError::Body { .. }),
        "{not_json:?}"
    );

    let handshake = Envelope::Slack
        .read(
            "https://slack.com",
            &HeaderMap::new(),
            br#"{"token":"x","challenge":"3eZbrw1a","type":"url_verification"}"#,
        )
        .unwrap_err();
    assert!(matches!(handshake, EnvelopeError::NotAnEvent(ref ty) if ty == "url_verification"));

    let empty_id = Envelope::Stripe
        .read(
            "https://stripe.com",
            &HeaderMap::new(),
            br#"{"id":"","type":"invoice.paid","data":{"object":{}}}"#,
        )
        .unwrap_err();
    assert!(matches!(empty_id, EnvelopeError::Event(_)), "{empty_id:?}");
}

#[derive(serde::Deserialize)]
struct Settled {
    amount: String,
}

fn event(ty: &str, data: &str) -> RawEvent {
    Event::builder()
        .id("evt_1")
        .source("/treasury")
        .ty(ty)
        .data(serde_json::value::RawValue::from_string(data.to_owned()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn events_reach_the_exact_route_then_the_longest_prefix_and_the_rest_is_acknowledged_and_reported()
 {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let unrouted: Arc<Mutex<Vec<String>>> = Arc::default();
    let (a, b, c, fallback) = (seen.clone(), seen.clone(), seen.clone(), unrouted.clone());
    let router = Router::new()
        .on("transfer.settled", move |event: Event<Settled>| {
            let seen = a.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("exact {}", event.json().unwrap().amount));
                Ok::<(), std::io::Error>(())
            }
        })
        .on("transfer.*", move |event: Event<serde_json::Value>| {
            let seen = b.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("transfer.* {}", event.ty()));
                Ok::<(), std::io::Error>(())
            }
        })
        .on("transfer.fx.*", move |event: Event<serde_json::Value>| {
            let seen = c.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("transfer.fx.* {}", event.ty()));
                Ok::<(), std::io::Error>(())
            }
        })
        .fallback(move |unrouted| {
            let what = match &unrouted.reason {
                Reason::NoHandler => format!("no handler for {}", unrouted.event.ty()),
                Reason::Undecodable(_) => format!("undecodable {}", unrouted.event.ty()),
                _ => "other".to_owned(),
            };
            fallback.lock().unwrap().push(what);
            async {}
        });

    for (ty, data) in [
        ("transfer.settled", r#"{"amount":"12.50"}"#),
        ("transfer.created", r#"{}"#),
        ("transfer.fx.booked", r#"{}"#),
        ("account.opened", r#"{}"#),
        ("transfer.settled", r#"{"amount":12.5}"#),
    ] {
        let routed = router.route(event(ty, data)).await.unwrap();
        let handled = matches!(routed, Routed::Handled);
        assert_eq!(
            handled,
            !(ty == "account.opened" || data.contains("12.5}")),
            "{ty} {data}"
        );
    }
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "exact 12.50",
            "transfer.* transfer.created",
            "transfer.fx.* transfer.fx.booked"
        ]
    );
    assert_eq!(
        *unrouted.lock().unwrap(),
        vec![
            "no handler for account.opened",
            "undecodable transfer.settled"
        ]
    );
    assert!(router.handles("transfer.anything") && !router.handles("account.opened"));
}

#[tokio::test]
async fn a_failing_handler_is_an_error_so_the_event_is_tried_again() {
    let router = Router::new().on("transfer.settled", |_: Event<serde_json::Value>| async {
        Err::<(), _>(std::io::Error::other("the ledger is down"))
    });
    let error = router
        .route(event("transfer.settled", "{}"))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "the ledger is down");
}

/// A thin event's meter, fetched from the API.
struct GetMeter(String);

impl hookwire::api::Endpoint for GetMeter {
    type Response = serde_json::Value;
    fn path(&self) -> String {
        format!("billing/meters/{}", hookwire::api::segment(&self.0))
    }
}

#[tokio::test]
async fn a_thin_event_is_completed_through_the_api_client_before_its_handler_runs() {
    use hookwire::http::{Request, Response};
    use hookwire::transport::TransportError;

    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let (seen_calls, fail) = (calls.clone(), Arc::new(Mutex::new(true)));
    let failing = fail.clone();
    let transport = move |request: Request<bytes::Bytes>| {
        let (calls, fail) = (seen_calls.clone(), failing.clone());
        async move {
            calls.lock().unwrap().push(request.uri().path().to_owned());
            let status = if *fail.lock().unwrap() { 503 } else { 200 };
            Ok::<_, TransportError>(
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(bytes::Bytes::from_static(
                        br#"{"id":"mtr_1","status":"active","event_name":"api_calls"}"#,
                    ))
                    .unwrap(),
            )
        }
    };
    let client =
        Arc::new(hookwire::api::Client::new(transport, "https://api.stripe.example/v1/").unwrap());
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = handled.clone();
    let router = Router::new().on_fetched(
        "v1.billing.meter.*",
        client,
        |event| GetMeter(event.subject().unwrap_or_default().to_owned()),
        move |event, meter: serde_json::Value| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(format!(
                    "{} {}",
                    event.ty(),
                    meter["event_name"].as_str().unwrap()
                ));
                Ok::<(), std::io::Error>(())
            }
        },
    );
    let thin = Event::builder()
        .id("evt_thin_1")
        .source("https://stripe.com")
        .ty("v1.billing.meter.error_report_triggered")
        .subject("mtr_1")
        .data(serde_json::value::RawValue::from_string("{}".to_owned()).unwrap())
        .build()
        .unwrap();

    // The API is down: the event fails, to be tried again; the handler has not run.
    assert!(router.route(thin.clone()).await.is_err());
    assert!(handled.lock().unwrap().is_empty());
    *fail.lock().unwrap() = false;
    assert!(matches!(router.route(thin).await.unwrap(), Routed::Handled));
    assert_eq!(
        *handled.lock().unwrap(),
        vec!["v1.billing.meter.error_report_triggered api_calls"]
    );
    assert_eq!(
        calls.lock().unwrap().last().map(String::as_str),
        Some("/v1/billing/meters/mtr_1")
    );
}

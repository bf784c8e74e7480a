//! One envelope for every event of a small treasury bank: read events however they arrive
//! (CloudEvents structured or binary mode, or a Standard Webhooks payload), dispatch on their
//! type, and decode each one's data once, into its own type.
//!
//! Run with `cargo run --example read_events`.

use std::process::ExitCode;

use hookwire::event::cloudevents::{self, Mode};
use hookwire::event::{Event, EventError, RawEvent};
use hookwire::http::Request;
use serde::{Deserialize, Serialize};

/// The data of `transfer.settled`.
#[derive(Debug, Serialize, Deserialize)]
struct TransferSettled {
    transfer_id: String,
    amount: String,
    currency: String,
}

/// The data of `account.opened`.
#[derive(Debug, Serialize, Deserialize)]
struct AccountOpened {
    account_id: String,
    iban: String,
}

/// The data of `fx.rate.published`.
#[derive(Debug, Serialize, Deserialize)]
struct RatePublished {
    pair: String,
    rate: String,
}

/// Every event the application handles, typed.
#[derive(Debug)]
enum BankEvent {
    TransferSettled(Event<TransferSettled>),
    AccountOpened(Event<AccountOpened>),
    RatePublished(Event<RatePublished>),
    /// A type this version does not know: kept, not failed, so that new event types from the
    /// sender do not break the receiver.
    Unknown(RawEvent),
}

impl BankEvent {
    /// Reads the type, then parses the data once into the type that event type carries.
    fn dispatch(event: RawEvent) -> Result<Self, EventError> {
        Ok(match event.ty() {
            "transfer.settled" => BankEvent::TransferSettled(event.decode()?),
            "account.opened" => BankEvent::AccountOpened(event.decode()?),
            "fx.rate.published" => BankEvent::RatePublished(event.decode()?),
            _ => BankEvent::Unknown(event),
        })
    }
}

fn handle(event: BankEvent) {
    match event {
        BankEvent::TransferSettled(event) => {
            if let Some(data) = event.json() {
                println!(
                    "  settled transfer {}: {} {} (event {})",
                    data.transfer_id,
                    data.amount,
                    data.currency,
                    event.id()
                );
            }
        }
        BankEvent::AccountOpened(event) => {
            if let Some(data) = event.json() {
                println!(
                    "  opened account {} with IBAN {}",
                    data.account_id, data.iban
                );
            }
        }
        BankEvent::RatePublished(event) => {
            if let Some(data) = event.json() {
                println!("  {} is now {}", data.pair, data.rate);
            }
        }
        BankEvent::Unknown(event) => {
            println!("  kept unknown event type `{}` for later", event.ty())
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("events failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A sender builds events; the builder fills a unique id and the current time.
    let settled = Event::builder()
        .ty("transfer.settled")
        .source("/treasury/transfers")
        .subject("tr_8841")
        .data(TransferSettled {
            transfer_id: "tr_8841".into(),
            amount: "1250.00".into(),
            currency: "EUR".into(),
        })
        .build()?;
    let opened = Event::builder()
        .ty("account.opened")
        .source("/treasury/accounts")
        .data(AccountOpened {
            account_id: "acc_42".into(),
            iban: "DE89 3704 0044 0532 0130 00".into(),
        })
        .build()?;
    let rate = Event::builder()
        .ty("fx.rate.published")
        .source("/treasury/fx")
        .data(RatePublished {
            pair: "EUR/USD".into(),
            rate: "1.0842".into(),
        })
        .build()?;
    let audit = Event::builder()
        .ty("audit.logged")
        .source("/treasury/audit")
        .data(serde_json::json!({"actor": "ops"}))
        .build()?;

    // They arrive in different ways...
    let structured = cloudevents::encode(&settled, Mode::Structured)
        .and_then(|message| message.into_request(Request::post("/events")))?;
    let binary = cloudevents::encode(&opened, Mode::Binary)
        .and_then(|message| message.into_request(Request::post("/events")))?;
    // A batch holds events of one data type: here, plain JSON values.
    let rate = rate.try_map_data(serde_json::to_value)?;
    let batch =
        cloudevents::encode_batch(&[rate, audit])?.into_request(Request::post("/events"))?;
    let standard_body = settled.to_standard_webhooks()?;

    // ...and the receiver reads them all into the same envelope.
    let mut received: Vec<RawEvent> = Vec::new();
    received.push(cloudevents::decode(
        structured.headers(),
        structured.body(),
    )?);
    received.push(cloudevents::decode(binary.headers(), binary.body())?);
    received.extend(cloudevents::decode_batch(batch.headers(), batch.body())?);
    received.push(Event::from_standard_webhooks(
        settled.id(),
        "https://bank.example",
        &standard_body,
    )?);

    println!("received {} events:", received.len());
    for event in received {
        handle(BankEvent::dispatch(event)?);
    }
    Ok(())
}

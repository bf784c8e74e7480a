//! The treasury bank's events API as the tests' consumers read it: a typed endpoint, its page,
//! and the feed the poller reads it through. The bank serves
//! `GET /v1/events?after=<cursor>&limit=<n>` with `{"events":[…],"next":"…","has_more":…}`.

use hookwire::api::Endpoint;
use hookwire::consume::{Feed, FeedPage, HandlerError};
use hookwire::deliver::Sequence;
use hookwire::event::RawEvent;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One page of the bank's events, after a cursor.
#[derive(Serialize)]
pub struct ListEvents {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub limit: usize,
}

/// What the bank answers.
#[derive(Deserialize)]
pub struct EventsPage {
    pub events: Vec<Box<RawValue>>,
    pub next: Option<String>,
    pub has_more: bool,
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

/// The bank's events API as a feed, `.0` events a page.
pub struct BankFeed(pub usize);

impl Feed for BankFeed {
    type Request = ListEvents;
    fn request(&self, cursor: Option<&str>) -> ListEvents {
        ListEvents {
            after: cursor.map(str::to_owned),
            limit: self.0,
        }
    }
    fn read(&self, page: EventsPage) -> Result<FeedPage, HandlerError> {
        let events = page
            .events
            .iter()
            .map(|raw| RawEvent::from_json(raw.get().as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FeedPage::new(events, page.next, page.has_more))
    }
}

/// A query parameter's value, from a request's query string.
pub fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// An account's key and the event's number among the account's, from the CloudEvents
/// `partitionkey` and `sequence` extensions the bank sets.
pub fn place(event: &RawEvent) -> Option<Sequence> {
    let key = event
        .extension("partitionkey")?
        .to_canonical_string()
        .ok()?;
    let number = event
        .extension("sequence")?
        .to_canonical_string()
        .ok()?
        .parse()
        .ok()?;
    Some(Sequence::new(key, number))
}

//! hookwire against the `standardwebhooks` crate (the Standard Webhooks project's own Rust
//! library): what one signs the other verifies, and any change to the id, the timestamp, the
//! body or the signature is refused by both.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hookwire::http::{HeaderMap, HeaderValue};
use hookwire::webhook::{Inbound, Message, Secret, Sign, StandardWebhooks, Verify};
use proptest::prelude::*;

/// What a mutation changes.
#[derive(Debug, Clone, Copy)]
enum Change {
    Body,
    Id,
    Timestamp,
    Signature,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    map.insert("webhook-timestamp", HeaderValue::from(timestamp));
    map.insert(
        "webhook-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    map
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Every case is signed by each side and checked by both, unchanged and under each of
    /// the four changes, so that every case covers every path.
    #[test]
    fn hookwire_and_standardwebhooks_agree(
        key in proptest::collection::vec(any::<u8>(), 24..64),
        id in "msg_[A-Za-z0-9_-]{1,40}",
        body in "\\PC{0,300}",
        skew in -200i64..200,
    ) {
        let whsec = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(&key)
        );
        let secret = Secret::parse(&whsec).unwrap();
        let peer = standardwebhooks::Webhook::new(&whsec).unwrap();
        let sent = now_secs() + skew;
        let at = UNIX_EPOCH + Duration::from_secs(sent as u64);
        let signatures = [
            StandardWebhooks::new(&secret).expect("a key").sign(&Message::new(&id, body.as_bytes()).at(at)).unwrap()["webhook-signature"].to_str().unwrap().to_owned(),
            peer.sign(&id, sent, body.as_bytes()).unwrap(),
        ];
        // Both sides sign the same bytes the same way.
        prop_assert_eq!(&signatures[0], &signatures[1]);
        for signature in &signatures {
            for change in [
                None,
                Some(Change::Body),
                Some(Change::Id),
                Some(Change::Timestamp),
                Some(Change::Signature),
            ] {
                let (mut id, mut timestamp, mut body, mut signature) =
                    (id.clone(), sent, body.clone(), signature.clone());
                match change {
                    None => {}
                    Some(Change::Body) => body.push('!'),
                    Some(Change::Id) => id.push('x'),
                    Some(Change::Timestamp) => timestamp += 1,
                    Some(Change::Signature) => {
                        // Flip one base64 character of the signature itself.
                        let last = signature.len() - 3;
                        let flipped = if &signature[last..=last] == "A" { "B" } else { "A" };
                        signature.replace_range(last..=last, flipped);
                    }
                }
                let map = headers(&id, timestamp, &signature);
                let ours = StandardWebhooks::new(&secret).expect("a key").verify(Inbound::new(&map, body.as_bytes())).is_ok();
                let theirs = peer.verify(body.as_bytes(), &map).is_ok();
                prop_assert_eq!(ours, change.is_none(), "hookwire on {:?}", change);
                prop_assert_eq!(theirs, change.is_none(), "standardwebhooks on {:?}", change);
            }
        }
    }
}

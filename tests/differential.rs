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

fn whsec(key: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// During a rotation each side accepts what the other signs with either secret, and both
    /// agree at the edges of the 5-minute tolerance: 2 seconds inside passes on both, 2
    /// seconds outside fails on both (2 seconds keep the wall clock's tick out of the answer).
    #[test]
    fn rotation_and_tolerance_edges_agree_with_standardwebhooks(
        old in proptest::collection::vec(any::<u8>(), 24..64),
        new in proptest::collection::vec(any::<u8>(), 24..64),
        id in "msg_[A-Za-z0-9_-]{1,40}",
        body in "\\PC{0,200}",
        edge in prop::sample::select(vec![-302i64, -298, 298, 302]),
    ) {
        prop_assume!(old != new);
        let (old_text, new_text) = (whsec(&old), whsec(&new));
        let ours = StandardWebhooks::new(&new_text).unwrap().with_secret(&old_text).unwrap();
        let peer_old = standardwebhooks::Webhook::new(&old_text).unwrap();
        let peer_new = standardwebhooks::Webhook::new(&new_text).unwrap();
        // `edge` seconds in the past (positive) or the future (negative).
        let sent = now_secs() - edge;
        let inside = edge.abs() < 300;

        // The peer signs with the old secret; hookwire, holding both, says it was the old one.
        let signature = peer_old.sign(&id, sent, body.as_bytes()).unwrap();
        let map = headers(&id, sent, &signature);
        let verified = ours.verify(Inbound::new(&map, body.as_bytes()));
        prop_assert_eq!(verified.is_ok(), inside, "hookwire at {}: {:?}", edge, verified);
        if let Ok(verified) = verified {
            prop_assert_eq!(verified.key(), Some(1));
        }

        // hookwire signs with both; a peer holding either one accepts it, at the same edges.
        let at = UNIX_EPOCH + Duration::from_secs(sent as u64);
        let signed = ours.sign(&Message::new(&id, body.as_bytes()).at(at)).unwrap();
        prop_assert_eq!(peer_old.verify(body.as_bytes(), &signed).is_ok(), inside, "old at {}", edge);
        prop_assert_eq!(peer_new.verify(body.as_bytes(), &signed).is_ok(), inside, "new at {}", edge);
    }
}

//! Verification makes no heap allocation, successful or failed: counted exactly by a global
//! allocator that tallies the allocations of the current thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, UNIX_EPOCH};

use hookwire::http::{HeaderMap, HeaderValue};
use hookwire::webhook::{Secret, Signer, Verifier, VerifyError};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations `f` makes on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

/// A named case: headers, body, and what the outcome must be.
type Case<'a> = (
    &'a str,
    HeaderMap,
    &'a [u8],
    fn(&Result<(), VerifyError>) -> bool,
);

const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";

#[test]
fn verify_allocates_nothing_whether_it_succeeds_or_fails() {
    let old = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let new = Secret::generate();
    let verifier = Verifier::new(&new).with_secret(&old);
    let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let body = vec![b'x'; 64 * 1024];
    let good = Signer::new(&old)
        .sign(ID, sent, &body)
        .unwrap()
        .to_header_map();

    let mut many = vec!["v1a,AAAA v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU="; 500].join(" ");
    many.push(' ');
    many.push_str(good["webhook-signature"].to_str().unwrap());
    let mut rotated = good.clone();
    rotated.insert("webhook-signature", HeaderValue::from_str(&many).unwrap());

    let mut svix = HeaderMap::new();
    for (from, to) in [
        ("webhook-id", "svix-id"),
        ("webhook-timestamp", "svix-timestamp"),
        ("webhook-signature", "svix-signature"),
    ] {
        svix.insert(to, good[from].clone());
    }

    let with = |name: &'static str, value: &'static [u8]| {
        let mut map = good.clone();
        map.insert(name, HeaderValue::from_bytes(value).unwrap());
        map
    };
    let mut missing = good.clone();
    missing.remove("webhook-timestamp");

    let cases: Vec<Case> = vec![
        ("valid", good.clone(), &body, |r| r.is_ok()),
        ("valid among 1000 others", rotated, &body, |r| r.is_ok()),
        ("valid under svix names", svix, &body, |r| r.is_ok()),
        ("tampered body", good.clone(), b"other", |r| {
            *r == Err(VerifyError::NoMatchingSignature)
        }),
        ("missing header", missing, &body, |r| {
            matches!(r, Err(VerifyError::MissingHeader { .. }))
        }),
        (
            "non-ASCII id",
            with("webhook-id", b"\xff\xfe"),
            &body,
            |r| matches!(r, Err(VerifyError::InvalidHeader { .. })),
        ),
        (
            "malformed timestamp",
            with("webhook-timestamp", b"1e9"),
            &body,
            |r| *r == Err(VerifyError::MalformedTimestamp),
        ),
        ("too old", with("webhook-timestamp", b"1000"), &body, |r| {
            matches!(r, Err(VerifyError::TooOld { .. }))
        }),
        (
            "malformed signature",
            with("webhook-signature", b"v1"),
            &body,
            |r| *r == Err(VerifyError::MalformedSignature),
        ),
        (
            "unsupported version",
            with("webhook-signature", b"v2,AAAA"),
            &body,
            |r| *r == Err(VerifyError::NoSupportedSignature),
        ),
        ("empty v1", with("webhook-signature", b"v1,"), &body, |r| {
            *r == Err(VerifyError::NoMatchingSignature)
        }),
    ];

    for (name, headers, body, expected) in &cases {
        let (count, result) = allocations(|| verifier.verify_at(headers, body, sent).map(|_| ()));
        assert!(expected(&result), "{name}: unexpected {result:?}");
        assert_eq!(count, 0, "{name}: verify allocated {count} times");

        let (count, _) = allocations(|| verifier.verify(headers, body).map(|_| ()));
        assert_eq!(
            count, 0,
            "{name}: verify with the system clock allocated {count} times"
        );
    }

    let signature = good["webhook-signature"].to_str().unwrap();
    let (count, result) = allocations(|| {
        verifier
            .verify_parts_at(ID, "1700000000", signature, &body, sent)
            .map(|_| ())
    });
    assert_eq!(result, Ok(()));
    assert_eq!(count, 0, "verify_parts allocated {count} times");
}

#[test]
fn the_counter_sees_allocations() {
    let (count, v) = allocations(|| vec![1u8; 10]);
    assert_eq!(v.len(), 10);
    assert_eq!(count, 1);
}

mod schemes {
    use super::allocations;
    use std::time::{Duration, UNIX_EPOCH};

    use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
    use hookwire::webhook::{
        Algorithm, Encoding, GitHub, HmacScheme, Message, MultiVerifier, Scheme, Secret, Shopify,
        Slack, Stripe, VerifyError,
    };

    /// Verifies `headers` once as signed, once with a tampered body, once with each header
    /// removed and once with each header garbled, counting allocations each time.
    fn assert_no_allocation(scheme: &dyn Scheme, headers: &HeaderMap, body: &[u8]) {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (count, result) = allocations(|| scheme.verify_at(headers, body, now).map(|_| ()));
        assert_eq!(result, Ok(()), "{}", scheme.name());
        assert_eq!(count, 0, "{}: a successful verify allocated", scheme.name());

        let (count, result) =
            allocations(|| scheme.verify_at(headers, b"tampered", now).map(|_| ()));
        assert_eq!(
            result,
            Err(VerifyError::NoMatchingSignature),
            "{}",
            scheme.name()
        );
        assert_eq!(count, 0, "{}: a failed verify allocated", scheme.name());

        for name in headers.keys() {
            let mut missing = headers.clone();
            missing.remove(name);
            let mut garbled = headers.clone();
            garbled.insert(
                name,
                HeaderValue::from_bytes(b"\xff garbage, t=x =").unwrap(),
            );
            for case in [missing, garbled] {
                let (count, result) =
                    allocations(|| scheme.verify_at(&case, body, now).map(|_| ()));
                assert_eq!(
                    count,
                    0,
                    "{}: {name} case allocated ({result:?})",
                    scheme.name()
                );
            }
        }
    }

    fn signed(scheme: &dyn Scheme, body: &[u8]) -> HeaderMap {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        scheme
            .sign(&Message::new("delivery-1", body).at(at))
            .unwrap()
    }

    /// Every scheme, built afresh: header names parsed at run time are new each call, so the
    /// verifying instance has never cloned them before.
    fn schemes() -> Vec<Box<dyn Scheme>> {
        let runtime = |name: &str| -> HeaderName { String::from(name).parse().unwrap() };
        vec![
            Box::new(
                Stripe::new("whsec_old")
                    .unwrap()
                    .with_secret("whsec_new")
                    .unwrap(),
            ),
            Box::new(
                GitHub::new("old")
                    .unwrap()
                    .with_secret("new")
                    .unwrap()
                    .allow_sha1(),
            ),
            Box::new(Slack::new("old").unwrap().with_secret("new").unwrap()),
            Box::new(Shopify::new("old").unwrap().with_secret("new").unwrap()),
            Box::new(
                HmacScheme::new(
                    runtime("x-runtime-signature"),
                    &Secret::from_bytes_weak("k").unwrap(),
                )
                .algorithm(Algorithm::Sha512)
                .encoding(Encoding::Base64)
                .timestamp(runtime("x-runtime-timestamp"), "v9:", "|")
                .id_header(runtime("x-runtime-id")),
            ),
        ]
    }

    #[test]
    fn every_scheme_verifies_without_allocating() {
        let body = vec![b'{'; 4096];
        for (signer, verifier) in schemes().iter().zip(schemes().iter()) {
            let headers = signed(signer.as_ref(), &body);
            assert_no_allocation(verifier.as_ref(), &headers, &body);
        }
    }

    #[test]
    fn multi_verifier_picks_and_verifies_without_allocating() {
        let body = b"{}";
        let slack = Slack::new("secret").unwrap();
        let headers = signed(&slack, body);
        let multi = MultiVerifier::new()
            .with(Stripe::new("whsec_x").unwrap())
            .with(GitHub::new("x").unwrap())
            .with(slack);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (count, result) = allocations(|| multi.verify_at(&headers, body, now).map(|_| ()));
        assert_eq!(result, Ok(()));
        assert_eq!(count, 0);
        let (count, result) =
            allocations(|| multi.verify_at(&HeaderMap::new(), body, now).map(|_| ()));
        assert_eq!(result, Err(VerifyError::NoScheme));
        assert_eq!(count, 0);
    }

    #[cfg(feature = "ed25519")]
    #[test]
    fn v1a_verifies_without_allocating() {
        use hookwire::webhook::{Signer, SigningKey, Verifier};
        let key = SigningKey::generate();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = vec![b'x'; 4096];
        let headers = Signer::from_signing_key(&key)
            .sign("msg_1", at, &body)
            .unwrap()
            .to_header_map();
        let verifier = Verifier::from_public_key(&key.public_key());
        assert_no_allocation(&verifier, &headers, &body);
    }
}

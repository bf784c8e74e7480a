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

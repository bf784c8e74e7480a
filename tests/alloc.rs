//! Verification makes no heap allocation, successful or failed: counted exactly by a global
//! allocator that tallies the allocations of the current thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookwire::http::{HeaderMap, HeaderValue};
use hookwire::webhook::{Inbound, Message, Secret, Sign, StandardWebhooks, Verify, VerifyError};

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
    // Once at a fixed time with an explicit `now`, once signed now and read by the system clock.
    check_cases(UNIX_EPOCH + Duration::from_secs(1_700_000_000), false);
    check_cases(std::time::SystemTime::now(), true);
}

fn check_cases(sent: std::time::SystemTime, system_clock: bool) {
    let old = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let new = Secret::generate();
    let verifier = StandardWebhooks::new(&new)
        .and_then(|scheme| scheme.with_secret(&old))
        .expect("two keys");
    let body = vec![b'x'; 64 * 1024];
    let good = StandardWebhooks::new(&old)
        .expect("a key")
        .sign(&Message::new(ID, &body).at(sent))
        .unwrap();

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
            |r| matches!(r, Err(VerifyError::MalformedSignature { .. })),
        ),
        (
            "unsupported version",
            with("webhook-signature", b"v2,AAAA"),
            &body,
            |r| matches!(r, Err(VerifyError::NoSupportedSignature { .. })),
        ),
        ("empty v1", with("webhook-signature", b"v1,"), &body, |r| {
            *r == Err(VerifyError::NoMatchingSignature)
        }),
    ];

    for (name, headers, body, expected) in &cases {
        let (count, result) = if system_clock {
            allocations(|| verifier.verify(Inbound::new(headers, body)).map(|_| ()))
        } else {
            allocations(|| {
                verifier
                    .verify_at(Inbound::new(headers, body), sent)
                    .map(|_| ())
            })
        };
        assert!(expected(&result), "{name}: unexpected {result:?}");
        assert_eq!(count, 0, "{name}: verify allocated {count} times");
    }

    let signature = good["webhook-signature"].to_str().unwrap();
    let timestamp = good["webhook-timestamp"].to_str().unwrap();
    let (count, result) = if system_clock {
        allocations(|| {
            verifier
                .verify_parts_at(ID, timestamp, signature, &body, SystemTime::now())
                .map(|_| ())
        })
    } else {
        allocations(|| {
            verifier
                .verify_parts_at(ID, timestamp, signature, &body, sent)
                .map(|_| ())
        })
    };
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

    use super::Both;
    use hookwire::http::{HeaderMap, HeaderName, HeaderValue};
    use hookwire::webhook::{
        Algorithm, Encoding, GitHub, HmacScheme, Inbound, Message, MultiVerifier, Secret, Shopify,
        Slack, Stripe, Verify, VerifyError,
    };

    type Expect = fn(&Result<(), VerifyError>) -> bool;

    /// Well-formed but wrong versions of a scheme's headers, each with the one outcome it must
    /// have: a changed signature, a stale or future timestamp, an unsupported or malformed
    /// signature, each header missing.
    fn wrong_cases(scheme: &str, good: &HeaderMap) -> Vec<(String, HeaderMap, Expect)> {
        let text = |name: &str| good[name].to_str().unwrap().to_owned();
        let with = |name: &str, value: String| {
            let mut map = good.clone();
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(&value).unwrap(),
            );
            map
        };
        let without = |name: &str| {
            let mut map = good.clone();
            map.remove(name);
            map
        };
        // One character of a hex or base64 signature, changed.
        let flip = |value: String| {
            let mut bytes = value.into_bytes();
            let last = bytes.len() - 2;
            bytes[last] = if bytes[last] == b'a' { b'b' } else { b'a' };
            String::from_utf8(bytes).unwrap()
        };
        let no_match: Expect = |r| *r == Err(VerifyError::NoMatchingSignature);
        let malformed: Expect = |r| matches!(r, Err(VerifyError::MalformedSignature { .. }));
        let unsupported: Expect = |r| matches!(r, Err(VerifyError::NoSupportedSignature { .. }));
        let old: Expect = |r| matches!(r, Err(VerifyError::TooOld { .. }));
        let new: Expect = |r| matches!(r, Err(VerifyError::TooNew { .. }));
        let bad_ts: Expect = |r| *r == Err(VerifyError::MalformedTimestamp);
        let missing: Expect = |r| matches!(r, Err(VerifyError::MissingHeader(_)));
        let ok: Expect = |r| r.is_ok();
        match scheme {
            "stripe" => {
                let value = text("stripe-signature");
                let v1s = value.split_once(',').unwrap().1.to_owned();
                vec![
                    (
                        "changed".into(),
                        with("stripe-signature", flip(value.clone())),
                        ok,
                    ),
                    (
                        "both changed".into(),
                        with(
                            "stripe-signature",
                            flip(value.clone()).replacen(",v1=", ",v1=0", 1),
                        ),
                        no_match,
                    ),
                    (
                        "no t".into(),
                        with("stripe-signature", v1s.clone()),
                        malformed,
                    ),
                    (
                        "only t".into(),
                        with("stripe-signature", "t=1700000000".into()),
                        unsupported,
                    ),
                    (
                        "only v0".into(),
                        with("stripe-signature", "t=1700000000,v0=00".into()),
                        unsupported,
                    ),
                    (
                        "stale".into(),
                        with("stripe-signature", format!("t=1699990000,{v1s}")),
                        old,
                    ),
                    (
                        "future".into(),
                        with("stripe-signature", format!("t=1700010000,{v1s}")),
                        new,
                    ),
                    (
                        "bad t".into(),
                        with("stripe-signature", format!("t=17e8,{v1s}")),
                        bad_ts,
                    ),
                    ("missing".into(), without("stripe-signature"), missing),
                ]
            }
            "github" => vec![
                (
                    "sha256 changed".into(),
                    with("x-hub-signature-256", flip(text("x-hub-signature-256"))),
                    no_match,
                ),
                (
                    "sha256 prefix".into(),
                    with(
                        "x-hub-signature-256",
                        text("x-hub-signature-256").replacen("sha256=", "sha512=", 1),
                    ),
                    malformed,
                ),
                // Without SHA-256 the SHA-1 signature decides, since it is allowed here.
                ("sha256 missing".into(), without("x-hub-signature-256"), ok),
                (
                    "sha1 changed, sha256 good".into(),
                    with("x-hub-signature", flip(text("x-hub-signature"))),
                    ok,
                ),
                (
                    "delivery id missing".into(),
                    without("x-github-delivery"),
                    ok,
                ),
            ],
            "slack" => vec![
                (
                    "changed".into(),
                    with("x-slack-signature", flip(text("x-slack-signature"))),
                    no_match,
                ),
                (
                    "version".into(),
                    with(
                        "x-slack-signature",
                        text("x-slack-signature").replacen("v0=", "v1=", 1),
                    ),
                    malformed,
                ),
                (
                    "stale".into(),
                    with("x-slack-request-timestamp", "1699990000".into()),
                    old,
                ),
                (
                    "future".into(),
                    with("x-slack-request-timestamp", "1700010000".into()),
                    new,
                ),
                (
                    "bad timestamp".into(),
                    with("x-slack-request-timestamp", "soon".into()),
                    bad_ts,
                ),
                (
                    "timestamp missing".into(),
                    without("x-slack-request-timestamp"),
                    missing,
                ),
                (
                    "signature missing".into(),
                    without("x-slack-signature"),
                    missing,
                ),
            ],
            "standard-webhooks" => vec![
                (
                    "changed".into(),
                    with("webhook-signature", flip(text("webhook-signature"))),
                    no_match,
                ),
                (
                    "unsupported".into(),
                    with("webhook-signature", "v2,AAAA".into()),
                    unsupported,
                ),
                (
                    "malformed".into(),
                    with("webhook-signature", "v1a".into()),
                    malformed,
                ),
                (
                    "stale".into(),
                    with("webhook-timestamp", "1699990000".into()),
                    old,
                ),
                (
                    "future".into(),
                    with("webhook-timestamp", "1700010000".into()),
                    new,
                ),
                (
                    "bad timestamp".into(),
                    with("webhook-timestamp", "soon".into()),
                    bad_ts,
                ),
                ("id missing".into(), without("webhook-id"), missing),
            ],
            "shopify" => vec![
                (
                    "changed".into(),
                    with("x-shopify-hmac-sha256", flip(text("x-shopify-hmac-sha256"))),
                    no_match,
                ),
                (
                    "signature missing".into(),
                    without("x-shopify-hmac-sha256"),
                    missing,
                ),
            ],
            _ => vec![
                (
                    "changed".into(),
                    with("x-runtime-signature", flip(text("x-runtime-signature"))),
                    no_match,
                ),
                (
                    "stale".into(),
                    with("x-runtime-timestamp", "1699990000".into()),
                    old,
                ),
                (
                    "future".into(),
                    with("x-runtime-timestamp", "1700010000".into()),
                    new,
                ),
                (
                    "bad timestamp".into(),
                    with("x-runtime-timestamp", "x".into()),
                    bad_ts,
                ),
                (
                    "timestamp missing".into(),
                    without("x-runtime-timestamp"),
                    missing,
                ),
                ("id missing".into(), without("x-runtime-id"), ok),
            ],
        }
    }

    /// Verifies `headers` as signed, with a tampered body, and under each well-formed but wrong
    /// variant of its headers, asserting each outcome and that nothing allocated.
    fn assert_no_allocation(scheme: &dyn Both, headers: &HeaderMap, body: &[u8]) {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (count, result) = allocations(|| {
            scheme
                .verify_at(Inbound::new(headers, body), now)
                .map(|_| ())
        });
        assert_eq!(result, Ok(()), "{}", scheme.name());
        assert_eq!(count, 0, "{}: a successful verify allocated", scheme.name());

        let (count, result) = allocations(|| {
            scheme
                .verify_at(Inbound::new(headers, b"tampered"), now)
                .map(|_| ())
        });
        assert_eq!(
            result,
            Err(VerifyError::NoMatchingSignature),
            "{}",
            scheme.name()
        );
        assert_eq!(count, 0, "{}: a failed verify allocated", scheme.name());

        let cases = wrong_cases(scheme.name(), headers);
        assert!(!cases.is_empty());
        for (case, map, expected) in cases {
            let (count, result) =
                allocations(|| scheme.verify_at(Inbound::new(&map, body), now).map(|_| ()));
            assert!(expected(&result), "{} {case}: {result:?}", scheme.name());
            assert_eq!(count, 0, "{} {case}: allocated ({result:?})", scheme.name());
        }
    }

    fn signed(scheme: &dyn Both, body: &[u8]) -> HeaderMap {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        scheme
            .sign(&Message::new("delivery-1", body).at(at))
            .unwrap()
    }

    /// Every scheme, built afresh: header names parsed at run time are new each call, so the
    /// verifying instance has never cloned them before.
    fn schemes() -> Vec<Box<dyn Both>> {
        let runtime = |name: &str| -> String { String::from(name) };
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
                HmacScheme::builder(&runtime("X-Runtime-Signature"))
                    .name(runtime("hmac"))
                    .algorithm(Algorithm::Sha512)
                    .encoding(Encoding::Base64)
                    .timestamp(&runtime("X-Runtime-Timestamp"), "v9:", "|")
                    .id_header(&runtime("X-Runtime-Id"))
                    .build("k")
                    .unwrap()
                    .with_secret(&Secret::from_bytes_weak("k2").unwrap())
                    .unwrap(),
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
        let (count, result) = allocations(|| {
            multi
                .verify_at(Inbound::new(&headers, body), now)
                .map(|_| ())
        });
        assert_eq!(result, Ok(()));
        assert_eq!(count, 0);
        let (count, result) = allocations(|| {
            multi
                .verify_at(Inbound::new(&HeaderMap::new(), body), now)
                .map(|_| ())
        });
        assert_eq!(result, Err(VerifyError::NoScheme));
        assert_eq!(count, 0);
    }

    /// A `MultiVerifierAsync` calls a synchronous scheme as it is: its future is ready at the
    /// first poll and allocates nothing; a scheme added with `with_async` costs exactly its one
    /// boxed future.
    #[test]
    fn multi_verifier_async_calls_synchronous_schemes_without_allocating() {
        use hookwire::webhook::VerifyAsync;
        use std::task::{Context, Poll, Waker};

        let body = b"{}";
        let slack = Slack::new("secret").unwrap();
        let github = GitHub::new("x").unwrap();
        let (to_slack, to_github) = (signed(&slack, body), signed(&github, body));
        let multi = MultiVerifier::new()
            .with(Stripe::new("whsec_x").unwrap())
            .with_async(github)
            .with(slack);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // Polls the verification once: `None` if it is not ready, else whether `scheme`
        // verified it.
        let poll = |headers: &HeaderMap, scheme: &str| {
            let mut future = std::pin::pin!(multi.verify_async(Inbound::new(headers, body), now));
            match future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(result) => Some(result.map(|verified| verified.scheme() == scheme)),
                Poll::Pending => None,
            }
        };
        assert_eq!(
            allocations(|| poll(&to_slack, "slack")),
            (0, Some(Ok(true)))
        );
        assert_eq!(
            allocations(|| poll(&to_github, "github")),
            (1, Some(Ok(true))),
            "one boxed future"
        );
        assert_eq!(
            allocations(|| poll(&HeaderMap::new(), "")),
            (0, Some(Err(VerifyError::NoScheme)))
        );
    }

    /// HubSpot v3 feeds the request URL's pieces to the MAC one by one: nothing is allocated,
    /// unless the URL holds an escape HubSpot decodes before signing (the joined URL and its
    /// decoded form, 2 allocations).
    #[test]
    fn hubspot_verifies_without_allocating_unless_the_url_needs_decoding() {
        use hookwire::http::{Method, Uri};
        use hookwire::webhook::{HubSpot, Sign};

        let hubspot = HubSpot::new("hubspot secret").unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = b"[{\"eventId\":1}]";
        for (url, expected) in [
            ("https://example.com/hooks/hubspot?portal=62515", 0),
            (
                "https://example.com/hooks/hubspot?portal=62515&next=%2Fhome",
                2,
            ),
        ] {
            let headers = hubspot
                .sign(&Message::new("", body).at(at).to("POST", url))
                .unwrap();
            let uri: Uri = url.parse().unwrap();
            let (count, result) = allocations(|| {
                hubspot
                    .verify_at(
                        Inbound::from_components(&Method::POST, &uri, &headers, body),
                        at,
                    )
                    .map(|verified| verified.scheme() == "hubspot")
            });
            assert_eq!((count, result), (expected, Ok(true)), "{url}");
        }
    }

    #[cfg(feature = "ed25519")]
    #[test]
    fn v1a_verifies_without_allocating() {
        use hookwire::webhook::{Message, Sign, SigningKey, StandardWebhooks};
        let key = SigningKey::generate();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = vec![b'x'; 4096];
        let headers = StandardWebhooks::from_signing_key(&key)
            .sign(&Message::new("msg_1", &body).at(at))
            .unwrap();
        let verifier = StandardWebhooks::from_public_key(&key.public_key());
        assert_no_allocation(&verifier, &headers, &body);
    }
}

/// A scheme that both verifies and signs, so that a test can sign with it and verify with it.
trait Both: hookwire::webhook::Verify + hookwire::webhook::Sign {}
impl<T: hookwire::webhook::Verify + hookwire::webhook::Sign> Both for T {}

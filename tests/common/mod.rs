//! Helpers shared by the integration tests; each test file uses some of them.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestRunner};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Every form a secret commonly takes when it leaks into text: as it is (where it is text),
/// hex in either case, and base64 in its four alphabets and paddings. Forms shorter than eight
/// characters are left out: they would match by chance.
pub fn leaked_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = vec![
        hex::encode(secret),
        hex::encode_upper(secret),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        forms.push(text.to_owned());
    }
    forms.retain(|form| form.len() >= 8);
    forms
}

/// Asserts that `text` holds none of `secrets` in any of their leaked forms.
#[track_caller]
pub fn assert_no_leak(text: &str, secrets: &[&[u8]]) {
    for secret in secrets {
        for form in leaked_forms(secret) {
            assert!(!text.contains(&form), "`{form}` leaked into: {text}");
        }
    }
}

/// Runs `cases` cases of `strategy` through `run`, which names where each case ended; returns
/// how many ended where (printed with `--nocapture`). A panic fails the test as in `proptest!`.
pub fn outcomes<S: Strategy>(
    cases: u32,
    strategy: S,
    run: impl Fn(S::Value) -> &'static str,
) -> BTreeMap<&'static str, u32> {
    let counts = RefCell::new(BTreeMap::new());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |value| {
            *counts.borrow_mut().entry(run(value)).or_insert(0) += 1;
            Ok(())
        })
        .unwrap();
    let counts = counts.into_inner();
    eprintln!("{counts:?}");
    counts
}

/// The Standard Webhooks headers of a signed message, read back as text.
pub trait SignedExt {
    /// The `webhook-id` value.
    fn id(&self) -> &str;
    /// The `webhook-timestamp` value.
    fn timestamp(&self) -> &str;
    /// The `webhook-signature` value.
    fn signature(&self) -> &str;
}

impl SignedExt for hookwire::http::HeaderMap {
    fn id(&self) -> &str {
        self["webhook-id"].to_str().expect("an id header")
    }
    fn timestamp(&self) -> &str {
        self["webhook-timestamp"]
            .to_str()
            .expect("a timestamp header")
    }
    fn signature(&self) -> &str {
        self["webhook-signature"]
            .to_str()
            .expect("a signature header")
    }
}

/// An error and its causes, one level per line, as an error report shows them.
pub fn report(error: &dyn std::error::Error) -> String {
    let mut levels = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(error) = cause {
        levels.push(error.to_string());
        cause = error.source();
    }
    levels.join("\n")
}

#[cfg(feature = "tokio")]
pub mod bank;
pub mod contract;
#[cfg(feature = "hyper")]
pub mod loopback;
#[cfg(feature = "tokio")]
pub mod running;
pub mod services;
pub mod stores;

//! Every scheme's verification over arbitrary headers and body, with a request line for the
//! schemes that sign the URL: no panic, a request that verifies (the seeds are genuinely
//! signed) fails once any byte of its body changes (where the scheme covers the body), and
//! the diagnosis of a failure does not panic either.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use hookwire::http::{Method, Uri};
use hookwire::webhook::{
    Calendly, Discord, GitHub, GitLab, Gitea, HubSpot, Inbound, Intercom, Linear, Mailgun,
    MicrosoftGraph, MultiVerifier, Paddle, PagerDuty, PublicKey, Secret, SendGrid, Shopify,
    SigningKey, Slack, Square, StandardWebhooks, Stripe, Twilio, Twitch, Typeform, Verify, Zoom,
    diagnose,
};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

static SCHEMES: LazyLock<MultiVerifier> = LazyLock::new(|| {
    let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let key: PublicKey = SigningKey::generate().public_key();
    MultiVerifier::new()
        .with(
            StandardWebhooks::new(&secret)
                .expect("a key")
                .with_public_key(&key),
        )
        .with(Stripe::new("whsec_fuzz_stripe_endpoint_secret").unwrap())
        .with(GitHub::new("fuzz github secret").unwrap().allow_sha1())
        .with(Slack::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap())
        .with(Shopify::new("fuzz shopify secret").unwrap())
        .with(Zoom::new("fuzz zoom token").unwrap())
        .with(Gitea::new("fuzz gitea secret").unwrap())
        .with(Intercom::new("fuzz intercom secret").unwrap())
        .with(Typeform::new("fuzz typeform secret").unwrap())
        .with(GitLab::new("fuzz gitlab token").unwrap())
        .with(Calendly::new("fuzz calendly key").unwrap())
        .with(Paddle::new("fuzz paddle secret").unwrap())
        .with(PagerDuty::new("fuzz pagerduty secret").unwrap())
        .with(Twitch::new("fuzz twitch secret").unwrap())
        .with(Linear::new("fuzz linear secret").unwrap())
        .with(Twilio::new("fuzz twilio token").unwrap())
        .with(Square::new("fuzz square key", "https://fuzz.example/hook").unwrap())
        .with(HubSpot::new("fuzz hubspot secret").unwrap().allow_legacy())
        .with(
            Discord::new("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
                .unwrap(),
        )
        .with(
            SendGrid::new("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERxw+dYxJBChbun5TEY7Q9SSt6wdX0lvS+Oew1236cUzdUg96yoqLkXrMN/Ud6PDJu+OthYOC5wLcJaEtCfeoWA==")
                .unwrap(),
        )
        // Mailgun last: it is detected by its fields in the body, not by a header.
        .with(MicrosoftGraph::new("fuzz client state").unwrap())
        .with(Mailgun::new("fuzz mailgun key").unwrap())
});

/// The schemes whose check does not cover the body: Mailgun signs its timestamp and token,
/// GitLab and Microsoft Graph send a shared secret.
const UNSIGNED_BODY: [&str; 3] = ["mailgun", "gitlab", "microsoft-graph"];

/// The request line the schemes that sign the URL read.
static URI: LazyLock<Uri> = LazyLock::new(|| Uri::from_static("https://fuzz.example/hook?x=1"));

fuzz_target!(|data: &[u8]| {
    let (headers, body) = common::request(data);
    // A fixed "now" near the timestamps the corpus carries, so that cases get past the
    // timestamp check to the signature compare.
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let request = Inbound::from_components(&Method::POST, &URI, &headers, body);
    let verified = SCHEMES.verify_at(request, now);
    // Handshakes read the body and the query of any request: no panic either way.
    let _ = SCHEMES.handshake(request, verified.is_ok());
    if let Err(error) = verified {
        let _ = diagnose(&*SCHEMES, request, error).to_string();
        // Without the request line, the schemes that sign the URL refuse; none panics.
        let _ = SCHEMES.verify_at(Inbound::new(&headers, body), now);
    } else if verified.is_ok_and(|verified| !UNSIGNED_BODY.contains(&verified.scheme())) {
        for index in [0, body.len() / 2, body.len().saturating_sub(1)] {
            let mut changed = body.to_vec();
            if let Some(byte) = changed.get_mut(index) {
                *byte ^= 0x01;
                assert!(
                    SCHEMES
                        .verify_at(
                            Inbound::from_components(&Method::POST, &URI, &headers, &changed),
                            now
                        )
                        .is_err()
                );
            }
        }
    }
});

//! AWS SNS: messages signed with a certificate served from a loopback server (admitted with
//! the test-only host), through the guarded hyper client. Version 1 (SHA-1) and 2 (SHA-256)
//! notifications and a subscription confirmation verify; changed fields, another topic and
//! certificate URLs off SNS's hosts are refused, the latter without a request; a hundred
//! requests on a cold cache fetch the certificate once.
//!
//! The certificate and signatures were made independently of hookwire, with Python's
//! `cryptography` package: a fresh 2048-bit RSA key in a self-signed certificate; each message's
//! canonical string (`Key\nValue\n` for the documented fields, in order) signed with PKCS #1
//! v1.5 and SHA-1 or SHA-256. `SigningCertURL` is not signed: the tests put the loopback URL in
//! place of `CERT_URL`.
#![cfg(all(feature = "sns", feature = "hyper", feature = "test-util"))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::loopback::serve_for_the_test;
use hookwire::adapters::hyper::HyperClient;
use hookwire::http::{HeaderMap, Response};
use hookwire::transport::AddressPolicy;
use hookwire::webhook::{Inbound, Sns, VerifyAsync, VerifyError};
use http_body_util::Full;

const CERT: &str = r##"-----BEGIN CERTIFICATE-----
MIICxTCCAa2gAwIBAgIBATANBgkqhkiG9w0BAQsFADAmMSQwIgYDVQQDDBtzbnMu
dXMtZWFzdC0xLmFtYXpvbmF3cy5jb20wHhcNMjMwMTAxMDAwMDAwWhcNMzMwMTAx
MDAwMDAwWjAmMSQwIgYDVQQDDBtzbnMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20w
ggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDJM3C+dSA/E9zjA67KrP//
mLbuIfZm6pSCd9jnbN2C2bYUqqMkVGwNdwrniYUQR6FapgXbKKzy8d1pc4YYP1BE
EHVYMbsbpbxCkFBVDcECSZWD004/GxuGNSFP1NQcNIvP/MAjXDMs7agGp+53Qv39
4nj2AfvMOhftKjIhsmijyqBp7XjAkJqxRxtX7sIsj66fA+u62PZYWajcOUXYjTc/
y2XF1/VsT/NTKpUKC7hMaH0Fsjg/Lr+RWH0RvWw9lsn0GAO/zLd+TNftYBGChAjI
MILoFTX7dSVDE7jZIRazV4GHcqGJl23obhNuJGoyTuXenk93i1C6a09ZVjd0nV2p
AgMBAAEwDQYJKoZIhvcNAQELBQADggEBALWSy3rsvf82pXbVDq8i9pLmIRPHTiuh
zdNIQpqqAvu5p7vqbiwtSsPQXEoAGTqMqbBWY1v53u/L8nvSkoYyzw5ebCBFqBMa
cglwWDYQ30ixFaCDJy78PGBh1Es8KityfMSyLNsZz/RY+ek1rRVF/yeREk3NO+1B
Akl8qtkWtuT68hLi5z5okQwnUsx43RZOGjFEaY389hQM8j/Cb3hT1CXXgQ3NNeHf
/Sfo8rYeXz+4BuY8aTFXkKKZEG55R1ScB8LQ7KwFS05ijuupmhr5T8npBVyIc/Iu
xQBzgRNmaaRwO2J4fWc82CyMWiqlHgjxV8eC8CW0PD5Zk3vh0xLlZaQ=
-----END CERTIFICATE-----
"##;
const NOTE_V1: &str = r##"{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":"arn:aws:sns:us-east-1:123456789012:orders","Subject":"order placed","Message":"{\"order\":\"o-1\",\"total\":\"12.50\"}","Timestamp":"2023-11-14T22:13:20.000Z","UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe","SignatureVersion":"1","Signature":"XybCePTAvH1EuVsxgWmIMP3CWHC619NKoN72BcqeEHjMOKnpfzZveI1QzKpiEsLszX29pKSqj0K9WbSjyoonAr9oF4bY5cya/VpUgM16+T9YbD7U5h8Hir08VhZVzJ8EvgSBJ0AhwsrpFiqeKXOQbj0m/+i3qZPI1R6Bv9+q9VRNI6Hifm1nB4esYqwtfHXldKCBpTaeqsXdxncLYkwy/QBL2+gvRzHnHoBONjVkrr5josnrWZ5BaMHAiRwhguWMKJz+I4KvL8q/YgVtTZ0UT9QlWsXxD1ol76jNxHABchXRtCau7zCkIAviNSMc1X+BYA6I/c8Q+YCuG/LWBJ3UuQ==","SigningCertURL":"CERT_URL"}"##;
const NOTE_V2: &str = r##"{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":"arn:aws:sns:us-east-1:123456789012:orders","Subject":"order placed","Message":"{\"order\":\"o-1\",\"total\":\"12.50\"}","Timestamp":"2023-11-14T22:13:20.000Z","UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe","SignatureVersion":"2","Signature":"Ia3JWIKVVx4XFG55cuj91uub1UZ8L9ttZ/dnSt4cPpIyRvsPgvOhpi/QyDrdMTXLHP0rpykO8aMrw10YbXlwlfsglPVIE+nzLLCc8rc9AUhM3FeTFKdm5CEMG3KS8SRF/VYG75fCTlyMjmtiLIiH3z9j5vt1za0OfHPqqg7nN3V6I2h5NRPLDEWWVnersMsjUD9Ldk0mrU/92Cq5EF0T7nlxt+siqL+OweJSeW1gTZ7Dp8ZB/PsUtr0POdYL0DzKFEV56Z8r5VO6NaaipFIS8IjE27nFQPtWoS6QnfpV77ZCUABXteuif0QrO/0VFqeIJkFNDqMPtv1iUOb81TwbJQ==","SigningCertURL":"CERT_URL"}"##;
const CONFIRM_V2: &str = r##"{"Type":"SubscriptionConfirmation","MessageId":"165545c9-2a5c-472c-8df2-7ff2be2b3b1b","Token":"2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736","TopicArn":"arn:aws:sns:us-east-1:123456789012:orders","Message":"You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:orders.\nTo confirm the subscription, visit the SubscribeURL included in this message.","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:orders&Token=2336412f37fb","Timestamp":"2023-11-14T22:13:20.000Z","SignatureVersion":"2","Signature":"UG8dkzeMgS3tnBqbOfNc4OQ52/MA+h+b7XG/CZ2uLhDkn+PmwAX1hLAkV8TBbSWeSDeSHpyPI1tcjUEnOFxj0DRIdbVYNwBDOXMYpibuF+5s7ppLQV288FToJojLTCwMX7TUGTxDGeXA9sAji2sdyiwfII9jc0Z5TJUIe8uYdTXTWaEXYN0EwmBw7JJjskGPABpX7ZQbk5Ab9Po7mLbwzqJ/0GBNgRSopcvbShv7QAV2EOxETCsH1xn2Cv8QLLNLyEVlQFX56WmGR7HVAtvJ96Y/E82pRQSzqvJOnHcbWcPEhSe9lE3cW3oz2Y5+YtFmuDm2KZV0zwMiQZxnuneK/A==","SigningCertURL":"CERT_URL"}"##;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A loopback server answering the certificate, counting the requests.
async fn certificate_server() -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    let address = serve_for_the_test(move |_request| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Response::new(Full::new(Bytes::from_static(CERT.as_bytes())))
        }
    })
    .await;
    (address.to_string(), requests)
}

fn sns(host: &str) -> Sns {
    let client = HyperClient::guarded(AddressPolicy::new().allow("127.0.0.0/8").unwrap());
    Sns::new(client).certificate_host_for_tests(host)
}

fn message(template: &str, certificate_url: &str) -> String {
    template.replace("CERT_URL", certificate_url)
}

async fn verify(sns: &Sns, body: &str) -> Result<(Option<String>, Option<i64>), VerifyError> {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-sns-message-type", "Notification".parse().unwrap());
    sns.verify_async(Inbound::new(&headers, body.as_bytes()), at(1_700_000_100))
        .await
        .map(|verified| (verified.id().map(str::to_owned), verified.timestamp()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sns_messages_verify_with_the_certificate_fetched_once_for_a_hundred_requests() {
    let (host, requests) = certificate_server().await;
    let url = format!("http://{host}/SimpleNotificationService-test.pem");
    let sns = Arc::new(sns(&host).topic("arn:aws:sns:us-east-1:123456789012:orders"));
    let body = message(NOTE_V2, &url);
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let (sns, body) = (sns.clone(), body.clone());
            tokio::spawn(async move { verify(&sns, &body).await })
        })
        .collect();
    for handle in handles {
        assert_eq!(
            handle.await.unwrap(),
            Ok((
                Some("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".to_owned()),
                Some(1_700_000_000)
            ))
        );
    }
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert_eq!(sns.certificate_fetches(), 1);
    // Version 1 (SHA-1) and a subscription confirmation, from the cache.
    assert!(verify(&sns, &message(NOTE_V1, &url)).await.is_ok());
    assert!(verify(&sns, &message(CONFIRM_V2, &url)).await.is_ok());
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    // A changed message, subject or version: no match.
    for (from, to) in [
        (r#"12.50"#, r#"99.50"#),
        ("order placed", "order voided"),
        (r#""SignatureVersion":"2""#, r#""SignatureVersion":"1""#),
    ] {
        let changed = body.replace(from, to);
        assert_ne!(changed, body);
        assert_eq!(
            verify(&sns, &changed).await,
            Err(VerifyError::NoMatchingSignature),
            "{to}"
        );
    }
    // Another topic: refused even though signed.
    let other = Sns::new(HyperClient::guarded(
        AddressPolicy::new().allow("127.0.0.0/8").unwrap(),
    ))
    .certificate_host_for_tests(&host)
    .topic("arn:aws:sns:us-east-1:123456789012:invoices");
    assert!(matches!(
        verify(&other, &body).await,
        Err(VerifyError::NoSupportedSignature { .. })
    ));
}

#[tokio::test]
async fn certificate_urls_off_the_sns_hosts_are_refused_without_a_request() {
    let (host, requests) = certificate_server().await;
    let sns = sns(&host);
    for url in [
        "https://evil.example.com/SimpleNotificationService-x.pem".to_owned(),
        "https://sns.us-east-1.amazonaws.com.evil.example.com/x.pem".to_owned(),
        "https://sns.us-east-1.amazonaws.com:8443/x.pem".to_owned(),
        "http://sns.us-east-1.amazonaws.com/x.pem".to_owned(),
        "https://sns.us-east-1.amazonaws.com/x.txt".to_owned(),
        "https://s3.amazonaws.com/x.pem".to_owned(),
        format!("http://{host}/certificate.txt"),
        format!("https://{host}/certificate.pem"),
    ] {
        assert!(
            matches!(
                verify(&sns, &message(NOTE_V2, &url)).await,
                Err(VerifyError::NoSupportedSignature { .. })
            ),
            "{url}"
        );
    }
    // Without the test-only host, the loopback URL itself is off the hosts.
    let plain = Sns::new(HyperClient::guarded(
        AddressPolicy::new().allow("127.0.0.0/8").unwrap(),
    ));
    let url = format!("http://{host}/SimpleNotificationService-test.pem");
    assert!(matches!(
        verify(&plain, &message(NOTE_V2, &url)).await,
        Err(VerifyError::NoSupportedSignature { .. })
    ));
    assert_eq!(requests.load(Ordering::SeqCst), 0);
    // Not an SNS message at all.
    assert!(matches!(
        verify(&sns, "{}").await,
        Err(VerifyError::MalformedBody { .. })
    ));
}

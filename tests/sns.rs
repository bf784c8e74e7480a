//! AWS SNS: messages signed with a certificate served from a loopback server (admitted with
//! the test-only host), through the guarded hyper client. Version 1 (SHA-1) and 2 (SHA-256)
//! notifications and a subscription confirmation verify; changed fields, another topic and
//! certificate URLs off SNS's hosts are refused, the latter without a request; a hundred
//! requests on a cold cache fetch the certificate once. Through hyper's `handle_with`, the
//! adapter confirms a verified subscription with one request to SNS, and only on SNS's hosts;
//! actix-web's extractor does the same; a `MultiVerifierAsync` serves SNS beside Stripe on one
//! endpoint.
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
use hookwire::adapters::hyper::{HyperClient, handle_with};
use hookwire::adapters::server::WebhookConfig;
use hookwire::http::{HeaderMap, Response};
use hookwire::transport::{AddressPolicy, HttpClient};
use hookwire::webhook::{
    Inbound, Message, MultiVerifier, Sign, Sns, Stripe, VerifyAsync, VerifyError,
};
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

/// The certificate of the key the confirmation test signs with (made with Python's
/// `cryptography`, as `CERT`), and that key (PKCS #8 DER, base64). The confirmation test signs
/// in the test because `SubscribeURL`, which is signed, must name the loopback server's port;
/// the canonical string is built here from the documented field order, not by hookwire.
const SIGNER_CERT: &str = r##"-----BEGIN CERTIFICATE-----
MIICxTCCAa2gAwIBAgIBAjANBgkqhkiG9w0BAQsFADAmMSQwIgYDVQQDDBtzbnMu
dXMtZWFzdC0xLmFtYXpvbmF3cy5jb20wHhcNMjMwMTAxMDAwMDAwWhcNMzMwMTAx
MDAwMDAwWjAmMSQwIgYDVQQDDBtzbnMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20w
ggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDhM6BXXxF4Logv5UDqLcXc
QRNWTCCAmNY8rfE0kxGV3AA9y8HTk+lXt70Dhyw7XDyeNMU2lpXaj+AGNW+6ajp7
wWd07Gbr2Tez2opeQGqJVxTQK/cgH4D5+v3xFyQMBHerotp5rIptBPQfWPfdridA
jHZNsPivOMR4RKUgVs7kyIIASHBYaA1154DYr7dLIbooeUX4pfC92lVL+7jm9Zct
iO2BYngdXFAZSOc1aRLZpk29Eq8VRcCg7jIKCOrGRwP9bIPgac9RIBv7Knae3HjL
j1nP+/JcVIouT9JWSv3wRSlwglJhHue6bfLe0azRe32r8XMNPu4rdKxMwCq4DSQv
AgMBAAEwDQYJKoZIhvcNAQELBQADggEBAJh1Vf0ebxXeZXkAD90qSNT224wpJVXl
Bwa99wAr9JHBlB4qGLYN+9/1ZS8GhflWoP/2RMEONK0S2nrQjzBRkhImm9m4pC/W
8vvhHhSEZqY99ALdxDlR7uuUZtEY+2j5jv92JDiYlUf6hZTqnxyROZgcwhukts/A
wkftNeBzAMa/dSJirfsfkZjwSSEK7hsHJLfwM/S+9EmDU92W0uwQQYKV5R/18iPQ
cKxbpjcS/73gDnEPuk18dGJAKx1YvkB8hztgv5CHkKNVp5b6iPPIXNAghtwwxQMg
QmtjUvbdRJ3ttJ3SKTjmopHKTEjt3WB2I+pWoK9FYm8pAd2RpJSbS3k=
-----END CERTIFICATE-----
"##;
const SIGNER_KEY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDhM6BXXxF4Logv5UDqLcXcQRNWTCCAmNY8rfE0kxGV3AA9y8HTk+lXt70Dhyw7XDyeNMU2lpXaj+AGNW+6ajp7wWd07Gbr2Tez2opeQGqJVxTQK/cgH4D5+v3xFyQMBHerotp5rIptBPQfWPfdridAjHZNsPivOMR4RKUgVs7kyIIASHBYaA1154DYr7dLIbooeUX4pfC92lVL+7jm9ZctiO2BYngdXFAZSOc1aRLZpk29Eq8VRcCg7jIKCOrGRwP9bIPgac9RIBv7Knae3HjLj1nP+/JcVIouT9JWSv3wRSlwglJhHue6bfLe0azRe32r8XMNPu4rdKxMwCq4DSQvAgMBAAECggEAGqO5RWydC+rxOD01yx3kCHR4PZ6ev6eUvDPVUyNMkr4mFylJweX+1d4J0WeFj3YPQ6W5aIYyrtqTJRjgIRyc03Pi8Z1fZWnaIX/qG1EiaSGweBmjT5z6bFfI/2J95KAIqfiHQJps+4149VZYZ9RIl2WmPvV+zXd5IkL4h5VNPxnSEm9DSvD8BgceHo+sfNWIs98wHWjGv/Mmp4awY3ahF9Bc34qECt3WdIgJdJFN0IK9MNUkR+b5dw33ZwW4AUn/BOAzTgrLQpY052gc4r0sKn9+L+CTCTsm1VxLloTAIRw43FN+6csDzca1vsgB1DSgEGVy+yOy+fxtGqoYL5JItQKBgQD5PrgZvKfg/3KSzbCChj3cosecOfvwYoe64C1Sd4BzhhTVXiZ6hnnXWsnyLx6JWOQdj6TCM1bMTeKzgNi/REx0lzWYi+nsyGILEhd7zxLEamT4dZeiO6XacWCRMMwYFeNEsQoxqbv25wYVfUzLfJFUVhS03W4iB/LtQLutAonUlQKBgQDnThe8ZAi5KtlgcL5ItsGSODZgmUVL9/84X8ZpZvyoeAkyebz0JitbMbEquxNtjmlFV4mX+4iCXaniQvJ8FIdSMq1UKmkGIqhBbpR23Lr/IoSwMkuEQjnjDZ5eqEyzPEvefR34jXOQXC5GPcgGp9VdjvCPV7uX/dDc8eyFtheAswKBgDY5kO/4fUWUDacmnMooznib6XVxoAAyT3k2oGWanhWEDDBHZXOuof9aPykzWx9ieW58+8lMRgv4veNzmrQx9bg/1Wc0uVXMWpgx/W3wJRMaWpE7dBvVgkW9+NZdmWl8CY++PIuFc+FJbadrNTPoC+4fNC4NJpK8y/sV5D7FmJrpAoGAap9i7aKnKsQHxB70eAxWmpJy7oB4oxZEfbYYfgnNOdNrWesoINtfbQAxDOODhyL4f9BkSrzWJlIKt5Poty23WzqlD4ElPIDJUrAom8oQIP/GbnoguWzVxkZG1Jd8E7sdtgeywxphRRBY/GQKSpcfEauMVGc6wEtt9gtG3jQcDWUCgYEAzMFj/oN1GVqN1/qKpJq8+yA/InrxQ09uTOzx7dKvGMTnobCZyFnjcyMY6DR6xIFLDal0pkXeQaq7/i41HA7YSgzcx6YkVav3r2ASYCRK2SxPyMvQwTQmYs+BSt6Ok7u7qCxD6oByASPt74rxvsPTTsrDaYL1Nsr0WGFXNAi5HZI=";

/// An SNS message of `kind`, signed (version 2) as SNS signs it, with `SubscribeURL` and `Token`
/// where it is a confirmation.
fn signed(kind: &str, subscribe_url: &str, certificate_url: &str, token: &str) -> String {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let (id, topic, time) = (
        "0f1e2d3c-aaaa-4bbb-8ccc-000000000001",
        "arn:aws:sns:us-east-1:123456789012:orders",
        "2023-11-14T22:13:20.000Z",
    );
    let text = "You have chosen to subscribe to the topic.";
    let confirmation = kind != "Notification";
    let mut fields = vec![("Message", text), ("MessageId", id)];
    if confirmation {
        fields.push(("SubscribeURL", subscribe_url));
    }
    fields.push(("Timestamp", time));
    if confirmation {
        fields.push(("Token", token));
    }
    fields.extend([("TopicArn", topic), ("Type", kind)]);
    let canonical: String = fields
        .iter()
        .map(|(key, value)| format!("{key}\n{value}\n"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(SIGNER_KEY)
        .unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
    let signature = base64::engine::general_purpose::STANDARD
        .encode(signer.sign(canonical.as_bytes()).to_bytes());
    let mut message = serde_json::json!({
        "Type": kind, "MessageId": id, "TopicArn": topic, "Message": text, "Timestamp": time,
        "SignatureVersion": "2", "Signature": signature, "SigningCertURL": certificate_url,
    });
    if confirmation {
        message["SubscribeURL"] = subscribe_url.into();
        message["Token"] = token.into();
    }
    message.to_string()
}

/// A loopback stand-in for SNS: the signer's certificate at any `.pem` path, and subscription
/// confirmations (`Action=ConfirmSubscription`), counted, answered 200 or, once `failing`, 500.
async fn sns_host() -> (String, Arc<AtomicUsize>, Arc<std::sync::atomic::AtomicBool>) {
    let confirmations = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (count, fail) = (confirmations.clone(), failing.clone());
    let address = serve_for_the_test(move |request: hyper::Request<hyper::body::Incoming>| {
        let (count, fail) = (count.clone(), fail.clone());
        async move {
            if request.uri().path().ends_with(".pem") {
                return Response::new(Full::new(Bytes::from_static(SIGNER_CERT.as_bytes())));
            }
            count.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(Full::new(Bytes::from_static(
                b"<ConfirmSubscriptionResponse/>",
            )));
            if fail.load(Ordering::SeqCst) {
                *response.status_mut() = hookwire::http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            response
        }
    })
    .await;
    (address.to_string(), confirmations, failing)
}

/// A receiver on loopback answering with hyper's `handle_with` under `config`, counting the
/// webhooks its handler gets.
async fn receiver(config: WebhookConfig) -> (String, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    let config = Arc::new(config);
    let address = serve_for_the_test(move |request| {
        let (count, config) = (count.clone(), config.clone());
        async move {
            handle_with(&config, request, |_webhook| async move {
                count.fetch_add(1, Ordering::SeqCst);
                Response::new(Bytes::from_static(b"handled"))
            })
            .await
        }
    })
    .await;
    (format!("http://{address}/sns"), handled)
}

/// Posts `body` as SNS does; the status and the body of the answer.
async fn post(url: &str, kind: &str, body: String) -> (u16, String) {
    let client = HyperClient::new();
    let request = hookwire::http::Request::post(url)
        .header("x-amz-sns-message-type", kind)
        .header("content-type", "text/plain; charset=UTF-8")
        .body(Bytes::from(body))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let text = String::from_utf8(response.body().to_vec()).unwrap();
    (response.status().as_u16(), text)
}

#[tokio::test]
async fn subscriptions_are_confirmed_by_the_adapter_once_verified_and_only_on_sns_hosts() {
    let (host, confirmations, failing) = sns_host().await;
    let (elsewhere, elsewhere_requests, _) = sns_host().await;
    let certificate = format!("http://{host}/SimpleNotificationService-signer.pem");
    let subscribe = format!(
        "http://{host}/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:orders&Token=t0k3n"
    );
    let confirming = sns(&host)
        .topic("arn:aws:sns:us-east-1:123456789012:orders")
        .confirm_subscriptions();
    let (url, handled) = receiver(WebhookConfig::new_async(confirming).handshakes(true)).await;
    let confirmation = signed(
        "SubscriptionConfirmation",
        &subscribe,
        &certificate,
        "t0k3n",
    );

    // Verified: confirmed with one GET of SubscribeURL, answered 200, not handed to the handler.
    let answer = post(&url, "SubscriptionConfirmation", confirmation.clone()).await;
    assert_eq!(answer, (200, "subscription confirmed\n".to_owned()));
    assert_eq!(
        (
            confirmations.load(Ordering::SeqCst),
            handled.load(Ordering::SeqCst)
        ),
        (1, 0)
    );

    // A changed token no longer verifies: refused, and SNS is not asked.
    let tampered = confirmation.replace("\"Token\":\"t0k3n\"", "\"Token\":\"other\"");
    assert_ne!(tampered, confirmation);
    let (status, _) = post(&url, "SubscriptionConfirmation", tampered).await;
    assert_eq!(status, 401);
    assert_eq!(
        (
            confirmations.load(Ordering::SeqCst),
            handled.load(Ordering::SeqCst)
        ),
        (1, 0)
    );

    // SNS failing to confirm: 503, so that SNS sends the confirmation again.
    failing.store(true, Ordering::SeqCst);
    let (status, _) = post(&url, "SubscriptionConfirmation", confirmation.clone()).await;
    assert_eq!(status, 503);
    assert_eq!(
        (
            confirmations.load(Ordering::SeqCst),
            handled.load(Ordering::SeqCst)
        ),
        (2, 0)
    );
    failing.store(false, Ordering::SeqCst);

    // A signed SubscribeURL off SNS's hosts is not requested: the handler gets the message.
    let off_host = format!("http://{elsewhere}/?Action=ConfirmSubscription&Token=t0k3n");
    let (status, body) = post(
        &url,
        "SubscriptionConfirmation",
        signed("SubscriptionConfirmation", &off_host, &certificate, "t0k3n"),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "handled"));
    assert_eq!(elsewhere_requests.load(Ordering::SeqCst), 0);

    // A notification reaches the handler.
    let (status, body) = post(
        &url,
        "Notification",
        signed("Notification", "", &certificate, ""),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "handled"));
    assert_eq!(
        (
            confirmations.load(Ordering::SeqCst),
            handled.load(Ordering::SeqCst)
        ),
        (2, 2)
    );

    // Without `confirm_subscriptions`, a confirmation is the application's: handed over, SNS
    // not asked.
    let (plain, plain_handled) =
        receiver(WebhookConfig::new_async(sns(&host)).handshakes(true)).await;
    let (status, body) = post(&plain, "SubscriptionConfirmation", confirmation).await;
    assert_eq!((status, body.as_str()), (200, "handled"));
    assert_eq!(
        (
            confirmations.load(Ordering::SeqCst),
            plain_handled.load(Ordering::SeqCst)
        ),
        (2, 1)
    );
}

/// One endpoint that SNS and Stripe both call: a `MultiVerifierAsync` behind hyper's
/// `handle_with` verifies each request with its provider's scheme (the handler sees which),
/// confirms SNS's subscription through SNS's own handshake, and refuses what neither signs.
#[tokio::test]
async fn one_endpoint_serves_sns_beside_stripe_through_a_multi_verifier() {
    const STRIPE_SECRET: &str = "whsec_stripe_endpoint_secret";
    let (host, confirmations, _) = sns_host().await;
    let certificate = format!("http://{host}/SimpleNotificationService-signer.pem");
    let subscribe = format!(
        "http://{host}/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:orders&Token=t0k3n"
    );
    let verifier = MultiVerifier::new()
        .with(Stripe::new(STRIPE_SECRET).unwrap())
        .with_async(
            sns(&host)
                .topic("arn:aws:sns:us-east-1:123456789012:orders")
                .confirm_subscriptions(),
        );
    assert_eq!(format!("{verifier:?}"), r#"["stripe", "sns"]"#);
    let config = Arc::new(WebhookConfig::new_async(verifier).handshakes(true));
    let schemes: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let seen = schemes.clone();
    let address = serve_for_the_test(move |request| {
        let (config, seen) = (config.clone(), seen.clone());
        async move {
            handle_with(&config, request, |webhook| async move {
                let scheme = webhook.verified().scheme().to_owned();
                seen.lock().unwrap().push(scheme);
                Response::new(Bytes::from_static(b"handled"))
            })
            .await
        }
    })
    .await;
    let url = format!("http://{address}/hooks");
    let send = |headers: HeaderMap, body: String| {
        let url = url.clone();
        async move {
            let mut request = hookwire::http::Request::post(&url)
                .body(Bytes::from(body))
                .unwrap();
            request.headers_mut().extend(headers);
            let response = HyperClient::new().send(request).await.unwrap();
            let text = String::from_utf8(response.body().to_vec()).unwrap();
            (response.status().as_u16(), text)
        }
    };
    let sns_headers = |kind: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-sns-message-type", kind.parse().unwrap());
        headers
    };

    // Stripe's request is verified by Stripe's scheme, SNS's by SNS's.
    let order = r#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let stripe_headers = Stripe::new(STRIPE_SECRET)
        .unwrap()
        .sign(&Message::new("", order.as_bytes()))
        .unwrap();
    let answer = send(stripe_headers.clone(), order.to_owned()).await;
    assert_eq!(answer, (200, "handled".to_owned()));
    let notification = signed("Notification", "", &certificate, "");
    let answer = send(sns_headers("Notification"), notification).await;
    assert_eq!(answer, (200, "handled".to_owned()));
    assert_eq!(*schemes.lock().unwrap(), ["stripe", "sns"]);

    // SNS's subscription is confirmed by the SNS scheme's handshake, once, without the handler.
    let confirmation = signed(
        "SubscriptionConfirmation",
        &subscribe,
        &certificate,
        "t0k3n",
    );
    let answer = send(sns_headers("SubscriptionConfirmation"), confirmation).await;
    assert_eq!(answer, (200, "subscription confirmed\n".to_owned()));
    assert_eq!(confirmations.load(Ordering::SeqCst), 1);

    // A changed Stripe body is refused by Stripe's scheme; a request neither provider signs is
    // refused as one no scheme recognizes; neither reaches the handler.
    let (status, _) = send(stripe_headers, order.replace("evt_1", "evt_2")).await;
    assert_eq!(status, 401);
    let (status, _) = send(HeaderMap::new(), order.to_owned()).await;
    assert_eq!(status, 400);
    assert_eq!(*schemes.lock().unwrap(), ["stripe", "sns"]);
    assert_eq!(confirmations.load(Ordering::SeqCst), 1);
}

/// The same through actix-web's extractor (on a server of its own, on actix's runtime): a
/// verified confirmation is confirmed and answered there, a tampered one refused, and a
/// notification handed to the handler.
#[cfg(feature = "actix")]
#[tokio::test]
async fn the_actix_extractor_confirms_subscriptions_and_hands_on_notifications() {
    use actix_web::{App, HttpServer, web};
    use hookwire::adapters::actix::Webhook;

    async fn receive(Webhook(_webhook): Webhook, handled: web::Data<AtomicUsize>) -> String {
        handled.fetch_add(1, Ordering::SeqCst);
        "handled".to_owned()
    }
    let (host, confirmations, _) = sns_host().await;
    let certificate = format!("http://{host}/SimpleNotificationService-signer.pem");
    let subscribe = format!("http://{host}/?Action=ConfirmSubscription&Token=t0k3n");
    let config = WebhookConfig::new_async(sns(&host).confirm_subscriptions()).handshakes(true);
    let handled = web::Data::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let (sender, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let config = web::Data::new(config);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(config.clone())
                    .app_data(counter.clone())
                    .route("/sns", web::post().to(receive))
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("a loopback port");
            sender.send(server.addrs()[0]).expect("the test waits");
            server.run().await.expect("the server runs");
        });
    });
    let url = format!("http://{}/sns", address.recv().unwrap());
    let confirmation = signed(
        "SubscriptionConfirmation",
        &subscribe,
        &certificate,
        "t0k3n",
    );

    let answer = post(&url, "SubscriptionConfirmation", confirmation.clone()).await;
    assert_eq!(answer, (200, "subscription confirmed\n".to_owned()));
    let tampered = confirmation.replace("t0k3n\",", "other\",");
    assert_ne!(tampered, confirmation);
    assert_eq!(
        post(&url, "SubscriptionConfirmation", tampered).await.0,
        401
    );
    let notification = signed("Notification", "", &certificate, "");
    assert_eq!(
        post(&url, "Notification", notification).await,
        (200, "handled".to_owned())
    );
    assert_eq!(
        (
            confirmations.load(Ordering::SeqCst),
            handled.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
}

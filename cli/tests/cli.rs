//! The built `hookwire` binary, run as a user runs it, against real loopback servers (its own
//! `mock-receiver` and `listen` among them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use hookwire::deliver::{Job, Outbox, Payload, SqliteOutbox, State};

#[path = "../../tests/common/services.rs"]
#[allow(dead_code, unexpected_cfgs)] // Its PostgreSQL pool helpers are the library's tests'.
mod services;

const BIN: &str = env!("CARGO_BIN_EXE_hookwire");
const SCHEMES: [&str; 14] = [
    "standard-webhooks",
    "stripe",
    "github",
    "slack",
    "shopify",
    "zoom",
    "gitea",
    "bitbucket",
    "intercom",
    "typeform",
    "calendly",
    "paddle",
    "pagerduty",
    "twitch",
];

fn hookwire(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hookwire-cli-{name}-{}",
        hookwire::webhook::message_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn secret(scheme: &str) -> String {
    let out = hookwire(&["secret", "generate", "--scheme", scheme], b"");
    assert!(out.status.success());
    text(&out.stdout).trim().to_owned()
}

/// A server the binary runs (`listen`, `mock-receiver`): stopped with SIGINT, as at a
/// terminal, when done; killed if a test fails first.
struct Server {
    child: Option<Child>,
    address: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the server says where it listens")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on http://") {
                break url.to_owned();
            }
        };
        Server {
            child: Some(child),
            address,
        }
    }

    /// Interrupts it and returns what it printed.
    fn stop(mut self) -> Output {
        let child = self.child.take().unwrap();
        let interrupted = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(interrupted.success());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Posts `body` with `headers` to `address`/hooks over a plain connection; the status.
fn post(address: &str, headers: &[(String, String)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut request = format!(
        "POST /hooks HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}

/// The headers `sign` printed, as (name, value) pairs.
fn headers(printed: &str) -> Vec<(String, String)> {
    printed
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn verify_args<'a>(
    scheme: &'a str,
    secret: &'a str,
    headers: &'a [(String, String)],
    body: &'a Path,
) -> Vec<String> {
    let mut args = vec![
        "verify".into(),
        "--scheme".into(),
        scheme.into(),
        "--secret".into(),
        secret.into(),
    ];
    for (name, value) in headers {
        args.push("--header".into());
        args.push(format!("{name}: {value}"));
    }
    args.push("--body".into());
    args.push(body.display().to_string());
    args
}

#[test]
fn sign_output_verifies_under_verify_for_every_symmetric_scheme_and_a_tampered_body_does_not() {
    let dir = dir("sign");
    let body = br#"{"type":"invoice.paid","data":{"amount":4200}}"#;
    let (good, bad) = (dir.join("body.json"), dir.join("tampered.json"));
    std::fs::write(&good, body).unwrap();
    std::fs::write(&bad, br#"{"type":"invoice.paid","data":{"amount":4201}}"#).unwrap();
    for scheme in SCHEMES {
        let secret = secret(scheme);
        let signed = hookwire(
            &[
                "sign", "--scheme", scheme, "--secret", &secret, "--id", "msg_7",
            ],
            body,
        );
        assert!(signed.status.success(), "{scheme}: {signed:?}");
        let headers = headers(&text(&signed.stdout));
        assert!(!headers.is_empty(), "{scheme}");

        let args = verify_args(scheme, &secret, &headers, &good);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let verified = hookwire(&args, b"");
        assert_eq!(verified.status.code(), Some(0), "{scheme}: {verified:?}");
        assert!(text(&verified.stdout).starts_with("verified:"), "{scheme}");

        let args = verify_args(scheme, &secret, &headers, &bad);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rejected = hookwire(&args, b"");
        assert_eq!(rejected.status.code(), Some(1), "{scheme}: {rejected:?}");
        assert!(
            text(&rejected.stdout).starts_with("rejected: no signature matches"),
            "{scheme}: {}",
            text(&rejected.stdout)
        );
    }
    // Ready to paste: a curl command with the body and every signature header.
    let secret = secret("stripe");
    let curl = text(
        &hookwire(
            &[
                "sign",
                "--scheme",
                "stripe",
                "--secret",
                &secret,
                "--curl",
                "http://127.0.0.1:9000/hooks",
            ],
            body,
        )
        .stdout,
    );
    assert!(
        curl.starts_with("curl -X POST 'http://127.0.0.1:9000/hooks'"),
        "{curl}"
    );
    assert!(curl.contains("-H 'stripe-signature: t="), "{curl}");
    assert!(
        curl.contains("-H 'content-type: application/json'"),
        "{curl}"
    );
    assert!(
        curl.contains(&format!(
            "--data-binary '{}'",
            std::str::from_utf8(body).unwrap()
        )),
        "{curl}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn verify_on_a_captured_request_with_a_reserialised_body_prints_the_diagnosis() {
    let dir = dir("captured");
    let secret = secret("standard-webhooks");
    let body = r#"{"type":"invoice.paid","data":{"amount":4200}}"#;
    let signed = hookwire(
        &["sign", "--scheme", "standard-webhooks", "--secret", &secret],
        body.as_bytes(),
    );
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(body).unwrap())
            .unwrap();
    let mut captured = String::from(
        "POST /hooks HTTP/1.1\r\nhost: app.example\r\ncontent-type: application/json\r\n",
    );
    for line in text(&signed.stdout).lines() {
        captured.push_str(line);
        captured.push_str("\r\n");
    }
    captured.push_str("\r\n");
    captured.push_str(&pretty);
    let path = dir.join("captured.http");
    std::fs::write(&path, captured).unwrap();
    let out = hookwire(
        &[
            "verify",
            "--scheme",
            "standard-webhooks",
            "--secret",
            &secret,
            "--request",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let printed = text(&out.stdout);
    assert!(
        printed.starts_with("rejected: no signature matches"),
        "{printed}"
    );
    assert!(
        printed.contains("check: the body is JSON laid out as a serializer writes it"),
        "{printed}"
    );
    assert!(!printed.contains(&secret), "{printed}");
    // The same as JSON, for scripts.
    let out = hookwire(
        &[
            "verify",
            "--json",
            "--scheme",
            "standard-webhooks",
            "--secret",
            &secret,
            "--request",
            path.to_str().unwrap(),
        ],
        b"",
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["verified"], false);
    assert_eq!(value["reason"], "no_matching_signature");
    assert_eq!(value["hints"].as_array().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn send_to_a_failing_mock_receiver_delivers_everything_and_both_summaries_say_so() {
    let dir = dir("send");
    let secret = secret("standard-webhooks");
    let receiver = Server::start(&[
        "mock-receiver",
        "--port",
        "0",
        "--fail-rate",
        "0.3",
        "--latency",
        "5ms",
        "--scheme",
        "standard-webhooks",
        "--secret",
        &secret,
    ]);
    let events: String = (0..40)
        .map(|n| format!("{{\"id\":\"evt_{n:03}\",\"type\":\"invoice.paid\",\"n\":{n}}}\n"))
        .collect();
    let path = dir.join("events.jsonl");
    std::fs::write(&path, events).unwrap();
    let url = format!("http://{}/hooks", receiver.address);
    let sent = hookwire(
        &[
            "send",
            &url,
            "--secret",
            &secret,
            "--events",
            path.to_str().unwrap(),
            "--allow-loopback",
            "--attempts",
            "10",
            "--concurrency",
            "4",
        ],
        b"",
    );
    let report = text(&sent.stdout);
    assert_eq!(
        sent.status.code(),
        Some(0),
        "{report}\n{}",
        text(&sent.stderr)
    );
    assert!(report.contains("delivered  40"), "{report}");
    assert!(report.contains("failed     0"), "{report}");
    let summary = text(&receiver.stop().stdout);
    assert!(summary.contains("accepted ids       40"), "{summary}");
    assert!(summary.contains("duplicate ids      0"), "{summary}");
    let failed: usize = summary
        .lines()
        .find_map(|line| line.strip_prefix("failed on purpose"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(failed > 0, "the receiver failed some on purpose: {summary}");

    // Without --allow-loopback, the guard refuses the address and nothing is sent.
    let refused = hookwire(
        &[
            "send",
            &url,
            "--secret",
            &secret,
            "--events",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stdout).contains("refused"),
        "{}",
        text(&refused.stdout)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn listen_forwards_a_verified_request_and_refuses_a_tampered_one() {
    let secret = secret("github");
    let app = Server::start(&["mock-receiver", "--port", "0"]);
    let listen = Server::start(&[
        "listen",
        "--port",
        "0",
        "--scheme",
        "github",
        "--secret",
        &secret,
        "--forward-to",
        &format!("http://{}/hooks", app.address),
    ]);
    let body = br#"{"type":"push","ref":"refs/heads/main"}"#;
    let signed = hookwire(
        &[
            "sign",
            "--scheme",
            "github",
            "--secret",
            &secret,
            "--id",
            "delivery-1",
        ],
        body,
    );
    let headers = headers(&text(&signed.stdout));
    assert_eq!(
        post(&listen.address, &headers, body),
        204,
        "forwarded, the application's answer"
    );
    assert_eq!(post(&listen.address, &headers, b"{\"type\":\"push\"}"), 401);
    let lines = text(&listen.stop().stdout);
    assert!(
        lines.contains("delivery-1 push verified (github) -> 204 No Content"),
        "{lines}"
    );
    assert!(lines.contains("rejected (no signature matches"), "{lines}");
    let app = text(&app.stop().stdout);
    assert!(
        app.contains("requests           1"),
        "only the verified one reached the app: {app}"
    );
}

#[test]
fn outbox_shows_the_backlog_lists_dead_letters_redrives_and_purges() {
    let dir = dir("outbox");
    let path = dir.join("outbox.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let outbox = SqliteOutbox::open(&path).await.unwrap();
        for n in 0..3 {
            let payload = Payload::json(format!("msg_{n}"), "invoice.paid", "{}");
            outbox
                .enqueue(Job::new("customer-7", payload), SystemTime::now())
                .await
                .unwrap();
        }
        let leased = outbox
            .lease(SystemTime::now(), 1, Duration::from_secs(30))
            .await
            .unwrap();
        outbox
            .finish(&leased[0], State::DeadLettered, SystemTime::now())
            .await
            .unwrap();
    });
    let db = path.to_str().unwrap();
    let status = hookwire(&["outbox", "status", "--db", db], b"");
    assert!(status.status.success(), "{status:?}");
    let table = text(&status.stdout);
    let row = table
        .lines()
        .find(|line| line.starts_with("customer-7"))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["customer-7", "2", "0", "0", "1"],
        "{table}"
    );
    let listed = text(&hookwire(&["outbox", "list", "--state", "dead", "--db", db], b"").stdout);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with("customer-7 msg_"), "{listed}");
    let redriven = text(&hookwire(&["outbox", "redrive", "--since", "1h", "--db", db], b"").stdout);
    assert_eq!(redriven.trim(), "1 dead-lettered job(s) pending again");
    let json = hookwire(&["outbox", "status", "--json", "--db", db], b"");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["endpoints"]["customer-7"]["pending"], 3);
    let purged =
        text(&hookwire(&["outbox", "purge", "--older-than", "0s", "--db", db], b"").stdout);
    assert_eq!(purged.trim(), "0 finished job(s) purged");
    let missing = hookwire(&["outbox", "status", "--db", "/nonexistent/outbox.db"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("does not exist"),
        "{missing:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_help_names_every_command_its_options_and_the_exit_codes() {
    let help = text(&hookwire(&["--help"], b"").stdout);
    for command in [
        "sign",
        "verify",
        "listen",
        "send",
        "mock-receiver",
        "outbox",
        "secret",
    ] {
        assert!(
            help.contains(&format!("  {command}")),
            "{command} missing from:\n{help}"
        );
    }
    assert!(help.contains("Exit codes:"), "{help}");
    let verify = text(&hookwire(&["verify", "--help"], b"").stdout);
    for option in [
        "--scheme",
        "--secret",
        "--request",
        "--header",
        "--body",
        "--now",
        "--json",
    ] {
        assert!(verify.contains(option), "{option} missing from:\n{verify}");
    }
    for scheme in SCHEMES {
        assert!(verify.contains(scheme), "{scheme} missing from:\n{verify}");
    }
    let send = text(&hookwire(&["send", "--help"], b"").stdout);
    assert!(
        send.contains("--allow-loopback") && send.contains("--rate"),
        "{send}"
    );
    let usage = hookwire(&["verify"], b"");
    assert_eq!(usage.status.code(), Some(2), "a usage error");
}

#[test]
fn outbox_reads_a_postgres_outbox_by_its_url_and_schema() {
    let Some(url) = services::url(services::POSTGRES_URL, "outbox_reads_a_postgres_outbox") else {
        return;
    };
    let schema = services::unique_name("hw_cli");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pool = runtime.block_on(async {
        let pool = hookwire::sqlx::PgPool::connect(&url).await.unwrap();
        let outbox = hookwire::deliver::PostgresOutbox::new(pool.clone())
            .schema(&schema)
            .unwrap();
        outbox.migrate().await.unwrap();
        for n in 0..2 {
            let payload = Payload::json(format!("msg_{n}"), "invoice.paid", "{}");
            outbox
                .enqueue(Job::new("customer-9", payload), SystemTime::now())
                .await
                .unwrap();
        }
        pool
    });
    let out = hookwire(
        &[
            "outbox", "status", "--json", "--db", &url, "--schema", &schema,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["endpoints"]["customer-9"]["pending"], 2, "{value}");
    runtime.block_on(async {
        hookwire::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&pool)
            .await
            .unwrap();
    });
}

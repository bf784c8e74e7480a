//! `hookwire`: sign and verify webhooks of every scheme that signs the headers and body, listen
//! and forward, send with hookwire's dispatcher, mock a receiver that fails on purpose, and
//! inspect an outbox.

mod mock;
mod outbox;
mod schemes;
mod send;
mod serve;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use hookwire::http::HeaderMap;
use hookwire::webhook::{Inbound, Message, diagnose, message_id};

use schemes::{Keyed, SchemeName};

/// Exit codes, the same for every command.
const EXIT_CODES: &str = "Exit codes:
  0  done: signed, verified, delivered
  1  the check failed: a request did not verify, a delivery did not arrive
  2  the command could not run: a bad argument, an unreadable file, a port in use";

#[derive(Parser)]
#[command(name = "hookwire", version, about = "Webhooks at the terminal: sign, verify (with a diagnosis), listen, send, mock a receiver, inspect an outbox", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Print the headers a sender of the scheme attaches to the body read from stdin.
    #[command(after_help = EXIT_CODES)]
    Sign {
        #[arg(long, value_enum)]
        scheme: SchemeName,
        /// The secret, as the provider shows it.
        #[arg(long)]
        secret: String,
        /// The message id (a fresh one unless given).
        #[arg(long)]
        id: Option<String>,
        /// The timestamp, in seconds since the Unix epoch (now unless given).
        #[arg(long)]
        timestamp: Option<u64>,
        /// Print a curl command that sends the signed request to this URL instead.
        #[arg(long, value_name = "URL")]
        curl: Option<String>,
    },
    /// Verify a request; on failure, say why and what to check.
    #[command(after_help = EXIT_CODES)]
    Verify {
        #[arg(long, value_enum)]
        scheme: SchemeName,
        /// The secret, as the provider shows it (repeat for a rotation).
        #[arg(long, required = true)]
        secret: Vec<String>,
        /// A captured request: request line, headers, blank line, body.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["header", "body"])]
        request: Option<PathBuf>,
        /// A header, as 'name: value' (repeatable).
        #[arg(long, value_name = "HEADER")]
        header: Vec<String>,
        /// The body's file (`-` for stdin).
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
        /// Verify as at this time, in seconds since the Unix epoch (now unless given).
        #[arg(long)]
        now: Option<u64>,
    },
    /// Receive webhooks on a local port: verify each, print a line, and forward the verified
    /// ones to a local application.
    #[command(after_help = EXIT_CODES)]
    Listen {
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// The scheme (repeat, each followed by its --secret, for several).
        #[arg(long, value_enum, required = true)]
        scheme: Vec<SchemeName>,
        #[arg(long, required = true)]
        secret: Vec<String>,
        /// Where verified requests go, unchanged, for example http://127.0.0.1:3000/hooks.
        #[arg(long, value_name = "URL")]
        forward_to: Option<String>,
    },
    /// Deliver events with hookwire's dispatcher: signed (Standard Webhooks), retried, guarded.
    #[command(after_help = EXIT_CODES)]
    Send(send::Args),
    /// A receiver that fails on purpose, for testing senders; prints a summary when stopped.
    #[command(name = "mock-receiver", after_help = EXIT_CODES)]
    MockReceiver(mock::Args),
    /// Look into an outbox (an SQLite file or a PostgreSQL URL).
    #[command(after_help = EXIT_CODES)]
    Outbox(outbox::Args),
    /// Secrets.
    #[command(after_help = EXIT_CODES)]
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Print a new random secret in the form the scheme's provider shows.
    Generate {
        #[arg(long, value_enum, default_value = "standard-webhooks")]
        scheme: SchemeName,
    },
}

/// What went wrong running a command: exit code 2, and what to do.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hookwire: cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure(message)) => {
            eprintln!("hookwire: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs the command: `Ok(true)` when it did what it checks, `Ok(false)` when the check
/// failed.
async fn run(cli: Cli) -> Result<bool, Failure> {
    let json = cli.json;
    match cli.command {
        Command::Sign {
            scheme,
            secret,
            id,
            timestamp,
            curl,
        } => sign(scheme, &secret, id, timestamp, curl, json),
        Command::Verify {
            scheme,
            secret,
            request,
            header,
            body,
            now,
        } => verify(scheme, &secret, request, &header, body, now, json),
        Command::Listen {
            port,
            scheme,
            secret,
            forward_to,
        } => serve::listen(port, &scheme, &secret, forward_to, json).await,
        Command::Send(args) => send::run(args, json).await,
        Command::MockReceiver(args) => mock::run(args, json).await,
        Command::Outbox(args) => outbox::run(args, json).await,
        Command::Secret {
            command: SecretCommand::Generate { scheme },
        } => {
            let secret = schemes::generate(scheme);
            if json {
                println!("{}", serde_json::json!({ "secret": secret }));
            } else {
                println!("{secret}");
            }
            Ok(true)
        }
    }
}

fn read_stdin() -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|error| Failure(format!("cannot read the body from stdin: {error}")))?;
    Ok(body)
}

fn sign(
    scheme: SchemeName,
    secret: &str,
    id: Option<String>,
    timestamp: Option<u64>,
    curl: Option<String>,
    json: bool,
) -> Result<bool, Failure> {
    let scheme = Keyed::new(scheme, &[secret])?;
    let body = read_stdin()?;
    let id = id.unwrap_or_else(message_id);
    let at = timestamp.map_or_else(SystemTime::now, |s| UNIX_EPOCH + Duration::from_secs(s));
    let headers = scheme.signer().sign(&Message::new(&id, &body).at(at))?;
    if let Some(url) = curl {
        let mut command = format!("curl -X POST '{}'", quote(&url));
        if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
            command.push_str(" \\\n  -H 'content-type: application/json'");
        }
        for (name, value) in &headers {
            command.push_str(&format!(" \\\n  -H '{}: {}'", name, quote(value.to_str()?)));
        }
        match std::str::from_utf8(&body) {
            Ok(text) => command.push_str(&format!(" \\\n  --data-binary '{}'", quote(text))),
            Err(_) => command.push_str(" \\\n  --data-binary @- # the same body on stdin"),
        }
        println!("{command}");
    } else if json {
        let map: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    serde_json::Value::from(value.to_str().unwrap_or_default()),
                )
            })
            .collect();
        println!("{}", serde_json::json!({ "id": id, "headers": map }));
    } else {
        for (name, value) in &headers {
            println!("{name}: {}", value.to_str()?);
        }
    }
    Ok(true)
}

/// `text` for a single-quoted shell word.
fn quote(text: &str) -> String {
    text.replace('\'', r"'\''")
}

fn verify(
    scheme: SchemeName,
    secrets: &[String],
    request: Option<PathBuf>,
    header: &[String],
    body: Option<PathBuf>,
    now: Option<u64>,
    json: bool,
) -> Result<bool, Failure> {
    let verifier = schemes::verifier(&[scheme], secrets)?;
    let (headers, body) = match request {
        Some(path) => {
            let bytes = std::fs::read(&path)
                .map_err(|error| Failure(format!("cannot read {}: {error}", path.display())))?;
            schemes::captured(&bytes)
                .map_err(|error| Failure(format!("{}: {error}", path.display())))?
        }
        None => {
            let mut headers = HeaderMap::new();
            for text in header {
                let (name, value) = schemes::header(text)?;
                headers.append(name, value);
            }
            let body = match body.as_deref() {
                None => return Err(Failure("give the request: --request FILE, or --header 'name: value'... with --body FILE".into())),
                Some(path) if path.as_os_str() == "-" => read_stdin()?,
                Some(path) => std::fs::read(path)
                    .map_err(|error| Failure(format!("cannot read {}: {error}", path.display())))?,
            };
            (headers, body)
        }
    };
    let at = now.map_or_else(SystemTime::now, |s| UNIX_EPOCH + Duration::from_secs(s));
    let inbound = Inbound::new(&headers, &body);
    match verifier.verify_at(inbound, at) {
        Ok(verified) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "verified": true,
                        "scheme": verified.scheme(),
                        "id": verified.id(),
                        "timestamp": verified.timestamp(),
                        "key": verified.key(),
                    })
                );
            } else {
                println!(
                    "verified: {} message {} (secret #{})",
                    verified.scheme(),
                    verified.id().unwrap_or("without an id"),
                    verified.key().map_or(1, |key| key + 1)
                );
            }
            Ok(true)
        }
        Err(error) => {
            let diagnosis = diagnose(&*verifier, inbound, error);
            if json {
                let hints: Vec<String> =
                    diagnosis.hints().iter().map(ToString::to_string).collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "verified": false,
                        "reason": diagnosis.error().reason(),
                        "error": diagnosis.error().to_string(),
                        "hints": hints,
                    })
                );
            } else {
                println!("rejected: {}", diagnosis.error());
                for hint in diagnosis.hints() {
                    println!("  check: {hint}");
                }
            }
            Ok(false)
        }
    }
}

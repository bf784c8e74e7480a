//! Signs a webhook as a sender would, verifies it as a receiver would, and shows a tampered
//! copy rejected with its reason.
//!
//! Run with `cargo run --example quickstart`.

use std::process::ExitCode;
use std::time::SystemTime;

use hookwire::webhook::{Secret, Signer, Verifier, message_id};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The sender issues a secret to its receiver once, out of band.
    let secret = Secret::generate();
    println!("secret issued to the receiver: {secret:?} (32 random bytes, shown as whsec_…)");

    // Sender: sign an event with the time of this attempt and a unique message id.
    let body = br#"{"type":"transfer.settled","timestamp":"2026-11-27T09:30:00Z","data":{"transfer_id":"tr_8841","amount":"1250.00","currency":"EUR"}}"#;
    let id = message_id();
    let signed = Signer::new(&secret).sign(&id, SystemTime::now(), body)?;
    println!("\nsender signed {} bytes:", body.len());
    for (name, value) in signed.pairs() {
        println!("  {name}: {value}");
    }
    let headers = signed.to_header_map();

    // Receiver: verify the raw bytes against the headers before reading them.
    let verifier = Verifier::new(&secret);
    let verified = verifier.verify(&headers, body)?;
    println!(
        "\nreceiver verified message {} signed at {} (Unix seconds)",
        verified.id().unwrap_or_default(),
        verified.timestamp().unwrap_or_default()
    );

    // An attacker changes the amount on the way: the receiver rejects it and says why.
    let tampered = String::from_utf8_lossy(body).replace("1250.00", "9250.00");
    match verifier.verify(&headers, tampered.as_bytes()) {
        Ok(_) => return Err("a tampered body was accepted".into()),
        Err(error) => println!("receiver rejected a tampered copy: {error}"),
    }

    // The same message under a secret the sender never used is rejected too.
    match Verifier::new(&Secret::generate()).verify(&headers, body) {
        Ok(_) => return Err("a message was accepted under the wrong secret".into()),
        Err(error) => println!("receiver with the wrong secret rejected it: {error}"),
    }

    println!("\ndone: 1 message signed and verified, 2 forgeries rejected");
    Ok(())
}

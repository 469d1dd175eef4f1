//! Run with: `cargo run --example dead_letters`
//!
//! A nightly job posts ten invoices to a billing API that is having a bad night: half the
//! POSTs fail (503, busy, nothing created), and one gets a 500 after which nobody knows
//! whether the invoice exists. Every failed call lands as a dead letter in a JSON Lines
//! file (its path is printed); credentials are not stored in it, the request's body and
//! idempotency key are.
//!
//! Then the outage ends and a second phase, as a job started the next morning would, opens
//! the file again and replays the letters through a client with the same stack: the
//! not-applied ones are sent again with their original keys; the unknown one is refused
//! until an operator has looked the invoice up and confirmed it was not created.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::Client;
use steadfast::dead_letter::{JsonlSink, LetterFilter, LetterOutcome, ReplayError, Replayed};
use steadfast::retry::RetryConfig;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = BillingApi::default();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(api.clone())
        .mount(&server)
        .await;
    let dir = std::env::temp_dir().join(format!("steadfast-dead-letters-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("invoices.jsonl");
    println!("dead letters go to {}", file.display());

    println!("\nphase 1: the nightly job, during the outage");
    nightly_job(&server.uri(), &file).await?;

    api.outage_over.store(true, Ordering::SeqCst);
    println!("\nphase 2: the outage is over; replaying the letters");
    replay_letters(&file).await?;

    let created = api.created.load(Ordering::SeqCst);
    println!("\nthe billing API created {created} invoices for 10 orders");
    if created != 10 {
        return Err(format!("expected 10 invoices, the API has {created}").into());
    }
    Ok(())
}

/// The billing API's token; in production it comes from the environment or a vault.
const TOKEN: &str = "sk_live_billing_token";

/// A transport that sends the API's credentials with every request (and every replay).
fn billing_http() -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {TOKEN}"))?;
    auth.set_sensitive(true);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, auth);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// Posts the night's invoices; failures become letters in `file`.
async fn nightly_job(base: &str, file: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(20)),
        )
        .dead_letter_sink(JsonlSink::open(file)?)
        .build(billing_http()?)?;
    for invoice in 1001..=1010 {
        let result = client
            .post(format!("{base}/invoices"))
            .idempotency_key(&format!("invoice-{invoice}"))
            .json(
                &serde_json::json!({ "invoice": invoice, "customer": "acme", "total_cents": 1999 }),
            )
            .send()
            .await;
        match result {
            Ok(response) => println!("  invoice {invoice}: {}", response.status()),
            Err(error) => println!(
                "  invoice {invoice}: failed, recorded ({})",
                error.outcome()
            ),
        }
    }
    let letters = client.dead_letters().ok_or("dead letters are on")?;
    println!("  {} letters recorded", letters.recorded());
    let stored = std::fs::read_to_string(file)?;
    println!("  the API token in the file: {}", stored.contains(TOKEN));
    Ok(())
}

/// Opens the file again and replays every pending letter.
async fn replay_letters(file: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    // The credentials come from the client, as they did for the original calls.
    let client = Client::builder()
        .dead_letter_sink(JsonlSink::open(file)?)
        .build(billing_http()?)?;
    let letters = client.dead_letters().ok_or("dead letters are on")?;
    let pending = letters
        .list(&LetterFilter::default().state("pending"))
        .await?;
    for letter in pending.iter().rev() {
        println!("  {letter}");
        match letters.replay(letter.id).await {
            Ok(Replayed::Resolved { response, .. }) => {
                println!("    replayed: {}", response.status());
            }
            Ok(other) => println!("    {:?}", other.letter().state),
            Err(ReplayError::OutcomeUnknown(id)) => {
                println!("    refused: the invoice may exist; an operator checks, it does not");
                letters.confirm_not_applied(id).await?;
                let again = letters.replay(id).await?;
                println!(
                    "    replayed after confirmation: {:?}",
                    again.letter().state
                );
            }
            Err(other) => println!("    not replayed: {other}"),
        }
    }
    let unknown = LetterFilter::default().outcome(LetterOutcome::Unknown);
    let counts = letters.counts(&LetterFilter::default()).await?;
    println!(
        "  letters by state: {:?} ({} were unknown)",
        counts.by_state,
        letters.list(&unknown).await?.len()
    );
    Ok(())
}

/// The billing API: without the token, 401; during the outage, even invoices get 503 and invoice 1009 a 500 (not
/// created, but the client cannot know); afterwards every POST creates an invoice.
#[derive(Clone, Default)]
struct BillingApi {
    outage_over: Arc<AtomicBool>,
    created: Arc<AtomicUsize>,
}

impl Respond for BillingApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let expected = format!("Bearer {TOKEN}");
        if request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some(&expected)
        {
            return ResponseTemplate::new(401);
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let invoice = body["invoice"].as_u64().unwrap_or_default();
        if !self.outage_over.load(Ordering::SeqCst) {
            if invoice == 1009 {
                return ResponseTemplate::new(500);
            }
            if invoice.is_multiple_of(2) {
                return ResponseTemplate::new(503).set_body_string("busy, try later");
            }
        }
        self.created.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(201).set_body_json(serde_json::json!({ "invoice": invoice }))
    }
}

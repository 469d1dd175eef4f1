//! Run with: `cargo run --example idempotent_invoices`
//!
//! A nightly job creates one invoice per order in a billing API that IGNORES idempotency
//! keys, as most CRMs and ERPs do: every POST that reaches it creates an invoice. The API
//! stores the `external_ref` the job puts in each invoice and can be searched by it. It
//! misbehaves on purpose:
//!
//! - order 1002: the invoice is created, then the API answers 500;
//! - order 1004: the invoice is created, then the answer hangs past the attempt timeout;
//! - order 1005: a gateway answers 502 and the invoice is NOT created;
//! - order 1007: the API answers 503 (busy) before doing anything.
//!
//! A retry after the first two would create a second invoice; not retrying the third would
//! lose it. The client cannot tell them apart, so its verifier asks the API
//! (`GET /invoices?external_ref=…`): a found invoice ends the call (marked `Verified`), a
//! missing one lets the retry go on. The 503 needs no question: the API did nothing.
//!
//! The job also crashes after six orders and is run again. Each call's key is named after
//! its order, so the second run gets the first run's invoices back from steadfast's ledger
//! (marked `Replayed`) without sending anything. In production the ledger must outlive the
//! process: use `steadfast::idempotency::store::RedisStore` (feature `redis`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use steadfast::idempotency::Replayed;
use steadfast::idempotency::store::MemoryStore;
use steadfast::retry::{RetryConfig, RetryStats};
use steadfast::verify::{Sender, Verification, Verified, VerifyRequest};
use steadfast::{Client, Error};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ORDERS: [u32; 10] = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let billing = BillingApi::default();
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(billing.clone())
        .mount(&server)
        .await;
    let ledger = MemoryStore::new();

    println!("run 1: the job crashes after 6 orders");
    run_job(&server.uri(), ledger.clone(), Some(6)).await?;
    println!("\nrun 2: the job starts again from the first order");
    run_job(&server.uri(), ledger, None).await?;

    // What the billing API holds, from its own books.
    let created = billing.created();
    let twice: Vec<_> = created.iter().filter(|(_, n)| **n > 1).collect();
    println!(
        "\nthe billing API holds {} invoices for {} orders; {} created twice",
        created.values().sum::<u32>(),
        ORDERS.len(),
        twice.len(),
    );
    if !twice.is_empty() || created.len() != ORDERS.len() {
        return Err(format!("invoices created more than once or not at all: {created:?}").into());
    }
    Ok(())
}

/// One run of the job; `crash_after` simulates the process dying after that many orders.
async fn run_job(
    base_url: &str,
    ledger: MemoryStore,
    crash_after: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .retry(RetryConfig::default().base_delay(Duration::from_millis(50)))
        .attempt_timeout(Duration::from_millis(500))
        .verifier(invoice_by_external_ref)
        .idempotency_store(ledger)
        .build(reqwest::Client::new())?;
    for (done, order) in ORDERS.iter().enumerate() {
        if crash_after == Some(done) {
            println!("  ** crash **");
            return Ok(());
        }
        // The key doubles as the external reference the API stores and can be searched by.
        let key = format!("invoice-{order}");
        let result = client
            .post(format!("{base_url}/invoices"))
            .idempotency_key(&key)
            .json(&serde_json::json!({ "order": order, "external_ref": key, "total_cents": 4_200 }))
            .send()
            .await;
        match result {
            Ok(response) => {
                let how = if Replayed::is(&response) {
                    "replayed from the ledger, nothing sent".to_owned()
                } else if Verified::of(&response) {
                    let attempts = RetryStats::of(&response).attempts;
                    format!("VERIFIED: attempt {attempts} was applied, found by external_ref")
                } else {
                    let attempts = RetryStats::of(&response).attempts;
                    format!("created, attempt {attempts}")
                };
                let invoice: serde_json::Value = response.json().await?;
                println!("  order {order}: {} ({how})", invoice["id"]);
            }
            // An earlier run left this key unknown: check, then `resolve_idempotency_key`.
            Err(Error::IdempotencyOutcomeUnknown { key, .. }) => {
                println!("  order {order}: {key} is held as unknown; resolve it first");
            }
            Err(error) if error.outcome().is_maybe_applied() => {
                println!("  order {order}: OUTCOME UNKNOWN, check before sending again: {error}");
            }
            // Nothing was created: the next run sends it again.
            Err(error) => println!("  order {order}: not created, safe to retry: {error}"),
        }
    }
    Ok(())
}

/// Asks the billing API whether an invoice with the call's key as `external_ref` exists.
async fn invoice_by_external_ref(request: VerifyRequest, sender: Sender) -> Verification {
    let Some(key) = request.idempotency_key else {
        return Verification::Unknown;
    };
    let mut url = request.url;
    url.query_pairs_mut()
        .clear()
        .append_pair("external_ref", &key);
    match sender
        .send(reqwest::Request::new(reqwest::Method::GET, url))
        .await
    {
        Ok(found) if found.status() == 200 => Verification::Applied(found),
        Ok(missing) if missing.status() == 404 => Verification::NotApplied,
        // A failed lookup proves nothing: the call ends with its outcome unknown.
        _ => Verification::Unknown,
    }
}

/// The billing API: `POST /invoices` creates an invoice whatever its headers say;
/// `GET /invoices?external_ref=…` finds one.
#[derive(Clone, Default)]
struct BillingApi {
    books: Arc<Mutex<Books>>,
}

#[derive(Default)]
struct Books {
    /// Invoice bodies by external reference, and how many were created for it.
    invoices: HashMap<String, (serde_json::Value, u32)>,
    /// POSTs seen per order, to script the faults.
    posts: HashMap<u64, u32>,
}

impl BillingApi {
    /// Invoices created per external reference.
    fn created(&self) -> HashMap<String, u32> {
        let books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        books
            .invoices
            .iter()
            .map(|(reference, (_, n))| (reference.clone(), *n))
            .collect()
    }
}

impl Respond for BillingApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        if request.method == wiremock::http::Method::GET {
            let wanted = request
                .url
                .query_pairs()
                .find(|(name, _)| name == "external_ref")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default();
            return match books.invoices.get(&wanted) {
                Some((invoice, _)) => ResponseTemplate::new(200).set_body_json(invoice),
                None => ResponseTemplate::new(404),
            };
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let order = body["order"].as_u64().unwrap_or_default();
        let posts = books.posts.entry(order).or_default();
        *posts += 1;
        let first = *posts == 1;
        match order {
            1005 if first => return ResponseTemplate::new(502),
            1007 if first => return ResponseTemplate::new(503),
            _ => {}
        }
        let reference = body["external_ref"].as_str().unwrap_or_default().to_owned();
        let invoice =
            serde_json::json!({ "id": format!("INV-{order}"), "external_ref": reference });
        books
            .invoices
            .entry(reference)
            .or_insert_with(|| (invoice.clone(), 0))
            .1 += 1;
        match order {
            1002 if first => ResponseTemplate::new(500),
            1004 if first => ResponseTemplate::new(201)
                .set_body_json(invoice)
                .set_delay(Duration::from_secs(2)),
            _ => ResponseTemplate::new(201).set_body_json(invoice),
        }
    }
}

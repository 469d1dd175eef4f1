//! Run with: `cargo run --example idempotent_invoices`
//!
//! A nightly job creates one invoice per order in a billing API that does NOT support
//! idempotency keys: every POST that reaches it creates an invoice. The job crashes half
//! way and is run again. Because each call's idempotency key is named after the order
//! (`invoice-<order>`), the second run gets the first run's invoices back from steadfast's
//! completed-key ledger instead of creating them again.
//!
//! The ledger must outlive the crashed process: in production, use
//! `steadfast::idempotency::store::RedisStore` (feature `redis`). This demo runs both
//! "processes" in one and shares an in-memory ledger between them.

use std::collections::HashMap;

use steadfast::Client;
use steadfast::idempotency::Replayed;
use steadfast::idempotency::store::MemoryStore;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORDERS: [u32; 10] = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let billing = billing_api().await;
    let ledger = MemoryStore::new();

    println!("run 1: the job crashes after 5 invoices");
    run_job(&billing, ledger.clone(), Some(5)).await?;

    println!("\nrun 2: the job starts again from the first order");
    run_job(&billing, ledger, None).await?;

    // What the billing API actually received.
    let mut created: HashMap<u64, usize> = HashMap::new();
    for request in billing.received_requests().await.unwrap_or_default() {
        let body: serde_json::Value = serde_json::from_slice(&request.body)?;
        *created
            .entry(body["order"].as_u64().unwrap_or(0))
            .or_default() += 1;
    }
    let duplicates = created.values().filter(|n| **n > 1).count();
    println!(
        "\nthe billing API created {} invoices for {} orders; {} created twice",
        created.values().sum::<usize>(),
        ORDERS.len(),
        duplicates,
    );
    if duplicates == 0 {
        println!("no invoice was created twice");
    }
    Ok(())
}

/// One run of the job; `crash_after` simulates the process dying after that many invoices.
async fn run_job(
    billing: &MockServer,
    ledger: MemoryStore,
    crash_after: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .idempotency_store(ledger)
        .build(reqwest::Client::new())?;
    for (done, order) in ORDERS.iter().enumerate() {
        if crash_after == Some(done) {
            println!("  ** crash **");
            return Ok(());
        }
        let response = client
            .post(format!("{}/invoices", billing.uri()))
            .idempotency_key(&format!("invoice-{order}"))
            .json(&serde_json::json!({ "order": order, "total_cents": 4_200 }))
            .send()
            .await?;
        let source = if Replayed::is(&response) {
            "from the ledger, not sent"
        } else {
            "created by the billing API"
        };
        let invoice: serde_json::Value = response.json().await?;
        println!("  order {order}: invoice {} ({source})", invoice["invoice"]);
    }
    Ok(())
}

/// A billing API without idempotency support: every POST creates an invoice.
async fn billing_api() -> MockServer {
    let billing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(|request: &wiremock::Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            ResponseTemplate::new(201).set_body_json(serde_json::json!({
                "invoice": format!("INV-{}", body["order"]),
            }))
        })
        .mount(&billing)
        .await;
    billing
}

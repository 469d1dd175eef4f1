//! Run with: `cargo run --example crm_to_billing`
//!
//! Syncs customers from a CRM to a billing system. The CRM's records are messy (integer
//! ids, nulls, stray spaces, a phone stored as a number); the billing API wants a string
//! `externalClientId` and clean fields. All of the transformation lives in one function,
//! `to_billing_client`; bad records are reported with every problem at once and the job
//! carries on. Both APIs run in this process on 127.0.0.1.

use serde::Serialize;
use serde_json::{Value, json};
use steadfast::mapper::{DriftMonitor, FieldErrorKind, Fields, MapError, Text, map_batch_with_ids};
use steadfast::retry::RetryStats;
use steadfast::{Client, ResponseExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A client as the billing API accepts it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BillingClient {
    external_client_id: String,
    display_name: String,
    email: Option<String>,
    country: String,
    phone: Option<String>,
    currency: String,
}

/// The one place that knows how a CRM customer becomes a billing client.
fn to_billing_client(customer: &Value) -> Result<BillingClient, MapError> {
    let mut f = Fields::new(customer);
    let id = f.required::<i64>("customer_id");
    let name = f.required_text("name", Text::COLLAPSED);
    let email = f.optional_text("email", Text::EMAIL);
    let country = f.optional_text("country", Text::TRIMMED);
    let phone = f.optional_with("phone", |raw: Value| phone_digits(&raw));
    let currency = f.or_default("currency", "EUR".to_owned());
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        f.report("email", FieldErrorKind::invalid("an email address"));
    }
    f.finish(|| {
        Some(BillingClient {
            external_client_id: format!("crm-{}", id?),
            display_name: name?,
            email,
            country: country.map_or_else(|| "DE".to_owned(), |c| c.to_uppercase()),
            phone,
            currency,
        })
    })
}

/// Keeps a leading `+` and the digits; the CRM stores phones as text or as numbers.
fn phone_digits(raw: &Value) -> Result<String, FieldErrorKind> {
    let text = match raw {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(FieldErrorKind::invalid("a phone number")),
    };
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return Err(FieldErrorKind::invalid("a phone number"));
    }
    Ok(if text.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Show the mapper's WARN per rejected record and its INFO summary.
    tracing_subscriber::fmt().with_target(false).init();
    let (crm, billing) = (crm_api().await, billing_api().await);
    let client = Client::new(reqwest::Client::new());

    // 1. Read the CRM, watching for schema drift (a field the CRM added, one it dropped).
    let drift = DriftMonitor::new();
    let (customers, report) = client
        .get(format!("{}/customers", crm.uri()))
        .send()
        .await?
        .json_with_drift::<Vec<CrmCustomer>>(&drift)
        .await?;
    // The monitor has logged the drift once (WARN); the report is here for the job's own use.
    let drifted = !report.is_empty();

    // 2. Map every record; bad ones are reported, not fatal.
    let records: Vec<Value> = customers.into_iter().map(|c| c.record).collect();
    let batch = map_batch_with_ids(&to_billing_client, &records, |c| {
        c.get("customer_id").map(Value::to_string)
    });
    for rejected in &batch.rejected {
        println!(
            "skipped CRM record #{} (id {}): {}",
            rejected.index,
            rejected.id.as_deref().unwrap_or("?"),
            rejected.error
        );
    }

    // 3. Create each client in billing. The idempotency key comes from the CRM id, so a
    //    re-run of this job after a crash cannot create a client twice. A 503 is retried
    //    (the server did nothing); a POST that may have been applied (a 500, a timeout) is
    //    not sent again unless billing deduplicates by the key (`server_dedupes`) or a
    //    verifier finds the client missing.
    println!();
    for billing_client in &batch.mapped {
        let response = client
            .post(format!("{}/clients", billing.uri()))
            .header(
                "Idempotency-Key",
                format!("create-{}", billing_client.external_client_id),
            )
            .json(billing_client)
            .send()
            .await?;
        println!(
            "created {:<10} {:<18} -> {} after {} attempt(s)",
            billing_client.external_client_id,
            billing_client.display_name,
            response.status(),
            RetryStats::of(&response).attempts,
        );
    }
    println!(
        "\n{} CRM records: {} synced, {} rejected; CRM schema drift: {}",
        batch.total(),
        batch.mapped.len(),
        batch.rejected.len(),
        if drifted {
            "yes, see the WARN above"
        } else {
            "none"
        },
    );
    Ok(())
}

/// The CRM's list endpoint wraps each record; the record itself stays untyped so that the
/// mapper, not the decoder, judges its fields.
#[derive(serde::Deserialize)]
struct CrmCustomer {
    record: Value,
    #[allow(dead_code)] // read by the drift report only
    updated_by: Option<String>,
}

async fn crm_api() -> MockServer {
    let crm = MockServer::start().await;
    let export = json!([
        {"record": {"customer_id": 1001, "name": " Ada  Lovelace ", "email": " ADA@Example.COM ",
                    "country": "gb", "phone": "+44 20 7946 0000"}, "segment": "enterprise"},
        {"record": {"customer_id": 1002, "name": "Grace Hopper", "email": null, "country": null,
                    "phone": 4_930_123_456_u64}, "segment": "smb"},
        {"record": {"customer_id": "10O3", "name": "Alan Turing", "email": "alan at example"},
         "segment": "smb"},
        {"record": {"customer_id": 1004, "name": "   ", "phone": "n/a", "currency": "USD"},
         "segment": "smb"},
        {"record": {"customer_id": 1005, "name": "Edsger Dijkstra", "country": " nl "},
         "segment": "enterprise"},
    ]);
    Mock::given(method("GET"))
        .and(path("/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(export))
        .mount(&crm)
        .await;
    crm
}

async fn billing_api() -> MockServer {
    let billing = MockServer::start().await;
    // The billing API has a bad moment: its first answer is a 503.
    Mock::given(method("POST"))
        .and(path("/clients"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&billing)
        .await;
    Mock::given(method("POST"))
        .and(path("/clients"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&billing)
        .await;
    billing
}

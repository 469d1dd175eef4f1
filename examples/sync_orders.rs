//! Run with: `cargo run --example sync_orders`
//!
//! A nightly sync, end to end: page through the shop's orders, map each one to the ERP's
//! shape in one function, upsert them in bulk within the ERP's quota, then reconcile the two
//! systems and print the report a job would store. Both APIs run in this process on
//! 127.0.0.1 and misbehave a little, as real ones do: the shop answers one page with a 503,
//! a few orders are malformed, the ERP rejects two records inside a successful bulk answer,
//! rounds one total, and holds an order someone typed in by hand.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use steadfast::Client;
use steadfast::flow::reconcile::{Order, ReconcileConfig};
use steadfast::flow::{
    BatchConfig, Batcher, BodyCursor, RecordFailure, RecordOutcome, RecordResult,
};
use steadfast::mapper::{FieldErrorKind, Fields, MapError, Text};
use steadfast::rate_limit::{Quota, RateLimitConfig};
use steadfast::retry::RetryConfig;

const ORDERS: u64 = 1_000;
const PAGE: u64 = 100;
/// Bulk calls per second the ERP allows; more are answered 429.
const ERP_CALLS_PER_SECOND: u32 = 5;

/// An order as the ERP takes it: the one shape both systems are compared in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ErpOrder {
    id: u64,
    customer: String,
    total_cents: i64,
    currency: String,
}

/// The one place that knows how a shop order becomes an ERP order.
fn to_erp(order: &Value) -> Result<ErpOrder, MapError> {
    let mut f = Fields::new(order);
    let id = f.required::<u64>("id");
    let customer = f.required_text("customer_email", Text::EMAIL);
    let total = f.required_text("total", Text::TRIMMED);
    let currency = f.or_default("currency", "EUR".to_owned());
    let cents = total.as_deref().and_then(cents);
    if total.is_some() && cents.is_none() {
        f.report(
            "total",
            FieldErrorKind::invalid("a decimal amount such as 12.50"),
        );
    }
    f.finish(|| {
        Some(ErpOrder {
            id: id?,
            customer: customer?,
            total_cents: cents?,
            currency,
        })
    })
}

/// `"12.5"` → 1250, `"-3.05"` → -305; `None` for anything that is not a plain decimal
/// amount.
fn cents(amount: &str) -> Option<i64> {
    let (sign, digits) = match amount.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, amount),
    };
    let (units, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let fraction = format!("{fraction:0<2}");
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if fraction.len() > 2 || !plain(units) || !plain(&fraction) {
        return None;
    }
    Some(sign * (units.parse::<i64>().ok()? * 100 + fraction.parse::<i64>().ok()?))
}

/// A shop order as the ERP should hold it; one that does not map is compared by its id
/// alone (and shows as missing).
fn in_erp_shape(order: &Value) -> Value {
    to_erp(order).map_or_else(|_| json!({ "id": order["id"] }), |mapped| json!(mapped))
}

/// What the ERP says of each record of a bulk call, in order.
fn erp_results(body: &Value) -> Result<Vec<RecordResult>, MapError> {
    let results = body["results"]
        .as_array()
        .ok_or_else(|| MapError::custom("the bulk answer has no results"))?;
    Ok(results
        .iter()
        .map(|r| match r["status"].as_str() {
            Some("upserted") => Ok(r["id"].clone()),
            _ => Err(
                RecordFailure::new(r["error"].as_str().unwrap_or("rejected"))
                    .code(r["code"].as_str().unwrap_or("unknown")),
            ),
        })
        .collect())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shop = serve(shop_api()).await?;
    let erp = serve(erp_api()).await?;

    let shop_client = Client::builder()
        .base_url(shop.parse()?)
        .retry(RetryConfig::default().base_delay(Duration::from_millis(50)))
        .build(reqwest::Client::new())?;
    // The ERP's quota, kept on this side: no bulk call is answered 429.
    let erp_client = Client::builder()
        .base_url(erp.parse()?)
        .rate_limit(RateLimitConfig::new(
            Quota::per_second(ERP_CALLS_PER_SECOND).burst(1),
        ))
        .build(reqwest::Client::new())?;

    // 1. Page through the shop's orders and map each; a bad order is reported, not sent.
    let (orders, checkpoint) = shop_client
        .paginate(
            shop_client.get("orders"),
            BodyCursor::pointer("/next", "cursor"),
        )
        .items::<Value>("/data")
        .until_error();
    let unmappable = Arc::new(Mutex::new(Vec::new()));
    let to_send = {
        let unmappable = Arc::clone(&unmappable);
        orders.filter_map(move |order| {
            let mapped = to_erp(&order).map_err(|e| (order["id"].clone(), e.to_string()));
            if let Err(problem) = &mapped {
                unmappable
                    .lock()
                    .expect("not poisoned")
                    .push(problem.clone());
            }
            std::future::ready(mapped.ok())
        })
    };

    // 2. Upsert in bulk, 200 records a call, within the ERP's quota.
    let batcher = Batcher::new(
        erp_client.clone(),
        &BatchConfig::default().max_records(200),
        |client: &Client, body| {
            client
                .post("orders/bulk")
                .header("content-type", "application/json")
                .body(body)
        },
        erp_results,
    )?;
    let mut reports = batcher.run(to_send);
    let (mut upserted, mut rejected) = (0, Vec::new());
    while let Some(report) = reports.next().await {
        upserted += report.records().len() - report.failed().count();
        for failed in report.failed() {
            let why = match &failed.outcome {
                RecordOutcome::Rejected(failure) => failure.message.clone(),
                // The whole call failed; it is a dead letter if the client keeps them.
                other => format!(
                    "{:?}: {}",
                    other.state(),
                    report.error().map_or_else(String::new, ToString::to_string)
                ),
            };
            rejected.push((failed.record.id, why));
        }
    }
    if let Some(error) = checkpoint.take_error() {
        // A page that failed after the stack's retries: the next run resumes from here.
        println!(
            "stopped early: {error}; resume from {:?}",
            checkpoint.position()
        );
    }
    println!("upserted {upserted} orders to the ERP");
    for (id, problem) in unmappable.lock().expect("not poisoned").iter() {
        println!("  not sent, order {id}: {problem}");
    }
    for (id, why) in &rejected {
        println!("  not applied by the ERP, order {id}: {why}");
    }

    // 3. Reconcile: every shop order, in the ERP's shape where it maps, against the ERP.
    let source = shop_client
        .paginate(
            shop_client.get("orders"),
            BodyCursor::pointer("/next", "cursor"),
        )
        .items::<Value>("/data")
        .map(|order| order.map(|o| in_erp_shape(&o)).map_err(Box::new));
    let destination = erp_client
        .paginate(
            erp_client.get("orders"),
            BodyCursor::pointer("/next", "after"),
        )
        .items::<Value>("/data");
    let report = ReconcileConfig::default()
        .order(Order::Sorted)
        .reconcile(source, destination, "/id")
        .await?;
    println!("\nreconciliation: {report}");
    println!(
        "\nas the job stores it:\n{}",
        serde_json::to_string_pretty(&report)?
    );
    Ok(())
}

// ---- the two APIs, embedded so that the example runs anywhere ----

/// Serves `app` on a free loopback port; its base URL.
async fn serve(app: Router) -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

#[derive(Deserialize)]
struct Cursor {
    cursor: Option<u64>,
    after: Option<u64>,
}

/// The shop: 1,000 orders, 100 a page; order 17 has no email, 333 a total of "12,50", 640
/// none; the fifth page fails once with a 503.
fn shop_api() -> Router {
    let failed_once = Arc::new(AtomicBool::new(false));
    Router::new().route(
        "/orders",
        get(move |Query(at): Query<Cursor>| {
            let failed_once = Arc::clone(&failed_once);
            async move {
                let from = at.cursor.unwrap_or(0);
                if from == 4 * PAGE && !failed_once.swap(true, Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                let data: Vec<Value> = (from..(from + PAGE).min(ORDERS)).map(shop_order).collect();
                let next = (from + PAGE < ORDERS).then(|| (from + PAGE).to_string());
                Json(json!({ "data": data, "next": next })).into_response()
            }
        }),
    )
}

fn shop_order(n: u64) -> Value {
    let id = n + 1;
    let mut order = json!({
        "id": id,
        "customer_email": format!("buyer{id}@example.com"),
        "total": format!("{}.{:02}", 10 + id % 90, id % 100),
        "currency": if id.is_multiple_of(7) { "USD" } else { "EUR" },
    });
    match id {
        17 => order["customer_email"] = Value::Null,
        333 => order["total"] = json!("12,50"),
        640 => order["total"] = Value::Null,
        // Currencies the ERP does not book: rejected inside a 200.
        404 | 808 => order["currency"] = json!("XTS"),
        _ => {}
    }
    order
}

type Ledger = Arc<Mutex<BTreeMap<u64, ErpOrder>>>;

/// The ERP: bulk upserts at most `ERP_CALLS_PER_SECOND` a second, a per-record result for
/// each, totals of order 250 rounded to whole units on the way in, and order 5,000 entered by
/// hand; its list pages by `after`.
fn erp_api() -> Router {
    let ledger: Ledger = Arc::default();
    ledger.lock().expect("not poisoned").insert(
        5_000,
        ErpOrder {
            id: 5_000,
            customer: "walk-in@example.com".to_owned(),
            total_cents: 990,
            currency: "EUR".to_owned(),
        },
    );
    Router::new()
        .route("/orders/bulk", post(bulk_upsert))
        .route("/orders", get(list))
        .with_state(ledger)
}

async fn bulk_upsert(State(ledger): State<Ledger>, Json(orders): Json<Vec<ErpOrder>>) -> Response {
    let mut stored = ledger.lock().expect("not poisoned");
    let results: Vec<Value> = orders
        .into_iter()
        .map(|mut order| {
            if order.currency == "XTS" {
                return json!({ "id": order.id, "status": "rejected", "code": "currency",
                               "error": "currency is not booked" });
            }
            if order.id == 250 {
                order.total_cents = order.total_cents / 100 * 100;
            }
            let id = order.id;
            stored.insert(id, order);
            json!({ "id": id, "status": "upserted" })
        })
        .collect();
    Json(json!({ "results": results })).into_response()
}

async fn list(State(ledger): State<Ledger>, Query(at): Query<Cursor>) -> Json<Value> {
    let stored = ledger.lock().expect("not poisoned");
    let after = at.after.unwrap_or(0);
    let page: Vec<&ErpOrder> = stored
        .range(after + 1..)
        .map(|(_, o)| o)
        .take(250)
        .collect();
    let next = (page.len() == 250).then(|| page[249].id.to_string());
    Json(json!({ "data": page, "next": next }))
}

//! Run with: `cargo run --example json_logs`
//!
//! Prints steadfast's logs as JSON lines, the way a log pipeline receives them, for two
//! calls to a "billing API" that this program starts on 127.0.0.1:
//!
//! 1. `GET /orders/42` answers 503 twice, then 200: two `retry scheduled` WARN lines, one
//!    `call succeeded` DEBUG line, and one closing line per span with its final fields.
//! 2. `POST /invoices` answers 401: a permanent failure, sent once. The `gave up` ERROR line
//!    carries a hint that a human must act, and the `on_permanent` hook "pages" on stderr.
//!
//! Every secret the calls carry (a bearer token, an `access_token` query parameter, a card
//! number in the request body, a token in the response body) shows up as `REDACTED` or
//! `[redacted]`. Pipe stdout through `jq` to read it.

use std::time::Duration;

use steadfast::Client;
use steadfast::log::{BodyCapture, LogConfig};
use steadfast::retry::RetryConfig;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application installs the subscriber, once; steadfast never does. JSON lines on
    // stdout; each span's fields are printed again when it closes. Only steadfast's own
    // targets, at DEBUG (use `EnvFilter` and `RUST_LOG` in a real service).
    let subscriber = tracing_subscriber::registry()
        .with(Targets::new().with_target("steadfast", Level::DEBUG))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_span_events(FmtSpan::CLOSE)
                .with_current_span(true)
                .with_span_list(false),
        );
    tracing::subscriber::set_global_default(subscriber)?;

    let api = billing_api().await;

    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(3)
                .base_delay(Duration::from_millis(50)),
        )
        .attempt_timeout(Duration::from_secs(2))
        // Bodies are off by default; here they are logged for failed calls, redacted and
        // cut at 4 KiB.
        .log(LogConfig::default().bodies(BodyCapture::default().request(true).response(true)))
        .on_permanent(|failed| {
            if failed.needs_attention() {
                eprintln!(
                    "PAGE on-call: {} {} was refused ({:?}): check the API credentials",
                    failed.method(),
                    failed.url(),
                    failed.status(),
                );
            }
        })
        .build(reqwest::Client::new())?;

    let order = client
        .get(format!("{}/orders/42", api.uri()))
        .query(&[("access_token", "tok_live_4f9a2c"), ("expand", "lines")])
        .send()
        .await?;
    eprintln!("order 42: {}", order.status());

    let invoice = client
        .post(format!("{}/invoices", api.uri()))
        .bearer_auth("sk_live_51Hx9expired")
        .header("Idempotency-Key", "invoice-2024-0042")
        .json(&serde_json::json!({
            "customer": "cus_42",
            "total_cents": 1999,
            "payment": { "card_number": "4111111111111111", "exp": "12/27" },
        }))
        .send()
        .await;
    match invoice {
        Ok(response) => eprintln!("invoice: {}", response.status()),
        Err(error) => eprintln!("invoice: {error}"),
    }
    Ok(())
}

/// A billing API with a flaky orders endpoint and an expired credential for invoices.
async fn billing_api() -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders/42"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/42"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 42, "lines": []})),
        )
        .with_priority(2)
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_token",
            "message": "the API key has expired",
            "token": "sk_live_51Hx9expired",
        })))
        .mount(&api)
        .await;
    api
}

//! Run with: `cargo run --example degrade`
//!
//! A price-list API goes down for 10 seconds while a loop keeps reading it four times a
//! second. The output shows the circuit opening (calls fail fast without touching the
//! network), the last good price list served stale meanwhile, probes while half-open, and
//! recovery. The API runs in this process on 127.0.0.1; the run takes about 17 s.

use std::ops::Range;
use std::time::{Duration, Instant};

use steadfast::breaker::CircuitBreakerConfig;
use steadfast::retry::RetryConfig;
use steadfast::stale::{Stale, StaleConfig};
use steadfast::{Client, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// Up, then down (503) for `down`, then up again.
struct PriceListApi {
    started: Instant,
    down: Range<Duration>,
}

impl Respond for PriceListApi {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        if self.down.contains(&self.started.elapsed()) {
            return ResponseTemplate::new(503);
        }
        ResponseTemplate::new(200)
            .insert_header("cache-control", "max-age=60")
            .set_body_json(serde_json::json!({ "sku": "A-1", "price_cents": 1299 }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/prices/A-1"))
        .respond_with(PriceListApi {
            started,
            down: Duration::from_secs(2)..Duration::from_secs(12),
        })
        .mount(&api)
        .await;

    let client = Client::builder()
        // One retry, and none into an open circuit.
        .retry(
            RetryConfig::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(50))
                .max_retry_after(Duration::from_secs(1)),
        )
        .attempt_timeout(Duration::from_secs(1))
        // Tuned for a short demo: trip after 6 calls at half failed; a 2 s break growing to
        // 3 s at most; one probe. A call that finds the break nearly over waits for it
        // (within max_retry_after) and becomes the probe: the lines that take about 1 s.
        .breaker(
            CircuitBreakerConfig::default()
                .minimum_calls(6)
                .break_duration(Duration::from_secs(2))
                .max_break(Duration::from_secs(3))
                .half_open_probes(1),
        )
        .stale_if_error(StaleConfig::default().max_age(Duration::from_secs(60)))
        .build(reqwest::Client::new())?;

    let url = format!("{}/prices/A-1", api.uri());
    let (mut fresh, mut served_stale, mut not_sent, mut failed) = (0, 0, 0, 0);
    println!("{:>6}  {:<10} result", "time", "circuit");
    while started.elapsed() < Duration::from_secs(17) {
        let call = Instant::now();
        let result = client.get(&url).send().await;
        let took = call.elapsed();
        let circuit = client
            .circuit_state(&api.uri())
            .map_or("-", |state| state.as_str());
        let line = match result {
            Ok(response) => {
                if let Some(marker) = Stale::of(&response).cloned() {
                    served_stale += 1;
                    let why = match *marker.error {
                        Error::CircuitOpen { .. } => {
                            not_sent += 1;
                            "circuit open, not sent"
                        }
                        _ => "the API failed",
                    };
                    format!(
                        "STALE price list, {}s old ({why}; answered in {took:?})",
                        marker.age.as_secs()
                    )
                } else {
                    fresh += 1;
                    let body: serde_json::Value = response.json().await?;
                    format!("fresh: {} cents", body["price_cents"])
                }
            }
            Err(Error::CircuitOpen { retry_after, .. }) => {
                not_sent += 1;
                failed += 1;
                format!("failed fast in {took:?}: open for {retry_after:?} more")
            }
            Err(other) => {
                failed += 1;
                format!("failed: {other}")
            }
        };
        println!(
            "{:>5.1}s  {circuit:<10} {line}",
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sent = api.received_requests().await.unwrap_or_default().len();
    println!(
        "\n{fresh} fresh, {served_stale} served stale, {failed} failed; {not_sent} calls failed \
         fast without touching the network; the API saw {sent} requests"
    );
    Ok(())
}

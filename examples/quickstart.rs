//! Run with: `cargo run --example quickstart`
//!
//! Fetches 20 orders from a flaky "orders API" through a steadfast client and prints what
//! happened to each call. The API runs in this process on 127.0.0.1 and misbehaves on
//! purpose: bursts of 503 and 502, a 429 with `Retry-After`, a response that hangs, and an
//! order that does not exist.

use std::time::{Duration, Instant};

use steadfast::retry::{RetryConfig, RetryStats};
use steadfast::{Client, Error, NotRetried};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = flaky_orders_api().await;

    // The whole resilience stack from one configuration: retries with full jitter, a retry
    // budget, Retry-After, a 2 s limit per attempt and a 30 s deadline per call.
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(3)
                .base_delay(Duration::from_millis(100))
                .deadline(Duration::from_secs(30)),
        )
        .attempt_timeout(Duration::from_secs(2))
        // Relative request URLs resolve against it: `orders/3` is `<api>/orders/3`.
        .base_url(api.uri().parse()?)
        .build(reqwest::Client::new())?;

    println!("fetching 20 orders from {}\n", api.uri());
    println!(
        "{:<6} {:<14} {:>8} {:>8}  outcome",
        "order", "status", "attempts", "waited"
    );

    let job = Instant::now();
    let (mut attempts, mut succeeded, mut waited) = (0, 0, Duration::ZERO);
    for order in 1..=20 {
        let started = Instant::now();
        let result = client.get(format!("orders/{order}")).send().await;
        match result {
            Ok(response) => {
                let stats = RetryStats::of(&response);
                let code = response.status().to_string();
                let body: serde_json::Value = response.json().await?;
                attempts += stats.attempts;
                waited += stats.waited;
                succeeded += 1;
                println!(
                    "#{order:<5} {code:<14} {:>8} {:>6}ms  ok: {} item(s) in {}ms",
                    stats.attempts,
                    stats.waited.as_millis(),
                    body["items"],
                    started.elapsed().as_millis(),
                );
            }
            Err(error) => {
                let tries = error.failure().map_or(1, steadfast::Failure::attempts);
                attempts += tries;
                let status = error.status().map_or("-".to_owned(), |s| s.to_string());
                // A permanent failure is a fact about the data; anything else is worth a retry
                // of the whole job later.
                let verdict = match &error {
                    Error::NotRetried {
                        why: NotRetried::Permanent,
                        ..
                    } => "skipped",
                    _ => "retry the job later",
                };
                println!(
                    "#{order:<5} {status:<14} {tries:>8} {:>8}  FAILED ({verdict}): {error}",
                    "-"
                );
            }
        }
    }

    println!(
        "\n20 calls, {attempts} attempts ({} retries), {succeeded} succeeded, {} failed; \
         {}ms spent waiting between attempts, {}ms in all",
        attempts - 20,
        20 - succeeded,
        waited.as_millis(),
        job.elapsed().as_millis(),
    );
    Ok(())
}

/// An orders API on 127.0.0.1 that fails the way real ones do.
async fn flaky_orders_api() -> MockServer {
    let api = MockServer::start().await;
    let ok = |order: u32| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": order,
            "items": order % 4 + 1,
        }))
    };
    // (order, failure, how many times before it recovers)
    let failures = [
        (3, ResponseTemplate::new(503), 2),
        (
            7,
            ResponseTemplate::new(429).insert_header("retry-after", "1"),
            1,
        ),
        (
            11,
            ResponseTemplate::new(200).set_delay(Duration::from_secs(10)),
            1,
        ),
        (14, ResponseTemplate::new(502), 3),
        (18, ResponseTemplate::new(503), 1),
    ];
    for (order, failure, times) in failures {
        Mock::given(method("GET"))
            .and(path(format!("/orders/{order}")))
            .respond_with(failure)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&api)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/orders/15"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no such order"))
        .with_priority(1)
        .mount(&api)
        .await;
    for order in 1..=20 {
        Mock::given(method("GET"))
            .and(path(format!("/orders/{order}")))
            .respond_with(ok(order))
            .with_priority(2)
            .mount(&api)
            .await;
    }
    api
}

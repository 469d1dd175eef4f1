//! Run with: `cargo run --example metrics --features metrics`
//!
//! Exports steadfast's metrics to Prometheus. The program installs the Prometheus exporter
//! (metrics-exporter-prometheus) with its own `/metrics` listener on a loopback port, makes
//! 40 calls through a steadfast client to a flaky "orders API" and a broken "inventory API"
//! that run in this process, then scrapes its own `/metrics` the way Prometheus would and
//! prints the interesting lines: attempts per status, retries by cause, calls by outcome,
//! the inventory API's circuit, open.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use steadfast::Client;
use steadfast::breaker::CircuitBreakerConfig;
use steadfast::retry::RetryConfig;
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The application installs the recorder; steadfast only records into it.
    let scrape = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    PrometheusBuilder::new()
        .with_http_listener(scrape)
        // Latency buckets in seconds for the durations, whole numbers for attempts.
        .set_buckets_for_metric(
            Matcher::Suffix("duration".into()),
            &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
        )?
        .set_buckets_for_metric(
            Matcher::Full(steadfast::metrics::CALL_ATTEMPTS.into()),
            &[1.0, 2.0, 3.0, 4.0],
        )?
        .install()?;
    // Units and `# HELP` lines for every metric.
    steadfast::metrics::describe();

    let orders = flaky_orders_api().await;
    let inventory = broken_inventory_api().await;
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(5))
                .max_delay(Duration::from_millis(20)),
        )
        .attempt_timeout(Duration::from_secs(2))
        // After 5 calls at half failed, a host's circuit opens for 30 s.
        .breaker(
            CircuitBreakerConfig::default()
                .minimum_calls(5)
                .failure_ratio(0.5)
                .break_duration(Duration::from_secs(30)),
        )
        .build(reqwest::Client::new())?;

    // 2. Traffic: 30 order lookups (every third attempt fails) and 10 stock checks against
    // an API that is down.
    let (mut ok, mut failed) = (0, 0);
    for id in 1..=30 {
        let url = format!("{}/orders/{id}", orders.uri());
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => ok += 1,
            _ => failed += 1,
        }
    }
    for sku in 1..=10 {
        let url = format!("{}/stock/sku-{sku}", inventory.uri());
        if client.get(url).send().await.is_err() {
            failed += 1;
        }
    }
    println!("{ok} calls succeeded, {failed} failed\n");

    // 3. What Prometheus would scrape.
    let text = reqwest::get(format!("http://{scrape}/metrics"))
        .await?
        .text()
        .await?;
    println!("from http://{scrape}/metrics:\n");
    for line in text.lines().filter(|line| interesting(line)) {
        println!("  {line}");
    }
    Ok(())
}

/// Counters, gauges and the count of each histogram: enough to read the story.
fn interesting(line: &str) -> bool {
    let ours = line.starts_with("steadfast_") || line.starts_with("http_client_");
    let histogram_part = line.contains("_bucket{") || line.contains("_sum{");
    ours && !histogram_part
}

/// A free port on loopback for the exporter's listener.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// An orders API that answers every third request with a 503.
async fn flaky_orders_api() -> MockServer {
    struct EveryThirdFails(AtomicUsize);
    impl Respond for EveryThirdFails {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            if self.0.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
                ResponseTemplate::new(503)
            } else {
                ResponseTemplate::new(200).set_body_string(r#"{"status":"shipped"}"#)
            }
        }
    }
    let server = MockServer::start().await;
    Mock::given(path_regex("^/orders/"))
        .respond_with(EveryThirdFails(AtomicUsize::new(0)))
        .mount(&server)
        .await;
    server
}

/// An inventory API that is down: every request a 503.
async fn broken_inventory_api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/stock/"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    server
}

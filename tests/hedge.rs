//! Hedging through the public API, against a loopback API whose answers take virtual time.

mod common;

use std::time::Duration;

use steadfast::Client;
use steadfast::retry::{BudgetConfig, HedgeConfig, RetryConfig};
use tokio::time::Instant;

use common::slow::Api;
use common::{build, paused};

const HEDGE: Duration = Duration::from_millis(100);

fn client(retry: RetryConfig) -> Client {
    build(paused(retry.hedge(HedgeConfig::default().delay(HEDGE))))
}

/// Waits (in virtual time, so that timers may fire) until `api` has seen `n` requests.
async fn arrived(api: &Api, n: usize) {
    while api.arrived() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_get_is_hedged_the_first_answer_wins_and_the_loser_is_dropped() {
    let api = Api::start(200).await;
    api.body("order 42");
    api.delay(Duration::from_secs(10));
    let client = client(RetryConfig::default());
    let start = Instant::now();
    let call = {
        let (client, url) = (client.clone(), api.url());
        tokio::spawn(async move { client.get(url).send().await })
    };
    arrived(&api, 1).await;
    // The hedge finds the server quick again.
    api.delay(Duration::ZERO);
    let response = call.await.expect("no panic").expect("the hedge answers");
    assert_eq!(response.text().await.expect("body"), "order 42");
    let arrivals = api.arrivals();
    assert_eq!(arrivals.len(), 2, "the first attempt and one hedge");
    assert_eq!(arrivals[1].0 - arrivals[0].0, HEDGE);
    assert!(start.elapsed() < Duration::from_secs(1));
    // The first attempt was dropped: the server sees its connection close.
    while api.dropped() < 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!((api.dropped(), api.answered()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_quick_answer_sends_no_hedge() {
    let api = Api::start(200).await;
    api.delay(HEDGE / 2);
    let client = client(RetryConfig::default());
    for _ in 0..5 {
        client.get(api.url()).send().await.expect("ok");
    }
    assert_eq!(api.arrived(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_hedged() {
    let api = Api::start(201).await;
    api.delay(Duration::from_secs(1));
    let client = client(RetryConfig::default());
    let start = Instant::now();
    let response = client.post(api.url()).send().await.expect("created");
    assert_eq!(response.status(), 201);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "waited for the one attempt"
    );
    assert_eq!(
        api.arrived(),
        1,
        "a POST the server does not dedupe is sent once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_with_a_key_the_server_dedupes_is_hedged() {
    let api = Api::start(201).await;
    api.delay(Duration::from_secs(1));
    let client = client(RetryConfig::default().server_dedupes(true));
    client.post(api.url()).send().await.expect("created");
    assert_eq!(
        api.arrived(),
        2,
        "safe to repeat: the key is the same on both"
    );
}

#[tokio::test(start_paused = true)]
async fn hedges_spend_the_retry_budget() {
    let api = Api::start(200).await;
    api.delay(Duration::from_secs(1));
    let empty = BudgetConfig::default().retry_ratio(0.0).min_per_second(0.0);
    let client = client(RetryConfig::default().budget(empty));
    let start = Instant::now();
    client.get(api.url()).send().await.expect("ok");
    assert_eq!(api.arrived(), 1, "no token, no hedge");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

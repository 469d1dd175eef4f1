//! Stale-if-error through the public API, against a loopback API that fails on command, on
//! a paused clock.

mod common;

use std::time::Duration;

use steadfast::breaker::CircuitBreakerConfig;
use steadfast::retry::RetryConfig;
use steadfast::stale::{Stale, StaleConfig};
use steadfast::{Client, Error};

use common::log::capture_events;
use common::slow::Api;
use common::{build, paused};

const MAX_AGE: Duration = Duration::from_secs(60);

fn client() -> Client {
    build(
        paused(RetryConfig::default().max_retries(0))
            .stale_if_error(StaleConfig::default().max_age(MAX_AGE)),
    )
}

async fn get(client: &Client, url: &str) -> Result<(u16, String, Option<Stale>), Error> {
    let response = client.get(url).send().await?;
    let stale = Stale::of(&response).cloned();
    let status = response.status().as_u16();
    let text = response.text().await.expect("a whole body");
    Ok((status, text, stale))
}

#[tokio::test(start_paused = true)]
async fn the_last_good_response_stands_in_for_a_transient_failure_within_max_age() {
    let (capture, _guard) = capture_events();
    let api = Api::start(200).await;
    api.body("catalog v1");
    let client = client();
    let (status, text, stale) = get(&client, &api.url()).await.expect("fresh");
    assert_eq!((status, text.as_str()), (200, "catalog v1"));
    assert!(stale.is_none(), "a fresh answer is not marked");

    api.set(503);
    api.body("");
    tokio::time::advance(Duration::from_secs(10)).await;
    let (status, text, stale) = get(&client, &api.url()).await.expect("served stale");
    assert_eq!((status, text.as_str()), (200, "catalog v1"));
    let stale = stale.expect("marked stale");
    assert_eq!(stale.age, Duration::from_secs(10));
    assert!(
        matches!(
            *stale.error,
            Error::RetriesExhausted { .. } | Error::NotRetried { .. }
        ),
        "{:?}",
        stale.error
    );
    let served = capture.events("served a stale response: the call failed");
    assert_eq!(served.len(), 1, "{}", capture.dump());
    assert_eq!(served[0].level, tracing::Level::WARN);
    assert_eq!(served[0].field("age_ms"), Some("10000"));

    // Another URL has nothing kept.
    let error = get(&client, &format!("{}/other", api.base))
        .await
        .expect_err("nothing kept");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));

    tokio::time::advance(MAX_AGE).await;
    let error = get(&client, &api.url()).await.expect_err("too old");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
}

#[tokio::test(start_paused = true)]
async fn never_for_no_store_or_private() {
    for directive in ["no-store", "private, max-age=60"] {
        let api = Api::start(200).await;
        api.body("secret balance");
        api.header("cache-control", directive);
        let client = client();
        get(&client, &api.url()).await.expect("fresh");
        api.set(503);
        let error = get(&client, &api.url()).await.expect_err(directive);
        assert_eq!(error.status().map(|s| s.as_u16()), Some(503), "{directive}");
    }

    // A no-store answer also forgets what was kept before it.
    let api = Api::start(200).await;
    api.body("v1");
    let client = client();
    get(&client, &api.url()).await.expect("kept");
    api.header("cache-control", "no-store");
    get(&client, &api.url()).await.expect("fresh, not kept");
    api.clear_headers();
    api.set(500);
    assert!(get(&client, &api.url()).await.is_err(), "v1 was forgotten");
}

#[tokio::test(start_paused = true)]
async fn never_for_throttles_permanent_failures_or_writes() {
    let api = Api::start(200).await;
    api.body("v1");
    let client = client();
    get(&client, &api.url()).await.expect("kept");
    for status in [429, 404, 401] {
        api.set(status);
        let error = get(&client, &api.url())
            .await
            .expect_err("not answered from the store");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
    }
    // A POST is neither kept nor answered from the store.
    api.set(200);
    client.post(api.url()).send().await.expect("created");
    api.set(503);
    let error = client.post(api.url()).send().await.expect_err("not stale");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
}

#[tokio::test(start_paused = true)]
async fn one_callers_response_is_never_served_to_another() {
    let api = Api::start(200).await;
    api.body("alice's invoices");
    let client = client();
    let as_alice = || client.get(api.url()).bearer_auth("alice-token");
    as_alice().send().await.expect("kept");
    api.set(503);
    let bob = client.get(api.url()).bearer_auth("bob-token").send().await;
    assert!(bob.is_err(), "bob gets the error, not alice's response");
    let alice = as_alice().send().await.expect("alice gets hers");
    assert!(Stale::of(&alice).is_some());
}

#[tokio::test(start_paused = true)]
async fn served_while_the_circuit_is_open_without_touching_the_network() {
    let api = Api::start(200).await;
    api.body("price list");
    let client = build(
        paused(RetryConfig::default().max_retries(0))
            .stale_if_error(StaleConfig::default())
            .breaker(CircuitBreakerConfig::default().minimum_calls(2)),
    );
    get(&client, &api.url()).await.expect("kept");
    api.set(503);
    get(&client, &api.url()).await.expect("stale after a 503");
    assert!(matches!(
        client.circuit_state(&api.base),
        Some(steadfast::breaker::CircuitState::Open { .. })
    ));
    let arrived = api.arrived();
    let (status, text, stale) = get(&client, &api.url()).await.expect("stale while open");
    assert_eq!((status, text.as_str()), (200, "price list"));
    let stale = stale.expect("marked");
    assert!(
        matches!(*stale.error, Error::CircuitOpen { .. }),
        "{:?}",
        stale.error
    );
    assert_eq!(api.arrived(), arrived, "nothing sent");
}

#[tokio::test(start_paused = true)]
async fn large_bodies_are_passed_on_whole_and_not_kept() {
    let api = Api::start(200).await;
    let big = "x".repeat(2_000);
    api.body(&big);
    let client = build(
        paused(RetryConfig::default().max_retries(0))
            .stale_if_error(StaleConfig::default().max_entry_bytes(1_000)),
    );
    let (_, text, _) = get(&client, &api.url()).await.expect("fresh");
    assert_eq!(text, big, "the caller still reads all of it");
    api.set(503);
    assert!(get(&client, &api.url()).await.is_err(), "not kept");
}

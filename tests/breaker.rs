//! The circuit breaker and bulkhead through the public API, against a loopback API that
//! fails on command, on a paused clock.

mod common;

use std::time::Duration;

use steadfast::breaker::{BulkheadConfig, CircuitBreakerConfig, CircuitState};
use steadfast::classify::Applied;
use steadfast::retry::RetryConfig;
use steadfast::{Client, Error};
use tokio::time::Instant;

use common::log::capture_events;
use common::slow::Api;
use common::{build, paused};

const BREAK: Duration = Duration::from_secs(5);

/// Trips after 10 counted calls at half failed; 5 s break; 2 probes.
fn breaker() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .minimum_calls(10)
        .failure_ratio(0.5)
        .break_duration(BREAK)
        .max_break(Duration::from_secs(60))
        .half_open_probes(2)
}

/// A client that never retries: every call is one attempt.
fn once(breaker: CircuitBreakerConfig) -> Client {
    build(paused(RetryConfig::default().max_retries(0)).breaker(breaker))
}

async fn calls(client: &Client, api: &Api, n: usize) -> Vec<Result<reqwest::Response, Error>> {
    let mut results = Vec::new();
    for _ in 0..n {
        results.push(client.get(api.url()).send().await);
    }
    results
}

fn open_until(client: &Client, api: &Api) -> Instant {
    match client.circuit_state(&api.base) {
        Some(CircuitState::Open { until }) => until,
        other => panic!("expected open, found {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn trips_at_the_threshold_and_not_below_the_minimum() {
    let api = Api::start(503).await;
    let client = once(breaker());
    calls(&client, &api, 9).await;
    assert_eq!(
        client.circuit_state(&api.base),
        Some(CircuitState::Closed),
        "9 failures, below the minimum of 10"
    );
    calls(&client, &api, 1).await;
    assert_eq!(open_until(&client, &api), Instant::now() + BREAK);
    assert_eq!(api.arrived(), 10);

    // Below the ratio: 6 successes and 4 failures stay closed, the 6th failure of 12 trips.
    let api = Api::start(200).await;
    let client = once(breaker());
    calls(&client, &api, 6).await;
    api.set(500);
    calls(&client, &api, 4).await;
    assert_eq!(
        client.circuit_state(&api.base),
        Some(CircuitState::Closed),
        "4 of 10"
    );
    calls(&client, &api, 1).await;
    assert_eq!(
        client.circuit_state(&api.base),
        Some(CircuitState::Closed),
        "5 of 11"
    );
    calls(&client, &api, 1).await;
    assert!(
        matches!(
            client.circuit_state(&api.base),
            Some(CircuitState::Open { .. })
        ),
        "6 of 12"
    );
}

#[tokio::test(start_paused = true)]
async fn throttles_and_client_errors_never_trip() {
    for status in [429, 404, 400, 401, 403, 409, 422] {
        let api = Api::start(status).await;
        let client = once(breaker());
        calls(&client, &api, 30).await;
        assert_eq!(
            client.circuit_state(&api.base),
            Some(CircuitState::Closed),
            "{status}"
        );
        assert_eq!(api.arrived(), 30, "{status}: every call reached the server");
    }
    // A 503 that says it is a rate limit (a spent quota, no Retry-After) is a throttle too.
    let api = Api::start(503).await;
    api.header("x-ratelimit-remaining", "0");
    let client = once(breaker());
    calls(&client, &api, 30).await;
    assert_eq!(client.circuit_state(&api.base), Some(CircuitState::Closed));
}

#[tokio::test(start_paused = true)]
async fn while_open_calls_fail_at_once_without_the_network_and_not_applied() {
    let api = Api::start(503).await;
    let client = once(breaker());
    calls(&client, &api, 10).await;
    let until = open_until(&client, &api);

    let before = Instant::now();
    for _ in 0..100 {
        let error = client.get(api.url()).send().await.expect_err("open");
        let Error::CircuitOpen {
            until: said,
            retry_after,
            key,
            ..
        } = &error
        else {
            panic!("expected CircuitOpen, got {error:?}");
        };
        assert_eq!(*said, until);
        assert_eq!(*retry_after, BREAK);
        assert_eq!(key.as_deref(), Some(api.base.as_str()));
        assert_eq!(error.outcome(), Applied::NotApplied);
        assert_eq!(error.retry_at(), Some(until));
        assert!(error.to_string().contains("not applied"), "{error}");
    }
    assert_eq!(api.arrived(), 10, "no call reached the server");
    assert_eq!(Instant::now(), before, "no timer was waited on");

    // A POST too: nothing was sent, so it is safe to send again later.
    let error = client.post(api.url()).send().await.expect_err("open");
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!(error.outcome(), Applied::NotApplied);
    assert!(
        error.idempotency_key().is_some(),
        "the key to replay it with"
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_the_probe_count_then_closes() {
    let api = Api::start(503).await;
    let client = once(breaker());
    calls(&client, &api, 10).await;
    tokio::time::advance(BREAK).await;
    assert_eq!(
        client.circuit_state(&api.base),
        Some(CircuitState::HalfOpen)
    );

    api.set(200);
    api.delay(Duration::from_secs(1));
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (client, url) = (client.clone(), api.url());
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(response) => {
                assert_eq!(response.status(), 200);
                ok += 1;
            }
            Err(Error::CircuitOpen { .. }) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((ok, refused), (2, 3), "2 probes, the rest refused");
    assert_eq!(api.arrived(), 12);
    assert_eq!(client.circuit_state(&api.base), Some(CircuitState::Closed));
    api.delay(Duration::ZERO);
    assert!(calls(&client, &api, 5).await.iter().all(Result::is_ok));
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_longer_up_to_the_cap() {
    let api = Api::start(503).await;
    let client = once(breaker().max_break(Duration::from_secs(15)));
    calls(&client, &api, 10).await;
    let mut breaks = vec![open_until(&client, &api) - Instant::now()];
    for _ in 0..3 {
        tokio::time::advance(*breaks.last().expect("one")).await;
        let arrived = api.arrived();
        calls(&client, &api, 1).await;
        assert_eq!(api.arrived(), arrived + 1, "one probe");
        breaks.push(open_until(&client, &api) - Instant::now());
    }
    let secs: Vec<_> = breaks.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [5, 10, 15, 15]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_a_503_sets_the_break_within_the_cap() {
    let api = Api::start(503).await;
    api.header("retry-after", "17");
    let client = once(breaker());
    calls(&client, &api, 1).await;
    assert_eq!(
        open_until(&client, &api) - Instant::now(),
        Duration::from_secs(17)
    );

    let api = Api::start(503).await;
    api.header("retry-after", "86400");
    let client = once(breaker());
    calls(&client, &api, 1).await;
    assert_eq!(
        open_until(&client, &api) - Instant::now(),
        Duration::from_secs(60),
        "a day is capped at max_break"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_waits_for_half_open_and_never_sends_into_an_open_circuit() {
    let api = Api::start(503).await;
    let client = build(
        paused(RetryConfig::default().max_retries(3).without_budget())
            .breaker(breaker().minimum_calls(2)),
    );
    // Two failed attempts trip the circuit; the third attempt is refused without being
    // sent, and the retry waits until the circuit half-opens.
    let start = Instant::now();
    let call = {
        let (client, url) = (client.clone(), api.url());
        tokio::spawn(async move { client.get(url).send().await })
    };
    // Sleeping, not yielding: the paused clock moves only while every task waits.
    while !matches!(
        client.circuit_state(&api.base),
        Some(CircuitState::Open { .. })
    ) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let until = open_until(&client, &api);
    api.set(200);
    let response = call.await.expect("no panic").expect("the probe succeeds");
    assert_eq!(response.status(), 200);
    let arrivals = api.arrivals();
    assert_eq!(arrivals.len(), 3, "two failures, then the probe");
    assert!(
        arrivals[2].0 >= until,
        "the probe left once the break was over"
    );
    assert!(arrivals[..2].iter().all(|(at, _)| *at < until));
    assert!(Instant::now() - start >= BREAK);

    // A call that cannot wait that long (max_retry_after below the break) ends with the
    // typed error at once.
    let api = Api::start(503).await;
    let client = build(
        paused(
            RetryConfig::default()
                .max_retries(3)
                .max_retry_after(Duration::from_secs(1)),
        )
        .breaker(breaker().minimum_calls(2)),
    );
    let error = client.get(api.url()).send().await.expect_err("open");
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!(error.outcome(), Applied::NotApplied);
    assert_eq!(api.arrived(), 2);
    let before = Instant::now();
    let error = client.get(api.url()).send().await.expect_err("still open");
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!((api.arrived(), Instant::now()), (2, before));
}

#[tokio::test(start_paused = true)]
async fn a_post_that_may_have_been_applied_keeps_its_unknown_outcome() {
    // 500 may have been applied; the refusal that follows must not turn it into "not applied".
    let api = Api::start(500).await;
    let client = build(
        paused(
            RetryConfig::default()
                .max_retries(3)
                .server_dedupes(true)
                .max_retry_after(Duration::from_secs(1)),
        )
        .breaker(breaker().minimum_calls(1)),
    );
    let error = client.post(api.url()).send().await.expect_err("fails");
    assert_eq!(api.arrived(), 1);
    assert_eq!(error.outcome(), Applied::MaybeApplied, "{error:?}");
    assert!(!matches!(error, Error::CircuitOpen { .. }), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_circuit_and_origins_have_their_own() {
    let api = Api::start(503).await;
    let other = Api::start(200).await;
    let client = once(breaker());
    let clone = client.clone();
    calls(&clone, &api, 10).await;
    assert!(matches!(
        client.circuit_state(&api.url()),
        Some(CircuitState::Open { .. })
    ));
    let error = client
        .get(api.url())
        .send()
        .await
        .expect_err("open for the clone too");
    assert!(matches!(error, Error::CircuitOpen { .. }));
    assert!(
        client.get(other.url()).send().await.is_ok(),
        "another origin"
    );
    assert_eq!(
        client.circuit_state(&other.base),
        Some(CircuitState::Closed)
    );
    assert_eq!(
        client.circuit_state("http://127.0.0.1:1/"),
        None,
        "never called"
    );
    assert_eq!(client.circuit_state("not a url"), None);
}

#[tokio::test(start_paused = true)]
async fn state_changes_are_events() {
    let (capture, _guard) = capture_events();
    let api = Api::start(503).await;
    let client = once(breaker().half_open_probes(1));
    calls(&client, &api, 10).await;
    tokio::time::advance(BREAK).await;
    api.set(200);
    calls(&client, &api, 1).await;

    let opened = capture.events("circuit opened: calls to this key fail fast, not sent");
    assert_eq!(opened.len(), 1, "{}", capture.dump());
    assert_eq!(opened[0].level, tracing::Level::WARN);
    assert_eq!(opened[0].field("breaker.key"), Some(api.base.as_str()));
    assert_eq!(opened[0].field("steadfast.circuit.state"), Some("open"));
    assert_eq!(opened[0].field("break_ms"), Some("5000"));
    let half = capture.events("circuit half-open: letting probes through");
    assert_eq!(half.len(), 1);
    assert_eq!(half[0].level, tracing::Level::INFO);
    let closed = capture.events("circuit closed: the probes succeeded");
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].level, tracing::Level::INFO);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_gives_its_slot_back() {
    let api = Api::start(503).await;
    let client = once(breaker().half_open_probes(1));
    calls(&client, &api, 10).await;
    tokio::time::advance(BREAK).await;
    api.set(200);
    api.delay(Duration::from_secs(10));
    let probe = {
        let (client, url) = (client.clone(), api.url());
        tokio::spawn(async move { client.get(url).send().await })
    };
    while api.arrived() < 11 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    probe.abort();
    let _ = probe.await;
    api.delay(Duration::ZERO);
    let response = client
        .get(api.url())
        .send()
        .await
        .expect("the slot is free again");
    assert_eq!(response.status(), 200);
    assert_eq!(client.circuit_state(&api.base), Some(CircuitState::Closed));
}

#[tokio::test(start_paused = true)]
async fn the_bulkhead_rejects_at_bound_plus_queue() {
    let api = Api::start(200).await;
    api.delay(Duration::from_secs(1));
    let client = build(
        paused(RetryConfig::default().max_retries(0))
            .bulkhead(BulkheadConfig::default().max_concurrent(2).max_queue(1)),
    );
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (client, url) = (client.clone(), api.url());
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    let mut ok = 0;
    let mut full = 0;
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(_) => ok += 1,
            Err(error @ Error::BulkheadFull { .. }) => {
                assert_eq!(error.outcome(), Applied::NotApplied);
                full += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((ok, full), (3, 2), "2 in flight, 1 queued, 2 refused");
    assert_eq!(api.arrived(), 3);
    // The slots came back.
    assert!(client.get(api.url()).send().await.is_ok());
    assert_eq!(
        client.circuit_state(&api.base),
        None,
        "a bulkhead alone has no circuit"
    );
}

#[tokio::test(start_paused = true)]
async fn a_ten_second_outage_at_fifty_calls_a_second_reaches_the_server_a_bounded_number_of_times()
{
    let api = Api::start(200).await;
    // The default breaker and retry settings (no deadline: paused clock).
    let client = build(paused(RetryConfig::default()).breaker(CircuitBreakerConfig::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut arrived_at_outage = 0;
    for n in 0..1_000_u32 {
        let at = start + Duration::from_millis(20) * n;
        tokio::time::sleep_until(at).await;
        if n == 250 {
            api.set(503);
            arrived_at_outage = api.arrived();
        }
        if n == 750 {
            api.set(200);
        }
        let (client, url) = (client.clone(), api.url());
        tasks.push(tokio::spawn(async move { client.get(url).send().await }));
    }
    let mut failed_fast = 0;
    for task in tasks {
        if let Err(Error::CircuitOpen { .. }) = task.await.expect("no panic") {
            failed_fast += 1;
        }
    }
    let outage = start + Duration::from_secs(5)..start + Duration::from_secs(15);
    let during = api
        .arrivals()
        .iter()
        .filter(|(at, _)| outage.contains(at))
        .count();
    println!(
        "outage of 10 s at 50 calls/s (500 calls): {during} attempts reached the server \
         during it ({arrived_at_outage} calls before it), {failed_fast} calls failed fast"
    );
    // Without a breaker each of the 500 calls would reach it, plus the budget's retries.
    // With one: as many failures as the window held successes (ratio × window × rate =
    // 250), then one probe per break.
    assert!(
        during <= 300,
        "{during} attempts reached the server during the outage"
    );
    assert!(failed_fast >= 200, "{failed_fast}");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(client.get(api.url()).send().await.is_ok(), "recovered");
    assert_eq!(client.circuit_state(&api.base), Some(CircuitState::Closed));
}

//! The Redis ledger passes the same suite as the in-memory one, against a real
//! `redis-server` this test starts on a free loopback port.
#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::{closed_port, http, keyed_post, ledger};
use steadfast::idempotency::store::{RedisStore, RedisStoreConfig, StoreError};
use steadfast::idempotency::{IdempotencyConfig, InFlight, LedgerDown, Replayed};
use steadfast::{Client, Error};

/// The ledger's view of the test's Redis server.
trait Ledger {
    fn config(&self) -> RedisStoreConfig;
    async fn store(&self) -> RedisStore;
}

impl Ledger for RedisServer {
    fn config(&self) -> RedisStoreConfig {
        RedisStoreConfig::new(self.url())
    }

    async fn store(&self) -> RedisStore {
        RedisStore::connect(&self.config())
            .await
            .expect("redis answers")
    }
}

#[tokio::test]
async fn redis_ledger_replays_a_repeated_key() {
    let redis = RedisServer::start();
    ledger::a_repeated_key_is_replayed(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_sends_once_for_concurrent_calls() {
    let redis = RedisServer::start();
    ledger::concurrent_calls_with_one_key_reach_the_server_once(redis.store().await).await;
}

#[tokio::test]
async fn two_clients_sharing_redis_send_once_per_key() {
    let redis = RedisServer::start();
    // Two connections, as two instances of an integration would have.
    let (a, b) = (redis.store().await, redis.store().await);
    let server = ledger::invoices_api(Duration::from_millis(100)).await;
    let (a, b) = (ledger::client(a), ledger::client(b));
    for n in 0..5 {
        let key = format!("order-{n}");
        let (x, y) = tokio::join!(
            ledger::post(&a, &server, &key),
            ledger::post(&b, &server, &key)
        );
        assert_eq!(x.expect("a").status(), 201);
        assert_eq!(y.expect("b").status(), 201);
    }
    assert_eq!(
        ledger::seen(&server).await,
        5,
        "one server-side request per key"
    );
}

#[tokio::test]
async fn redis_ledger_shared_by_clones_sends_once_per_key() {
    let redis = RedisServer::start();
    ledger::clients_sharing_a_ledger_send_once_per_key(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_frees_the_key_of_a_failed_call() {
    let redis = RedisServer::start();
    ledger::a_failed_call_frees_its_key(redis.store().await).await;
}

#[tokio::test]
async fn redis_lease_of_a_crashed_holder_ends_as_unknown() {
    let redis = RedisServer::start();
    ledger::a_crashed_holders_lease_ends_as_unknown(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_frees_keys_of_failures_not_applied() {
    let redis = RedisServer::start();
    ledger::failures_not_applied_free_the_key(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_holds_keys_that_may_have_been_applied() {
    let redis = RedisServer::start();
    ledger::a_call_that_may_have_been_applied_holds_its_key(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_replays_a_key_resolved_as_applied() {
    let redis = RedisServer::start();
    ledger::a_key_resolved_as_applied_is_replayed(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_completes_an_unknown_key_a_verifier_finds_applied() {
    let redis = RedisServer::start();
    ledger::a_verifier_finding_an_unknown_key_applied_completes_it(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_sends_an_unknown_key_a_verifier_finds_not_applied_once_more() {
    let redis = RedisServer::start();
    ledger::a_verifier_finding_an_unknown_key_not_applied_sends_it_once_more(redis.store().await)
        .await;
}

#[tokio::test]
async fn redis_ledger_sends_nothing_when_the_verifier_cannot_tell() {
    let redis = RedisServer::start();
    ledger::a_verifier_that_cannot_tell_sends_nothing(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_holds_the_key_of_a_timed_out_call() {
    let redis = RedisServer::start();
    ledger::a_timed_out_call_holds_its_key(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_refuses_a_key_reused_for_another_request() {
    let redis = RedisServer::start();
    ledger::a_key_reused_for_another_request_is_refused(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_settles_a_cancelled_call_at_once() {
    let redis = RedisServer::start();
    ledger::a_cancelled_call_settles_its_key_at_once(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_replays_a_failure_with_no_attempt() {
    let redis = RedisServer::start();
    ledger::a_replayed_failure_reports_no_attempt(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_does_not_wait_for_a_slow_body() {
    let redis = RedisServer::start();
    ledger::a_slow_body_is_not_waited_for(redis.store().await).await;
}

#[tokio::test]
async fn redis_ledger_does_not_buffer_a_huge_body() {
    let redis = RedisServer::start();
    ledger::a_huge_body_is_not_buffered(redis.store().await).await;
}

#[tokio::test]
async fn redis_entries_expire_with_their_ttl() {
    let redis = RedisServer::start();
    let server = ledger::invoices_api(Duration::ZERO).await;
    let client = Client::builder()
        .idempotency(IdempotencyConfig::default().ttl(Duration::from_millis(200)))
        .idempotency_store(redis.store().await)
        .build(http())
        .expect("valid");

    ledger::post(&client, &server, "k").await.expect("created");
    ledger::post(&client, &server, "k").await.expect("replayed");
    assert_eq!(ledger::seen(&server).await, 1);
    // Redis expires keys by its own clock: this wait is the TTL under test.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ledger::post(&client, &server, "k")
        .await
        .expect("sent again");
    assert_eq!(ledger::seen(&server).await, 2);
}

#[tokio::test]
async fn an_unreachable_redis_is_a_typed_error_and_nothing_is_sent() {
    let server = ledger::invoices_api(Duration::ZERO).await;
    let config = RedisStoreConfig::new(format!("redis://127.0.0.1:{}", closed_port()))
        .timeout(Duration::from_millis(200));
    let client = ledger::client(RedisStore::lazy(&config).expect("valid url"));

    let error = ledger::post(&client, &server, "order-1")
        .await
        .expect_err("no ledger");

    assert!(
        matches!(error, Error::Ledger { ref key, .. } if key.as_str() == "order-1"),
        "{error:?}"
    );
    assert!(error.to_string().contains("nothing was sent"), "{error}");
    assert_eq!(ledger::seen(&server).await, 0);
}

#[tokio::test]
async fn fail_open_sends_without_the_ledger() {
    let server = ledger::invoices_api(Duration::ZERO).await;
    let config = RedisStoreConfig::new(format!("redis://127.0.0.1:{}", closed_port()))
        .timeout(Duration::from_millis(200));
    let client = Client::builder()
        .idempotency(IdempotencyConfig::default().ledger_down(LedgerDown::FailOpen))
        .idempotency_store(RedisStore::lazy(&config).expect("valid url"))
        .build(http())
        .expect("valid");

    let response = ledger::post(&client, &server, "order-1")
        .await
        .expect("sent anyway");
    assert_eq!(response.status(), 201);
    assert_eq!(ledger::seen(&server).await, 1);
}

#[test]
fn the_redis_url_never_shows_in_debug() {
    let config = RedisStoreConfig::new("redis://:hunter2-redis-password@10.0.0.5:6379");
    assert!(!format!("{config:?}").contains("hunter2"));
}

impl RedisServer {
    async fn command(&self, name: &str) {
        let client = redis::Client::open(self.url()).expect("valid url");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers");
        let () = redis::cmd(name)
            .query_async(&mut connection)
            .await
            .expect("command runs");
    }
}

fn unvouched(result: Result<reqwest::Response, Error>) {
    let error = result.expect_err("the ledger lost its data");
    assert!(
        matches!(
            error,
            Error::Ledger {
                source: StoreError::Unvouched,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_ledger_that_lost_its_data_refuses_keys_until_the_loss_is_acknowledged() {
    let redis = RedisServer::start();
    let store = redis.store().await;
    let other_instance = redis.store().await;
    let server = ledger::invoices_api(Duration::ZERO).await;
    let (client, other) = (
        ledger::client(store.clone()),
        ledger::client(other_instance.clone()),
    );
    ledger::post(&client, &server, "order-1")
        .await
        .expect("created");

    redis.command("FLUSHALL").await;

    // Neither the completed key nor a new one reads as free.
    unvouched(ledger::post(&client, &server, "order-1").await);
    unvouched(ledger::post(&client, &server, "order-2").await);
    unvouched(ledger::post(&other, &server, "order-3").await);
    assert_eq!(ledger::seen(&server).await, 1, "nothing was sent");

    store.acknowledge_loss().await.expect("redis answers");
    ledger::post(&client, &server, "order-2")
        .await
        .expect("sent");
    assert_eq!(ledger::seen(&server).await, 2);
    unvouched(ledger::post(&other, &server, "order-3").await);
    // The other instance acknowledges too, and both agree on one epoch from then on.
    other_instance
        .acknowledge_loss()
        .await
        .expect("redis answers");
    ledger::post(&other, &server, "order-3")
        .await
        .expect("sent");
    assert!(Replayed::is(
        &ledger::post(&client, &server, "order-3")
            .await
            .expect("replayed")
    ));
    assert_eq!(ledger::seen(&server).await, 3);
}

#[tokio::test]
async fn a_ledger_that_dies_while_completing_never_frees_the_key() {
    let mut redis = RedisServer::start_durable();
    let store = RedisStore::connect(&redis.config().timeout(Duration::from_millis(300)))
        .await
        .expect("redis answers");
    let server = ledger::invoices_api(Duration::from_millis(300)).await;
    let lease = Duration::from_secs(1);
    let config = IdempotencyConfig::default()
        .lease(lease)
        .in_flight(InFlight::Fail);
    let client = ledger::client_with(store, config);

    let call = tokio::spawn({
        let (client, server_uri) = (client.clone(), server.uri());
        async move {
            client
                .post(format!("{server_uri}/invoices"))
                .idempotency_key("payout-9")
                .json(&serde_json::json!({ "customer": 42, "total_cents": 1999 }))
                .send()
                .await
        }
    });
    while ledger::seen(&server).await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Killed between the send and the completion: the completion fails.
    redis.kill();
    let response = call.await.expect("task").expect("the server acted");
    assert_eq!(response.status(), 201);
    // Back with what it had written: the reservation.
    redis.restart();

    // The reservation survived: held while the lease runs, unknown after, never free.
    let started = std::time::Instant::now();
    let error = loop {
        match ledger::post(&client, &server, "payout-9").await {
            Err(Error::IdempotencyKeyInFlight { .. } | Error::Ledger { .. })
                if started.elapsed() < 5 * lease =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other.expect_err("never sent again"),
        }
    };
    assert!(
        matches!(error, Error::IdempotencyOutcomeUnknown { .. }),
        "{error:?}"
    );
    assert_eq!(ledger::seen(&server).await, 1);
}

/// A transport that is not ready until opened: a call holding a reservation waits in front
/// of it, before anything is sent.
#[derive(Clone)]
struct Gate {
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    http: reqwest::Client,
}

impl tower::Service<reqwest::Request> for Gate {
    type Response = reqwest::Response;
    type Error = reqwest::Error;
    type Future = <reqwest::Client as tower::Service<reqwest::Request>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        if self.open.load(std::sync::atomic::Ordering::Relaxed) {
            return tower::Service::poll_ready(&mut self.http, cx);
        }
        // Asked again soon, as a limiter's timer would.
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }

    fn call(&mut self, request: reqwest::Request) -> Self::Future {
        tower::Service::call(&mut self.http, request)
    }
}

#[tokio::test]
async fn redis_frees_the_key_of_a_call_dropped_before_sending_at_once() {
    use steadfast::idempotency::IdempotencyLayer;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    let redis = RedisServer::start();
    let server = ledger::invoices_api(Duration::ZERO).await;
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = Gate {
        open: std::sync::Arc::clone(&open),
        http: http(),
    };
    let layer = IdempotencyLayer::new(&IdempotencyConfig::default().in_flight(InFlight::Fail))
        .expect("valid")
        .store(redis.store().await);
    let mut service = layer.layer(gate);
    let request = || keyed_post(&format!("{}/invoices", server.uri()), "order-7");

    // Reserved, then waiting for the transport, then dropped: nothing went out.
    let waiting = service.call(request());
    let _ = tokio::time::timeout(Duration::from_millis(200), waiting).await;
    open.store(true, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let response = loop {
        match service.ready().await.expect("ready").call(request()).await {
            Err(Error::IdempotencyKeyInFlight { .. })
                if started.elapsed() < Duration::from_secs(2) =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => break other.expect("the key was freed, not held as unknown"),
        }
    };
    assert_eq!(response.status(), 201);
    assert_eq!(ledger::seen(&server).await, 1);
}

#[tokio::test]
async fn a_redis_restarted_empty_is_detected() {
    let mut redis = RedisServer::start(); // no persistence: a restart forgets everything
    let store = redis.store().await;
    let server = ledger::invoices_api(Duration::ZERO).await;
    let client = ledger::client(store.clone());
    ledger::post(&client, &server, "order-1")
        .await
        .expect("created");

    redis.kill();
    redis.restart();

    let started = Instant::now();
    let error = loop {
        // The connection is re-established on the next calls.
        match ledger::post(&client, &server, "order-1").await {
            Err(Error::Ledger {
                source: StoreError::Unavailable(_),
                ..
            }) if started.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => break other,
        }
    };
    unvouched(error);
    assert_eq!(
        ledger::seen(&server).await,
        1,
        "the completed key was not sent again"
    );
}

#[tokio::test]
async fn a_verifier_vouches_for_a_key_a_ledger_that_lost_its_data_cannot() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use steadfast::verify::Verified;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let redis = RedisServer::start();
    let store = redis.store().await;
    let server = ledger::invoices_api(Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path("/invoices/order-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"inv_1"}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/invoices/order-2"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    ledger::post(&ledger::client(store.clone()), &server, "order-1")
        .await
        .expect("created");
    redis.command("FLUSHALL").await;

    let asked = Arc::new(AtomicUsize::new(0));
    let client = ledger::verifying_client(store, Arc::clone(&asked));
    // The server shows order-1 was created: that is the call's answer, nothing is sent.
    let found = ledger::post(&client, &server, "order-1")
        .await
        .expect("verified");
    assert!(Verified::of(&found));
    assert_eq!(found.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    // order-2 was not, but the ledger cannot hold its key for a resend: refused.
    unvouched(ledger::post(&client, &server, "order-2").await);
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(
        ledger::seen_with(&server, "POST").await,
        1,
        "nothing sent again"
    );
}

//! One suite of ledger behaviour, run against every `IdempotencyStore`.

use std::time::Duration;

use steadfast::idempotency::store::{IdempotencyStore, MemoryStore};
use steadfast::idempotency::{IdempotencyConfig, IdempotencyKey, Replayed};
use steadfast::retry::RetryConfig;
use steadfast::{Client, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::http;

/// A real-time client over `store` (these tests overlap calls, which a paused clock
/// cannot do while requests are in flight).
pub fn client(store: impl IdempotencyStore) -> Client {
    Client::builder()
        .retry(RetryConfig::default().base_delay(Duration::from_millis(1)))
        .idempotency(Some(IdempotencyConfig::default()))
        .idempotency_store(store)
        .build(http())
        .expect("valid config")
}

pub async fn invoices_api(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-invoice", "inv_1")
                .set_body_string(r#"{"id":"inv_1"}"#)
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

pub async fn post(
    client: &Client,
    server: &MockServer,
    key: &str,
) -> Result<reqwest::Response, Error> {
    client
        .post(format!("{}/invoices", server.uri()))
        .idempotency_key(key)
        .json(&serde_json::json!({ "customer": 42, "total_cents": 1999 }))
        .send()
        .await
}

pub async fn seen(server: &MockServer) -> usize {
    server.received_requests().await.expect("recording").len()
}

/// The same key after a success: no network I/O, the same status and body, marked replayed.
pub async fn a_repeated_key_is_replayed(store: impl IdempotencyStore + Clone) {
    let server = invoices_api(Duration::ZERO).await;
    let client = client(store);

    let first = post(&client, &server, "invoice-2024-0042")
        .await
        .expect("created");
    assert!(!Replayed::is(&first));
    assert_eq!(IdempotencyKey::of(&first), Some("invoice-2024-0042"));
    assert_eq!(first.text().await.expect("body"), r#"{"id":"inv_1"}"#);

    let again = post(&client, &server, "invoice-2024-0042")
        .await
        .expect("replayed");
    assert_eq!(
        seen(&server).await,
        1,
        "no second request reached the server"
    );
    assert!(Replayed::is(&again));
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["x-invoice"], "inv_1");
    assert_eq!(again.text().await.expect("body"), r#"{"id":"inv_1"}"#);

    let other = post(&client, &server, "invoice-2024-0043")
        .await
        .expect("created");
    assert!(!Replayed::is(&other));
    assert_eq!(seen(&server).await, 2, "another key is another operation");
}

/// 20 concurrent calls with one key: the server sees exactly one.
pub async fn concurrent_calls_with_one_key_reach_the_server_once(
    store: impl IdempotencyStore + Clone,
) {
    let server = invoices_api(Duration::from_millis(200)).await;
    let client = client(store);
    let calls = (0..20).map(|_| {
        let (client, uri) = (client.clone(), server.uri());
        tokio::spawn(async move {
            client
                .post(format!("{uri}/invoices"))
                .idempotency_key("payout-7")
                .send()
                .await
        })
    });
    let results = futures_util::future::join_all(calls).await;

    assert_eq!(seen(&server).await, 1);
    for result in results {
        let response = result
            .expect("task")
            .expect("every caller gets the response");
        assert_eq!(response.status(), 201);
        assert_eq!(response.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    }
}

/// Two clients (two instances of an integration) sharing one ledger.
pub async fn clients_sharing_a_ledger_send_once_per_key(store: impl IdempotencyStore + Clone) {
    let server = invoices_api(Duration::from_millis(100)).await;
    let (a, b) = (client(store.clone()), client(store));
    for n in 0..5 {
        let key = format!("order-{n}");
        let (x, y) = tokio::join!(post(&a, &server, &key), post(&b, &server, &key));
        assert_eq!(x.expect("a").status(), 201);
        assert_eq!(y.expect("b").status(), 201);
    }
    assert_eq!(seen(&server).await, 5, "one server-side request per key");
}

/// A failed call frees its key, so a later call may try again.
pub async fn a_failed_call_frees_its_key(store: impl IdempotencyStore + Clone) {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(422))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    let client = client(store);

    let error = post(&client, &server, "refund-9").await.expect_err("422");
    assert_eq!(error.idempotency_key(), Some("refund-9"));
    let retried = post(&client, &server, "refund-9")
        .await
        .expect("the key was freed");
    assert_eq!(retried.status(), 201);
    assert_eq!(seen(&server).await, 2);
}

/// Keeps the suite's store type honest for the memory backend.
pub fn memory() -> MemoryStore {
    MemoryStore::new()
}

/// A holder that dies mid-call leaves its lease; once the lease ends the key is usable.
pub async fn a_crashed_holders_lease_expires(store: impl IdempotencyStore + Clone) {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(30)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    let lease = Duration::from_millis(300);
    let config = IdempotencyConfig::default().lease(lease);
    let make = |store| {
        Client::builder()
            .idempotency(Some(config.clone()))
            .idempotency_store(store)
            .build(http())
            .expect("valid config")
    };
    let (crashing, survivor) = (make(store.clone()), make(store));

    let uri = server.uri();
    let holder = tokio::spawn(async move {
        crashing
            .post(format!("{uri}/invoices"))
            .idempotency_key("job-17")
            .send()
            .await
    });
    while seen(&server).await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    holder.abort(); // the instance dies with the key reserved
    let started = std::time::Instant::now();

    let response = post(&survivor, &server, "job-17")
        .await
        .expect("the lease ran out");
    assert_eq!(response.status(), 201);
    assert!(started.elapsed() >= lease / 2, "it waited for the lease");
    assert_eq!(seen(&server).await, 2);
}

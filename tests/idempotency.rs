//! Idempotency keys and the in-memory ledger, through the client, on loopback.

mod common;

use std::time::Duration;

use common::server::{Body, Reply, Server};
use common::{assert_one_key, http, keyed_post, keys, ledger, not_retried, paused, respond_at};
use steadfast::idempotency::store::{
    Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, MemoryStore, Reservation, Resolution,
    StoreError, StoreFuture, StoredResponse, Terms,
};
use steadfast::idempotency::{
    CompleteOn, IdempotencyConfig, IdempotencyKey, InFlight, KeyFormat, KeyGenerator, Replayed,
};
use steadfast::retry::RetryConfig;
use steadfast::{Client, Error, NotRetried};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MS: Duration = Duration::from_millis(1);

/// A paused-clock client (see `common::paused`) with this ledger.
fn paused_client(idempotency: IdempotencyConfig, store: MemoryStore) -> Client {
    common::build(
        paused(RetryConfig::default())
            .idempotency(idempotency)
            .idempotency_store(store),
    )
}

#[tokio::test(start_paused = true)]
async fn every_attempt_of_a_post_carries_the_same_generated_key() {
    let server = MockServer::start().await;
    let (unavailable, created) = (ResponseTemplate::new(503), ResponseTemplate::new(201));
    respond_at(&server, "/payments", unavailable, 2, created).await;
    let client = paused_client(IdempotencyConfig::default(), MemoryStore::new());

    let response = client
        .post(format!("{}/payments", server.uri()))
        .json(&serde_json::json!({ "amount": 1999 }))
        .send()
        .await
        .expect("third attempt succeeds");

    let requests = server.received_requests().await.expect("recording");
    let key = assert_one_key(&requests, "idempotency-key", 3);
    assert!(uuid::Uuid::parse_str(&key).is_ok(), "a UUID: {key}");
    assert_eq!(
        steadfast::idempotency::IdempotencyKey::of(&response),
        Some(key.as_str()),
        "the key is readable from the response"
    );
}

#[tokio::test(start_paused = true)]
async fn separate_calls_get_separate_keys_and_gets_get_none() {
    let server = MockServer::start().await;
    Mock::given(path("/payments"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let client = paused_client(IdempotencyConfig::default(), MemoryStore::new());
    let url = format!("{}/payments", server.uri());

    client.post(&url).send().await.expect("ok");
    client.post(&url).send().await.expect("ok");
    client.patch(&url).send().await.expect("ok");
    client.get(&url).send().await.expect("ok");

    let seen = keys(
        &server.received_requests().await.expect("recording"),
        "idempotency-key",
    );
    assert_ne!(seen[0], seen[1]);
    assert_ne!(seen[1], seen[2]);
    assert_ne!(seen[2], "<none>", "PATCH gets a key");
    assert_eq!(seen[3], "<none>", "GET does not");
}

#[tokio::test(start_paused = true)]
async fn caller_keys_are_kept_in_the_configured_header_and_format() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let config = IdempotencyConfig::default()
        .header("X-Idempotency-Key")
        .format(KeyFormat::SfString)
        .generator(KeyGenerator::UuidV7);
    let client = paused_client(config, MemoryStore::new());
    let url = format!("{}/invoices", server.uri());

    client
        .post(&url)
        .idempotency_key("invoice-2024-0042")
        .send()
        .await
        .expect("ok");
    client.post(&url).send().await.expect("ok");
    client
        .post(&url)
        .header("x-idempotency-key", "\"set-by-hand\"")
        .send()
        .await
        .expect("ok");

    let requests = server.received_requests().await.expect("recording");
    let seen = keys(&requests, "x-idempotency-key");
    assert_eq!(seen[0], "\"invoice-2024-0042\"");
    let generated = seen[1].trim_matches('"');
    assert!(
        seen[1].starts_with('"') && seen[1].ends_with('"'),
        "{}",
        seen[1]
    );
    assert_eq!(
        uuid::Uuid::parse_str(generated).map(|u| u.get_version_num()),
        Ok(7)
    );
    assert_eq!(seen[2], "\"set-by-hand\"");
    assert!(
        keys(&requests, "idempotency-key")
            .iter()
            .all(|k| k == "<none>")
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_with_a_key_is_retried_by_the_client_when_the_server_dedupes() {
    let server = MockServer::start().await;
    Mock::given(path("/payments"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let client = common::paused(RetryConfig::default().server_dedupes(true))
        .idempotency_store(MemoryStore::new())
        .build(http())
        .expect("valid config");

    let error = client
        .post(format!("{}/payments", server.uri()))
        .idempotency_key("payment-77")
        .send()
        .await
        .expect_err("always 502");

    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    assert_eq!(
        error.idempotency_key(),
        Some("payment-77"),
        "the key is readable from the error"
    );
    assert_eq!(common::received(&server).await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_completed_key_is_forgotten_after_its_ttl() {
    let server = ledger::invoices_api(Duration::ZERO).await;
    let config = IdempotencyConfig::default().ttl(Duration::from_secs(60));
    let client = paused_client(config, MemoryStore::new());

    ledger::post(&client, &server, "k-1")
        .await
        .expect("created");
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(Replayed::is(
        &ledger::post(&client, &server, "k-1")
            .await
            .expect("replayed")
    ));
    tokio::time::advance(Duration::from_secs(2)).await;
    let fresh = ledger::post(&client, &server, "k-1")
        .await
        .expect("sent again");
    assert!(!Replayed::is(&fresh));
    assert_eq!(ledger::seen(&server).await, 2);
}

#[tokio::test(start_paused = true)]
async fn the_ledger_evicts_its_oldest_entry_when_full() {
    let server = ledger::invoices_api(Duration::ZERO).await;
    let store = MemoryStore::new().max_entries(2);
    let client = paused_client(IdempotencyConfig::default(), store.clone());

    for key in ["a", "b", "c"] {
        ledger::post(&client, &server, key).await.expect("created");
    }
    assert_eq!(store.len(), 2);
    assert!(Replayed::is(
        &ledger::post(&client, &server, "c").await.expect("kept")
    ));
    assert!(!Replayed::is(
        &ledger::post(&client, &server, "a").await.expect("evicted")
    ));
}

#[tokio::test]
async fn a_key_in_flight_fails_fast_when_configured() {
    let server = ledger::invoices_api(Duration::from_millis(50)).await;
    let client = Client::builder()
        .idempotency(IdempotencyConfig::default().in_flight(InFlight::Fail))
        .build(http())
        .expect("valid config");

    // `join!` polls the first call first: it reserves the key before the second one asks.
    let (first, second) = tokio::join!(
        ledger::post(&client, &server, "payout-1"),
        ledger::post(&client, &server, "payout-1"),
    );

    assert_eq!(first.expect("the holder succeeds").status(), 201);
    let error = second.expect_err("the key is in flight");
    assert!(
        matches!(error, Error::IdempotencyKeyInFlight { ref key, .. } if key.as_str() == "payout-1"),
        "{error:?}"
    );
    assert_eq!(
        ledger::seen(&server).await,
        1,
        "the second call sent nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_replayed_when_configured() {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(422).set_body_string("total must be positive"))
        .mount(&server)
        .await;
    let config = IdempotencyConfig::default().complete_on(CompleteOn::SuccessOrPermanent);
    let client = paused_client(config, MemoryStore::new());

    for _ in 0..2 {
        let error = ledger::post(&client, &server, "bad-invoice")
            .await
            .expect_err("422");
        assert_eq!(
            not_retried(&error),
            Some(NotRetried::Permanent),
            "{error:?}"
        );
        assert_eq!(
            error.status(),
            Some(reqwest::StatusCode::UNPROCESSABLE_ENTITY)
        );
        let body = error
            .take_response()
            .expect("kept")
            .text()
            .await
            .expect("body");
        assert_eq!(body, "total must be positive");
    }
    assert_eq!(
        ledger::seen(&server).await,
        1,
        "the second 422 came from the ledger"
    );
    let replayed = ledger::post(&client, &server, "bad-invoice")
        .await
        .expect_err("422");
    assert!(
        replayed.to_string().contains("replayed from the ledger"),
        "{replayed}"
    );
}

/// A ledger that is always down.
struct Down;

impl IdempotencyStore for Down {
    fn reserve(&self, _: &LedgerKey, _: &Fingerprint, _: Terms) -> StoreFuture<Reservation> {
        StoreFuture::ready(Err(StoreError::Unavailable("the ledger is down".into())))
    }
    fn complete(
        &self,
        _: &LedgerKey,
        _: &LeaseToken,
        _: StoredResponse,
        _: Duration,
    ) -> StoreFuture<bool> {
        StoreFuture::ready(Err(StoreError::Unavailable("the ledger is down".into())))
    }
    fn release(&self, _: &LedgerKey, _: &LeaseToken) -> StoreFuture<()> {
        StoreFuture::ready(Err(StoreError::Unavailable("the ledger is down".into())))
    }
    fn mark_unknown(&self, _: &LedgerKey, _: &LeaseToken, _: Duration) -> StoreFuture<()> {
        StoreFuture::ready(Err(StoreError::Unavailable("the ledger is down".into())))
    }
    fn resolve(&self, _: &LedgerKey, _: Resolution, _: Duration) -> StoreFuture<bool> {
        StoreFuture::ready(Err(StoreError::Unavailable("the ledger is down".into())))
    }
}

#[tokio::test(start_paused = true)]
async fn generated_keys_are_sent_but_not_recorded_and_named_keys_are() {
    let server = ledger::invoices_api(Duration::ZERO).await;
    let store = MemoryStore::new();
    let client = paused_client(IdempotencyConfig::default(), store.clone());
    let url = format!("{}/invoices", server.uri());

    for _ in 0..3 {
        let response = client.post(&url).send().await.expect("created");
        assert!(IdempotencyKey::of(&response).is_some());
        assert!(!Replayed::is(&response));
    }
    assert_eq!(ledger::seen(&server).await, 3);
    assert_eq!(store.len(), 0, "no other call can carry a generated key");

    ledger::post(&client, &server, "invoice-7")
        .await
        .expect("created");
    assert_eq!(store.len(), 1, "a named key is recorded");
}

#[tokio::test(start_paused = true)]
async fn a_ledger_that_is_down_stops_named_keys_only() {
    let server = ledger::invoices_api(Duration::ZERO).await;
    let client = common::paused(RetryConfig::default())
        .idempotency_store(Down)
        .build(http())
        .expect("valid config");

    let generated = client
        .post(format!("{}/invoices", server.uri()))
        .send()
        .await
        .expect("a generated key needs no ledger");
    assert_eq!(generated.status(), 201);

    let named = ledger::post(&client, &server, "invoice-8")
        .await
        .expect_err("fails closed");
    assert!(matches!(named, Error::Ledger { .. }), "{named:?}");
    assert_eq!(named.idempotency_key(), Some("invoice-8"));
    assert_eq!(
        ledger::seen(&server).await,
        1,
        "the named call was not sent"
    );
}

#[tokio::test]
async fn memory_ledger_replays_a_repeated_key() {
    ledger::a_repeated_key_is_replayed(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_sends_once_for_concurrent_calls() {
    ledger::concurrent_calls_with_one_key_reach_the_server_once(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_shared_by_two_clients_sends_once_per_key() {
    ledger::clients_sharing_a_ledger_send_once_per_key(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_frees_the_key_of_a_failed_call() {
    ledger::a_failed_call_frees_its_key(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_lease_of_a_crashed_holder_ends_as_unknown() {
    ledger::a_crashed_holders_lease_ends_as_unknown(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_frees_keys_of_failures_not_applied() {
    ledger::failures_not_applied_free_the_key(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_holds_keys_that_may_have_been_applied() {
    ledger::a_call_that_may_have_been_applied_holds_its_key(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_replays_a_key_resolved_as_applied() {
    ledger::a_key_resolved_as_applied_is_replayed(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_holds_the_key_of_a_timed_out_call() {
    ledger::a_timed_out_call_holds_its_key(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_refuses_a_key_reused_for_another_request() {
    ledger::a_key_reused_for_another_request_is_refused(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_settles_a_cancelled_call_at_once() {
    ledger::a_cancelled_call_settles_its_key_at_once(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_replays_a_failure_with_no_attempt() {
    ledger::a_replayed_failure_reports_no_attempt(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_does_not_wait_for_a_slow_body() {
    ledger::a_slow_body_is_not_waited_for(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_does_not_buffer_a_huge_body() {
    let store = ledger::memory();
    let cap = ledger::a_huge_body_is_not_buffered(store.clone()).await;
    assert_eq!(store.len(), 1);
    assert!(store.bytes() < cap, "{} bytes kept", store.bytes());
}

#[tokio::test]
async fn a_call_cut_by_the_deadline_still_names_its_key() {
    let server = ledger::invoices_api(Duration::from_secs(20)).await;
    let client = Client::builder()
        .retry(RetryConfig::default().deadline(Duration::from_millis(200)))
        .build(http())
        .expect("valid");

    let error = ledger::post(&client, &server, "invoice-9")
        .await
        .expect_err("too slow");

    assert!(matches!(error, Error::DeadlineExceeded { .. }), "{error:?}");
    assert_eq!(error.idempotency_key(), Some("invoice-9"));
}

#[tokio::test(start_paused = true)]
async fn a_call_refused_by_the_rate_limiter_still_names_its_key() {
    use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitMode};

    let server = ledger::invoices_api(Duration::ZERO).await;
    let client = common::paused(RetryConfig::default())
        .rate_limit(
            RateLimitConfig::new(Quota::per_minute(1).burst(1)).mode(RateLimitMode::FailFast),
        )
        .build(http())
        .expect("valid");

    ledger::post(&client, &server, "invoice-1")
        .await
        .expect("the one permit");
    let error = ledger::post(&client, &server, "invoice-2")
        .await
        .expect_err("no permit");

    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(error.idempotency_key(), Some("invoice-2"));
    assert_eq!(
        ledger::seen(&server).await,
        1,
        "the refused call was not sent"
    );
}

#[tokio::test]
async fn a_keyed_call_whose_body_breaks_returns_its_head_and_stays_completed() {
    // A server that says 201 with a 100-byte body, sends 10 bytes and hangs up.
    let server = Server::always(Reply::status(201).body(Body::cut(100, 10))).await;
    let client = Client::builder().build(http()).expect("valid");
    let url = server.url_at("/payments");

    // The caller gets the 201 (the server acted) with its key, and meets the broken body
    // where it broke, as it would without the ledger.
    let response = client
        .post(&url)
        .idempotency_key("payment-5")
        .send()
        .await
        .expect("the head arrived");
    assert_eq!(response.status(), 201);
    assert_eq!(IdempotencyKey::of(&response), Some("payment-5"));
    let broken = response.bytes().await.expect_err("the body never arrives");
    assert!(broken.is_body() || broken.is_decode(), "{broken:?}");

    // The server acted (201): a repeat must not reach it again.
    let repeat = client
        .post(&url)
        .idempotency_key("payment-5")
        .send()
        .await
        .expect("answered from the ledger");
    assert_eq!(repeat.status(), 201);
    assert!(Replayed::is(&repeat));
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_concurrent_reservations_never_exceed_the_bound() {
    let store = MemoryStore::new().max_entries(10_000);
    let url: reqwest::Url = "http://127.0.0.1:9/payouts".parse().expect("valid url");
    let terms = Terms::new(Duration::from_secs(60), Duration::from_secs(60));
    let tasks = (0..4).map(|part| {
        let (store, url) = (store.clone(), url.clone());
        tokio::spawn(async move {
            let (mut reserved, mut full) = (0, 0);
            for n in 0..5_000 {
                let key =
                    LedgerKey::new(&format!("payout-{part}-{n}"), &reqwest::Method::POST, &url);
                let print = Fingerprint::new(&reqwest::Method::POST, &url, Some(b"{}"));
                match store.reserve(&key, &print, terms).await {
                    Ok(Reservation::Reserved(_)) => reserved += 1,
                    Err(StoreError::Full) => full += 1,
                    other => panic!("{other:?}"),
                }
                assert!(store.len() <= 10_000);
            }
            (reserved, full)
        })
    });
    let counts = futures_util::future::join_all(tasks).await;
    let (reserved, full) = counts
        .into_iter()
        .map(|c| c.expect("task"))
        .fold((0, 0), |(r, f), (r2, f2)| (r + r2, f + f2));
    assert_eq!(reserved, 10_000, "held reservations are never evicted");
    assert_eq!(full, 10_000, "the rest get a typed error");
    assert_eq!(store.len(), 10_000);
}

#[tokio::test]
async fn long_keys_count_toward_the_bytes_bound() {
    let max = 64 << 20;
    let store = MemoryStore::new().max_bytes(max);
    let url: reqwest::Url = "http://127.0.0.1:9/payouts".parse().expect("valid url");
    let terms = Terms::new(Duration::from_secs(60), Duration::from_secs(60));
    let print = Fingerprint::new(&reqwest::Method::POST, &url, None);
    let mut reserved = 0;
    for n in 0..2_000 {
        let name = format!("{n:06}{}", "k".repeat(256 * 1024 - 6));
        let key = LedgerKey::new(&name, &reqwest::Method::POST, &url);
        match store.reserve(&key, &print, terms).await {
            Ok(Reservation::Reserved(_)) => reserved += 1,
            Err(StoreError::Full) => {}
            other => panic!("{other:?}"),
        }
        assert!(store.bytes() <= max, "{}", store.bytes());
    }
    assert!(
        store.bytes() >= reserved * 256 * 1024,
        "key bytes are counted"
    );
    assert!(
        (200..256).contains(&reserved),
        "{reserved} keys of 256 KiB in 64 MiB"
    );
}

#[tokio::test]
async fn a_full_ledger_refuses_new_keys_and_sends_nothing() {
    let server = ledger::invoices_api(Duration::from_millis(300)).await;
    let client = ledger::client(MemoryStore::new().max_entries(5));
    let calls = (0..10).map(|n| {
        let (client, uri) = (client.clone(), server.uri());
        tokio::spawn(async move {
            client
                .post(format!("{uri}/invoices"))
                .idempotency_key(&format!("order-{n}"))
                .send()
                .await
        })
    });
    let results = futures_util::future::join_all(calls).await;
    let full = results
        .into_iter()
        .map(|r| r.expect("task"))
        .filter(|r| {
            matches!(
                r,
                Err(Error::Ledger {
                    source: StoreError::Full,
                    ..
                })
            )
        })
        .count();
    assert_eq!(full, 5);
    assert_eq!(ledger::seen(&server).await, 5, "refused calls sent nothing");
}

#[tokio::test]
async fn the_layer_refuses_empty_keys_before_sending() {
    use steadfast::idempotency::{IdempotencyLayer, InvalidKey};
    use tower::{Layer as _, ServiceExt as _};

    let server = ledger::invoices_api(Duration::ZERO).await;
    for (format, value) in [(KeyFormat::Plain, ""), (KeyFormat::SfString, "\"\"")] {
        let layer =
            IdempotencyLayer::new(&IdempotencyConfig::default().format(format)).expect("valid");
        let service = layer.layer(http());
        let mut request = reqwest::Request::new(
            reqwest::Method::POST,
            format!("{}/invoices", server.uri())
                .parse()
                .expect("valid url"),
        );
        request
            .headers_mut()
            .insert("idempotency-key", value.parse().expect("a header value"));
        let error = service.oneshot(request).await.expect_err("an empty key");
        let Error::InvalidRequest(source) = &error else {
            panic!("{error:?}");
        };
        assert_eq!(
            source.downcast_ref(),
            Some(&InvalidKey::Empty),
            "{format:?}"
        );
    }
    assert_eq!(ledger::seen(&server).await, 0);
}

#[tokio::test]
async fn a_call_dropped_before_sending_frees_its_key_at_once() {
    use steadfast::idempotency::IdempotencyLayer;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    let server = ledger::invoices_api(Duration::ZERO).await;
    let store = MemoryStore::new();
    let layer = IdempotencyLayer::new(&IdempotencyConfig::default().in_flight(InFlight::Fail))
        .expect("valid")
        .store(store.clone());
    let mut service = layer.layer(http());
    let request = || keyed_post(&format!("{}/invoices", server.uri()), "order-7");
    let call = service.ready().await.expect("ready").call(request());
    assert_eq!(store.len(), 1, "reserved");
    drop(call);
    assert_eq!(store.len(), 0, "released at once: nothing was sent");
    let response = service.oneshot(request()).await.expect("sent");
    assert_eq!(response.status(), 201);
    assert_eq!(ledger::seen(&server).await, 1);
}

#[tokio::test]
async fn a_recorded_body_is_read_within_the_call_deadline() {
    let server = Server::always(Reply::status(201).body(Body::dribble(1000, 50 * MS))).await;
    let url = server.url_at("/invoices");
    // The body wait alone would be 30 s; the call's deadline is 400 ms.
    let client = Client::builder()
        .retry(RetryConfig::default().deadline(Duration::from_millis(400)))
        .build(http())
        .expect("valid config");
    let started = std::time::Instant::now();
    let call = client.post(&url).idempotency_key("slow-2").send();
    let response = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call returns")
        .expect("the head arrived");
    assert_eq!(response.status(), 201);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(server);
}

#[tokio::test]
async fn memory_ledger_completes_an_unknown_key_a_verifier_finds_applied() {
    ledger::a_verifier_finding_an_unknown_key_applied_completes_it(ledger::memory()).await;
}

#[tokio::test]
async fn memory_ledger_sends_an_unknown_key_a_verifier_finds_not_applied_once_more() {
    ledger::a_verifier_finding_an_unknown_key_not_applied_sends_it_once_more(ledger::memory())
        .await;
}

#[tokio::test]
async fn memory_ledger_sends_nothing_when_the_verifier_cannot_tell() {
    ledger::a_verifier_that_cannot_tell_sends_nothing(ledger::memory()).await;
}

/// Two APIs on loopback under their own names: `pay.example` and `crm.example`, each
/// answering `/orders` 500 once, then 201.
async fn pay_and_crm() -> (MockServer, MockServer, reqwest::Client) {
    let (pay, crm) = (MockServer::start().await, MockServer::start().await);
    for server in [&pay, &crm] {
        common::respond(
            server,
            ResponseTemplate::new(500),
            1,
            ResponseTemplate::new(201),
        )
        .await;
    }
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .resolve("pay.example", *pay.address())
        .resolve("crm.example", *crm.address())
        .build()
        .expect("a plain HTTP client builds");
    (pay, crm, http)
}

async fn post_order(
    client: &Client,
    host: &str,
    server: &MockServer,
) -> Result<reqwest::Response, Error> {
    let url = format!("http://{host}:{}/orders", server.address().port());
    client.post(url).idempotency_key("order-1").send().await
}

#[tokio::test(start_paused = true)]
async fn a_keyed_post_is_retried_only_to_a_host_listed_as_deduplicating() {
    let (pay, crm, http) = pay_and_crm().await;
    let client = common::paused(RetryConfig::default().server_dedupes_host("PAY.Example", true))
        .build(http)
        .expect("valid config");

    let paid = post_order(&client, "pay.example", &pay)
        .await
        .expect("retried");
    assert_eq!(paid.status(), 201);
    let sent = pay.received_requests().await.expect("recording");
    assert_eq!(keys(&sent, "idempotency-key"), ["order-1", "order-1"]);

    let error = post_order(&client, "crm.example", &crm)
        .await
        .expect_err("not listed: not retried");
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::UnsafeMethod),
        "{error:?}"
    );
    assert_eq!(crm.received_requests().await.expect("recording").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_host_listed_as_not_deduplicating_overrides_the_setting_for_every_host() {
    let (pay, crm, http) = pay_and_crm().await;
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .without_deadline()
                .server_dedupes(true),
        )
        .server_dedupes_host("crm.example", false)
        .without_attempt_timeout()
        .build(http)
        .expect("valid config");

    post_order(&client, "pay.example", &pay)
        .await
        .expect("retried");
    assert_eq!(pay.received_requests().await.expect("recording").len(), 2);
    post_order(&client, "crm.example", &crm)
        .await
        .expect_err("listed off: not retried");
    assert_eq!(crm.received_requests().await.expect("recording").len(), 1);
}

#[test]
fn a_server_dedupes_host_that_is_not_a_host_fails_the_build() {
    let config: steadfast::ClientConfig = serde_json::from_str(
        r#"{ "retry": { "server_dedupes_hosts": { "https://pay.example/v1": true } } }"#,
    )
    .expect("well-formed");
    let error = Client::from_config(http(), &config).expect_err("not a host");
    assert!(
        matches!(
            &error,
            steadfast::ConfigError::Invalid { name: "retry.server_dedupes_hosts", value, .. }
                if value == "https://pay.example/v1"
        ),
        "{error:?}"
    );
}

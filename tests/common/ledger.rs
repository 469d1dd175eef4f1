//! One suite of ledger behaviour, run against every `IdempotencyStore`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use steadfast::idempotency::store::{
    BodyOmitted, IdempotencyStore, MemoryStore, Resolution, StoredResponse,
};
use steadfast::idempotency::{CompleteOn, IdempotencyConfig, IdempotencyKey, InFlight, Replayed};
use steadfast::retry::RetryConfig;
use steadfast::verify::{Sender, Verification, Verified, Verify, VerifyRequest};
use steadfast::{Client, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::http;
use super::server::{Body, Reply, Server};

const MS: Duration = Duration::from_millis(1);

/// A real-time client over `store` (these tests overlap calls, which a paused clock
/// cannot do while requests are in flight).
pub fn client(store: impl IdempotencyStore) -> Client {
    Client::builder()
        .retry(RetryConfig::default().base_delay(Duration::from_millis(1)))
        .idempotency(IdempotencyConfig::default())
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

/// A client over `store` that sends each call once, with `config`.
pub fn client_with(store: impl IdempotencyStore, config: IdempotencyConfig) -> Client {
    Client::builder()
        .retry(RetryConfig::default().max_retries(0))
        .idempotency(config)
        .idempotency_store(store)
        .build(http())
        .expect("valid config")
}

/// Answers `/invoices` with `first` once, then 201.
pub async fn api_failing_once(first: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"id":"inv_2"}"#))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

pub fn unknown(result: Result<reqwest::Response, Error>, key: &str) {
    let error = result.expect_err("the key's outcome is unknown");
    assert!(
        matches!(error, Error::IdempotencyOutcomeUnknown { key: ref k, .. } if k.as_str() == key),
        "{error:?}"
    );
    assert_eq!(error.idempotency_key(), Some(key));
}

/// Failures the server provably did not act on free the key: 429, 503, 4xx.
pub async fn failures_not_applied_free_the_key(store: impl IdempotencyStore + Clone) {
    for status in [429, 503, 422] {
        let server = api_failing_once(ResponseTemplate::new(status)).await;
        let client = client_with(store.clone(), IdempotencyConfig::default());
        let key = format!("refund-{status}");
        post(&client, &server, &key).await.expect_err("failed");
        let retried = post(&client, &server, &key)
            .await
            .unwrap_or_else(|e| panic!("{status} freed the key: {e:?}"));
        assert_eq!(retried.status(), 201);
        assert_eq!(seen(&server).await, 2);
    }
}

/// A 500 may have been acted on: the key stays held, a repeat fails with a typed error and
/// sends nothing, until someone resolves it.
pub async fn a_call_that_may_have_been_applied_holds_its_key(store: impl IdempotencyStore + Clone) {
    for status in [500, 502, 504] {
        let server = api_failing_once(ResponseTemplate::new(status)).await;
        let client = client_with(store.clone(), IdempotencyConfig::default());
        let key = format!("pay-{status}");
        post(&client, &server, &key).await.expect_err("failed");
        unknown(post(&client, &server, &key).await, &key);
        unknown(post(&client, &server, &key).await, &key);
        assert_eq!(seen(&server).await, 1, "{status}: nothing sent again");

        // Someone checked: the server did not act. The key is free again.
        let url = format!("{}/invoices?ignored=1", server.uri());
        assert!(
            client
                .resolve_idempotency_key(Method::POST, &url, &key, Resolution::NotApplied)
                .await
                .expect("resolved")
        );
        assert!(
            !client
                .resolve_idempotency_key(Method::POST, &url, &key, Resolution::NotApplied)
                .await
                .expect("answered"),
            "a free key is not unknown"
        );
        let sent = post(&client, &server, &key).await.expect("sent again");
        assert_eq!(sent.status(), 201);
        assert_eq!(seen(&server).await, 2);
    }
}

/// A key resolved as applied is replayed with the response someone recorded.
pub async fn a_key_resolved_as_applied_is_replayed(store: impl IdempotencyStore + Clone) {
    let server = api_failing_once(ResponseTemplate::new(500)).await;
    let client = client_with(store, IdempotencyConfig::default());
    post(&client, &server, "pay-1").await.expect_err("500");
    let url = format!("{}/invoices", server.uri());
    let found = StoredResponse::new(
        reqwest::StatusCode::CREATED,
        &reqwest::header::HeaderMap::new(),
        Some(br#"{"id":"inv_1"}"#),
    );
    assert!(
        client
            .resolve_idempotency_key(Method::POST, &url, "pay-1", Resolution::Applied(found))
            .await
            .expect("resolved")
    );
    let replayed = post(&client, &server, "pay-1").await.expect("replayed");
    assert!(Replayed::is(&replayed));
    assert_eq!(replayed.status(), 201);
    assert_eq!(replayed.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    assert_eq!(seen(&server).await, 1);
}

/// A call cut by the deadline after sending may have been applied.
pub async fn a_timed_out_call_holds_its_key(store: impl IdempotencyStore + Clone) {
    let server = invoices_api(Duration::from_secs(5)).await;
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(0)
                .deadline(Duration::from_millis(200)),
        )
        .idempotency(IdempotencyConfig::default())
        .idempotency_store(store)
        .build(http())
        .expect("valid config");
    let error = post(&client, &server, "payout-3")
        .await
        .expect_err("too slow");
    assert!(matches!(error, Error::DeadlineExceeded { .. }), "{error:?}");
    unknown(post(&client, &server, "payout-3").await, "payout-3");
    assert_eq!(seen(&server).await, 1);
}

/// The same key with another body (or URL, or method) is refused: nothing is sent.
pub async fn a_key_reused_for_another_request_is_refused(store: impl IdempotencyStore + Clone) {
    let server = invoices_api(Duration::ZERO).await;
    let client = client(store);
    let url = format!("{}/invoices", server.uri());
    let pay = |amount: u32, url: String| {
        client
            .post(url)
            .idempotency_key("pay-1")
            .json(&serde_json::json!({ "amount": amount }))
            .send()
    };
    pay(1999, url.clone()).await.expect("created");
    for result in [
        pay(2999, url.clone()).await,
        pay(1999, format!("{url}?currency=usd")).await,
    ] {
        let error = result.expect_err("another request");
        assert!(
            matches!(error, Error::IdempotencyKeyReused { ref key, .. } if key.as_str() == "pay-1"),
            "{error:?}"
        );
    }
    assert!(Replayed::is(
        &pay(1999, url).await.expect("the same request")
    ));
    assert_eq!(seen(&server).await, 1);
}

/// A holder that vanishes mid-call without a word (a crash: no drop runs) leaves its lease;
/// once the lease ends the key is unknown, never free.
pub async fn a_crashed_holders_lease_ends_as_unknown(store: impl IdempotencyStore + Clone) {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let lease = Duration::from_millis(300);
    let config = IdempotencyConfig::default().lease(lease);
    let (crashing, survivor) = (
        client_with(store.clone(), config.clone()),
        client_with(store, config),
    );

    let mut holder = Box::pin(post(&crashing, &server, "job-17"));
    tokio::select! {
        _ = &mut holder => panic!("the server answers in 30 s"),
        () = async { while seen(&server).await == 0 { tokio::time::sleep(Duration::from_millis(5)).await } } => {}
    }
    std::mem::forget(holder); // the instance dies with the key reserved
    let started = std::time::Instant::now();

    unknown(post(&survivor, &server, "job-17").await, "job-17");
    assert!(started.elapsed() >= lease / 2, "it waited for the lease");
    assert_eq!(seen(&server).await, 1);
}

/// A call dropped after sending marks its key unknown at once, without waiting for the
/// lease. (One dropped before sending is freed at once: see each backend's own test.)
pub async fn a_cancelled_call_settles_its_key_at_once(store: impl IdempotencyStore + Clone) {
    let server = invoices_api(Duration::from_secs(30)).await;
    let config = IdempotencyConfig::default().in_flight(InFlight::Fail);
    let client = client_with(store, config);

    let sent = post(&client, &server, "job-18");
    let _ = tokio::time::timeout(Duration::from_millis(300), sent).await;
    // The drop's write may be on its way (a store doing I/O spawns it).
    let started = std::time::Instant::now();
    loop {
        match post(&client, &server, "job-18").await {
            Err(Error::IdempotencyOutcomeUnknown { .. }) => break,
            Err(Error::IdempotencyKeyInFlight { .. })
                if started.elapsed() < Duration::from_secs(2) =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("{:?}", other.map(|r| r.status())),
        }
    }
    assert_eq!(seen(&server).await, 1);
}

/// A replay made no attempt, and says so.
pub async fn a_replayed_failure_reports_no_attempt(store: impl IdempotencyStore + Clone) {
    let server = api_failing_once(ResponseTemplate::new(422)).await;
    let config = IdempotencyConfig::default().complete_on(CompleteOn::SuccessOrPermanent);
    let client = client_with(store, config);
    let first = post(&client, &server, "bad-1").await.expect_err("422");
    assert_eq!(first.failure().expect("a failure").attempts(), 1);
    let replayed = post(&client, &server, "bad-1")
        .await
        .expect_err("422 again");
    assert_eq!(replayed.failure().expect("a failure").attempts(), 0);
    assert_eq!(seen(&server).await, 1);
}

/// A 201 whose body dribbles in one byte every 50 ms: the call returns once the ledger's
/// wait is over, the caller still gets the body as a stream, and the key is completed
/// without it.
pub async fn a_slow_body_is_not_waited_for(store: impl IdempotencyStore + Clone) {
    let server = Server::always(Reply::status(201).body(Body::dribble(1000, 50 * MS))).await;
    let url = server.url_at("/invoices");
    let wait = Duration::from_millis(300);
    let client = client_with(store, IdempotencyConfig::default().max_body_wait(wait));
    let started = std::time::Instant::now();
    let call = client.post(&url).idempotency_key("slow-1").send();
    let mut response = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call returns")
        .expect("the head arrived");
    assert!(started.elapsed() < wait * 4, "{:?}", started.elapsed());
    assert_eq!(response.status(), 201);
    // What was read for the ledger comes first, then the rest of the stream.
    let first = response.chunk().await.expect("readable").expect("a chunk");
    assert!(first.len() >= 2, "{}", first.len());
    assert!(first.iter().all(|b| *b == b'x'));
    drop(response);

    let replayed = client
        .post(&url)
        .idempotency_key("slow-1")
        .send()
        .await
        .expect("replayed");
    assert!(Replayed::is(&replayed));
    assert_eq!(replayed.status(), 201);
    assert_eq!(
        replayed.extensions().get::<BodyOmitted>(),
        Some(&BodyOmitted::TooSlow)
    );
    assert!(replayed.bytes().await.expect("empty").is_empty());
    drop(server);
}

/// A 201 with a 1 GiB body: the ledger reads just past its cap and returns; the caller can
/// read the whole stream; the key is completed without the body.
pub async fn a_huge_body_is_not_buffered(store: impl IdempotencyStore + Clone) -> usize {
    let server = Server::always(Reply::status(201).body(Body::huge(1 << 30))).await;
    let url = server.url_at("/invoices");
    let cap = 64 * 1024;
    let client = client_with(store, IdempotencyConfig::default().max_body_bytes(cap));
    let call = client.post(&url).idempotency_key("huge-1").send();
    let mut response = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call returns without reading the whole body")
        .expect("the head arrived");
    assert_eq!(response.status(), 201);
    // The caller reads on, well past the cap, from the same stream.
    let mut read = 0;
    while read < 4 * cap {
        read += response
            .chunk()
            .await
            .expect("readable")
            .expect("more")
            .len();
    }
    drop(response);

    let replayed = client
        .post(&url)
        .idempotency_key("huge-1")
        .send()
        .await
        .expect("replayed");
    assert!(Replayed::is(&replayed));
    assert_eq!(
        replayed.extensions().get::<BodyOmitted>(),
        Some(&BodyOmitted::TooLarge)
    );
    drop(server);
    cap
}

/// A verifier that looks an invoice up by its key (`GET /invoices/<key>`): 200 applied,
/// 404 not applied, anything else unknown. `asked` counts its verifications.
pub fn lookup(asked: Arc<AtomicUsize>) -> impl Verify {
    move |request: VerifyRequest, sender: Sender| {
        asked.fetch_add(1, Ordering::SeqCst);
        async move {
            let Some(key) = request.idempotency_key else {
                return Verification::Unknown;
            };
            let mut url = request.url.clone();
            url.set_path(&format!("/invoices/{key}"));
            match sender.send(reqwest::Request::new(Method::GET, url)).await {
                Ok(found) if found.status() == 200 => Verification::Applied(found),
                Ok(missing) if missing.status() == 404 => Verification::NotApplied,
                _ => Verification::Unknown,
            }
        }
    }
}

/// A client like [`client_with`]'s, with the [`lookup`] verifier.
pub fn verifying_client(store: impl IdempotencyStore, asked: Arc<AtomicUsize>) -> Client {
    Client::builder()
        .retry(RetryConfig::default().max_retries(0))
        .idempotency(IdempotencyConfig::default())
        .idempotency_store(store)
        .verifier(lookup(asked))
        .build(http())
        .expect("valid config")
}

/// The requests the server saw with `verb`.
pub async fn seen_with(server: &MockServer, verb: &str) -> usize {
    let requests = server.received_requests().await.expect("recording");
    requests
        .iter()
        .filter(|r| r.method.as_str() == verb)
        .count()
}

/// `/invoices` answers 500 once, then 201; `GET /invoices/pay-1` answers `lookup`. A first
/// call with `pay-1`, from a client without a verifier, leaves the key unknown.
pub async fn api_with_an_unknown_key(
    store: impl IdempotencyStore,
    lookup: ResponseTemplate,
) -> MockServer {
    let server = api_failing_once(ResponseTemplate::new(500)).await;
    Mock::given(method("GET"))
        .and(path("/invoices/pay-1"))
        .respond_with(lookup)
        .mount(&server)
        .await;
    let unverified = client_with(store, IdempotencyConfig::default());
    post(&unverified, &server, "pay-1").await.expect_err("500");
    unknown(post(&unverified, &server, "pay-1").await, "pay-1");
    server
}

/// A verifier that finds the call applied ends it with what it found; the key is completed
/// with that response, so the next call is a replay and asks nobody.
pub async fn a_verifier_finding_an_unknown_key_applied_completes_it(
    store: impl IdempotencyStore + Clone,
) {
    let found = ResponseTemplate::new(200)
        .insert_header("x-invoice", "inv_1")
        .set_body_string(r#"{"id":"inv_1"}"#);
    let server = api_with_an_unknown_key(store.clone(), found).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let client = verifying_client(store.clone(), Arc::clone(&asked));

    let verified = post(&client, &server, "pay-1").await.expect("verified");
    assert!(Verified::of(&verified));
    assert!(!Replayed::is(&verified));
    assert_eq!(IdempotencyKey::of(&verified), Some("pay-1"));
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(seen_with(&server, "POST").await, 1, "not sent again");
    assert_eq!(seen_with(&server, "GET").await, 1, "one lookup");

    // Completed now: a replay, without a lookup, for this client and one without a verifier.
    let unverified = client_with(store, IdempotencyConfig::default());
    for client in [&client, &unverified] {
        let replayed = post(client, &server, "pay-1").await.expect("replayed");
        assert!(Replayed::is(&replayed));
        assert_eq!(replayed.status(), 200);
        assert_eq!(replayed.headers()["x-invoice"], "inv_1");
        assert_eq!(replayed.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(seen_with(&server, "GET").await, 1);
    assert_eq!(seen_with(&server, "POST").await, 1);
}

/// A verifier that finds the call not applied frees the key: the call is sent once more,
/// and completes the key.
pub async fn a_verifier_finding_an_unknown_key_not_applied_sends_it_once_more(
    store: impl IdempotencyStore + Clone,
) {
    let server = api_with_an_unknown_key(store.clone(), ResponseTemplate::new(404)).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let client = verifying_client(store, Arc::clone(&asked));

    let sent = post(&client, &server, "pay-1").await.expect("sent again");
    assert!(!Verified::of(&sent));
    assert_eq!(sent.status(), 201);
    assert_eq!(IdempotencyKey::of(&sent), Some("pay-1"));
    assert_eq!(sent.text().await.expect("body"), r#"{"id":"inv_2"}"#);
    assert_eq!(seen_with(&server, "POST").await, 2);
    assert_eq!(seen_with(&server, "GET").await, 1);

    let replayed = post(&client, &server, "pay-1").await.expect("replayed");
    assert!(Replayed::is(&replayed));
    assert_eq!(replayed.text().await.expect("body"), r#"{"id":"inv_2"}"#);
    assert_eq!(seen_with(&server, "POST").await, 2);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

/// A verifier that cannot tell changes nothing: the typed error, nothing sent, the key
/// still unknown (the next call asks again).
pub async fn a_verifier_that_cannot_tell_sends_nothing(store: impl IdempotencyStore + Clone) {
    let server = api_with_an_unknown_key(store.clone(), ResponseTemplate::new(500)).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let client = verifying_client(store, Arc::clone(&asked));

    unknown(post(&client, &server, "pay-1").await, "pay-1");
    unknown(post(&client, &server, "pay-1").await, "pay-1");
    assert_eq!(asked.load(Ordering::SeqCst), 2, "each call asks once");
    assert_eq!(seen_with(&server, "GET").await, 2);
    assert_eq!(seen_with(&server, "POST").await, 1, "nothing sent again");
}

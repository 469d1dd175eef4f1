//! Applied, not applied, unknown: what a failed call says about the server, when a POST is
//! retried, and verifiers (DESIGN §0, §2, §3), through the `Client` against loopback.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{closed_port, http, not_retried};
use steadfast::classify::Applied;
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitMode};
use steadfast::retry::RetryConfig;
use steadfast::verify::{Sender, Verification, Verified, VerifyRequest};
use steadfast::{Client, ClientBuilder, Error, NotRetried, Unverified};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// No deadline and no attempt limit: no timer runs while a request is in flight (but a
/// verifier's `verify_timeout`), so on a paused clock tokio jumps only to backoff waits.
fn paused() -> ClientBuilder {
    common::paused(RetryConfig::default().base_delay(Duration::from_millis(10)))
}

/// `POST /invoices` answers `first` once, then `then`.
async fn invoices(server: &MockServer, first: u16, then: u16) {
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(ResponseTemplate::new(first))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(ResponseTemplate::new(then))
        .with_priority(2)
        .mount(server)
        .await;
}

async fn posts(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect()
}

async fn post(client: &Client, server: &MockServer) -> Result<reqwest::Response, Error> {
    client
        .post(format!("{}/invoices", server.uri()))
        .json(&serde_json::json!({ "external_ref": "inv-42", "amount": 1999 }))
        .send()
        .await
}

#[tokio::test(start_paused = true)]
async fn a_keyless_post_answered_503_is_retried() {
    let server = MockServer::start().await;
    invoices(&server, 503, 201).await;
    let client = paused()
        .without_idempotency()
        .build(http())
        .expect("valid config");

    let response = post(&client, &server).await.expect("retried");

    assert_eq!(response.status(), 201);
    let seen = posts(&server).await;
    assert_eq!(seen.len(), 2, "a 503 is a refusal: nothing was done");
    assert!(
        seen.iter()
            .all(|r| !r.headers.contains_key("idempotency-key"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_answered_500_is_not_retried_and_its_outcome_is_unknown() {
    let server = MockServer::start().await;
    invoices(&server, 500, 201).await;
    // The default client gives the POST a key: a key alone must not make it retryable.
    let client = paused().build(http()).expect("valid config");

    let error = post(&client, &server).await.expect_err("500");

    assert_eq!(posts(&server).await.len(), 1);
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::UnsafeMethod),
        "{error:?}"
    );
    assert_eq!(error.outcome(), Applied::MaybeApplied);
    assert!(error.idempotency_key().is_some());
    let message = error.to_string();
    assert!(message.contains("outcome unknown"), "{message}");
    assert!(message.contains("idempotency key"), "{message}");
    assert_eq!(
        error.take_response().map(|r| r.status()),
        Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR),
        "the response is kept"
    );
}

#[tokio::test(start_paused = true)]
async fn with_server_dedupes_a_keyed_post_answered_500_is_retried_with_the_same_key() {
    let server = MockServer::start().await;
    invoices(&server, 500, 201).await;
    let client = paused()
        .server_dedupes(true)
        .build(http())
        .expect("valid config");

    let response = client
        .post(format!("{}/invoices", server.uri()))
        .idempotency_key("inv-42")
        .send()
        .await
        .expect("retried");

    assert_eq!(response.status(), 201);
    let seen = posts(&server).await;
    assert_eq!(seen.len(), 2);
    for attempt in &seen {
        assert_eq!(attempt.headers["idempotency-key"], "inv-42");
    }
}

#[tokio::test(start_paused = true)]
async fn with_server_dedupes_a_keyless_post_answered_500_is_still_not_retried() {
    let server = MockServer::start().await;
    invoices(&server, 500, 201).await;
    let client = paused()
        .server_dedupes(true)
        .without_idempotency()
        .build(http())
        .expect("valid config");

    let error = post(&client, &server).await.expect_err("500");

    assert_eq!(posts(&server).await.len(), 1);
    assert_eq!(error.outcome(), Applied::MaybeApplied);
}

/// A verifier that answers from a script and records what it was asked.
#[derive(Clone, Default)]
struct Asked {
    requests: Arc<Mutex<Vec<VerifyRequest>>>,
    lookups: Arc<Mutex<Vec<Result<u16, String>>>>,
}

impl Asked {
    fn count(&self) -> usize {
        self.requests.lock().expect("not poisoned").len()
    }
}

/// Looks the invoice up by the request's key at `GET /invoices?external_ref=…`: 200 is
/// applied, 404 not applied, anything else unknown.
fn lookup_verifier(
    asked: Asked,
) -> impl Fn(VerifyRequest, Sender) -> std::pin::Pin<Box<dyn Future<Output = Verification> + Send>>
+ Send
+ Sync
+ 'static {
    move |request: VerifyRequest, sender: Sender| {
        let asked = asked.clone();
        Box::pin(async move {
            let mut url = request.url.clone();
            url.query_pairs_mut().append_pair(
                "external_ref",
                request.idempotency_key.as_deref().unwrap_or_default(),
            );
            asked.requests.lock().expect("not poisoned").push(request);
            let found = sender
                .send(reqwest::Request::new(reqwest::Method::GET, url))
                .await;
            asked.lookups.lock().expect("not poisoned").push(
                found
                    .as_ref()
                    .map(|r| r.status().as_u16())
                    .map_err(ToString::to_string),
            );
            match found {
                Ok(found) if found.status() == 200 => Verification::Applied(found),
                Ok(missing) if missing.status() == 404 => Verification::NotApplied,
                _ => Verification::Unknown,
            }
        })
    }
}

async fn lookup_answers(server: &MockServer, status: u16) {
    Mock::given(method("GET"))
        .and(path("/invoices"))
        .and(query_param("external_ref", "inv-42"))
        .respond_with(ResponseTemplate::new(status).set_body_string("invoice inv-42"))
        .mount(server)
        .await;
}

/// `POST /invoices` answers `first` once, then `then`; the lookup answers `lookup`.
async fn verified_api(first: u16, then: u16, lookup: u16) -> (MockServer, Asked) {
    let server = MockServer::start().await;
    invoices(&server, first, then).await;
    lookup_answers(&server, lookup).await;
    (server, Asked::default())
}

/// `builder` with a verifier that looks invoices up and tells `asked`.
fn verifying(builder: ClientBuilder, asked: &Asked) -> Client {
    builder
        .verifier(lookup_verifier(asked.clone()))
        .build(http())
        .expect("valid config")
}

fn keyed(client: &Client, server: &MockServer) -> steadfast::RequestBuilder {
    client
        .post(format!("{}/invoices", server.uri()))
        .idempotency_key("inv-42")
        .body(r#"{"amount":1999}"#)
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn a_verifier_that_finds_nothing_lets_the_retry_go_on() {
    let (server, asked) = verified_api(500, 201, 404).await;
    let client = verifying(paused(), &asked);

    let response = keyed(&client, &server).send().await.expect("retried");

    assert_eq!(response.status(), 201);
    assert!(!Verified::of(&response));
    assert_eq!(posts(&server).await.len(), 2);
    assert_eq!(asked.count(), 1);
    let requests = asked.requests.lock().expect("not poisoned");
    assert_eq!(requests[0].method, reqwest::Method::POST);
    assert_eq!(requests[0].idempotency_key.as_deref(), Some("inv-42"));
    assert_eq!(
        requests[0].body.as_deref(),
        Some(&br#"{"amount":1999}"#[..])
    );
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn a_verifier_is_told_the_key_not_its_sf_string_spelling() {
    use steadfast::idempotency::{IdempotencyConfig, KeyFormat};

    let (server, asked) = verified_api(500, 201, 200).await;
    let sf = IdempotencyConfig::default().format(KeyFormat::SfString);
    let client = verifying(paused().idempotency(sf), &asked);

    // The header carries `"inv-42"`; the lookup must ask for `inv-42`, or it finds nothing
    // and the POST is sent again.
    let request = client
        .post(format!("{}/invoices", server.uri()))
        .idempotency_key("inv-42")
        .body(r#"{"amount":1999}"#);
    let response = request.send().await.expect("verified");

    assert!(Verified::of(&response));
    assert_eq!(posts(&server).await.len(), 1, "never sent twice");
    let requests = asked.requests.lock().expect("not poisoned");
    assert_eq!(requests[0].idempotency_key.as_deref(), Some("inv-42"));
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn a_verifier_that_finds_the_invoice_ends_the_call_with_it() {
    let (server, asked) = verified_api(500, 201, 200).await;
    let client = verifying(paused(), &asked);

    let response = keyed(&client, &server).send().await.expect("verified");

    assert_eq!(response.status(), 200);
    assert!(Verified::of(&response));
    assert_eq!(posts(&server).await.len(), 1, "never sent twice");
    assert_eq!(response.text().await.expect("body"), "invoice inv-42");
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn a_verifier_that_cannot_tell_ends_the_call_unknown() {
    let (server, asked) = verified_api(500, 201, 502).await;
    let client = verifying(paused(), &asked);

    let error = keyed(&client, &server).send().await.expect_err("unknown");

    assert_eq!(
        not_retried(&error),
        Some(NotRetried::OutcomeUnknown(Unverified::Unknown)),
        "{error:?}"
    );
    assert_eq!(error.outcome(), Applied::MaybeApplied);
    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(posts(&server).await.len(), 1);
    assert!(error.to_string().contains("could not tell"), "{error}");
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn verifications_are_bounded_per_call() {
    // Every POST fails 500 and every lookup finds nothing: one verification, then out of
    // tries.
    let (server, asked) = verified_api(500, 500, 404).await;
    let client = paused()
        .retry(
            RetryConfig::default()
                .without_deadline()
                .base_delay(Duration::from_millis(10))
                .max_verifications(1),
        )
        .verifier(lookup_verifier(asked.clone()))
        .build(http())
        .expect("valid config");

    let error = keyed(&client, &server).send().await.expect_err("500");

    assert_eq!(
        not_retried(&error),
        Some(NotRetried::OutcomeUnknown(Unverified::OutOfTries)),
        "{error:?}"
    );
    assert_eq!(asked.count(), 1);
    assert_eq!(posts(&server).await.len(), 2);
    assert_eq!(error.outcome(), Applied::MaybeApplied);
}

#[tokio::test(start_paused = true)]
async fn a_verifier_that_hangs_is_cut_by_verify_timeout() {
    let server = MockServer::start().await;
    invoices(&server, 500, 201).await;
    let client = paused()
        .retry(
            RetryConfig::default()
                .without_deadline()
                .verify_timeout(Duration::from_secs(2)),
        )
        .verifier(|_: VerifyRequest, _: Sender| std::future::pending::<Verification>())
        .build(http())
        .expect("valid config");

    let started = tokio::time::Instant::now();
    let error = keyed(&client, &server).send().await.expect_err("unknown");

    assert_eq!(
        not_retried(&error),
        Some(NotRetried::OutcomeUnknown(Unverified::TimedOut)),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn a_verifiers_lookups_go_through_the_rate_limiter() {
    let (server, asked) = verified_api(500, 201, 404).await;
    // One permit a minute, refused at once beyond it: the POST takes it, the lookup is
    // refused.
    let limit = RateLimitConfig::new(Quota::per(1, Duration::from_secs(60)).burst(1))
        .mode(RateLimitMode::FailFast);
    let client = paused()
        .rate_limit(limit)
        .verifier(lookup_verifier(asked.clone()))
        .build(http())
        .expect("valid config");

    let error = keyed(&client, &server).send().await.expect_err("unknown");

    let lookups = asked.lookups.lock().expect("not poisoned").clone();
    assert_eq!(lookups.len(), 1);
    let refused = lookups[0].as_ref().expect_err("refused by the limiter");
    assert!(refused.contains("rate limited"), "{refused}");
    assert_eq!(common::received(&server).await, 1, "the lookup never left");
    assert_eq!(error.outcome(), Applied::MaybeApplied);
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_not_applied() {
    let client = paused()
        .retry(
            RetryConfig::default()
                .without_deadline()
                .max_retries(2)
                .base_delay(Duration::from_millis(10)),
        )
        .build(http())
        .expect("valid config");

    let error = client
        .post(format!("http://127.0.0.1:{}/invoices", closed_port()))
        .send()
        .await
        .expect_err("nothing listens");

    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    assert_eq!(error.failure().map(steadfast::Failure::attempts), Some(3));
    assert_eq!(error.outcome(), Applied::NotApplied);
    assert!(
        error
            .to_string()
            .contains("not applied, safe to send again"),
        "{error}"
    );
}

// Real clock below: the timers under test run while a request is in flight, and on a paused
// clock tokio would jump to them at once.

#[tokio::test]
async fn a_post_hung_past_the_attempt_timeout_is_unknown() {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let client = Client::builder()
        .attempt_timeout(Duration::from_millis(200))
        .build(http())
        .expect("valid config");

    let error = post(&client, &server).await.expect_err("hung");

    assert_eq!(posts(&server).await.len(), 1);
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::UnsafeMethod),
        "{error:?}"
    );
    assert_eq!(error.outcome(), Applied::MaybeApplied);
    let message = error.to_string();
    assert!(
        message.contains("attempt timed out after 200ms"),
        "{message}"
    );
    assert!(message.contains("outcome unknown"), "{message}");
}

#[tokio::test]
async fn the_deadline_error_tells_the_calls_history() {
    let server = MockServer::start().await;
    common::respond(
        &server,
        ResponseTemplate::new(503),
        3,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(20)),
    )
    .await;
    let deadline = Duration::from_millis(350);
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .deadline(deadline)
                .base_delay(Duration::from_millis(5))
                .max_delay(Duration::from_millis(5)),
        )
        .without_attempt_timeout()
        .build(http())
        .expect("valid config");

    let started = std::time::Instant::now();
    let error = client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect_err("the fourth attempt hangs");

    assert!(started.elapsed() >= deadline);
    let Error::DeadlineExceeded { failure, .. } = &error else {
        panic!("expected DeadlineExceeded, got {error:?}");
    };
    assert_eq!(failure.attempts(), 4);
    assert_eq!(failure.deadline(), Some(deadline));
    assert_eq!(
        failure.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(
        error.outcome(),
        Applied::MaybeApplied,
        "the cut attempt was sent"
    );
    let message = error.to_string();
    assert!(
        message.contains("GET 127.0.0.1/orders: deadline of 350ms exceeded after 4 attempts"),
        "{message}"
    );
    assert!(message.contains("status 503"), "{message}");
    assert!(message.contains("outcome unknown"), "{message}");
    assert!(!message.contains('?'), "no query: {message}");
}

#[tokio::test(start_paused = true)]
async fn every_error_says_whether_the_server_may_have_acted() {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(422))
        .mount(&server)
        .await;
    let client = paused().build(http()).expect("valid config");

    // A rejection: the server did not act.
    let error = post(&client, &server).await.expect_err("422");
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::Permanent),
        "{error:?}"
    );
    assert_eq!(error.outcome(), Applied::NotApplied);
    assert!(
        error
            .to_string()
            .ends_with("not applied, safe to send again"),
        "{error}"
    );

    let invalid = client.get("not a url").send().await.expect_err("invalid");
    assert_eq!(invalid.outcome(), Applied::NotApplied);
    assert!(invalid.to_string().contains("not applied"), "{invalid}");
}

/// Counts the verifier's calls for a request that is safe to repeat.
#[tokio::test(start_paused = true)]
async fn a_safe_request_is_never_verified() {
    let server = common::orders_server(500, 1, 200).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let client = paused()
        .verifier(move |_: VerifyRequest, _: Sender| {
            counted.fetch_add(1, Ordering::Relaxed);
            std::future::ready(Verification::Unknown)
        })
        .build(http())
        .expect("valid config");

    let response = client
        .put(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("retried");

    assert_eq!(response.status(), 200);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

// Real clock: `verify_timeout` runs while the lookup is in flight.
#[tokio::test]
async fn a_streamed_post_is_verified_by_its_url_and_key() {
    let (server, asked) = verified_api(500, 201, 200).await;
    let client = verifying(paused(), &asked);
    let chunks =
        futures_util::stream::iter([Ok::<_, std::io::Error>(br#"{"amount":1999}"#.to_vec())]);

    let response = client
        .post(format!("{}/invoices", server.uri()))
        .idempotency_key("inv-42")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("verified");

    assert!(Verified::of(&response));
    let requests = asked.requests.lock().expect("not poisoned");
    assert_eq!(requests[0].idempotency_key.as_deref(), Some("inv-42"));
    assert_eq!(requests[0].url.path(), "/invoices");
    assert!(requests[0].body.is_none(), "a stream is not kept");
}

#[tokio::test(start_paused = true)]
async fn a_call_is_unknown_when_any_attempt_may_have_been_applied() {
    // 500 (maybe applied), then 503 (not applied): the call as a whole is still unknown.
    let server = MockServer::start().await;
    invoices(&server, 500, 503).await;
    let client = paused()
        .retry(
            RetryConfig::default()
                .without_deadline()
                .base_delay(Duration::from_millis(10))
                .max_retries(1)
                .server_dedupes(true),
        )
        .build(http())
        .expect("valid config");

    let error = keyed(&client, &server).send().await.expect_err("503 last");

    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(
        error.failure().map(|f| f.classification().applied()),
        Some(Applied::NotApplied),
        "the last attempt alone was not applied"
    );
    assert_eq!(error.outcome(), Applied::MaybeApplied);
}

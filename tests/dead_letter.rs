//! Dead letters through the client: one letter per failed call, none per success, nothing
//! secret stored, and replay through the same stack with the same key.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::header::{HeaderMap, HeaderValue};
use steadfast::breaker::CircuitBreakerConfig;
use steadfast::credentials::Credential;
use steadfast::dead_letter::{
    DeadLetter, DeadLetterConfig, DeadLetterSink, JsonlSink, LetterBody, LetterFilter,
    LetterOutcome, LetterState, MemorySink, ReplayError, Replayed, SinkError, SinkFuture,
};
use steadfast::log::LogConfig;
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitMode};
use steadfast::redact::RedactConfig;
use steadfast::retry::{BudgetConfig, RetryConfig};
use steadfast::verify::{Sender, Verification, VerifyRequest};
use steadfast::{Client, ClientBuilder, Error};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::chaos::{ChaosApi, Keys};

/// Short delays, no budget: a failing call makes all its attempts quickly.
fn retry() -> RetryConfig {
    RetryConfig::default()
        .max_retries(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2))
        .without_budget()
}

fn builder(sink: &MemorySink) -> ClientBuilder {
    Client::builder()
        .retry(retry())
        .dead_letter_sink(sink.clone())
}

fn client(sink: &MemorySink) -> Client {
    builder(sink).build(common::http()).expect("valid config")
}

async fn api(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(status).set_body_string(r#"{"error":"nope"}"#))
        .mount(&server)
        .await;
    server
}

async fn all(sink: &MemorySink) -> Vec<DeadLetter> {
    sink.list(&LetterFilter::default().limit(usize::MAX))
        .await
        .expect("memory never fails")
}

async fn post(client: &Client, server: &MockServer) -> Result<reqwest::Response, Error> {
    client
        .post(format!("{}/invoices", server.uri()))
        .json(&serde_json::json!({ "customer": "acme", "total_cents": 1999 }))
        .send()
        .await
}

async fn the_one_letter(sink: &MemorySink) -> DeadLetter {
    let letters = all(sink).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    letters.into_iter().next().expect("one")
}

#[tokio::test]
async fn retries_exhausted_make_one_letter_with_every_attempt() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let error = post(&client(&sink), &server).await.expect_err("503s");
    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.attempts.len(), 3);
    assert!(letter.attempts.iter().all(|a| a.status == Some(503)));
    assert_eq!(letter.outcome, LetterOutcome::NotApplied);
    assert_eq!(letter.state, LetterState::Pending);
    assert_eq!(letter.request.method, "POST");
    assert!(matches!(&letter.request.body, LetterBody::Text(t) if t.contains("acme")));
    assert_eq!(letter.idempotency_key.as_deref(), error.idempotency_key());
    assert!(letter.idempotency_key.is_some());
    let response = letter.response.expect("the last response");
    assert_eq!(response.status, 503);
    assert_eq!(response.body.as_deref(), Some(r#"{"error":"nope"}"#));
    // The caller still reads the whole last response.
    let body = error
        .take_response()
        .expect("kept")
        .text()
        .await
        .expect("read");
    assert_eq!(body, r#"{"error":"nope"}"#);
}

#[tokio::test]
async fn a_permanent_failure_makes_one_letter() {
    let (server, sink) = (api(422).await, MemorySink::default());
    let error = post(&client(&sink), &server).await.expect_err("422");
    assert!(matches!(error, Error::NotRetried { .. }), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.attempts.len(), 1);
    assert_eq!(letter.attempts[0].verdict, "permanent");
    assert_eq!(letter.status(), Some(422));
}

#[tokio::test]
async fn an_exhausted_budget_makes_one_letter() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let budget = BudgetConfig::default().min_per_second(0.0);
    let client = Client::builder()
        .retry(retry().budget(budget))
        .dead_letter_sink(sink.clone())
        .build(common::http())
        .expect("valid");
    let error = post(&client, &server).await.expect_err("503");
    assert!(common::budget_exhausted(&error), "{error:?}");
    assert_eq!(the_one_letter(&sink).await.attempts.len(), 1);
}

#[tokio::test]
async fn an_unknown_outcome_makes_one_letter() {
    let (server, sink) = (api(500).await, MemorySink::default());
    let error = post(&client(&sink), &server).await.expect_err("500");
    assert!(error.outcome().is_maybe_applied());
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.outcome, LetterOutcome::Unknown);
    assert_eq!(letter.attempts.len(), 1, "a 500 on a POST is not retried");
}

#[tokio::test]
async fn a_rate_limited_call_makes_one_letter() {
    let (server, sink) = (api(201).await, MemorySink::default());
    let limit = RateLimitConfig::new(Quota::per_minute(1).burst(1)).mode(RateLimitMode::FailFast);
    let client = builder(&sink)
        .rate_limit(limit)
        .build(common::http())
        .expect("valid");
    post(&client, &server)
        .await
        .expect("the first has a permit");
    let error = post(&client, &server).await.expect_err("no permit");
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.outcome, LetterOutcome::NotApplied);
    assert_eq!(common::received(&server).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_cut_by_its_deadline_makes_one_letter() {
    // Accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/invoices", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let sink = MemorySink::default();
    let client = Client::builder()
        .retry(retry().deadline(Duration::from_secs(5)))
        .without_attempt_timeout()
        .dead_letter_sink(sink.clone())
        .build(common::http())
        .expect("valid");
    let error = client.post(url).body("{}").send().await.expect_err("cut");
    assert!(error.outcome().is_maybe_applied(), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.outcome, LetterOutcome::Unknown);
    assert_eq!(letter.attempts.len(), 1);
    assert_eq!(letter.attempts[0].reason, "timed out");
}

#[tokio::test]
async fn a_call_refused_by_an_open_circuit_makes_one_letter_and_sends_nothing() {
    let (server, sink) = (api(503).await, MemorySink::default());
    // Two failures open the circuit for a minute, longer than any call may wait.
    let breaker = CircuitBreakerConfig::default()
        .minimum_calls(2)
        .failure_ratio(0.5)
        .break_duration(Duration::from_secs(60));
    let client = builder(&sink)
        .retry(retry().deadline(Duration::from_secs(5)))
        .breaker(breaker)
        .build(common::http())
        .expect("valid");
    post(&client, &server)
        .await
        .expect_err("503s, then the circuit opens");
    assert_eq!(all(&sink).await.len(), 1, "one letter for the first call");
    let sent = common::received(&server).await;

    let error = post(&client, &server).await.expect_err("refused");
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!(common::received(&server).await, sent, "nothing sent");
    let letters = all(&sink).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    let refused = letters
        .iter()
        .find(|l| l.error.contains("circuit open"))
        .expect("the refused call's letter");
    assert_eq!(refused.outcome, LetterOutcome::NotApplied);
    assert!(
        refused.is_replayable(),
        "its body is kept for a replay once the API is back"
    );
}

#[tokio::test]
async fn a_success_makes_no_letter_and_gets_are_opt_in() {
    let (ok, sink) = (api(201).await, MemorySink::default());
    post(&client(&sink), &ok).await.expect("201");
    let busy = api(503).await;
    let url = format!("{}/invoices", busy.uri());
    client(&sink).get(&url).send().await.expect_err("503");
    assert!(
        all(&sink).await.is_empty(),
        "a success and a failed GET: no letter"
    );

    let opted = builder(&sink)
        .dead_letter(DeadLetterConfig::default().idempotent_methods(true))
        .build(common::http())
        .expect("valid");
    opted.get(&url).send().await.expect_err("503");
    assert_eq!(the_one_letter(&sink).await.request.method, "GET");
}

#[tokio::test]
async fn no_credential_or_sensitive_header_is_stored() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let client = builder(&sink)
        .log(LogConfig::default().redact(RedactConfig::default().header("X-Partner-Pin")))
        .build(common::http())
        .expect("valid");
    client
        .post(format!("{}/invoices?token=qs-secret&page=2", server.uri()))
        .bearer_auth("bearer-secret")
        .header("Cookie", "sid=cookie-secret")
        .header("X-Api-Key", "apikey-secret")
        .header("X-Partner-Pin", "pin-secret")
        .header("X-Request-Source", "nightly-sync")
        .json(&serde_json::json!({ "customer": "acme", "password": "body-secret" }))
        .send()
        .await
        .expect_err("503");
    let letter = the_one_letter(&sink).await;
    let stored = serde_json::to_string(&letter).expect("encodes");
    for secret in [
        "bearer-secret",
        "cookie-secret",
        "apikey-secret",
        "pin-secret",
    ] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
    }
    assert!(stored.contains("nightly-sync"), "harmless headers are kept");
    // What people see hides what replay keeps.
    let shown = format!(
        "{letter} {letter:?} {}",
        serde_json::to_string(&letter.redacted(&steadfast::redact::Redactor::default()))
            .expect("encodes")
    );
    for secret in ["qs-secret", "body-secret"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert!(
        stored.contains("body-secret"),
        "the body is kept for replay"
    );
}

/// A sink that always fails.
struct Broken;

impl DeadLetterSink for Broken {
    fn store(&self, _: &DeadLetter) -> SinkFuture<'_, ()> {
        Box::pin(async { Err(SinkError::Io(std::io::Error::other("disk full"))) })
    }
    fn get(&self, _: steadfast::dead_letter::LetterId) -> SinkFuture<'_, Option<DeadLetter>> {
        Box::pin(async { Ok(None) })
    }
    fn list(&self, _: &LetterFilter) -> SinkFuture<'_, Vec<DeadLetter>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn claim(
        &self,
        _: steadfast::dead_letter::LetterId,
        _: &str,
        _: Duration,
    ) -> SinkFuture<'_, steadfast::dead_letter::sink::Claim> {
        Box::pin(async { Ok(steadfast::dead_letter::sink::Claim::NotFound) })
    }
}

/// A sink that never answers.
struct Stuck;

impl DeadLetterSink for Stuck {
    fn store(&self, _: &DeadLetter) -> SinkFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
    fn get(&self, _: steadfast::dead_letter::LetterId) -> SinkFuture<'_, Option<DeadLetter>> {
        Box::pin(std::future::pending())
    }
    fn list(&self, _: &LetterFilter) -> SinkFuture<'_, Vec<DeadLetter>> {
        Box::pin(std::future::pending())
    }
    fn claim(
        &self,
        _: steadfast::dead_letter::LetterId,
        _: &str,
        _: Duration,
    ) -> SinkFuture<'_, steadfast::dead_letter::sink::Claim> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_failing_sink_never_fails_the_call() {
    let server = api(503).await;
    let client = Client::builder()
        .retry(retry())
        .dead_letter_sink(Broken)
        .build(common::http())
        .expect("valid");
    let error = post(&client, &server)
        .await
        .expect_err("the call's own error");
    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    let letters = client.dead_letters().expect("on");
    assert_eq!((letters.sink_errors(), letters.recorded()), (1, 0));
}

#[tokio::test]
async fn a_stuck_sink_holds_the_error_for_the_record_timeout_only() {
    let server = api(503).await;
    let client = Client::builder()
        .retry(retry())
        .dead_letter(DeadLetterConfig::default().record_timeout(Duration::from_millis(50)))
        .dead_letter_sink(Stuck)
        .build(common::http())
        .expect("valid");
    let error = tokio::time::timeout(Duration::from_secs(10), post(&client, &server))
        .await
        .expect("bounded")
        .expect_err("503");
    assert!(matches!(error, Error::RetriesExhausted { .. }));
    assert_eq!(client.dead_letters().expect("on").sink_errors(), 1);
}

/// An API that fails the first `fails` POSTs with `status`, then creates.
async fn failing_then_created(status: u16, fails: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .up_to_n_times(fails)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn keys_seen(requests: &[wiremock::Request]) -> Vec<String> {
    common::keys(requests, "idempotency-key")
}

#[tokio::test]
async fn replay_resends_with_the_original_key_and_resolves_the_letter() {
    let (server, sink) = (failing_then_created(503, 3).await, MemorySink::default());
    let client = client(&sink);
    post(&client, &server).await.expect_err("three 503s");
    let letter = the_one_letter(&sink).await;

    let replayed = client.replay(&letter).await.expect("replayed");
    let Replayed::Resolved {
        letter: done,
        response,
    } = replayed
    else {
        panic!("expected resolved, got {replayed:?}");
    };
    assert_eq!(response.status(), 201);
    assert_eq!(done.state, LetterState::Resolved);
    assert_eq!(done.replays, 1);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 4);
    let keys = keys_seen(&requests);
    assert!(
        keys.iter()
            .all(|k| Some(k.as_str()) == letter.idempotency_key.as_deref()),
        "{keys:?}"
    );
    assert_eq!(requests[3].body, requests[0].body, "the same body");
    // No second letter for the replayed call.
    assert_eq!(all(&sink).await.len(), 1);
    assert_eq!(the_one_letter(&sink).await.state, LetterState::Resolved);

    // Resolved: a second replay sends nothing.
    let again = client.replay(&letter).await.expect("answered");
    assert!(
        matches!(again, Replayed::AlreadyResolved { .. }),
        "{again:?}"
    );
    assert_eq!(common::received(&server).await, 4);
}

#[tokio::test]
async fn a_failed_replay_appends_its_attempts() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let client = client(&sink);
    post(&client, &server).await.expect_err("503");
    let letter = the_one_letter(&sink).await;
    let replayed = client.replay(&letter).await.expect("sent");
    let Replayed::FailedAgain { letter: after, .. } = replayed else {
        panic!("expected failed again, got {replayed:?}");
    };
    assert_eq!(after.state, LetterState::FailedAgain);
    assert_eq!(after.attempts.len(), 6);
    assert_eq!(after.attempts.iter().filter(|a| a.replay).count(), 3);
    assert_eq!(all(&sink).await.len(), 1, "no second letter");
}

#[tokio::test]
async fn two_replays_at_once_send_once() {
    let (server, sink) = (failing_then_created(503, 3).await, MemorySink::default());
    let client = client(&sink);
    post(&client, &server).await.expect_err("503");
    let letter = the_one_letter(&sink).await;
    let letters = client.dead_letters().expect("on");
    let other = Client::builder()
        .retry(retry())
        .shared_dead_letter_sink(Arc::new(sink.clone()))
        .build(common::http())
        .expect("valid")
        .dead_letters()
        .expect("on");
    let (a, b) = tokio::join!(letters.replay(letter.id), other.replay(letter.id));
    let sent = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Ok(Replayed::Resolved { .. })))
        .count();
    assert_eq!(sent, 1, "{a:?} {b:?}");
    assert!(
        [&a, &b].iter().any(|r| matches!(
            r,
            Err(ReplayError::Held { .. }) | Ok(Replayed::AlreadyResolved { .. })
        )),
        "{a:?} {b:?}"
    );
    assert_eq!(
        common::received(&server).await,
        4,
        "three attempts, one replay"
    );
}

#[tokio::test]
async fn an_unknown_letter_is_refused_until_a_person_confirms_it() {
    let (server, sink) = (failing_then_created(500, 1).await, MemorySink::default());
    let client = client(&sink);
    // A caller-named key: the ledger holds it as unknown.
    let error = client
        .post(format!("{}/invoices", server.uri()))
        .idempotency_key("invoice-77")
        .body(r#"{"total_cents":1999}"#)
        .send()
        .await
        .expect_err("500");
    assert!(error.outcome().is_maybe_applied());
    let letter = the_one_letter(&sink).await;
    let letters = client.dead_letters().expect("on");

    let refused = letters.replay(letter.id).await.expect_err("unknown");
    assert!(
        matches!(refused, ReplayError::OutcomeUnknown(_)),
        "{refused:?}"
    );
    assert_eq!(common::received(&server).await, 1, "nothing sent");

    let confirmed = letters
        .confirm_not_applied(letter.id)
        .await
        .expect("confirmed");
    assert!(confirmed.confirmed_not_applied);
    let replayed = letters.replay(letter.id).await.expect("sent");
    assert!(
        matches!(replayed, Replayed::Resolved { .. }),
        "{replayed:?}"
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(keys_seen(&requests), ["invoice-77", "invoice-77"]);
}

#[tokio::test]
async fn a_verifier_lets_an_unknown_letter_be_replayed() {
    let (server, sink) = (failing_then_created(500, 1).await, MemorySink::default());
    // Cannot tell during the call; finds the call not applied once asked at replay.
    let knows = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&knows);
    let client = builder(&sink)
        .verifier(move |_: VerifyRequest, _: Sender| {
            let flag = Arc::clone(&flag);
            async move {
                if flag.load(Ordering::SeqCst) == 0 {
                    Verification::Unknown
                } else {
                    Verification::NotApplied
                }
            }
        })
        .build(common::http())
        .expect("valid");
    post(&client, &server).await.expect_err("500, unverified");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.outcome, LetterOutcome::Unknown);
    let refused = client
        .replay(&letter)
        .await
        .expect_err("the verifier cannot tell");
    assert!(
        matches!(refused, ReplayError::OutcomeUnknown(_)),
        "{refused:?}"
    );
    assert_eq!(common::received(&server).await, 1);
    knows.store(1, Ordering::SeqCst);
    let replayed = client.replay(&letter).await.expect("verified, sent");
    assert!(
        matches!(replayed, Replayed::Resolved { .. }),
        "{replayed:?}"
    );
    assert_eq!(common::received(&server).await, 2);
}

#[tokio::test]
async fn a_replay_re_applies_the_clients_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-api-key", "k-live-123"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("x-api-key", "k-live-123"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut defaults = HeaderMap::new();
    let mut key = HeaderValue::from_static("k-live-123");
    key.set_sensitive(true);
    defaults.insert("x-api-key", key);
    let http = reqwest::Client::builder()
        .default_headers(defaults)
        .pool_idle_timeout(None)
        .build()
        .expect("builds");
    let sink = MemorySink::default();
    let client = builder(&sink).build(http).expect("valid");
    post(&client, &server).await.expect_err("503");
    let letter = the_one_letter(&sink).await;
    assert!(
        !serde_json::to_string(&letter)
            .expect("encodes")
            .contains("k-live-123")
    );
    let replayed = client.replay(&letter).await.expect("sent");
    assert!(
        matches!(replayed, Replayed::Resolved { .. }),
        "{replayed:?}"
    );
}

#[tokio::test]
async fn a_letter_keeps_no_credential_and_its_replay_gets_the_rotated_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-api-key", "k-november"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("x-api-key", "k-december"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let key = Arc::new(std::sync::Mutex::new("k-november"));
    let current = Arc::clone(&key);
    let provider = steadfast::credentials::from_fn(move || {
        let value = *current.lock().expect("not poisoned");
        async move { Credential::header("x-api-key", value) }
    });
    let sink = MemorySink::default();
    let client = builder(&sink)
        .credentials(provider)
        .build(common::http())
        .expect("valid");
    post(&client, &server)
        .await
        .expect_err("503 with the old key");
    let letter = the_one_letter(&sink).await;
    let stored = serde_json::to_string(&letter).expect("encodes");
    assert!(!stored.contains("k-november"), "{stored}");
    assert!(
        !stored.to_ascii_lowercase().contains("x-api-key"),
        "{stored}"
    );

    // The key is rotated; the replay asks the provider again, as every attempt does.
    *key.lock().expect("not poisoned") = "k-december";
    let replayed = client.replay(&letter).await.expect("sent");
    assert!(
        matches!(replayed, Replayed::Resolved { .. }),
        "{replayed:?}"
    );
}

#[tokio::test]
async fn discarded_letters_are_not_replayed_and_filters_find_letters() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let client = client(&sink);
    post(&client, &server).await.expect_err("503");
    let letter = the_one_letter(&sink).await;
    let letters = client.dead_letters().expect("on");
    let host = letter.host().expect("a host");
    for filter in [
        LetterFilter::default().host(host.clone()),
        LetterFilter::default().status(503),
        LetterFilter::default().state("pending"),
        LetterFilter::default().outcome(LetterOutcome::NotApplied),
        LetterFilter::default().since(letter.created),
    ] {
        assert_eq!(
            letters.list(&filter).await.expect("listed").len(),
            1,
            "{filter:?}"
        );
    }
    for filter in [
        LetterFilter::default().host("elsewhere.example"),
        LetterFilter::default().status(500),
        LetterFilter::default().outcome(LetterOutcome::Unknown),
        LetterFilter::default().until(letter.created),
    ] {
        assert!(
            letters.list(&filter).await.expect("listed").is_empty(),
            "{filter:?}"
        );
    }
    let counts = letters
        .counts(&LetterFilter::default())
        .await
        .expect("counted");
    assert_eq!(counts.by_state.get("pending"), Some(&1));

    let discarded = letters
        .discard(letter.id, "duplicate of invoice 42")
        .await
        .expect("discarded");
    assert!(matches!(discarded.state, LetterState::Discarded { .. }));
    let refused = letters.replay(letter.id).await.expect_err("discarded");
    assert!(matches!(refused, ReplayError::Discarded(_)));
    assert_eq!(common::received(&server).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_run_of_ten_thousand_calls_loses_none() {
    const CALLS: usize = 10_000;
    let api = ChaosApi::start(Keys::Ignores, 0xdead_1e77, 0.30, Duration::from_millis(300)).await;
    let sink = MemorySink::new(CALLS);
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5))
                .without_budget(),
        )
        .attempt_timeout(Duration::from_millis(100))
        .dead_letter_sink(sink.clone())
        .build(common::http())
        .expect("valid");
    let url = api.url("/invoices");
    let failed: Vec<String> = futures_util::stream::iter(0..CALLS)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let reference = format!("call-{i}");
                let result = client
                    .post(url)
                    .json(&serde_json::json!({ "ref": reference, "total_cents": 1999 }))
                    .send()
                    .await;
                result.is_err().then_some(reference)
            }
        })
        .buffer_unordered(64)
        .filter_map(std::future::ready)
        .collect()
        .await;
    let letters = all(&sink).await;
    assert!(!failed.is_empty(), "the run had failures");
    assert_eq!(letters.len(), failed.len(), "one letter per failed call");
    let mut lettered: Vec<String> = letters
        .iter()
        .map(|l| {
            let body: serde_json::Value =
                serde_json::from_slice(l.request.body.as_bytes().expect("kept")).expect("json");
            body["ref"].as_str().expect("a ref").to_owned()
        })
        .collect();
    let mut failed = failed;
    lettered.sort();
    failed.sort();
    assert_eq!(lettered, failed, "the letters are exactly the failed calls");
    let letters_handle = client.dead_letters().expect("on");
    assert_eq!(letters_handle.sink_errors(), 0);
    assert_eq!(sink.dropped(), 0);
}

/// A fresh directory, removed when the test ends.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "steadfast-dead-letters-{}-{}",
            std::process::id(),
            common::closed_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn jsonl_letters_survive_a_restart_and_are_replayed_after_it() {
    let dir = TempDir::new();
    let path = dir.0.join("letters.jsonl");
    let server = failing_then_created(503, 3).await;
    {
        let client = Client::builder()
            .retry(retry())
            .dead_letter_sink(JsonlSink::open(&path).expect("opens"))
            .build(common::http())
            .expect("valid");
        post(&client, &server).await.expect_err("503");
    }
    // A crash mid-write leaves a torn last line.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, br#"{"id":"0190"#))
        .expect("a torn write");

    let sink = JsonlSink::open(&path).expect("a torn line is skipped, not an error");
    assert_eq!(sink.skipped(), 1);
    let client = Client::builder()
        .retry(retry())
        .dead_letter_sink(sink)
        .build(common::http())
        .expect("valid");
    let letters = client.dead_letters().expect("on");
    let pending = letters
        .list(&LetterFilter::default())
        .await
        .expect("listed");
    assert_eq!(pending.len(), 1);
    let replayed = letters.replay(pending[0].id).await.expect("sent");
    assert!(
        matches!(replayed, Replayed::Resolved { .. }),
        "{replayed:?}"
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(keys_seen(&requests).len(), 4);
    assert!(
        keys_seen(&requests).windows(2).all(|w| w[0] == w[1]),
        "one key"
    );

    let after = JsonlSink::open(&path).expect("reopens");
    let letter = after
        .get(pending[0].id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(letter.state, LetterState::Resolved);
}

#[tokio::test]
async fn a_long_list_is_read_page_by_page_newest_first_in_memory() {
    let client =
        common::letters::failing_client(Client::builder().dead_letter_sink(MemorySink::new(1_000)));
    common::letters::pages_cover_every_letter_once(&client, 300).await;
}

#[tokio::test]
async fn a_long_list_is_read_page_by_page_newest_first_from_jsonl() {
    let dir = TempDir::new();
    let sink = JsonlSink::open(dir.0.join("letters.jsonl")).expect("opens");
    let client = common::letters::failing_client(Client::builder().dead_letter_sink(sink));
    common::letters::pages_cover_every_letter_once(&client, 300).await;
}

/// Faults from the chaos layer at the attempt level: three resets before the request make
/// a not-applied letter the server never saw; a reset after the server acted makes an
/// unknown letter, the invoice committed once; the first letter's replay (the script over)
/// sends the invoice once, with its original key.
#[cfg(feature = "chaos")]
#[tokio::test]
async fn faults_injected_by_the_chaos_layer_make_letters_and_a_replay_sends_once() {
    use reqwest::Method;
    use steadfast::chaos::{ChaosConfig, ChaosLayer, ChaosRule, Fault};

    let (server, sink) = (api(201).await, MemorySink::default());
    let script = [
        Fault::ResetBefore,
        Fault::ResetBefore,
        Fault::ResetBefore,
        Fault::ResetAfter,
    ];
    let rule = ChaosRule::default()
        .method(Method::POST)
        .path("/invoices")
        .script(script);
    let layer = ChaosLayer::new(&ChaosConfig::default().enabled(true).rule(rule))
        .expect("valid chaos config");
    let client = builder(&sink)
        .chaos(layer)
        .build(common::http())
        .expect("valid");

    let error = post(&client, &server).await.expect_err("three resets");
    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.outcome, LetterOutcome::NotApplied);
    assert_eq!(letter.attempts.len(), 3);
    for attempt in &letter.attempts {
        assert_eq!(attempt.status, None);
        assert_eq!(attempt.outcome, LetterOutcome::NotApplied);
        assert_eq!(attempt.reason, "connection failed");
    }
    assert_eq!(
        common::received(&server).await,
        0,
        "nothing reached the server"
    );

    let error = post(&client, &server).await.expect_err("reset after");
    assert!(error.outcome().is_maybe_applied(), "{error:?}");
    assert_eq!(
        common::received(&server).await,
        1,
        "committed once, not re-sent"
    );
    let letters = all(&sink).await;
    assert_eq!(letters.len(), 2);
    let unknown = letters
        .iter()
        .find(|l| l.id != letter.id)
        .expect("the second letter");
    assert_eq!(unknown.outcome, LetterOutcome::Unknown);
    assert_eq!(unknown.attempts.len(), 1);

    let replayed = client.replay(&letter).await.expect("replayed");
    assert!(
        matches!(replayed, Replayed::Resolved { .. }),
        "{replayed:?}"
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        keys_seen(&requests[1..]),
        [letter.idempotency_key.clone().expect("a key")]
    );
}

#[tokio::test]
async fn a_later_call_applied_with_the_key_resolves_the_letters_it_left_and_only_those() {
    let (server, sink) = (failing_then_created(503, 6).await, MemorySink::default());
    let client = client(&sink);
    let letters = client.dead_letters().expect("on");
    let send = |key: &'static str| {
        client
            .post(format!("{}/invoices", server.uri()))
            .idempotency_key(key)
            .body(r#"{"total_cents":1999}"#)
            .send()
    };
    // Two keys fail all their attempts (three each); one letter each.
    send("invoice-1").await.expect_err("three 503s");
    send("invoice-2").await.expect_err("three 503s");
    let second = letters
        .list(&LetterFilter::default().idempotency_key("invoice-2"))
        .await
        .expect("listed");
    assert_eq!(second.len(), 1, "{second:?}");
    letters
        .discard(second[0].id, "sent by hand")
        .await
        .expect("discarded");
    // The caller tries the first again, with its key, and it is applied.
    assert_eq!(send("invoice-1").await.expect("created").status(), 201);

    assert_eq!(letters.resolve_applied("invoice-1").await.expect("read"), 1);
    assert_eq!(letters.resolve_applied("invoice-2").await.expect("read"), 0);
    assert_eq!(letters.resolve_applied("invoice-9").await.expect("read"), 0);
    let states: Vec<_> = all(&sink)
        .await
        .into_iter()
        .map(|l| (l.idempotency_key.unwrap_or_default(), l.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("invoice-2".to_owned(), "discarded"),
            ("invoice-1".to_owned(), "resolved")
        ]
    );
    // Resolved, a replay sends nothing.
    let first = letters
        .list(&LetterFilter::default().idempotency_key("invoice-1"))
        .await
        .expect("listed");
    let replayed = client.replay(&first[0]).await.expect("replayed");
    assert!(
        matches!(replayed, Replayed::AlreadyResolved { .. }),
        "{replayed:?}"
    );
    assert_eq!(common::received(&server).await, 7);
}

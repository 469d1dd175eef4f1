//! A call refused before anything was sent (credentials that could not be had, a rate
//! limiter failing fast, an open circuit) reaches the caller through the whole client,
//! retries included, as its own error: not wrapped in an attempt history, not applied,
//! nothing sent; its dead letter counts the attempts that were refused.

mod common;

use std::time::Duration;

use steadfast::breaker::{CircuitBreakerConfig, CircuitState};
use steadfast::classify::Applied;
use steadfast::credentials::{Credential, CredentialsError, EnvCredentials};
use steadfast::dead_letter::{DeadLetter, DeadLetterSink, LetterFilter, LetterOutcome, MemorySink};
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitMode};
use steadfast::retry::RetryConfig;
use steadfast::{Client, ClientBuilder, Error};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{build, paused, received};

/// A server whose `/invoices` answers 201 to anything.
async fn invoices() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    server
}

/// Two retries, letters kept in `sink`.
fn client(sink: &MemorySink) -> ClientBuilder {
    paused(RetryConfig::default().max_retries(2).without_budget()).dead_letter_sink(sink.clone())
}

async fn post(client: &Client, server: &MockServer) -> Result<reqwest::Response, Error> {
    client
        .post(format!("{}/invoices", server.uri()))
        .json(&serde_json::json!({ "customer": "acme", "total_cents": 1999 }))
        .send()
        .await
}

async fn the_one_letter(sink: &MemorySink) -> DeadLetter {
    let letters = sink
        .list(&LetterFilter::default().limit(usize::MAX))
        .await
        .expect("memory never fails");
    assert_eq!(letters.len(), 1, "{letters:?}");
    letters.into_iter().next().expect("one")
}

/// What every refusal says of itself, whatever refused.
fn assert_refused(error: &Error) {
    assert!(error.refused_before_sending(), "{error:?}");
    assert_eq!(error.outcome(), Applied::NotApplied, "{error:?}");
    assert!(error.failure().is_none(), "no attempt history: {error:?}");
    assert!(
        error.idempotency_key().is_some(),
        "the key to replay it with"
    );
}

#[tokio::test(start_paused = true)]
async fn a_credential_that_needs_a_person_comes_back_as_itself_after_one_attempt() {
    let (server, sink) = (invoices().await, MemorySink::default());
    let provider = EnvCredentials::header("BILLING_API_KEY", "x-api-key")
        .expect("valid")
        .lookup(|_| None);
    let client = build(client(&sink).credentials(provider));

    let error = post(&client, &server).await.expect_err("no key");
    let Error::Credentials { source, .. } = &error else {
        panic!("expected Credentials, got {error:?}");
    };
    assert!(matches!(source, CredentialsError::EnvMissing { var, .. } if var == "BILLING_API_KEY"));
    assert_refused(&error);
    assert_eq!(received(&server).await, 0, "nothing was sent");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.attempts.len(), 1, "not retried: {letter:?}");
    assert_eq!(letter.outcome, LetterOutcome::NotApplied);
}

#[tokio::test(start_paused = true)]
async fn a_credential_source_that_fails_is_retried_then_comes_back_as_itself() {
    let (server, sink) = (invoices().await, MemorySink::default());
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&asked);
    let vault = steadfast::credentials::from_fn(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Err::<Credential, _>(std::io::Error::other("vault sealed")) }
    });
    let client = build(client(&sink).credentials(vault));

    let error = post(&client, &server).await.expect_err("no credential");
    assert!(
        matches!(
            &error,
            Error::Credentials {
                source: CredentialsError::Source(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert_refused(&error);
    assert_eq!(received(&server).await, 0, "nothing was sent");
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "a transient refusal is retried"
    );
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.attempts.len(), 3, "{letter:?}");
    assert!(
        letter
            .attempts
            .iter()
            .all(|a| a.outcome == LetterOutcome::NotApplied && a.status.is_none()),
        "{letter:?}"
    );
    assert_eq!(letter.outcome, LetterOutcome::NotApplied);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_failing_fast_comes_back_as_itself() {
    let (server, sink) = (invoices().await, MemorySink::default());
    let limit = RateLimitConfig::new(Quota::per_second(1).burst(1))
        .mode(RateLimitMode::FailFast)
        .jitter(Duration::ZERO);
    let client = build(client(&sink).rate_limit(limit));

    post(&client, &server).await.expect("the one permit");
    let error = post(&client, &server).await.expect_err("no permit");
    assert!(matches!(&error, Error::RateLimited { .. }), "{error:?}");
    assert_refused(&error);
    assert_eq!(received(&server).await, 1, "the refused call was not sent");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.attempts.len(), 1, "{letter:?}");
}

// On the real clock: the deadline is a timer that runs while the request is on the wire,
// and a paused clock would jump to it whenever the runtime waits on the socket.
#[tokio::test]
async fn an_open_circuit_met_on_a_retry_comes_back_as_itself() {
    // The first call's 503 opens the circuit (one call is enough); the retry meets it open
    // and waits for no half-open beyond the deadline: the caller learns the circuit is open.
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let breaker = CircuitBreakerConfig::default()
        .minimum_calls(1)
        .failure_ratio(0.5)
        .break_duration(Duration::from_secs(60));
    let client = build(
        Client::builder()
            .retry(
                RetryConfig::default()
                    .max_retries(2)
                    .base_delay(Duration::from_millis(5))
                    .max_delay(Duration::from_millis(10))
                    .without_budget()
                    .deadline(Duration::from_secs(5)),
            )
            .without_attempt_timeout()
            .breaker(breaker),
    );
    let error = client
        .get(format!("{}/invoices", server.uri()))
        .send()
        .await
        .expect_err("open");
    assert!(matches!(&error, Error::CircuitOpen { .. }), "{error:?}");
    assert!(error.refused_before_sending());
    assert_eq!(error.outcome(), Applied::NotApplied);
    assert_eq!(
        received(&server).await,
        1,
        "only the first attempt was sent"
    );
}

#[tokio::test(start_paused = true)]
async fn refusals_below_the_breaker_never_trip_it() {
    let server = invoices().await;
    let vault = steadfast::credentials::from_fn(|| async {
        Err::<Credential, _>(std::io::Error::other("vault sealed"))
    });
    let breaker = CircuitBreakerConfig::default()
        .minimum_calls(5)
        .failure_ratio(0.5);
    let client = build(
        paused(RetryConfig::default().max_retries(0))
            .breaker(breaker)
            .credentials(vault),
    );
    for _ in 0..20 {
        let error = client
            .get(format!("{}/invoices", server.uri()))
            .send()
            .await
            .expect_err("no credential");
        assert!(matches!(&error, Error::Credentials { .. }), "{error:?}");
    }
    assert_eq!(
        client.circuit_state(&server.uri()),
        Some(CircuitState::Closed),
        "the host never saw a request"
    );
    assert_eq!(received(&server).await, 0);
}

//! A verifier asked about keys the in-memory ledger holds as unknown: its bounds, its
//! lookups' quota, and the one verification a call gets. (The answers themselves run in the
//! shared ledger suite, for every store.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{http, ledger};
use steadfast::idempotency::IdempotencyConfig;
use steadfast::idempotency::store::{
    Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, MemoryStore, Reservation, Resolution,
    StoreFuture, StoredResponse, Terms,
};
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitMode};
use steadfast::retry::RetryConfig;
use steadfast::verify::{Sender, Verification, VerifyRequest};
use steadfast::{Client, Error};
use wiremock::ResponseTemplate;

#[tokio::test]
async fn a_verifier_that_does_not_answer_in_time_sends_nothing() {
    let store = MemoryStore::new();
    let server = ledger::api_with_an_unknown_key(store.clone(), ResponseTemplate::new(200)).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&asked);
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(0)
                .verify_timeout(Duration::from_millis(200)),
        )
        .idempotency_store(store)
        .verifier(move |_: VerifyRequest, _: Sender| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Verification>()
        })
        .build(http())
        .expect("valid config");

    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        ledger::post(&client, &server, "pay-1"),
    )
    .await
    .expect("the verification is bounded");
    ledger::unknown(result, "pay-1");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(
        ledger::seen_with(&server, "POST").await,
        1,
        "nothing sent again"
    );
}

#[tokio::test]
async fn a_verifiers_lookup_takes_quota_from_the_rate_limiter() {
    let store = MemoryStore::new();
    let server = ledger::api_with_an_unknown_key(store.clone(), ResponseTemplate::new(404)).await;
    let asked = Arc::new(AtomicUsize::new(0));
    // One permit a minute: the lookup takes it, so the resend it allows finds none.
    let client = Client::builder()
        .retry(RetryConfig::default().max_retries(0))
        .rate_limit(
            RateLimitConfig::new(Quota::per_minute(1).burst(1)).mode(RateLimitMode::FailFast),
        )
        .idempotency_store(store)
        .verifier(ledger::lookup(Arc::clone(&asked)))
        .build(http())
        .expect("valid config");

    let error = ledger::post(&client, &server, "pay-1")
        .await
        .expect_err("no permit left for the resend");
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(error.idempotency_key(), Some("pay-1"));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(
        ledger::seen_with(&server, "GET").await,
        1,
        "the lookup went out"
    );
    assert_eq!(
        ledger::seen_with(&server, "POST").await,
        1,
        "the resend did not"
    );
}

/// A memory ledger whose unknown keys cannot be freed: `resolve` answers "not unknown".
#[derive(Clone, Default)]
struct Unfreeable(MemoryStore);

impl IdempotencyStore for Unfreeable {
    fn reserve(
        &self,
        key: &LedgerKey,
        print: &Fingerprint,
        terms: Terms,
    ) -> StoreFuture<Reservation> {
        self.0.reserve(key, print, terms)
    }
    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool> {
        self.0.complete(key, token, response, ttl)
    }
    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        self.0.release(key, token)
    }
    fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()> {
        self.0.mark_unknown(key, token, ttl)
    }
    fn resolve(&self, _: &LedgerKey, _: Resolution, _: Duration) -> StoreFuture<bool> {
        StoreFuture::ready(Ok(false))
    }
}

#[tokio::test]
async fn a_key_still_unknown_after_a_not_applied_answer_is_refused_without_asking_again() {
    let store = Unfreeable::default();
    let server = ledger::api_with_an_unknown_key(store.clone(), ResponseTemplate::new(404)).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let client = ledger::verifying_client(store, Arc::clone(&asked));

    ledger::unknown(ledger::post(&client, &server, "pay-1").await, "pay-1");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one verification per call");
    assert_eq!(
        ledger::seen_with(&server, "POST").await,
        1,
        "nothing sent again"
    );
}

#[tokio::test]
async fn without_a_verifier_an_unknown_key_is_refused_and_nobody_is_asked() {
    let store = MemoryStore::new();
    let server = ledger::api_with_an_unknown_key(store.clone(), ResponseTemplate::new(200)).await;
    let client = ledger::client_with(store, IdempotencyConfig::default());
    ledger::unknown(ledger::post(&client, &server, "pay-1").await, "pay-1");
    assert_eq!(ledger::seen_with(&server, "GET").await, 0);
    assert_eq!(ledger::seen_with(&server, "POST").await, 1);
}

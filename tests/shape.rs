//! The conventions every layer shares ("Writing a layer" in the crate docs): services built
//! with `X::new(inner, ..)`, shared handles, and one `without_*` to turn a part off.

use std::time::Duration;

use reqwest::{Method, Request};
use steadfast::idempotency::{Idempotency, IdempotencyConfig, IdempotencyLayer};
use steadfast::log::{Log, LogConfig, LogLayer};
use steadfast::rate_limit::{Quota, RateLimit, RateLimitConfig, RateLimiter};
use steadfast::retry::{Jitter, Retry, RetryConfig, RetryLayer};
use steadfast::timeout::{Deadline, Timeout};
use steadfast::{Client, ClientConfig};
use tower::{Service, ServiceExt as _};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;
use common::{assert_one_key, http, keys};

#[tokio::test]
async fn a_stack_built_with_new_inner_first_works_like_the_layers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;

    let retry = RetryLayer::new(
        &RetryConfig::default()
            .base_delay(Duration::from_millis(1))
            .jitter(Jitter::None),
    )
    .expect("valid");
    let limiter = RateLimiter::new(&RateLimitConfig::new(Quota::per_second(1_000))).expect("valid");
    let idempotency = IdempotencyLayer::new(&IdempotencyConfig::default()).expect("valid");
    let log = LogLayer::new(&LogConfig::default()).expect("valid");

    let attempt = Timeout::new(http(), Duration::from_secs(5));
    let rate_limited = RateLimit::new(attempt, limiter.clone());
    let retried = Retry::new(rate_limited, &retry);
    let bounded = Deadline::new(retried, Duration::from_secs(30));
    let keyed = Idempotency::new(bounded, &idempotency);
    let mut service = Log::new(keyed, &log);

    // Accessors reach every layer down to the transport.
    let shared = service.get_ref().get_ref().get_ref().get_ref().limiter();
    assert!(shared.is_some(), "the rate limit layer holds the limiter");

    let url = format!("{}/invoices", server.uri()).parse().expect("url");
    let response = service
        .ready()
        .await
        .expect("ready")
        .call(Request::new(Method::POST, url))
        .await
        .expect("the retry after the 503 succeeds");
    assert_eq!(response.status(), 201);

    // A 503 is not applied: retried once, with the key the idempotency layer added.
    let requests = server.received_requests().await.expect("recording");
    assert_one_key(&requests, "idempotency-key", 2);

    let transport: reqwest::Client = service
        .into_inner()
        .into_inner()
        .into_inner()
        .into_inner()
        .into_inner()
        .into_inner();
    drop(transport);
}

#[tokio::test]
async fn without_idempotency_sends_no_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let keyed = Client::builder().build(http()).expect("valid");
    let bare = Client::builder()
        .idempotency(IdempotencyConfig::default())
        .without_idempotency()
        .build(http())
        .expect("valid");
    let url = format!("{}/invoices", server.uri());
    keyed.post(&url).send().await.expect("sent");
    bare.post(&url).send().await.expect("sent");
    let requests = server.received_requests().await.expect("recording");
    let keys = keys(&requests, "idempotency-key");
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], "<none>", "on by default");
    assert_eq!(keys[1], "<none>", "turned off");
}

#[test]
fn without_turns_off_what_a_setter_turned_on() {
    let config = ClientConfig::default()
        .attempt_timeout(Duration::from_secs(5))
        .without_attempt_timeout()
        .rate_limit(RateLimitConfig::new(Quota::per_second(10)))
        .without_rate_limit()
        .without_idempotency();
    assert_eq!(config.attempt_timeout, None);
    assert_eq!(config.rate_limit, None);
    assert_eq!(config.idempotency, None);
    assert_eq!(
        ClientConfig::default().attempt_timeout,
        Some(Duration::from_secs(30)),
        "on by default"
    );

    let retry = RetryConfig::default()
        .deadline(Duration::from_secs(5))
        .without_deadline()
        .without_budget();
    assert_eq!(retry.deadline, None);
    assert_eq!(retry.budget, None);
    let layer = RetryLayer::new(&retry).expect("valid");
    assert!(layer.budget().is_none(), "no budget to spend");
    assert!(
        RetryLayer::new(&RetryConfig::default())
            .expect("valid")
            .budget()
            .is_some()
    );
}

#[tokio::test]
async fn a_shared_limiter_is_one_bucket_for_every_client() {
    let limiter = RateLimiter::new(&RateLimitConfig::new(Quota::per_second(10))).expect("valid");
    let first = Client::builder()
        .shared_rate_limiter(limiter.clone())
        .build(http())
        .expect("valid");
    let second = Client::builder()
        .shared_rate_limiter(limiter.clone())
        .build(http())
        .expect("valid");
    let (Some(a), Some(b)) = (first.rate_limiter(), second.rate_limiter()) else {
        panic!("both clients hold the shared limiter");
    };
    let request = Request::new(
        Method::GET,
        "http://127.0.0.1:9/orders".parse().expect("url"),
    );
    let key = a.key_of(&request);
    let admitted = std::iter::repeat_with(|| a.check(&key))
        .take_while(Result::is_ok)
        .count();
    assert!(admitted > 0, "the first client takes the burst");
    assert!(
        b.check(&key).is_err(),
        "the second client finds the same bucket spent"
    );

    let unlimited = Client::builder()
        .shared_rate_limiter(limiter)
        .without_rate_limit()
        .build(http())
        .expect("valid");
    assert!(unlimited.rate_limiter().is_none(), "turned off");
}

#[tokio::test]
async fn from_config_takes_the_transport_first() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let client = Client::from_config(http(), &ClientConfig::default()).expect("valid");
    let response = client
        .get(format!("{}/orders/42", server.uri()))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
}

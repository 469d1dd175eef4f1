//! One quota for many processes (DESIGN §5): the rate limiter's buckets in a real
//! `redis-server` on a free loopback port, shared by clients with separate connections.
//!
//! Run with: `cargo test --features redis --test rate_limit_redis` (needs `redis-server`
//! on the PATH).
#![cfg(feature = "redis")]

mod common;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use common::redis::RedisServer;
use common::server::{Reply, Server};
use common::{call, get, http};
use steadfast::Error;
use steadfast::rate_limit::store::{RedisQuota, RedisQuotaConfig, WhenRedisIsDown};
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitLayer, RateLimitMode, RateLimiter};
use tokio::time::Instant;
use tower::ServiceBuilder;

const MS: Duration = Duration::from_millis(1);

fn redis_config(redis: &RedisServer) -> RedisQuotaConfig {
    RedisQuotaConfig::new(format!("redis://127.0.0.1:{}/", redis.port))
}

/// A limiter of its own over a connection of its own: what another process would have.
async fn process_limiter(config: &RateLimitConfig, redis: &RedisQuotaConfig) -> RateLimiter {
    let quota = RedisQuota::connect(redis).await.expect("redis is up");
    RateLimiter::with_redis(config, quota).expect("valid")
}

/// A server enforcing a GCRA of `rate`/s with `burst` on arrival times: it answers 429 to
/// every request that comes early.
async fn strict_server(rate: u32, burst: u32) -> Server {
    let interval = Duration::from_secs(1) / rate;
    let tolerance = interval * (burst - 1);
    let tat = Mutex::new(None::<Instant>);
    Server::start(move |_, at| {
        let mut tat = tat.lock().expect("not poisoned");
        let current = tat.unwrap_or(at).max(at);
        if current > at + tolerance {
            return Reply::status(429);
        }
        *tat = Some(current + interval);
        Reply::status(200)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_quota_and_a_strict_server_sees_no_early_request() {
    const RATE: u32 = 200;
    const RUN: Duration = Duration::from_secs(5);
    let redis = RedisServer::start();
    // The server allows a burst of 20 (100 ms of lateness on a busy machine); the clients
    // send at burst 1.
    let server = strict_server(RATE, 20).await;
    let config = RateLimitConfig::new(Quota::per_second(RATE).burst(1)).jitter(Duration::ZERO);
    let mut services = Vec::new();
    for _ in 0..4 {
        let limiter = process_limiter(&config, &redis_config(&redis)).await;
        let mut service = ServiceBuilder::new()
            .layer(RateLimitLayer::shared_limiter(limiter))
            .service(http());
        // Warm up: each process opens its connection to the server before the run.
        call(&mut service, get(&server.url())).await.expect("200");
        services.push(service);
    }
    let warm = server.arrivals().len();

    let stop = Instant::now() + RUN;
    let mut handles = Vec::new();
    for service in &services {
        for _ in 0..8 {
            let (mut service, url) = (service.clone(), server.url());
            handles.push(tokio::spawn(async move {
                while Instant::now() < stop {
                    call(&mut service, get(&url)).await.expect("answered");
                }
            }));
        }
    }
    for handle in handles {
        handle.await.expect("no task panicked");
    }

    assert_eq!(
        server.count(429),
        0,
        "the strict server judged a request early"
    );
    // The admitted rate is the slope of arrival time over permit number (least squares):
    // a busy machine that delays a send, or the first or last one, bends a few points, not
    // the line, while the schedule in Redis goes on one interval per permit.
    let arrivals = &server.arrivals()[warm..];
    let first = arrivals[0].at;
    let points: Vec<(f64, f64)> = arrivals
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let k = f64::from(u32::try_from(k).expect("small"));
            (k, (a.at - first).as_secs_f64())
        })
        .collect();
    let n = f64::from(u32::try_from(points.len()).expect("small"));
    let (mean_k, mean_t) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_k) * (p.1 - mean_t)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_k).powi(2)).sum();
    let admitted = variance / covariance;
    let ratio = admitted / f64::from(RATE);
    println!(
        "{} permits, {admitted:.2}/s, {ratio:.4} of the quota",
        points.len()
    );
    assert!(
        points.len() >= 900,
        "{} permits in a 5 s run at 200/s",
        points.len()
    );
    assert!(
        (0.98..=1.01).contains(&ratio),
        "{} permits: {admitted:.1}/s, {ratio:.4} of the quota",
        points.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_fail_fast_and_max_wait_work_as_locally() {
    // Slow enough (a slot every 500 ms) that a busy machine's stalls do not blur the slots.
    const SLOT: Duration = Duration::from_millis(500);
    let redis = RedisServer::start();
    let server = Server::always(Reply::status(200)).await;
    let quota = Quota::per_second(2).burst(2);
    let waiting = RateLimitConfig::new(quota).max_wait(Duration::from_millis(750));
    let one = process_limiter(&waiting, &redis_config(&redis)).await;
    let other = process_limiter(
        &RateLimitConfig::new(quota).mode(RateLimitMode::FailFast),
        &redis_config(&redis),
    )
    .await;
    let mut one = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(one))
        .service(http());
    let mut other = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(other))
        .service(http());

    // The burst of 2 is shared: one each, then the fail-fast process is refused at once.
    let start = Instant::now();
    call(&mut one, get(&server.url())).await.expect("200");
    call(&mut other, get(&server.url())).await.expect("200");
    let refused = call(&mut other, get(&server.url())).await;
    let Err(Error::RateLimited { retry_after, .. }) = refused else {
        panic!("expected RateLimited, got {refused:?}");
    };
    assert!(retry_after <= SLOT, "{retry_after:?}");
    // The waiting process waits for the next slot, one interval after the first permit,
    // which was taken after `start`: it cannot arrive before.
    call(&mut one, get(&server.url())).await.expect("200");
    let third = server.arrivals()[2].at;
    assert!(third - start >= SLOT, "sent early: {:?}", third - start);
    // Two more: the next slots are about 500 and 1,000 ms away; the second is beyond
    // max_wait (750 ms) and refused without being sent.
    let (mut first, mut second) = (one.clone(), one.clone());
    let (a, b) = tokio::join!(
        call(&mut first, get(&server.url())),
        call(&mut second, get(&server.url()))
    );
    let refused = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(Error::RateLimited { .. })))
        .count();
    assert_eq!(refused, 1, "{a:?} {b:?}");
    assert_eq!(server.arrivals().len(), 4, "refused calls were never sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_process_pauses_the_others() {
    let redis = RedisServer::start();
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::status(429).header("retry-after", &1)
        } else {
            Reply::status(200)
        }
    })
    .await;
    let config = RateLimitConfig::new(Quota::per_second(100)).jitter(Duration::ZERO);
    let mut one = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(
            process_limiter(&config, &redis_config(&redis)).await,
        ))
        .service(http());
    let mut other = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(
            process_limiter(&config, &redis_config(&redis)).await,
        ))
        .service(http());
    let before = Instant::now();
    let answer = call(&mut one, get(&server.url())).await.expect("answered");
    assert_eq!(answer.status(), 429);
    call(&mut other, get(&server.url())).await.expect("200");
    // The pause began on Redis's clock after the 429 came back, so after `before`.
    let waited = server.arrivals()[1].at - before;
    assert!(
        waited >= Duration::from_secs(1),
        "the other process waited for the shared pause: {waited:?}"
    );
}

/// One call per id, each with its own path; returns the results in order.
async fn numbered_calls<S>(
    service: &S,
    url: &str,
    ids: std::ops::Range<usize>,
) -> Vec<Result<u16, Error>>
where
    S: tower::Service<reqwest::Request, Response = reqwest::Response, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let mut results = Vec::new();
    for id in ids {
        let mut request = get(&format!("{url}/orders/{id}"));
        request
            .headers_mut()
            .insert("x-call", id.to_string().parse().expect("valid"));
        let result = call(&mut service.clone(), request).await;
        results.push(result.map(|r| r.status().as_u16()));
        tokio::time::sleep(5 * MS).await;
    }
    results
}

async fn kill_midway(when_down: WhenRedisIsDown) -> (Vec<Result<u16, Error>>, Vec<String>) {
    let mut redis = RedisServer::start();
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let config = RateLimitConfig::new(Quota::per_second(1_000));
    let quota = RedisQuota::connect(
        &redis_config(&redis)
            .when_down(when_down)
            .local_share(0.5)
            .timeout(Duration::from_millis(200)),
    )
    .await
    .expect("redis is up");
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(
            RateLimiter::with_redis(&config, quota).expect("valid"),
        ))
        .service(http());
    let mut results = numbered_calls(&service, &server.uri(), 0..10).await;
    redis.kill();
    results.extend(numbered_calls(&service, &server.uri(), 10..20).await);
    let sent = server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    (results, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_redis_fails_closed_with_a_typed_error_and_sends_nothing() {
    let (results, sent) = kill_midway(WhenRedisIsDown::FailClosed).await;
    assert!(results[..10].iter().all(|r| matches!(r, Ok(200))));
    for result in &results[10..] {
        let Err(error) = result else {
            panic!("sent without a quota: {result:?}");
        };
        assert!(
            matches!(error, Error::QuotaUnavailable { key: Some(_), .. }),
            "{error:?}"
        );
        assert_eq!(error.outcome(), steadfast::classify::Applied::NotApplied);
    }
    assert_eq!(sent.len(), 10, "nothing sent once Redis was gone: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_redis_falls_back_to_the_local_share_and_sends_each_call_once() {
    let (logs, _guard) = common::log::capture_events();
    let (results, sent) = kill_midway(WhenRedisIsDown::LocalShare).await;
    assert!(results.iter().all(|r| matches!(r, Ok(200))), "{results:?}");
    let unique: HashSet<&String> = sent.iter().collect();
    assert_eq!(sent.len(), 20, "every call sent: {sent:?}");
    assert_eq!(unique.len(), 20, "and none twice: {sent:?}");
    assert_eq!(
        logs.events("the shared rate-limit quota (Redis) cannot be reached")
            .len(),
        1,
        "one WARN per outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_client_a_quota_gone_is_retried_then_comes_back_as_itself() {
    let mut redis = RedisServer::start();
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let quota = RedisQuota::connect(
        &redis_config(&redis)
            .when_down(WhenRedisIsDown::FailClosed)
            .timeout(Duration::from_millis(200)),
    )
    .await
    .expect("redis is up");
    let limiter = RateLimiter::with_redis(&RateLimitConfig::new(Quota::per_second(1_000)), quota)
        .expect("valid");
    let retry = steadfast::retry::RetryConfig::default()
        .max_retries(2)
        .base_delay(MS)
        .max_delay(2 * MS)
        .without_budget();
    let client = steadfast::Client::builder()
        .retry(retry)
        .shared_rate_limiter(limiter)
        .build(http())
        .expect("valid");
    let url = format!("{}/invoices", server.uri());
    client.post(&url).body("{}").send().await.expect("a permit");
    redis.kill();

    let error = client
        .post(&url)
        .body("{}")
        .send()
        .await
        .expect_err("no quota");
    assert!(
        matches!(&error, Error::QuotaUnavailable { key: Some(_), .. }),
        "the refusal itself, not a history of refused attempts: {error:?}"
    );
    assert!(error.refused_before_sending());
    assert_eq!(error.outcome(), steadfast::classify::Applied::NotApplied);
    assert!(
        error.idempotency_key().is_some(),
        "the key to replay it with"
    );
    let sent = server.received_requests().await.expect("recording").len();
    assert_eq!(sent, 1, "nothing sent once Redis was gone");
}

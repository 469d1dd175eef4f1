//! Server hints (DESIGN §2, §3, §5) through the `Client`, against a loopback server on a
//! paused clock: `Retry-After` on any retryable status sets the next delay, a hint beyond
//! the maximum is "too long" (never "absent"), and a rate limiter pauses for its cap only.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::log::capture_text;
use common::{http, not_retried, paused, received};
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitLayer, RateLimiter};
use steadfast::retry::{RetryConfig, RetryStats};
use steadfast::{Client, Error, NotRetried};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};
use wiremock::{MockServer, ResponseTemplate};

const SECOND: Duration = Duration::from_secs(1);

/// A client without timers of its own (see `common::http`), retrying by the defaults:
/// backoff from 100 ms, `max_retry_after` 60 s.
fn client(rate_limit: Option<RateLimitConfig>) -> Client {
    let builder = paused(RetryConfig::default().without_budget());
    common::build(match rate_limit {
        Some(rate_limit) => builder.rate_limit(rate_limit.jitter(Duration::ZERO)),
        None => builder,
    })
}

/// A server answering `/orders` with `status` and `Retry-After: hint` once, then 200.
async fn server(status: u16, hint: &str) -> (MockServer, String) {
    let server = MockServer::start().await;
    common::respond(
        &server,
        ResponseTemplate::new(status).insert_header("retry-after", hint),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let url = format!("{}/orders", server.uri());
    (server, url)
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_on_any_retryable_status_sets_the_next_delay() {
    // 500, 502 and 504 are transient, 503 and 429 throttled: the hint counts for all.
    for status in [500, 502, 503, 504, 429] {
        let (server, url) = server(status, "10").await;
        let client = client(None);
        let start = Instant::now();

        let response = client.get(&url).send().await.expect("second attempt");

        assert_eq!(response.status(), 200, "after {status}");
        let stats = RetryStats::of(&response);
        assert_eq!(stats.attempts, 2, "after {status}");
        // max(backoff ≤ 100 ms, hint 10 s) is the hint.
        assert_eq!(stats.waited, 10 * SECOND, "after {status}");
        assert_eq!(Instant::now() - start, 10 * SECOND, "after {status}");
        assert_eq!(received(&server).await, 2, "after {status}");
    }
}

#[tokio::test(start_paused = true)]
async fn absurd_hints_are_too_long_not_absent() {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    // 9999-12-31T23:59:59Z
    let in_9999 = Duration::from_secs(253_402_300_799).saturating_sub(wall);
    let cases = [
        (503, "999999999", 999_999_999 * SECOND),
        (503, "1e9", 1_000_000_000 * SECOND),
        (503, "Fri, 31 Dec 9999 23:59:59 GMT", in_9999),
        (503, "86401", 86_401 * SECOND),
        // Beyond max_retry_after (60 s) on a transient status too.
        (500, "120", 120 * SECOND),
    ];
    for (status, hint, requested) in cases {
        let (server, url) = server(status, hint).await;
        let start = Instant::now();

        let error = client(None)
            .get(&url)
            .send()
            .await
            .expect_err("not retried");

        assert_eq!(
            not_retried(&error),
            Some(NotRetried::RetryAfterTooLong),
            "{hint}: {error:?}"
        );
        assert_eq!(Instant::now(), start, "{hint}: nothing slept");
        assert_eq!(received(&server).await, 1, "{hint}: sent once");
        let retry_at = error.retry_at().expect("the server's time is kept");
        let told = retry_at - start;
        // An HTTP-date is read against the wall clock, which moved on a little meanwhile.
        assert!(
            told <= requested && requested.saturating_sub(told) < 5 * SECOND,
            "{hint}: retry at {told:?}, asked {requested:?}"
        );
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
    }
}

#[tokio::test(start_paused = true)]
async fn invalid_hints_are_ignored_and_the_backoff_applies() {
    for hint in ["-5", "-1e9", "soon", "NaN", ""] {
        let (server, url) = server(503, hint).await;

        let response = client(None).get(&url).send().await.expect("retried");

        let stats = RetryStats::of(&response);
        assert_eq!(stats.attempts, 2, "{hint:?}");
        assert!(
            stats.waited <= Duration::from_millis(100),
            "{hint:?}: waited {:?}, the first backoff is at most 100 ms",
            stats.waited
        );
        assert_eq!(received(&server).await, 2, "{hint:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_for_a_day_pauses_the_key_for_max_pause_only() {
    // (max_pause set, the pause expected)
    for (max_pause, pause) in [(None, 60 * SECOND), (Some(10 * SECOND), 10 * SECOND)] {
        let (server, url) = server(429, "86400").await;
        let mut config = RateLimitConfig::new(Quota::per_second(10));
        if let Some(max_pause) = max_pause {
            config = config.max_pause(max_pause);
        }
        let client = client(Some(config));
        let origin = server.uri();
        let start = Instant::now();

        let error = client
            .get(&url)
            .send()
            .await
            .expect_err("a day is too long to retry");
        assert_eq!(
            not_retried(&error),
            Some(NotRetried::RetryAfterTooLong),
            "{error:?}"
        );
        assert_eq!(
            error.retry_at().map(|at| at - start),
            Some(86_400 * SECOND),
            "the error keeps the server's time"
        );
        let state = client.rate_limit_state(&origin).expect("known origin");
        assert_eq!(
            state.paused_until,
            Some(start + pause),
            "paused for the cap"
        );

        // During the pause a call waits, and when the wait is beyond `max_wait` (30 s)
        // fails unsent; once the cap elapsed a call goes out.
        if pause > 30 * SECOND {
            let refused = client.get(&url).send().await.expect_err("paused");
            assert!(matches!(refused, Error::RateLimited { .. }), "{refused:?}");
            assert_eq!(received(&server).await, 1, "a refused call is not sent");
        }
        tokio::time::advance(pause).await;
        let response = client.get(&url).send().await.expect("the pause is over");
        assert_eq!(response.status(), 200);
        assert_eq!(
            Instant::now(),
            start + pause,
            "sent at once, no day-long wait"
        );
        assert_eq!(received(&server).await, 2);
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_pauses_the_key_only_when_throttled() {
    // (status, paused): a 503 with Retry-After is throttling; a 500, 502 or 504 is a
    // failure of that one request, whose hint is the retry layer's alone.
    for (status, paused) in [
        (503, true),
        (429, true),
        (500, false),
        (502, false),
        (504, false),
    ] {
        let (server, url) = server(status, "10").await;
        let client = common::paused(RetryConfig::default().max_retries(0))
            .rate_limit(RateLimitConfig::new(Quota::per_second(10)).jitter(Duration::ZERO))
            .build(http())
            .expect("valid config");

        let _ = client.get(&url).send().await.expect_err("no retries");

        let state = client
            .rate_limit_state(&server.uri())
            .expect("known origin");
        let expected = paused.then(|| Instant::now() + 10 * SECOND);
        assert_eq!(state.paused_until, expected, "status {status}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_capped_pause_is_logged_once_per_key_and_pause() {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "86400"))
        .mount(&server)
        .await;
    let url = format!("{}/orders", server.uri());
    let (_, logs, _guard) = capture_text(tracing::Level::INFO);
    let limiter = RateLimiter::new(
        &RateLimitConfig::new(Quota::per_second(10))
            .jitter(Duration::ZERO)
            .max_pause(60 * SECOND),
    )
    .expect("valid config");
    let mut service = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(limiter))
        .service(http());
    let get = || reqwest::Request::new(reqwest::Method::GET, url.parse().expect("valid url"));

    // Two calls admitted together, both answered 429 for a day: one pause, one warning.
    let first = service.ready().await.expect("ready").call(get());
    let second = service.ready().await.expect("ready").call(get());
    let (first, second) = futures_util::future::join(first, second).await;
    assert_eq!(first.expect("a response").status(), 429);
    assert_eq!(second.expect("a response").status(), 429);
    // After the cap, a new pause: warned again.
    tokio::time::advance(60 * SECOND).await;
    let third = service.ready().await.expect("ready").call(get()).await;
    assert_eq!(third.expect("a response").status(), 429);

    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("longer than max_pause"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    for line in &warnings {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("requested_ms=86400000"), "{line}");
        assert!(line.contains("pause_ms=60000"), "{line}");
    }
    assert_eq!(received(&server).await, 3);
}

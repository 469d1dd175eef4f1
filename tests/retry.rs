//! The retry rules (DESIGN §3), against a real loopback server on a paused clock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use common::{
    budget_exhausted, call, closed_port, http, keyed_post, keys, not_retried, orders_server,
    received, request, stack,
};
use steadfast::classify::{Applied, Classify, DefaultClassifier, Outcome};
use steadfast::retry::{BudgetConfig, Jitter, RetryConfig, RetryLayer};
use steadfast::{Error, NotRetried};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MS: Duration = Duration::from_millis(1);

/// No deadline unless a test is about it: on a paused clock tokio jumps to the next timer
/// whenever the runtime waits on I/O, and the deadline is a timer running over every later
/// attempt.
fn config() -> RetryConfig {
    RetryConfig::default()
        .base_delay(100 * MS)
        .max_delay(1_000 * MS)
        .without_deadline()
}

#[tokio::test(start_paused = true)]
async fn get_503_503_200_succeeds_on_the_third_attempt_within_jitter_bounds() {
    // (jitter, lowest and highest allowed gap before retry 1 and retry 2)
    let cases = [
        (Jitter::Full, [(0, 100), (0, 200)]),
        (Jitter::Equal, [(50, 100), (100, 200)]),
        (Jitter::None, [(100, 100), (200, 200)]),
        (Jitter::Decorrelated, [(100, 300), (100, 900)]),
    ];
    for (jitter, bounds) in cases {
        let server = orders_server(503, 2, 200).await;
        let (mut service, recorder) = stack(&config().jitter(jitter));

        let url = format!("{}/orders", server.uri());
        let response = call(&mut service, request(reqwest::Method::GET, &url))
            .await
            .expect("third attempt succeeds");

        assert_eq!(response.status(), 200);
        assert_eq!(received(&server).await, 3);
        let gaps = recorder.gaps();
        let stats = steadfast::retry::RetryStats::of(&response);
        assert_eq!(stats.attempts, 3);
        // tokio's timer wheel rounds each sleep up to the next millisecond.
        let slept: Duration = gaps.iter().sum();
        assert!(
            slept
                .checked_sub(stats.waited)
                .is_some_and(|extra| extra < 2 * MS),
            "{stats:?} vs {slept:?}"
        );
        assert_eq!(gaps.len(), 2, "{jitter:?}");
        for (gap, (low, high)) in gaps.iter().zip(bounds) {
            assert!(
                (low * MS..=high * MS).contains(gap),
                "{jitter:?}: gap {gap:?} outside [{low}ms, {high}ms]"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn post_answered_500_is_sent_once_and_the_error_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let (mut service, recorder) = stack(&config());

    let url = format!("{}/orders", server.uri());
    // A key alone does not make a retry safe: most APIs ignore it.
    let post = keyed_post(&url, "order-42");
    let error = call(&mut service, post)
        .await
        .expect_err("500 is a failure");

    assert_eq!(recorder.count(), 1);
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::UnsafeMethod),
        "{error:?}"
    );
    assert_eq!(error.outcome(), Applied::MaybeApplied);
    let message = error.to_string();
    assert!(message.contains("server may have acted"), "{message}");
    assert!(message.contains("verifier"), "{message}");
    assert!(message.contains("server_dedupes"), "{message}");
    assert!(message.contains("outcome unknown"), "{message}");
    assert!(!message.contains("set one"), "{message}");
    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
    );
}

#[tokio::test(start_paused = true)]
async fn post_without_key_is_retried_after_429_and_503() {
    // Both are refusals before any work: safe to send again whatever the method.
    for status in [429, 503] {
        let server = orders_server(status, 1, 201).await;
        let (mut service, recorder) = stack(&config());

        let url = format!("{}/orders", server.uri());
        let response = call(&mut service, request(reqwest::Method::POST, &url))
            .await
            .expect("retried to success");

        assert_eq!(response.status(), 201, "after {status}");
        assert_eq!(recorder.count(), 2, "after {status}");
    }
}

#[tokio::test(start_paused = true)]
async fn post_with_idempotency_key_is_retried_with_the_same_key() {
    let server = orders_server(503, 2, 201).await;
    let (mut service, _) = stack(&config());

    let url = format!("{}/orders", server.uri());
    let mut post = keyed_post(&url, "order-42");
    *post.body_mut() = Some(reqwest::Body::from(r#"{"sku":"A-1"}"#));
    let response = call(&mut service, post).await.expect("retried to success");

    assert_eq!(response.status(), 201);
    let seen = server.received_requests().await.expect("recording");
    assert_eq!(keys(&seen, "idempotency-key"), ["order-42"; 3]);
    for attempt in &seen {
        assert_eq!(attempt.body, br#"{"sku":"A-1"}"#);
    }
}

#[tokio::test(start_paused = true)]
async fn every_attempt_sends_the_whole_request_again() {
    // Small bodies are copied for the next attempt, larger ones shared: both must arrive
    // whole, with the headers, on every attempt.
    for size in [0, 100, 4_096] {
        let server = orders_server(503, 2, 200).await;
        let (mut service, _) = stack(&config());
        let body: Vec<u8> = (0..size)
            .map(|n| u8::try_from(n % 251).expect("small"))
            .collect();
        let mut put = request(reqwest::Method::PUT, &format!("{}/orders", server.uri()));
        put.headers_mut()
            .insert("x-tenant", "acme".parse().expect("valid value"));
        *put.body_mut() = Some(reqwest::Body::from(body.clone()));

        let response = call(&mut service, put).await.expect("retried to success");

        assert_eq!(response.status(), 200);
        let seen = server.received_requests().await.expect("recording");
        assert_eq!(seen.len(), 3, "size {size}");
        for attempt in &seen {
            assert_eq!(attempt.method.as_str(), "PUT");
            assert_eq!(attempt.body, body, "size {size}");
            assert_eq!(attempt.headers["x-tenant"], "acme");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn post_to_a_closed_port_is_retried_because_nothing_was_sent() {
    let (mut service, recorder) = stack(&config().max_retries(2));
    let url = format!("http://127.0.0.1:{}/orders", closed_port());

    let error = call(&mut service, request(reqwest::Method::POST, &url))
        .await
        .expect_err("nothing listens");

    assert_eq!(recorder.count(), 3, "1 attempt + 2 retries");
    let Error::RetriesExhausted {
        failure, source, ..
    } = &error
    else {
        panic!("expected RetriesExhausted, got {error:?}");
    };
    assert_eq!(failure.attempts(), 3);
    assert_eq!(failure.classification().applied(), Applied::NotApplied);
    assert_eq!(error.outcome(), Applied::NotApplied);
    assert!(source.is_some(), "the connect error is kept as the source");
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_honoured() {
    let server = MockServer::start().await;
    common::respond(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "2"),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let (mut service, recorder) = stack(&config());

    let url = format!("{}/orders", server.uri());
    let response = call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect("second attempt succeeds");

    assert_eq!(response.status(), 200);
    let gap = recorder.gaps()[0];
    // max(backoff ≤ 100 ms, hint 2 s) = the hint.
    assert_eq!(gap, 2_000 * MS);
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_honoured() {
    let server = MockServer::start().await;
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
    // An HTTP-date has whole seconds: the time the server names.
    let named = httpdate::parse_http_date(&date).expect("an HTTP-date");
    common::respond(
        &server,
        ResponseTemplate::new(503).insert_header("retry-after", date.as_str()),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let (mut service, recorder) = stack(&config());

    let url = format!("{}/orders", server.uri());
    // The wall clock runs on while tokio's is paused: the hint is read at some time
    // between these two, so the wait is the named time less that.
    let before = SystemTime::now();
    call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect("second attempt succeeds");
    let after = SystemTime::now();

    let until = |t: SystemTime| named.duration_since(t).unwrap_or_default();
    let gap = recorder.gaps()[0];
    assert!(
        (until(after).saturating_sub(MS)..=until(before) + MS).contains(&gap),
        "gap {gap:?}, between {:?} and {:?}",
        until(after),
        until(before)
    );
    assert!(gap > 3_000 * MS, "the hint was honoured: {gap:?}");
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_fails_at_once_with_retry_at() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    let (mut service, recorder) = stack(&config().deadline(Duration::from_secs(10)));

    let url = format!("{}/orders", server.uri());
    let start = Instant::now();
    let error = call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect_err("cannot wait 30 s within 10 s");

    assert_eq!(Instant::now(), start, "no time passed: nothing slept");
    assert_eq!(recorder.count(), 1);
    assert_eq!(not_retried(&error), Some(NotRetried::Deadline), "{error:?}");
    let retry_at = error.retry_at().expect("the server named a time");
    assert_eq!(retry_at - start, Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn a_hint_above_max_retry_after_is_not_slept() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let (mut service, recorder) = stack(&config());

    let url = format!("{}/orders", server.uri());
    let start = Instant::now();
    let error = call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect_err("an hour is longer than the 60 s default");

    assert_eq!(recorder.count(), 1);
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::RetryAfterTooLong),
        "{error:?}"
    );
    assert_eq!(
        error.retry_at().map(|at| at - start),
        Some(Duration::from_secs(3600))
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_statuses_are_sent_once_and_the_response_is_kept() {
    for status in [400, 401, 404, 422] {
        let server = MockServer::start().await;
        Mock::given(path("/orders"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("x-request-id", "req-7")
                    .set_body_string("no such order"),
            )
            .mount(&server)
            .await;
        let (mut service, recorder) = stack(&config());

        let url = format!("{}/orders", server.uri());
        let error = call(&mut service, request(reqwest::Method::GET, &url))
            .await
            .expect_err("permanent");

        assert_eq!(recorder.count(), 1, "status {status}");
        assert_eq!(
            not_retried(&error),
            Some(NotRetried::Permanent),
            "{status}: {error:?}"
        );
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        let failure = error.failure().expect("a failure record");
        assert_eq!(
            failure.headers().expect("headers kept")["x-request-id"],
            "req-7"
        );
        let response = error.take_response().expect("the response is kept");
        assert_eq!(response.text().await.expect("body"), "no such order");
        assert!(error.take_response().is_none(), "taken once");
    }
}

#[tokio::test(start_paused = true)]
async fn streaming_body_is_sent_once_and_the_error_says_it_is_not_replayable() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let (mut service, recorder) = stack(&config());

    let url = format!("{}/orders", server.uri());
    // PUT is idempotent: the body is the only reason not to retry.
    let mut put = request(reqwest::Method::PUT, &url);
    let chunks =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{}"))]);
    *put.body_mut() = Some(reqwest::Body::wrap_stream(chunks));
    let error = call(&mut service, put).await.expect_err("503");

    assert_eq!(recorder.count(), 1);
    assert_eq!(
        not_retried(&error),
        Some(NotRetried::BodyNotReplayable),
        "{error:?}"
    );
    assert!(error.to_string().contains("cannot be replayed"), "{error}");
    assert_eq!(received(&server).await, 1);
}

#[tokio::test(start_paused = true)]
async fn retries_end_with_retries_exhausted_and_the_last_response() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    let (mut service, recorder) = stack(&config().max_retries(3));

    let url = format!("{}/orders", server.uri());
    let error = call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect_err("always 502");

    assert_eq!(recorder.count(), 4);
    let failure = error.failure().expect("failure");
    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    assert_eq!(failure.attempts(), 4);
    assert_eq!(failure.verdict(), steadfast::classify::Verdict::Transient);
    assert_eq!(error.status(), Some(reqwest::StatusCode::BAD_GATEWAY));
    let body = error
        .take_response()
        .expect("kept")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "bad gateway");
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_retries_with_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    // A floor of 0.1/s over 10 s: exactly one retry in the window.
    let budget = BudgetConfig::default().min_per_second(0.1);
    let (mut service, recorder) = stack(&config().max_retries(5).budget(budget));

    let url = format!("{}/orders", server.uri());
    let error = call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect_err("always 503");

    assert_eq!(recorder.count(), 2, "one retry, then the budget is empty");
    assert!(budget_exhausted(&error), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn first_attempt_successes_earn_retries_in_the_budget() {
    let server = MockServer::start().await;
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    // No floor: every retry must be earned, half a retry per success.
    let budget = BudgetConfig::default().min_per_second(0.0).retry_ratio(0.5);
    let (mut service, recorder) = stack(&config().max_retries(10).budget(budget));

    let down = format!("{}/down", server.uri());
    let error = call(&mut service, request(reqwest::Method::GET, &down))
        .await
        .expect_err("always 503");
    assert!(budget_exhausted(&error), "nothing earned yet: {error:?}");
    assert_eq!(recorder.count(), 1);

    let ok = format!("{}/ok", server.uri());
    for _ in 0..4 {
        call(&mut service, request(reqwest::Method::GET, &ok))
            .await
            .expect("200 at once");
    }
    let error = call(&mut service, request(reqwest::Method::GET, &down))
        .await
        .expect_err("always 503");
    // Four successes earned two retries: three attempts, then the budget is empty.
    assert_eq!(recorder.count(), 1 + 4 + 3);
    assert!(budget_exhausted(&error), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn the_classifier_sees_each_attempt_once() {
    let server = orders_server(503, 2, 200).await;
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&seen);
    let default = DefaultClassifier::new();
    let classifier = move |outcome: Outcome<'_>| {
        counted.fetch_add(1, Ordering::Relaxed);
        default.classify(outcome)
    };
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::new(&config())
                .expect("valid")
                .classifier(classifier),
        )
        .service(http());

    let url = format!("{}/orders", server.uri());
    let response = service
        .oneshot(request(reqwest::Method::GET, &url))
        .await
        .expect("third attempt succeeds");
    assert_eq!(response.status(), 200);
    assert_eq!(seen.load(Ordering::Relaxed), 3, "503, 503, 200: once each");
}

/// Answers 503 to a seeded random `fault` share of attempts, 200 to the others.
struct Faulty {
    fault: f64,
    rng: std::sync::Mutex<fastrand::Rng>,
}

impl wiremock::Respond for Faulty {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let roll = self.rng.lock().expect("not poisoned").f64();
        ResponseTemplate::new(if roll < self.fault { 503 } else { 200 })
    }
}

/// What a load run saw.
struct Load {
    calls: usize,
    succeeded: usize,
    attempts: usize,
}

impl Load {
    #[allow(clippy::cast_precision_loss)]
    fn attempts_per_call(&self) -> f64 {
        self.attempts as f64 / self.calls as f64
    }

    #[allow(clippy::cast_precision_loss)]
    fn success_ratio(&self) -> f64 {
        self.succeeded as f64 / self.calls as f64
    }
}

/// `rate` GETs per second for 60 s of paused time, each started on time and run concurrently,
/// through one retry layer with the default settings (but no deadline); `fault` of all
/// attempts are answered 503.
async fn load(rate: u32, fault: f64) -> Load {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(Faulty {
            fault,
            rng: std::sync::Mutex::new(fastrand::Rng::with_seed(42)),
        })
        .mount(&server)
        .await;
    let (service, _) = stack(&RetryConfig::default().without_deadline());
    let url = format!("{}/orders", server.uri());
    let calls = rate * 60;
    let period = Duration::from_secs(1) / rate;
    let start = Instant::now();
    let running: futures_util::stream::FuturesUnordered<_> = (0..calls)
        .map(|n| {
            let mut service = service.clone();
            let get = request(reqwest::Method::GET, &url);
            async move {
                tokio::time::sleep_until(start + period * n).await;
                call(&mut service, get).await.is_ok()
            }
        })
        .collect();
    let succeeded = futures_util::StreamExt::collect::<Vec<bool>>(running)
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count();
    let attempts = received(&server).await;
    Load {
        calls: usize::try_from(calls).expect("small"),
        succeeded,
        attempts,
    }
}

#[tokio::test(start_paused = true)]
async fn budget_bounds_a_full_outage_at_100_calls_per_second() {
    let seen = load(100, 1.0).await;
    eprintln!(
        "100/s, full outage: {:.3} attempts per call",
        seen.attempts_per_call()
    );
    assert_eq!(seen.calls, 6_000);
    assert!(
        seen.attempts_per_call() <= 1.1,
        "{} attempts for {} calls = {:.3}",
        seen.attempts,
        seen.calls,
        seen.attempts_per_call()
    );
}

#[tokio::test(start_paused = true)]
async fn budget_bounds_a_full_outage_at_10_calls_per_second() {
    let seen = load(10, 1.0).await;
    eprintln!(
        "10/s, full outage: {:.3} attempts per call",
        seen.attempts_per_call()
    );
    assert_eq!(seen.calls, 600);
    assert!(
        seen.attempts_per_call() <= 1.1,
        "{} attempts for {} calls = {:.3}",
        seen.attempts,
        seen.calls,
        seen.attempts_per_call()
    );
    assert!(
        seen.attempts > seen.calls,
        "the floor still allows some retries"
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_budget_lets_calls_through_ten_percent_faults() {
    for rate in [10, 100] {
        let seen = load(rate, 0.1).await;
        eprintln!(
            "{rate}/s, 10 % faults: {:.4} succeeded, {:.3} attempts per call",
            seen.success_ratio(),
            seen.attempts_per_call()
        );
        assert!(
            seen.success_ratio() >= 0.999,
            "{rate}/s: {} of {} calls succeeded ({} attempts)",
            seen.succeeded,
            seen.calls,
            seen.attempts
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_budget_at_thirty_percent_faults() {
    // The figures `BudgetConfig`'s docs state.
    // Measured: 0.89 to 0.90 at 10/s, 0.836 at 100/s (jitter varies the order of events).
    for (rate, at_least) in [(10, 0.85), (100, 0.8)] {
        let seen = load(rate, 0.3).await;
        eprintln!(
            "{rate}/s, 30 % faults: {:.4} succeeded, {:.3} attempts per call",
            seen.success_ratio(),
            seen.attempts_per_call()
        );
        assert!(seen.success_ratio() >= at_least, "{rate}/s");
    }
}

#[tokio::test(start_paused = true)]
async fn a_first_attempt_success_reports_one_attempt() {
    let server = orders_server(200, 1, 200).await;
    let (mut service, _) = stack(&config());
    let url = format!("{}/orders", server.uri());
    let response = call(&mut service, request(reqwest::Method::GET, &url))
        .await
        .expect("ok");
    let stats = steadfast::retry::RetryStats::of(&response);
    assert_eq!((stats.attempts, stats.waited), (1, Duration::ZERO));
}

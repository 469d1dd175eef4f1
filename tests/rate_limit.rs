//! Rate limiting (DESIGN §5) against a real loopback server, on a paused clock except for
//! one short real-time run.
//!
//! The server here is a few lines of HTTP/1.1 on a tokio listener in the test's own
//! runtime, so that it reads the same (paused) clock as the client: it can stamp arrivals
//! and keep a 429 penalty window in virtual time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::log::capture_text;
use common::server::{Reply, Server};
use common::{Event, Recorder, call, get, http, paused};
use steadfast::classify::Verdict;
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitLayer, RateLimitMode, RateLimiter};
use steadfast::retry::{RetryConfig, RetryLayer};
use steadfast::{Client, ConfigError, Error};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Helpers.

/// A limiter config without jitter, so that waits are exact.
fn config(quota: Quota) -> RateLimitConfig {
    RateLimitConfig::new(quota).jitter(Duration::ZERO)
}

/// A client without timers of its own, and without a retry budget.
fn paused_client(rate_limit: RateLimitConfig) -> Client {
    common::build(paused(RetryConfig::default().without_budget()).rate_limit(rate_limit))
}

/// Checks that over every stretch between two sends, no more went than
/// `burst + rate × stretch` allows: the GCRA guarantee, in integer nanoseconds.
fn assert_within_quota(times: &[Instant], burst: u64, per_second: u64) {
    let mut times = times.to_vec();
    times.sort();
    for (i, first) in times.iter().enumerate() {
        for (j, last) in times.iter().enumerate().skip(i) {
            let sent = u64::try_from(j - i + 1).expect("small");
            let nanos = u64::try_from((*last - *first).as_nanos()).expect("small");
            let allowed = burst + nanos * per_second / 1_000_000_000;
            assert!(
                sent <= allowed,
                "{sent} sends within {:?} (from send {i}), the quota allows {allowed}",
                *last - *first
            );
        }
    }
}

/// Runs `tasks` tasks that share `calls` calls, each task with its own `service` clone.
async fn share_calls<S>(service: &S, url: &str, tasks: usize, calls: usize)
where
    S: Service<reqwest::Request, Response = reqwest::Response, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let left = Arc::new(AtomicUsize::new(calls));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (mut service, left, url) = (service.clone(), Arc::clone(&left), url.to_owned());
        handles.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let response = call(&mut service, get(&url))
                    .await
                    .expect("the call succeeds");
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for handle in handles {
        handle.await.expect("no task panicked");
    }
}

// ---------------------------------------------------------------------------
// The quota holds.

#[tokio::test(start_paused = true)]
async fn sixty_four_tasks_never_exceed_burst_plus_rate_times_elapsed() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let recorder = Recorder::default();
    let layer = RateLimitLayer::new(&config(Quota::per_second(50).burst(5))).expect("valid");
    let service = ServiceBuilder::new()
        .layer(layer)
        .layer(recorder.clone())
        .service(http());

    share_calls(&service, &server.url(), 64, 200).await;

    let sent = recorder.times();
    assert_eq!(sent.len(), 200);
    assert_eq!(
        server.arrivals().len(),
        200,
        "the server saw what the recorder saw"
    );
    assert_within_quota(&sent, 5, 50);
    // And no slower than the quota: 5 at once, then one every 20 ms.
    let span = sent[199] - sent[0];
    assert!(
        (195 * 20 * MS..=195 * 20 * MS + 10 * MS).contains(&span),
        "200 calls took {span:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_time_run_never_exceeds_the_quota() {
    const RATE: u32 = 20;
    const BURST: u32 = 5;
    const WINDOW: Duration = Duration::from_secs(3);
    let server = Server::start(|_, _| Reply::status(200)).await;
    let layer = RateLimitLayer::new(&config(Quota::per_second(RATE).burst(BURST))).expect("valid");
    let service = ServiceBuilder::new().layer(layer).service(http());

    // Keep 8 tasks busy a little past the window, then count what arrived within it.
    let stop = Instant::now() + WINDOW + 400 * MS;
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (mut service, url) = (service.clone(), server.url());
        handles.push(tokio::spawn(async move {
            while Instant::now() < stop {
                call(&mut service, get(&url))
                    .await
                    .expect("the call succeeds");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("no task panicked");
    }

    let arrivals = server.arrivals();
    let first = arrivals.iter().map(|a| a.at).min().expect("some arrivals");
    let within = arrivals.iter().filter(|a| a.at <= first + WINDOW).count();
    // The burst goes at once at the start; after it the bucket paces at RATE.
    let paced = f64::from(u32::try_from(within).expect("small") - BURST);
    let rate = paced / WINDOW.as_secs_f64();
    let expected = f64::from(RATE);
    // Never over the quota, whatever the machine does: that is the limiter's promise. Under
    // it, a starved machine may send fewer (the exact pacing is checked on the paused
    // clock), so the lower bound only says the calls were paced, not stalled.
    assert!(
        rate <= expected * 1.05,
        "{within} arrivals in {WINDOW:?}: {rate:.2}/s after the burst, over {expected}/s + 5 %"
    );
    assert!(
        rate >= expected * 0.5,
        "{within} arrivals in {WINDOW:?}: {rate:.2}/s after the burst, far under {expected}/s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_cloned_ten_times_still_gets_one_quota() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let client = paused_client(config(Quota::per_second(10).burst(1)));

    let mut handles = Vec::new();
    for _ in 0..10 {
        let (client, url) = (client.clone(), server.url());
        handles.push(tokio::spawn(async move {
            for _ in 0..10 {
                let response = client.get(&url).send().await.expect("the call succeeds");
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for handle in handles {
        handle.await.expect("no task panicked");
    }

    let times: Vec<Instant> = server.arrivals().iter().map(|a| a.at).collect();
    assert_eq!(times.len(), 100);
    assert_within_quota(&times, 1, 10);
    let span = *times.iter().max().expect("some") - *times.iter().min().expect("some");
    assert!(
        (99 * 100 * MS..=99 * 100 * MS + 10 * MS).contains(&span),
        "100 calls took {span:?}, want 9.9 s at 10/s"
    );
}

#[tokio::test(start_paused = true)]
async fn two_clients_sharing_a_limiter_share_its_quota() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let limiter = RateLimiter::new(&config(Quota::per_second(10).burst(1))).expect("valid");
    let build = || {
        common::paused(RetryConfig::default())
            .shared_rate_limiter(limiter.clone())
            .build(http())
            .expect("valid config")
    };
    let (orders, invoices) = (build(), build());

    let url = server.url();
    let run = |client: Client| {
        let url = url.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                client.get(&url).send().await.expect("the call succeeds");
            }
        })
    };
    let (a, b) = (run(orders), run(invoices));
    a.await.expect("no panic");
    b.await.expect("no panic");

    let times: Vec<Instant> = server.arrivals().iter().map(|a| a.at).collect();
    assert_eq!(times.len(), 20);
    assert_within_quota(&times, 1, 10);
}

#[tokio::test(start_paused = true)]
async fn retries_take_permits_too() {
    let server = Server::start(|n, _| Reply::status(if n == 0 { 503 } else { 200 })).await;
    let client = common::paused(RetryConfig::default().base_delay(MS).max_delay(MS))
        .rate_limit(config(Quota::per_second(1).burst(1)))
        .build(http())
        .expect("valid config");

    let response = client.get(server.url()).send().await.expect("retried");

    assert_eq!(response.status(), 200);
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    let gap = arrivals[1].at - arrivals[0].at;
    assert!(gap >= SECOND, "the retry waited for its permit: {gap:?}");
}

// ---------------------------------------------------------------------------
// The server says slow down: every caller slows down.

#[tokio::test(start_paused = true)]
async fn one_429_pauses_all_sixteen_tasks_for_its_retry_after() {
    // The server answers the 21st request with 429 + Retry-After: 1, and every request in
    // the following second the same way, as a real quota would.
    let penalty = Arc::new(Mutex::new(None::<Instant>));
    let server = Server::start({
        let penalty = Arc::clone(&penalty);
        move |n, at| {
            let mut until = penalty.lock().expect("not poisoned");
            if n == 20 {
                *until = Some(at + SECOND);
            }
            if until.is_some_and(|until| at < until) {
                Reply::status(429).header("retry-after", &1)
            } else {
                Reply::status(200)
            }
        }
    })
    .await;
    let events = Recorder::default();
    let retry = RetryConfig::default()
        .without_deadline()
        .without_budget()
        .base_delay(10 * MS);
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(&retry).expect("valid"))
        .layer(RateLimitLayer::new(&config(Quota::per_second(100).burst(16))).expect("valid"))
        .layer(events.clone())
        .service(http());

    share_calls(&service, &server.url(), 16, 96).await;

    let events = events.all();
    let first_429 = events
        .iter()
        .position(|e| matches!(e, Event::Answered(_, 429)))
        .expect("the server sent a 429");
    let Event::Answered(told, _) = events[first_429] else {
        unreachable!("found above")
    };
    let sent_before = events[..first_429]
        .iter()
        .filter(|e| matches!(e, Event::Sent(_)))
        .count();
    let answered_before = events[..first_429]
        .iter()
        .filter(|e| matches!(e, Event::Answered(..)))
        .count();
    let in_flight = sent_before - answered_before;
    assert!(
        in_flight < 16,
        "the test needs tasks waiting in the limiter, not all in flight, when the 429 comes"
    );
    for event in &events[first_429..] {
        if let Event::Sent(at) = event {
            assert!(
                *at >= told + SECOND,
                "a request left {:?} after the 429 said wait 1 s",
                *at - told
            );
        }
    }
    let throttled = server.count(429);
    assert!(
        (1..=in_flight).contains(&throttled),
        "{throttled} answers were 429; only {in_flight} request(s) were in flight when the first came"
    );
    assert_eq!(server.count(200), 96, "every call succeeded in the end");
}

/// Two calls through a fresh limiter; the first answered with `first`. Returns the gap
/// between the two calls' arrivals at the server.
async fn gap_after(first: Reply) -> Duration {
    let server = Server::start(move |n, _| {
        if n == 0 {
            first.clone()
        } else {
            Reply::status(200)
        }
    })
    .await;
    let client = paused_client(config(Quota::per_second(100)));
    let status = client.get(server.url()).send().await.map(|r| r.status());
    assert!(status.is_ok() || matches!(status, Err(Error::RetriesExhausted { .. })));
    client
        .get(server.url())
        .send()
        .await
        .expect("the second call succeeds");
    let arrivals = server.arrivals();
    let last = arrivals.last().expect("arrivals").at;
    last - arrivals[0].at
}

#[tokio::test(start_paused = true)]
async fn a_spent_quota_with_a_unix_time_reset_pauses_until_then() {
    let wall = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
    };
    let reset = wall().as_secs() + 3;
    let before = Duration::from_secs(reset).saturating_sub(wall());
    let gap = gap_after(
        Reply::status(200)
            .header("X-RateLimit-Limit", &60)
            .header("X-RateLimit-Remaining", &0)
            .header("X-RateLimit-Reset", &reset),
    )
    .await;
    let after = Duration::from_secs(reset).saturating_sub(wall());
    assert!(
        (after.saturating_sub(MS)..=before + MS).contains(&gap),
        "paused {gap:?}, want the {after:?}..{before:?} left until the reset"
    );
}

#[tokio::test(start_paused = true)]
async fn a_spent_ietf_quota_pauses_until_its_reset() {
    let gap = gap_after(
        Reply::status(200)
            .header("RateLimit-Policy", &r#""default";q=100;w=60"#)
            .header("RateLimit", &r#""default";r=0;t=2"#),
    )
    .await;
    assert!(
        (2 * SECOND..=2 * SECOND + MS).contains(&gap),
        "paused {gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_wins_over_the_ietf_reset() {
    // The retry waits for Retry-After (1 s) and so does the limiter; were `t` (5 s) used,
    // the retry would wait 5 s for its permit.
    let gap = gap_after(
        Reply::status(429)
            .header("Retry-After", &1)
            .header("RateLimit", &r#""default";r=0;t=5"#),
    )
    .await;
    assert!((SECOND..=SECOND + 10 * MS).contains(&gap), "paused {gap:?}");
}

#[tokio::test(start_paused = true)]
async fn malformed_headers_are_ignored() {
    let gap = gap_after(
        Reply::status(200)
            .header("RateLimit", &"r=;;t==,")
            .header("X-RateLimit-Remaining", &"none")
            .header("X-RateLimit-Reset", &"tomorrow"),
    )
    .await;
    assert!(gap < 10 * MS, "paused {gap:?} on garbage");
}

// ---------------------------------------------------------------------------
// Waiting has a limit, and says what it did.

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_max_wait_fails_typed_and_is_never_sent() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let client = paused_client(config(Quota::per_minute(1)).max_wait(SECOND));

    client
        .get(server.url())
        .send()
        .await
        .expect("the first call has a permit");
    let start = Instant::now();
    let error = client
        .get(server.url())
        .send()
        .await
        .expect_err("no permit within max_wait");

    assert_eq!(Instant::now(), start, "failed at once, without waiting");
    let Error::RateLimited {
        retry_after, key, ..
    } = &error
    else {
        panic!("expected RateLimited, unwrapped by retry; got {error:?}");
    };
    assert!(
        (59 * SECOND..=60 * SECOND).contains(retry_after),
        "{retry_after:?}"
    );
    assert_eq!(
        key.as_deref(),
        Some(server.base.as_str()),
        "an origin may be shown"
    );
    let classification = error.classification().expect("classified");
    assert!(matches!(
        classification.verdict(),
        Verdict::Throttled {
            retry_after: Some(_)
        }
    ));
    assert_eq!(
        classification.applied(),
        steadfast::classify::Applied::NotApplied
    );
    assert_eq!(error.outcome(), steadfast::classify::Applied::NotApplied);
    assert_eq!(
        server.arrivals().len(),
        1,
        "the refused call never reached the server"
    );
}

#[tokio::test(start_paused = true)]
async fn fail_fast_refuses_without_waiting() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let client = paused_client(config(Quota::per_second(2).burst(1)).mode(RateLimitMode::FailFast));

    client
        .get(server.url())
        .send()
        .await
        .expect("the first call has a permit");
    let error = client
        .get(server.url())
        .send()
        .await
        .expect_err("no permit now");

    let Error::RateLimited { retry_after, .. } = error else {
        panic!("expected RateLimited, got {error:?}");
    };
    assert_eq!(retry_after, 500 * MS);
    tokio::time::advance(500 * MS).await;
    client
        .get(server.url())
        .send()
        .await
        .expect("a permit again");
    assert_eq!(server.arrivals().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn each_wait_emits_an_event_saying_how_long_and_why() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::status(200).header("RateLimit", &r#""default";r=0;t=2"#)
        } else {
            Reply::status(200)
        }
    })
    .await;
    let (_, logs, _guard) = capture_text(tracing::Level::DEBUG);
    let client = paused_client(config(Quota::per_second(1).burst(1)));

    for _ in 0..3 {
        client.get(server.url()).send().await.expect("200");
    }

    let text = logs.text();
    assert!(text.contains("the server asked to slow down"), "{text}");
    assert!(text.contains("pause_ms=2000"), "{text}");
    let waits: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("waited for the rate limit"))
        .collect();
    assert_eq!(waits.len(), 2, "{text}");
    assert!(waits[0].contains("wait_ms=2000"), "{}", waits[0]);
    assert!(waits[0].contains("paused by the server"), "{}", waits[0]);
    assert!(
        waits[0].contains("WARN"),
        "a throttle is a WARN: {}",
        waits[0]
    );
    assert!(waits[1].contains("wait_ms=1000"), "{}", waits[1]);
    assert!(waits[1].contains("quota"), "{}", waits[1]);
    assert!(
        waits[1].contains("DEBUG"),
        "pacing is not a warning: {}",
        waits[1]
    );
}

#[tokio::test(start_paused = true)]
async fn the_state_of_a_host_can_be_read() {
    let server = Server::start(|n, _| match n {
        0 => Reply::status(200)
            .header("RateLimit-Policy", &r#""hourly";q=5000;w=3600"#)
            .header("RateLimit", &r#""hourly";r=7;t=1200"#),
        _ => Reply::status(429).header("Retry-After", &30),
    })
    .await;
    let client = paused_client(config(Quota::per_second(10)));
    assert_eq!(client.rate_limit_state(&server.base), None, "no call yet");

    client.get(server.url()).send().await.expect("200");
    let state = client.rate_limit_state(&server.base).expect("known origin");
    assert_eq!(state.remaining, Some(7));
    assert_eq!(state.limit, Some(5_000));
    assert_eq!(state.paused_until, None);

    let limited = common::paused(RetryConfig::default().max_retries(0))
        .shared_rate_limiter(client.rate_limiter().expect("has one").clone())
        .build(http())
        .expect("valid");
    let _ = limited.get(server.url()).send().await;
    let state = client.rate_limit_state(&server.base).expect("known origin");
    assert_eq!(state.paused_until, Some(Instant::now() + 30 * SECOND));
    assert_eq!(state.remaining, Some(7), "no new count was reported");
}

#[test]
fn invalid_quotas_fail_the_build_with_a_typed_error() {
    let cases = [
        (Quota::per_second(0), "rate_limit.quota.rate"),
        (Quota::per_second(5).burst(0), "rate_limit.quota.burst"),
        (Quota::per(5, Duration::ZERO), "rate_limit.quota.per"),
    ];
    for (quota, field) in cases {
        let error = Client::builder()
            .rate_limit(RateLimitConfig::new(quota))
            .build(http())
            .expect_err("invalid quota");
        let named = match &error {
            ConfigError::OutOfRange { name, .. } | ConfigError::ZeroDuration { name, .. } => *name,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(named, field);
    }
}

#[test]
fn the_client_config_reads_rate_limits() {
    let config: steadfast::ClientConfig = serde_json::from_str(
        r#"{
            "rate_limit": {
                "quota": { "rate": 50, "per": "1s", "burst": 5 },
                "hosts": { "crm.example.com": { "rate": 600, "per": "1m" } },
                "max_wait": "5s"
            }
        }"#,
    )
    .expect("valid config");
    let rate_limit = config.rate_limit.as_ref().expect("set");
    assert_eq!(rate_limit.quota, Quota::per_second(50).burst(5));
    assert_eq!(rate_limit.hosts["crm.example.com"], Quota::per_minute(600));
    assert_eq!(rate_limit.max_wait, 5 * SECOND);
    Client::from_config(http(), &config).expect("builds");
    assert_eq!(steadfast::ClientConfig::default().rate_limit, None);
}

// ---------------------------------------------------------------------------
// Accuracy: every permit at its slot of the GCRA's schedule, in the order of the calls.

/// Runs `calls` calls over `tasks` tasks through a limiter at `rate`/s, burst 1, and
/// returns each call's send time since the first, indexed by the order the calls were
/// made in (the order they reserved their slots).
async fn permit_times(rate: u32, tasks: usize, calls: usize) -> Vec<Duration> {
    use tower::ServiceExt;
    let sent = Arc::new(Mutex::new(vec![None; calls]));
    let inner = tower::service_fn({
        let sent = Arc::clone(&sent);
        move |request: reqwest::Request| {
            let index: usize = request.headers()["x-call"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("a number");
            sent.lock().expect("not poisoned")[index] = Some(Instant::now());
            async { Ok::<_, Error>(reqwest::Response::from(::http::Response::new(""))) }
        }
    });
    let layer = RateLimitLayer::new(
        &config(Quota::per_second(rate).burst(1)).max_wait(Duration::from_secs(3_600)),
    )
    .expect("valid");
    let service = ServiceBuilder::new().layer(layer).service(inner);
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (mut service, next) = (service.clone(), Arc::clone(&next));
        handles.push(tokio::spawn(async move {
            loop {
                let ready = service.ready().await.expect("always ready");
                // No await between taking a number and `call`, which reserves the slot.
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= calls {
                    return;
                }
                let mut request = get("http://api.example.com/orders");
                request
                    .headers_mut()
                    .insert("x-call", index.to_string().parse().expect("valid"));
                ready.call(request).await.expect("within max_wait");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("no task panicked");
    }
    let sent = sent.lock().expect("not poisoned");
    let first = sent[0].expect("sent");
    sent.iter()
        .map(|at| at.expect("every call was sent") - first)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_permit_goes_at_its_slot_in_call_order_at_any_rate() {
    // (rate per second, calls): at least two seconds of each rate.
    let rates = [
        (1, 4),
        (3, 10),
        (200, 600),
        (1_000, 2_500),
        (10_000, 25_000),
    ];
    for (rate, calls) in rates {
        // One permit every second / rate, rounded up to the nanosecond.
        let interval = Duration::from_nanos(1_000_000_000_u64.div_ceil(u64::from(rate)));
        for tasks in [1, 64] {
            let times = permit_times(rate, tasks, calls).await;
            for (k, at) in times.iter().enumerate() {
                let slot = interval * u32::try_from(k).expect("small");
                // Never early; late by less than tokio's timer tick, whose granularity is
                // 1 ms: at 10,000/s ten slots share a tick and go together.
                assert!(
                    (slot..slot + MS).contains(at),
                    "{rate}/s, {tasks} tasks: call {k} sent at {at:?}, its slot is {slot:?}"
                );
            }
            // So the rate over the run is the quota: the last slot is (calls - 1) intervals on.
            let span = times[calls - 1].as_secs_f64();
            let admitted = f64::from(u32::try_from(calls - 1).expect("small")) / span;
            let ratio = admitted / f64::from(rate);
            assert!(
                (0.99..=1.01).contains(&ratio),
                "{rate}/s, {tasks} tasks: {admitted:.1}/s ({ratio:.4} of the quota)"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Pacing from what the server says remains, and limits the server states.

/// A server with a fixed window of 100 requests a second from its first request, answering
/// 429 past it, and telling each caller what remains (`RateLimit`, seconds to the reset
/// rounded up) and its policy (`RateLimit-Policy`).
async fn windowed_server() -> Server {
    let window = Arc::new(Mutex::new((None::<Instant>, 0_u64, 0_u64)));
    Server::start(move |_, at| {
        let mut w = window.lock().expect("not poisoned");
        let start = *w.0.get_or_insert(at);
        let index = u64::try_from((at - start).as_nanos() / SECOND.as_nanos()).expect("small");
        if index != w.1 {
            *w = (Some(start), index, 0);
        }
        w.2 += 1;
        let ends = start + SECOND * u32::try_from(index + 1).expect("small");
        let reset = (ends - at).as_secs_f64().ceil();
        if w.2 > 100 {
            return Reply::status(429).header("retry-after", &reset);
        }
        Reply::status(200)
            .header("ratelimit-policy", &r#""default";q=100;w=1"#)
            .header(
                "ratelimit",
                &format!(r#""default";r={};t={reset}"#, 100 - w.2),
            )
    })
    .await
}

async fn paced_run(rate_limit: RateLimitConfig) -> Server {
    let server = windowed_server().await;
    let layer = RateLimitLayer::new(&rate_limit).expect("valid");
    let service = ServiceBuilder::new().layer(layer).service(http());
    let left = Arc::new(AtomicUsize::new(300));
    let mut handles = Vec::new();
    for _ in 0..16 {
        let (mut service, left, url) = (service.clone(), Arc::clone(&left), server.url());
        handles.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                call(&mut service, get(&url)).await.expect("answered");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("no task panicked");
    }
    server
}

#[tokio::test(start_paused = true)]
async fn a_client_pacing_from_ratelimit_headers_is_never_answered_429() {
    // Configured ten times faster than the server allows: only the server's word holds it.
    let server = paced_run(config(Quota::per_second(1_000))).await;
    assert_eq!(
        server.count(429),
        0,
        "paced from RateLimit, never throttled"
    );
    assert_eq!(server.count(200), 300);
    let arrivals = server.arrivals();
    let span = arrivals[299].at - arrivals[0].at;
    assert!(span < 6 * SECOND, "300 calls at 100/s took {span:?}");

    // The same client without pacing and without the stated limit spends the window at
    // once and meets the server's 429s: the run above would have.
    let server = paced_run(
        config(Quota::per_second(1_000))
            .without_pacing()
            .without_server_limits(),
    )
    .await;
    assert!(
        server.count(429) > 0,
        "without pacing the window is overrun"
    );
}

#[tokio::test(start_paused = true)]
async fn a_limit_the_server_states_replaces_the_configured_quota() {
    let server = Server::always(Reply::status(200).header("x-ratelimit-limit", &10)).await;
    let (_, logs, _guard) = capture_text(tracing::Level::INFO);
    let gaps = |server: &Server| -> Vec<Duration> {
        let arrivals = server.arrivals();
        arrivals.windows(2).map(|w| w[1].at - w[0].at).collect()
    };

    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(&config(Quota::per_second(100).burst(1))).expect("valid"));
    let mut stated = service.service(http());
    for _ in 0..5 {
        call(&mut stated, get(&server.url())).await.expect("200");
    }
    // The first permit was taken at 100/s; from the first answer on, 10 per second.
    assert_eq!(gaps(&server), [10 * MS, 100 * MS, 100 * MS, 100 * MS]);
    let text = logs.text();
    assert_eq!(
        text.matches("the server stated its limit").count(),
        1,
        "logged once: {text}"
    );
    assert!(text.contains("limit=10"), "{text}");

    let server = Server::always(Reply::status(200).header("x-ratelimit-limit", &10)).await;
    let mut configured = ServiceBuilder::new()
        .layer(
            RateLimitLayer::new(&config(Quota::per_second(100).burst(1)).without_server_limits())
                .expect("valid"),
        )
        .service(http());
    for _ in 0..5 {
        call(&mut configured, get(&server.url()))
            .await
            .expect("200");
    }
    assert_eq!(gaps(&server), [10 * MS; 4], "the configured quota holds");
}

#[tokio::test(start_paused = true)]
async fn reconfiguring_keeps_buckets_and_pauses() {
    let server = Server::start(|n, _| {
        if n == 1 {
            Reply::status(429).header("retry-after", &2)
        } else {
            Reply::status(200)
        }
    })
    .await;
    let layer = RateLimitLayer::new(&config(Quota::per_second(1).burst(1))).expect("valid");
    let limiter = layer.limiter().clone();
    let mut service = ServiceBuilder::new().layer(layer).service(http());
    call(&mut service, get(&server.url())).await.expect("200");
    // The bucket is spent for a second; the second call waits for it, and is told 429.
    let answer = call(&mut service, get(&server.url()))
        .await
        .expect("answered");
    assert_eq!(answer.status(), 429);
    let start = Instant::now();

    limiter
        .reconfigure(&config(Quota::per_second(1_000)))
        .expect("valid");
    assert!(
        limiter.reconfigure(&config(Quota::per_second(0))).is_err(),
        "an invalid config is refused and changes nothing"
    );
    // The pause survives; after it, the new quota.
    for _ in 0..3 {
        call(&mut service, get(&server.url())).await.expect("200");
    }
    let arrivals = server.arrivals();
    assert!(arrivals[2].at >= start + 2 * SECOND, "the pause held");
    assert!(
        arrivals[4].at - arrivals[2].at <= 2 * MS,
        "then 1,000/s: {:?}",
        arrivals[4].at - arrivals[2].at
    );
}

// ---------------------------------------------------------------------------
// Idle keys are evicted; the map is bounded.

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_distinct_keys_never_grow_the_map_past_its_bound() {
    use steadfast::rate_limit::RateLimitKey;
    let limiter = RateLimiter::new(&config(Quota::per_second(10)).max_keys(1_000)).expect("valid");
    let mut most = 0;
    for n in 0..100_000 {
        let key = RateLimitKey::custom(format!("tenant-{n}"));
        assert!(limiter.check(&key).is_ok(), "a fresh key has a full bucket");
        most = most.max(limiter.key_count());
    }
    assert!(most <= 1_000, "the map held {most} keys");

    // Keys unused for the idle timeout go when a new key is made (at most every half
    // timeout), and only they.
    let limiter = RateLimiter::new(
        &config(Quota::per_second(10).burst(1)).idle_timeout(Duration::from_secs(60)),
    )
    .expect("valid");
    for n in 0..100 {
        let _ = limiter.check(&RateLimitKey::custom(format!("old-{n}")));
    }
    let busy = RateLimitKey::custom("busy");
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(limiter.check(&busy).is_ok());
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(limiter.check(&busy).is_ok());
    let _ = limiter.check(&RateLimitKey::custom("new"));
    assert_eq!(
        limiter.key_count(),
        2,
        "only the busy key and the new one stay"
    );
    assert!(limiter.state(&busy).is_some());
    assert!(
        limiter.check(&busy).is_err(),
        "the busy key kept its spent bucket"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stated_limit_without_a_window_never_raises_the_quota() {
    // GitHub's 5,000 is per hour; read per the configured second it would be 5,000/s.
    let server = Server::always(Reply::status(200).header("x-ratelimit-limit", &5_000)).await;
    let mut service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(&config(Quota::per_second(10).burst(1))).expect("valid"))
        .service(http());
    for _ in 0..4 {
        call(&mut service, get(&server.url())).await.expect("200");
    }
    let arrivals = server.arrivals();
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert_eq!(gaps, [100 * MS; 3], "the configured 10/s holds");
}

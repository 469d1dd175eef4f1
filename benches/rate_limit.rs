//! What a rate-limit permit costs when one is free, alone and with 64 tasks on one key;
//! and, on the real clock, the rate the limiter admits against its quota.
//!
//! Run with: `cargo bench --bench rate_limit` (only the accuracy run:
//! `cargo bench --bench rate_limit -- accuracy`)

#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use reqwest::header::HeaderMap;
use steadfast::hints::RateLimitHeaders;
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitKey, RateLimitLayer, RateLimiter};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const TASKS: u64 = 64;

/// A quota no benchmark can exhaust (one permit per nanosecond, seconds of burst), so
/// that every check measures the permit path, never a wait.
fn limiter() -> RateLimiter {
    RateLimiter::new(&RateLimitConfig::new(
        Quota::per_second(u32::MAX).burst(u32::MAX),
    ))
    .expect("valid")
}

fn key() -> RateLimitKey {
    RateLimitKey::origin(&"https://api.example.com/orders".parse().expect("valid url"))
}

fn ok_service()
-> impl Service<reqwest::Request, Response = reqwest::Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    service_fn(|_request: reqwest::Request| async {
        Ok::<_, Infallible>(reqwest::Response::from(http::Response::new("")))
    })
}

fn request() -> reqwest::Request {
    let url = "https://api.example.com/orders".parse().expect("valid url");
    reqwest::Request::new(reqwest::Method::GET, url)
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

/// Runs about `iters` jobs spread over `TASKS` tasks and returns the wall time, so that
/// criterion reports the amortised time per job under contention.
fn spread<F, Fut>(runtime: &tokio::runtime::Runtime, iters: u64, job: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    runtime.block_on(async {
        let per_task = iters.div_ceil(TASKS);
        let start = Instant::now();
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let job = job.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        job().await;
                        // Interleave the tasks on the two workers.
                        if i % 32 == 31 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("no panic");
        }
        start.elapsed()
    })
}

fn permit(c: &mut Criterion) {
    let mut group = c.benchmark_group("permit check");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));

    let limiter = limiter();
    let key = key();
    group.bench_function("uncontended", |b| {
        b.iter(|| black_box(limiter.check(black_box(&key))));
    });

    let runtime = multi_thread();
    group.bench_function("64 tasks, one key", |b| {
        b.iter_custom(|iters| {
            let (limiter, key) = (limiter.clone(), key.clone());
            spread(&runtime, iters, move || {
                let result = limiter.check(&key);
                async move {
                    black_box(result).expect("never exhausted");
                }
            })
        });
    });
    group.finish();
}

fn layer(c: &mut Criterion) {
    let mut group = c.benchmark_group("call over an in-memory service");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");

    let bare = ok_service();
    group.bench_function("bare service", |b| {
        b.to_async(&current)
            .iter(|| bare.clone().oneshot(black_box(request())));
    });

    let limited = ServiceBuilder::new()
        .layer(RateLimitLayer::shared_limiter(limiter()))
        .service(ok_service());
    group.bench_function("rate limit", |b| {
        b.to_async(&current)
            .iter(|| limited.clone().oneshot(black_box(request())));
    });

    let runtime = multi_thread();
    group.bench_function("rate limit, 64 tasks, one key", |b| {
        b.iter_custom(|iters| {
            let limited = limited.clone();
            spread(&runtime, iters, move || {
                let call = limited.clone().oneshot(request());
                async move {
                    black_box(call.await.expect("never refused"));
                }
            })
        });
    });
    group.finish();
}

fn headers(c: &mut Criterion) {
    let mut group = c.benchmark_group("reading a response's rate-limit headers");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    let now = SystemTime::now();

    let mut none = HeaderMap::new();
    none.insert("content-type", "application/json".parse().expect("valid"));
    group.bench_function("none present", |b| {
        b.iter(|| black_box(RateLimitHeaders::parse(black_box(&none), now)));
    });

    let mut github = none.clone();
    github.insert("x-ratelimit-limit", "5000".parse().expect("valid"));
    github.insert("x-ratelimit-remaining", "4987".parse().expect("valid"));
    github.insert("x-ratelimit-reset", "1704067260".parse().expect("valid"));
    group.bench_function("X-RateLimit-*", |b| {
        b.iter(|| black_box(RateLimitHeaders::parse(black_box(&github), now)));
    });

    let mut ietf = none;
    ietf.insert(
        "ratelimit-policy",
        r#""hourly";q=5000;w=3600"#.parse().expect("valid"),
    );
    ietf.insert(
        "ratelimit",
        r#""hourly";r=4987;t=1200"#.parse().expect("valid"),
    );
    group.bench_function("IETF RateLimit + RateLimit-Policy", |b| {
        b.iter(|| black_box(RateLimitHeaders::parse(black_box(&ietf), now)));
    });
    group.finish();
}

/// Admits calls for `RUN` on the real clock through a limiter at `rate`/s, burst 1, with 1
/// and 64 tasks calling without pause, and prints the admitted rate over the quota.
fn accuracy(_: &mut Criterion) {
    const RUN: Duration = Duration::from_secs(3);
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filter.is_empty() && !filter.iter().any(|f| "accuracy".contains(f.as_str())) {
        return;
    }
    let runtime = multi_thread();
    for rate in [100, 1_000, 10_000] {
        for tasks in [1, 64] {
            let ratio = runtime.block_on(admitted_ratio(rate, tasks, RUN));
            println!("accuracy: {rate}/s, burst 1, {tasks} tasks: admitted / quota = {ratio:.4}");
        }
    }
}

async fn admitted_ratio(rate: u32, tasks: usize, run: Duration) -> f64 {
    let config = RateLimitConfig::new(Quota::per_second(rate).burst(1));
    let limited = ServiceBuilder::new()
        .layer(RateLimitLayer::new(&config).expect("valid"))
        .service(ok_service());
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = tokio::time::Instant::now() + run;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (limited, sent) = (limited.clone(), std::sync::Arc::clone(&sent));
            tokio::spawn(async move {
                while tokio::time::Instant::now() < stop {
                    limited
                        .clone()
                        .oneshot(request())
                        .await
                        .expect("within max_wait");
                    sent.lock().expect("not poisoned").push(Instant::now());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("no panic");
    }
    let mut sent = sent.lock().expect("not poisoned").clone();
    sent.sort();
    // Over the whole run after the first permit: (n - 1) intervals.
    let span = (sent[sent.len() - 1] - sent[0]).as_secs_f64();
    let admitted = f64::from(u32::try_from(sent.len() - 1).expect("small")) / span;
    admitted / f64::from(rate)
}

criterion_group!(benches, accuracy, permit, layer, headers);
criterion_main!(benches);

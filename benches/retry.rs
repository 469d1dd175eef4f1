//! What the retry stack costs per call when nothing fails, over an in-memory service.
//!
//! Run with: cargo bench --bench retry

#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::retry::{Backoff, BudgetConfig, Jitter, RetryBudget, RetryLayer};
use steadfast::timeout::TimeoutLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

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
    let url = "http://127.0.0.1:8080/orders".parse().expect("valid url");
    reqwest::Request::new(reqwest::Method::GET, url)
}

fn stack(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("call over an in-memory service");

    let bare = ok_service();
    group.bench_function("bare service", |b| {
        b.to_async(&runtime)
            .iter(|| bare.clone().oneshot(black_box(request())));
    });

    let retry = ServiceBuilder::new()
        .layer(RetryLayer::default())
        .service(ok_service());
    group.bench_function("retry + budget", |b| {
        b.to_async(&runtime)
            .iter(|| retry.clone().oneshot(black_box(request())));
    });

    let full = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(120)))
        .layer(RetryLayer::default())
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .service(ok_service());
    group.bench_function("deadline + retry + attempt timeout", |b| {
        b.to_async(&runtime)
            .iter(|| full.clone().oneshot(black_box(request())));
    });
    group.finish();
}

fn parts(c: &mut Criterion) {
    let backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(10),
        Jitter::Full,
    )
    .expect("valid");
    c.bench_function("backoff delay", |b| {
        b.iter(|| backoff.delay(black_box(5), Duration::ZERO));
    });

    let budget = RetryBudget::new(&BudgetConfig::default()).expect("valid");
    c.bench_function("budget deposit", |b| b.iter(|| budget.deposit()));
    c.bench_function("budget try_withdraw", |b| {
        b.iter(|| black_box(budget.try_withdraw()));
    });
}

criterion_group!(benches, stack, parts);
criterion_main!(benches);

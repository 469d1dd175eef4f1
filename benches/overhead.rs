//! What steadfast costs per call over a real connection, side by side with bare reqwest and
//! with reqwest-middleware + reqwest-retry + reqwest-tracing, in one run.
//!
//! The bench starts an HTTP/1.1 keep-alive server on 127.0.0.1 (hyper, one thread of its
//! own). Every contender has its own `reqwest::Client` with the same settings, sends the
//! same requests and reads every response body to the end:
//!
//! - bare reqwest;
//! - steadfast: `Client::builder()` defaults (retry with budget, idempotency keys and the
//!   in-memory ledger, deadline and attempt timeouts, logging with no subscriber) and a
//!   rate limit whose quota never binds; and the same with `idempotency(None)`;
//! - reqwest-middleware with reqwest-tracing and reqwest-retry (3 retries, exponential
//!   100 ms to 10 s, full jitter).
//!
//! Sequential: one call at a time on a current-thread runtime (time per call).
//! 64 concurrent: 64 tasks on a 2-worker runtime share the calls (wall time per call, so
//! throughput is its inverse).
//!
//! Run with: `cargo bench --bench overhead`

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use reqwest::Method;
use support::Contender;

const TASKS: u64 = 64;

/// Runs about `iters` calls spread over `TASKS` tasks and returns the wall time.
async fn concurrent(contender: &Contender, method: &Method, url: &str, iters: u64) -> Duration {
    let per_task = iters.div_ceil(TASKS);
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (contender, method, url) = (contender.clone(), method.clone(), url.to_owned());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    black_box(contender.call(&method, &url).await);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    // Criterion divides by `iters`; the tasks made `per_task * TASKS` calls.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let scaled = start
        .elapsed()
        .mul_f64(iters as f64 / (per_task * TASKS) as f64);
    scaled
}

fn loopback(c: &mut Criterion) {
    let addr = support::start_server();
    let url = format!("http://{addr}/orders");
    let sequential = support::current_thread();
    let parallel = support::multi_thread(2);

    for method in [Method::GET, Method::POST] {
        let mut group = c.benchmark_group(format!("loopback {method}, sequential"));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(30);
        // Fresh clients per runtime: a pooled connection is driven by the runtime that
        // opened it, so a client must not move between runtimes.
        for (name, contender) in &Contender::all() {
            group.bench_function(*name, |b| {
                b.to_async(&sequential)
                    .iter(|| async { black_box(contender.call(&method, &url).await) });
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("loopback {method}, {TASKS} concurrent"));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(20);
        for (name, contender) in &Contender::all() {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    parallel.block_on(concurrent(contender, &method, &url, iters))
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, loopback);
criterion_main!(benches);

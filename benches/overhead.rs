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
//! After criterion's groups, the bench prints the ratios to bare reqwest from interleaved
//! rounds: each round measures every contender once, in a rotating order, and the table
//! shows the median of the per-round ratios. A machine shared with other work drifts over
//! seconds, which moves criterion's one-contender-at-a-time figures; contenders measured
//! side by side within a fraction of a second drift together.
//!
//! Run with: `cargo bench --bench overhead`

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
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

/// Interleaved rounds for the ratio table.
const ROUNDS: usize = 25;
const SEQUENTIAL_CALLS: u32 = 600;
const CONCURRENT_CALLS: u64 = 64 * 30;

/// Time per call of `calls` sequential calls.
async fn sequential_round(contender: &Contender, method: &Method, url: &str, calls: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        black_box(contender.call(method, url).await);
    }
    start.elapsed().as_secs_f64() / f64::from(calls)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Each contender's median time and the median over rounds of its ratio to the first
/// contender (bare reqwest) in the same round.
fn ratios(names: &[&str], mut measure: impl FnMut(usize) -> f64) -> Vec<(String, f64, f64)> {
    let n = names.len();
    let mut times = vec![Vec::with_capacity(ROUNDS); n];
    // One round to warm every contender up, not counted.
    for i in 0..n {
        measure(i);
    }
    for round in 0..ROUNDS {
        for k in 0..n {
            let i = (round + k) % n;
            times[i].push(measure(i));
        }
    }
    (0..n)
        .map(|i| {
            let mut per_round: Vec<f64> = (0..ROUNDS).map(|r| times[i][r] / times[0][r]).collect();
            let mut own = times[i].clone();
            (
                names[i].to_owned(),
                median(&mut per_round),
                median(&mut own),
            )
        })
        .collect()
}

fn ratio_table() {
    let addr = support::start_server();
    let url = format!("http://{addr}/orders");
    println!();
    println!(
        "Ratios to bare reqwest, median of {ROUNDS} interleaved rounds \
         ({} cores; sequential: time per call, lower is better; \
         {TASKS} concurrent: throughput, higher is better)",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    for method in [Method::GET, Method::POST] {
        let sequential = support::current_thread();
        let contenders = Contender::all();
        let names: Vec<&str> = contenders.iter().map(|(name, _)| *name).collect();
        let seq = ratios(&names, |i| {
            sequential.block_on(sequential_round(
                &contenders[i].1,
                &method,
                &url,
                SEQUENTIAL_CALLS,
            ))
        });
        let parallel = support::multi_thread(2);
        let contenders = Contender::all();
        let par = ratios(&names, |i| {
            let elapsed = parallel.block_on(concurrent(
                &contenders[i].1,
                &method,
                &url,
                CONCURRENT_CALLS,
            ));
            #[allow(clippy::cast_precision_loss)]
            let per_call = elapsed.as_secs_f64() / CONCURRENT_CALLS as f64;
            per_call
        });
        for ((name, seq_ratio, seq_time), (_, par_ratio, par_time)) in seq.iter().zip(&par) {
            println!(
                "  {method:4} {name:38} sequential {seq_ratio:5.3}x ({:6.1} us/call)   \
                 {TASKS} concurrent throughput {:5.3}x ({:5.1} us/call)",
                seq_time * 1e6,
                1.0 / par_ratio,
                par_time * 1e6,
            );
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    loopback(&mut criterion);
    criterion.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` runs each benchmark once only.
    if std::env::args().any(|arg| arg == "--bench") {
        ratio_table();
    }
}

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
//!   rate limit whose quota never binds; the same with `without_idempotency()`; and, for POST,
//!   the defaults with a key named per call (`order-<n>`), which the ledger records;
//! - reqwest-middleware with reqwest-tracing and reqwest-retry (3 retries, exponential
//!   100 ms to 10 s, full jitter).
//!
//! Sequential: one call at a time on a current-thread runtime (time per call, and the
//! client thread's CPU time per call, which a wait for the server thread does not blur).
//! 64 concurrent: 64 tasks on a one-worker runtime share the calls (wall time per call, so
//! throughput is its inverse). One worker, so that the client and the server thread each
//! have a core of a 2-core machine: with two workers the three threads took turns on two
//! cores, and the throughput measured the scheduler as much as the client.
//!
//! After criterion's groups, the bench prints the ratios to bare reqwest from interleaved
//! rounds: each round measures every contender once, in a rotating order, and the table
//! shows the median of the per-round ratios (see `support::interleaved`).
//!
//! Run with: `cargo bench --bench overhead`

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use reqwest::Method;
use support::{Contender, TASKS};

/// Makes `iters` calls spread over `TASKS` tasks and returns the wall time.
async fn concurrent(contender: &Contender, method: &Method, url: &str, iters: u64) -> Duration {
    let start = Instant::now();
    support::spread(contender, method, url, iters).await;
    start.elapsed()
}

fn loopback(c: &mut Criterion) {
    let addr = support::start_server();
    let url = format!("http://{addr}/orders");
    let sequential = support::current_thread();
    let parallel = support::multi_thread(1);

    for method in [Method::GET, Method::POST] {
        let mut group = c.benchmark_group(format!("loopback {method}, sequential"));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(30);
        // Fresh clients per runtime: a pooled connection is driven by the runtime that
        // opened it, so a client must not move between runtimes.
        for (name, contender) in &Contender::all(&method) {
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
        for (name, contender) in &Contender::all(&method) {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    parallel.block_on(concurrent(contender, &method, &url, iters))
                });
            });
        }
        group.finish();
    }
}

/// Interleaved rounds for the ratio table, each long enough (about 0.15 s) that a
/// scheduling hiccup is a small part of it.
const ROUNDS: usize = 41;
const SEQUENTIAL_CALLS: u32 = 2_000;
const CONCURRENT_CALLS: u64 = TASKS * 150;

/// Wall time and the client thread's CPU time per call, over `calls` sequential calls
/// (the runtime is current-thread: all of the client's work is on this thread).
async fn sequential_round(
    contender: &Contender,
    method: &Method,
    url: &str,
    calls: u32,
) -> [f64; 2] {
    let (start, cpu) = (Instant::now(), support::thread_cpu());
    for _ in 0..calls {
        black_box(contender.call(method, url).await);
    }
    let wall = start.elapsed().as_secs_f64() / f64::from(calls);
    let cpu = match (cpu, support::thread_cpu()) {
        (Some(before), Some(after)) => {
            after.saturating_sub(before).as_secs_f64() / f64::from(calls)
        }
        _ => f64::NAN,
    };
    [wall, cpu]
}

fn ratio_table() {
    let addr = support::start_server();
    let url = format!("http://{addr}/orders");
    println!();
    println!(
        "Ratios to bare reqwest over {ROUNDS} interleaved rounds of {SEQUENTIAL_CALLS} sequential \
         and {CONCURRENT_CALLS} concurrent calls ({} cores): the median, [the interquartile \
         range]; per call in brackets. Sequential: time and client CPU, lower is better; \
         {TASKS} concurrent: throughput, higher is better.",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    for method in [Method::GET, Method::POST] {
        // Fresh clients per runtime: a pooled connection is driven by the runtime that
        // opened it, so a client must not move between runtimes.
        let sequential = support::current_thread();
        let contenders = Contender::all(&method);
        let seq = support::interleaved(contenders.len(), ROUNDS, |i| {
            sequential.block_on(sequential_round(
                &contenders[i].1,
                &method,
                &url,
                SEQUENTIAL_CALLS,
            ))
        });
        let parallel = support::multi_thread(1);
        let contenders = Contender::all(&method);
        let par = support::interleaved(contenders.len(), ROUNDS, |i| {
            let elapsed = parallel.block_on(concurrent(
                &contenders[i].1,
                &method,
                &url,
                CONCURRENT_CALLS,
            ));
            #[allow(clippy::cast_precision_loss)]
            let per_call = elapsed.as_secs_f64() / CONCURRENT_CALLS as f64;
            [per_call]
        });
        for (i, (name, _)) in contenders.iter().enumerate() {
            let time = support::per_round(&seq, i, 0, |c, b| c[0] / b[0]);
            let cpu = support::per_round(&seq, i, 0, |c, b| c[1] / b[1]);
            let throughput = support::per_round(&par, i, 0, |c, b| b[0] / c[0]);
            println!(
                "  {method:4} {name:38} sequential {} time ({:5.1} us), {} client CPU \
                 ({:4.1} us)   {TASKS} concurrent {} throughput ({:4.1} us)",
                ratio(time),
                support::median(seq[i].iter().map(|f| f[0] * 1e6)),
                ratio(cpu),
                support::median(seq[i].iter().map(|f| f[1] * 1e6)),
                ratio(throughput),
                support::median(par[i].iter().map(|f| f[0] * 1e6)),
            );
        }
    }
}

/// A median ratio with its interquartile range over rounds: `1.021x [1.008, 1.035]`.
fn ratio([low, median, high]: [f64; 3]) -> String {
    format!("{median:5.3}x [{low:5.3}, {high:5.3}]")
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

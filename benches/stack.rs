//! What each contender's stack costs per call in CPU alone: the same layers over an
//! in-memory inner service that answers at once, with no network.
//!
//! - bare service: the inner service alone, the floor;
//! - steadfast: the `Client`'s default stack (log with no subscriber, idempotency with its
//!   in-memory ledger, deadline, retry with budget, a rate limit that never binds, attempt
//!   timeout), called like `Client::execute` calls it (clone, ready, call); without
//!   idempotency; and, for POST, with a key named per call (`order-<n>`, made as a caller
//!   makes it), which the ledger records, evicting its oldest entry once full;
//! - reqwest-middleware: reqwest-tracing + reqwest-retry in front of a last middleware
//!   that answers in memory, and that last middleware alone (the chain's own floor); for
//!   POST, also with a middleware that adds an idempotency key as steadfast does, so that
//!   both stacks send the same request.
//!
//! After criterion's groups, the bench prints each contender's overhead over the bare
//! service from interleaved rounds (see `support::interleaved`), and that overhead as a
//! multiple of reqwest-middleware's (for POST, also of reqwest-middleware's with keys).
//!
//! Run with: `cargo bench --bench stack`

#![allow(missing_docs)]

mod support;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use reqwest::{Method, Request, Response};
use support::{
    Ledger, in_memory, in_memory_url, middleware_in_memory, named_request, request, steadfast_stack,
};
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt as _};

/// Makes `iters` calls and returns how long they took.
type Calls<'a> = Box<dyn Fn(u64) -> Duration + 'a>;

/// Calls through a tower service as `Client::execute` does: clone, ready, call.
fn tower_calls<'a, S>(runtime: &'a Runtime, method: &Method, service: S, named: bool) -> Calls<'a>
where
    S: Service<Request, Response = Response> + Clone + 'a,
    S::Error: std::fmt::Debug,
{
    let (method, url, next) = (method.clone(), in_memory_url(), Cell::new(0));
    Box::new(move |iters| {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                let request = if named {
                    next.set(next.get() + 1);
                    named_request(&method, &url, next.get())
                } else {
                    request(&method, &url)
                };
                let response = service
                    .clone()
                    .oneshot(black_box(request))
                    .await
                    .expect("in-memory calls succeed");
                black_box(response);
            }
            start.elapsed()
        })
    })
}

fn middleware_calls<'a>(
    runtime: &'a Runtime,
    method: &Method,
    stack: bool,
    keys: bool,
) -> Calls<'a> {
    let (method, url) = (method.clone(), in_memory_url());
    let client = middleware_in_memory(stack, keys);
    Box::new(move |iters| {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                let response = client
                    .execute(black_box(request(&method, &url)))
                    .await
                    .expect("in-memory calls succeed");
                black_box(response);
            }
            start.elapsed()
        })
    })
}

/// The contenders for `method`: the bare service first, reqwest-middleware's stack last.
fn contenders<'a>(runtime: &'a Runtime, method: &Method) -> Vec<(&'static str, Calls<'a>)> {
    let mut all = vec![
        (
            "bare service",
            tower_calls(runtime, method, in_memory(), false),
        ),
        (
            "steadfast",
            tower_calls(
                runtime,
                method,
                steadfast_stack(in_memory(), Ledger::Memory),
                false,
            ),
        ),
        (
            "steadfast, no idempotency",
            tower_calls(
                runtime,
                method,
                steadfast_stack(in_memory(), Ledger::Off),
                false,
            ),
        ),
    ];
    if *method == Method::POST {
        let stack = steadfast_stack(in_memory(), Ledger::Memory);
        let named = tower_calls(runtime, method, stack, true);
        all.push(("steadfast, named keys (ledger)", named));
    }
    all.push((
        "reqwest-middleware chain alone",
        middleware_calls(runtime, method, false, false),
    ));
    all.push((MIDDLEWARE, middleware_calls(runtime, method, true, false)));
    if *method == Method::POST {
        all.push((WITH_KEYS, middleware_calls(runtime, method, true, true)));
    }
    all
}

/// The reqwest-middleware stack the overheads are compared with.
const MIDDLEWARE: &str = "reqwest-middleware + retry + tracing";
/// The same with a middleware that adds idempotency keys (`support::Keys`), so that a POST
/// sends the same request through both stacks.
const WITH_KEYS: &str = "reqwest-middleware, + keys";

fn criterion_groups(c: &mut Criterion, runtime: &Runtime) {
    for method in [Method::GET, Method::POST] {
        let mut group = c.benchmark_group(format!("in-memory {method}"));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        for (name, calls) in contenders(runtime, &method) {
            group.bench_function(name, |b| b.iter_custom(&calls));
        }
        group.finish();
    }
}

/// Interleaved rounds for the overhead table.
const ROUNDS: usize = 21;
const CALLS: u64 = 100_000;

fn overhead_table(runtime: &Runtime) {
    println!();
    println!(
        "Overhead over the bare service over {ROUNDS} interleaved rounds of {CALLS} calls (one \
         thread): the median, [the interquartile range]"
    );
    for method in [Method::GET, Method::POST] {
        let contenders = contenders(runtime, &method);
        let figures = support::interleaved(contenders.len(), ROUNDS, |i| {
            #[allow(clippy::cast_precision_loss)]
            let per_call = contenders[i].1(CALLS).as_secs_f64() * 1e9 / CALLS as f64;
            [per_call]
        });
        let overhead_of = |name: &str| {
            let i = contenders.iter().position(|(n, _)| *n == name)?;
            Some(support::per_round(&figures, i, 0, |c, b| c[0] - b[0])[1])
        };
        let middleware = overhead_of(MIDDLEWARE).expect("a contender");
        let with_keys = overhead_of(WITH_KEYS);
        for (i, (name, _)) in contenders.iter().enumerate() {
            let [low, overhead, high] = support::per_round(&figures, i, 0, |c, b| c[0] - b[0]);
            let keys = with_keys.map_or(String::new(), |k| {
                format!(", {:4.2}x with keys'", overhead / k)
            });
            println!(
                "  {method:4} {name:38} {:5.0} ns/call, overhead {overhead:5.0} ns \
                 [{low:5.0}, {high:5.0}], {:4.2}x reqwest-middleware's{keys}",
                support::median(figures[i].iter().map(|f| f[0])),
                overhead / middleware,
            );
        }
    }
}

fn main() {
    let runtime = support::current_thread();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_groups(&mut criterion, &runtime);
    criterion.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` runs each benchmark once only.
    if std::env::args().any(|arg| arg == "--bench") {
        overhead_table(&runtime);
    }
}

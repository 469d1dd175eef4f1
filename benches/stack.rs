//! What each contender's stack costs per call in CPU alone: the same layers over an
//! in-memory inner service that answers at once, with no network.
//!
//! - bare service: the inner service alone, the floor;
//! - steadfast: the `Client`'s default stack (log with no subscriber, idempotency with its
//!   in-memory ledger, deadline, retry with budget, a rate limit that never binds, attempt
//!   timeout), called like `Client::execute` calls it (clone, ready, call); also without the
//!   ledger, and without idempotency at all;
//! - reqwest-middleware: reqwest-tracing + reqwest-retry in front of a last middleware
//!   that answers in memory, and that last middleware alone (the chain's own floor).
//!
//! Run with: `cargo bench --bench stack`

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use reqwest::{Method, Request, Response};
use support::{Ledger, in_memory, in_memory_url, middleware_in_memory, request, steadfast_stack};
use tower::{Service, ServiceExt as _};

fn tower_service<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    method: &Method,
    service: &S,
) where
    S: Service<Request, Response = Response> + Clone,
    S::Error: std::fmt::Debug,
{
    let url = in_memory_url();
    group.bench_function(name, |b| {
        b.to_async(runtime).iter(|| async {
            let response = service
                .clone()
                .oneshot(black_box(request(method, &url)))
                .await
                .expect("in-memory calls succeed");
            black_box(response)
        });
    });
}

fn calls(c: &mut Criterion) {
    let runtime = support::current_thread();
    for method in [Method::GET, Method::POST] {
        let mut group = c.benchmark_group(format!("in-memory {method}"));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));

        tower_service(&mut group, &runtime, "bare service", &method, &in_memory());
        let full = steadfast_stack(in_memory(), Ledger::Memory);
        tower_service(&mut group, &runtime, "steadfast", &method, &full);
        if method == Method::POST {
            let keys = steadfast_stack(in_memory(), Ledger::KeysOnly);
            tower_service(&mut group, &runtime, "steadfast, no ledger", &method, &keys);
        }
        let off = steadfast_stack(in_memory(), Ledger::Off);
        tower_service(
            &mut group,
            &runtime,
            "steadfast, no idempotency",
            &method,
            &off,
        );

        for (name, stack) in [
            ("reqwest-middleware chain alone", false),
            ("reqwest-middleware + retry + tracing", true),
        ] {
            let client = middleware_in_memory(stack);
            let url = in_memory_url();
            group.bench_function(name, |b| {
                b.to_async(&runtime).iter(|| async {
                    let response = client
                        .execute(black_box(request(&method, &url)))
                        .await
                        .expect("in-memory calls succeed");
                    black_box(response)
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, calls);
criterion_main!(benches);

//! What reconciliation costs per record: two 100,000-record sets merged in key order.
//!
//! Run with: cargo bench -p steadfast-benches --bench reconcile
//!
//! For callgrind (instructions per record, repeatable where wall time is not), give the
//! record count and `setup` (build the records only) or `run` (build and reconcile);
//! subtract the first from the second and divide by the records:
//!
//! ```text
//! cargo bench -p steadfast-benches --no-run --bench reconcile
//! valgrind --tool=callgrind target/release/deps/reconcile-* 100000 setup
//! valgrind --tool=callgrind target/release/deps/reconcile-* 100000 run
//! ```

#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use futures_util::stream;
use serde_json::{Value, json};
use steadfast::flow::reconcile::{Order, ReconcileConfig, ReconcileReport};

/// An order as both sides hold it: a few top-level fields, a nested address, one line.
fn order(i: u64) -> Value {
    json!({
        "id": i,
        "total": i % 1000,
        "currency": "EUR",
        "status": "paid",
        "customer": {"name": format!("customer {i}"), "address": {"city": "Lyon", "zip": "69001"}},
        "lines": [{"sku": format!("SKU-{}", i % 97), "qty": 1 + i % 5}],
        "updated_at": "2026-12-01T00:00:00Z",
    })
}

/// The source and a destination with one record in 100 changed and one in 1,000 absent.
fn sets(records: u64) -> (Vec<Value>, Vec<Value>) {
    let source: Vec<Value> = (0..records).map(order).collect();
    let destination = source
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 1000 != 999)
        .map(|(i, record)| {
            let mut record = record.clone();
            record["updated_at"] = json!("2026-12-02T00:00:00Z");
            if i % 100 == 7 {
                record["customer"]["address"]["city"] = json!("Lille");
            }
            record
        })
        .collect();
    (source, destination)
}

fn run(
    runtime: &tokio::runtime::Runtime,
    (source, destination): (Vec<Value>, Vec<Value>),
) -> ReconcileReport {
    let config = ReconcileConfig::default()
        .order(Order::Sorted)
        .ignore("/updated_at");
    let source = stream::iter(source.into_iter().map(Ok::<_, Infallible>));
    let destination = stream::iter(destination.into_iter().map(Ok::<_, Infallible>));
    runtime
        .block_on(config.reconcile(source, destination, "/id"))
        .expect("sorted sets")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut args = std::env::args().skip(1);
    if let (Some(records), Some(mode)) = (args.next(), args.next())
        && let Ok(records) = records.parse::<u64>()
    {
        let sets = sets(records);
        if mode == "run" {
            let report = run(&runtime, sets);
            println!("{}", report.counts.equal);
        } else {
            black_box(sets);
        }
        return;
    }

    let mut criterion = Criterion::default().sample_size(10).configure_from_args();
    let mut group = criterion.benchmark_group("reconcile");
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("sorted merge, 100,000 records a side", |b| {
        b.iter_batched(
            || sets(100_000),
            |sets| run(&runtime, sets),
            BatchSize::PerIteration,
        );
    });
    group.finish();
    criterion.final_summary();
}

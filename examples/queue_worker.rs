//! Run with: `cargo run --example queue_worker --features redis -- --once`
//! (NATS `JetStream`: `cargo run --example queue_worker --features redis,nats -- --nats --once`)
//!
//! A worker that takes order events from a queue and creates each order through a
//! steadfast client, with the event's idempotency key: applied orders are acknowledged,
//! orders the API rejects (422) or whose outcome is unknown go to the dead letters, orders
//! that meet a 503 are redelivered after a backoff, and an undecodable event (poison) is
//! dead-lettered without blocking the others.
//!
//! The queue is Redis Streams at `REDIS_URL` (default `redis://127.0.0.1:6379`), or with
//! `--nats` NATS `JetStream` at `NATS_URL` (default `nats://127.0.0.1:4222`, started with
//! `nats-server -js`). The orders API is a loopback server the example starts. With
//! `--once` it publishes a fixed set of events, processes them, prints what happened to
//! each and exits; without it, it runs until Ctrl-C.
//!
//! Across processes, give the clients a shared ledger (`RedisStore`): a worker that
//! crashed between a call and its ack leaves the message to another one, whose call with
//! the same key is then answered from the ledger, not sent twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use steadfast::Client;
use steadfast::dead_letter::{LetterFilter, MemorySink};
use steadfast::flow::queue::{
    Event, HandleError, Queue, RedisQueue, RedisQueueConfig, Worker, WorkerConfig,
};
use steadfast::retry::RetryConfig;

#[derive(Debug, Deserialize)]
struct OrderEvent {
    order_id: String,
    sku: String,
    quantity: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let once = args.iter().any(|a| a == "--once");
    // A fresh stream per `--once` run, so that a rerun starts from an empty queue.
    let run = if once {
        format!("-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
    } else {
        String::new()
    };
    if args.iter().any(|a| a == "--nats") {
        return nats(once, &run).await;
    }
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let config = RedisQueueConfig::new(url)
        .stream(format!("orders:events{run}"))
        .dead_stream(format!("orders:dead{run}"))
        .lease(Duration::from_secs(5));
    let queue = RedisQueue::connect(&config).await.map_err(|e| {
        format!("no Redis at REDIS_URL or 127.0.0.1:6379 ({e}); start redis-server")
    })?;
    println!("queue: Redis Streams, stream {}", config.stream);
    process(queue, once).await
}

#[cfg(feature = "nats")]
async fn nats(once: bool, run: &str) -> Result<(), Box<dyn std::error::Error>> {
    use steadfast::flow::queue::{NatsQueue, NatsQueueConfig};
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let name = run.trim_start_matches('-');
    let config = NatsQueueConfig::new(url)
        .stream(format!("ORDERS{}", name.to_uppercase()))
        .subject(format!("orders{run}.events"))
        .dead_subject(format!("orders{run}.dead"))
        .lease(Duration::from_secs(5));
    let queue = NatsQueue::connect(&config).await.map_err(|e| {
        format!("no NATS at NATS_URL or 127.0.0.1:4222 ({e}); start nats-server -js")
    })?;
    println!("queue: NATS JetStream, stream {}", config.stream);
    process(queue, once).await
}

#[cfg(not(feature = "nats"))]
async fn nats(_: bool, _: &str) -> Result<(), Box<dyn std::error::Error>> {
    Err("--nats needs the nats feature: cargo run --example queue_worker --features redis,nats -- --nats".into())
}

async fn process<Q: Queue>(queue: Q, once: bool) -> Result<(), Box<dyn std::error::Error>> {
    let api = orders_api().await?;
    let letters = Arc::new(MemorySink::new(1_000));
    let client = Client::builder()
        .retry(RetryConfig::default().max_retries(1))
        .shared_dead_letter_sink(letters.clone())
        .build(reqwest::Client::new())?;
    // The letters a failed delivery left are resolved when a later delivery succeeds.
    let client_letters = client
        .dead_letters()
        .ok_or("the client keeps dead letters")?;

    let published = if once { publish(&queue).await? } else { 0 };

    let orders_url = format!("{api}/orders");
    let handler = move |event: Event| {
        let client = client.clone();
        let url = orders_url.clone();
        async move {
            // An event that is not an order never will be: poison, dead-lettered at once.
            let order: OrderEvent = serde_json::from_slice(&event.payload)
                .map_err(|e| HandleError::Poison(e.into()))?;
            client
                .post(url.as_str())
                .idempotency_key(&event.idempotency_key)
                .json(&serde_json::json!({
                    "external_id": order.order_id,
                    "sku": order.sku,
                    "quantity": order.quantity,
                }))
                .send()
                .await?;
            println!(
                "  order {} created (delivery {})",
                order.order_id, event.deliveries
            );
            Ok(())
        }
    };
    let config = WorkerConfig::default()
        .key_prefix("orders")
        .backoff_base(Duration::from_millis(200))
        .backoff_max(Duration::from_secs(2));
    let worker = Worker::new(queue, handler, config)?.resolve_client_letters(client_letters);

    let watcher = worker.clone();
    let stats = worker
        .run(async move {
            if once {
                // Done when every published event was acknowledged or dead-lettered.
                loop {
                    let stats = watcher.stats();
                    if stats.acked + stats.dead_lettered >= published {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
        })
        .await;
    println!(
        "worker: {} acknowledged, {} redelivered, {} dead-lettered, {} broker errors",
        stats.acked, stats.retried, stats.dead_lettered, stats.broker_errors
    );
    for dead in worker.queue().dead_messages(100).await? {
        println!(
            "  dead letter: message {} ({}), key {}: {}",
            dead.id, dead.note.reason, dead.note.idempotency_key, dead.note.error
        );
    }
    let calls =
        steadfast::dead_letter::DeadLetterSink::list(letters.as_ref(), &LetterFilter::default())
            .await?;
    let pending = calls
        .iter()
        .filter(|l| l.state.as_str() == "pending")
        .count();
    println!(
        "client dead letters (failed calls): {} pending a replay, {} resolved by a later delivery",
        pending,
        calls.len() - pending
    );
    Ok(())
}

/// The fixed set `--once` processes: five orders, one the API rejects, one it answers 503
/// once, one poison event.
async fn publish<Q: Queue>(queue: &Q) -> Result<u64, Box<dyn std::error::Error>> {
    let mut events: Vec<Vec<u8>> = (1..=5)
        .map(|n| {
            serde_json::to_vec(&serde_json::json!({
                "order_id": format!("SO-100{n}"),
                "sku": if n == 4 { "DISCONTINUED" } else { "CHAIR-OAK" },
                "quantity": n,
            }))
        })
        .collect::<Result<_, _>>()?;
    events.push(b"order SO-1006, quantity 2".to_vec());
    for event in &events {
        queue.publish(event).await?;
    }
    println!("published {} events", events.len());
    Ok(events.len() as u64)
}

#[derive(Clone, Default)]
struct Orders {
    attempts: Arc<Mutex<HashMap<String, u32>>>,
}

/// The loopback orders API: 422 for a discontinued SKU, 503 on the first attempt of
/// SO-1002 (its client retry meets one more, so the event is redelivered), 201 otherwise.
async fn orders_api() -> Result<String, Box<dyn std::error::Error>> {
    async fn create(
        State(orders): State<Orders>,
        headers: HeaderMap,
        Json(order): Json<serde_json::Value>,
    ) -> StatusCode {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let attempt = {
            let mut attempts = orders
                .attempts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let n = attempts.entry(key).or_default();
            *n += 1;
            *n
        };
        match (
            order["sku"].as_str(),
            order["external_id"].as_str(),
            attempt,
        ) {
            (Some("DISCONTINUED"), _, _) => StatusCode::UNPROCESSABLE_ENTITY,
            (_, Some("SO-1002"), 1 | 2) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::CREATED,
        }
    }
    let app = axum::Router::new()
        .route("/orders", post(create))
        .with_state(Orders::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

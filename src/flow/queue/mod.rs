//! A queue-driven worker: events from a broker, one API call each through a
//! [`Client`](crate::Client), every message settled by the call's outcome.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use steadfast::flow::queue::{Event, HandleError, RedisQueue, RedisQueueConfig, Worker, WorkerConfig};
//!
//! let client = steadfast::Client::new(reqwest::Client::new());
//! let queue = RedisQueue::connect(&RedisQueueConfig::new("redis://127.0.0.1:6379")).await?;
//! let handler = move |event: Event| {
//!     let client = client.clone();
//!     async move {
//!         let order: serde_json::Value = serde_json::from_slice(&event.payload)
//!             .map_err(|e| HandleError::Poison(e.into()))?;
//!         client
//!             .post("http://127.0.0.1:8080/orders")
//!             .idempotency_key(&event.idempotency_key)
//!             .json(&order)
//!             .send()
//!             .await?;
//!         Ok(())
//!     }
//! };
//! let worker = Worker::new(queue, handler, WorkerConfig::default().key_prefix("orders"))?;
//! let stats = worker.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! println!("{} acked, {} dead-lettered", stats.acked, stats.dead_lettered);
//! # Ok(())
//! # }
//! ```
//!
//! # What happens to a message
//!
//! The handler's result decides (see [`Worker`]): acknowledged when the call was applied;
//! left for redelivery with backoff when it was not applied and may succeed later (503,
//! 429, connection refused, open circuit); moved to the queue's dead letters and
//! acknowledged when it failed permanently (400, 404, 422) or its outcome is unknown (500,
//! a timeout after the request was written). A poison message (the handler returns
//! [`HandleError::Poison`], or the message was handed out more than `max_deliveries`
//! times, crashing each consumer) is dead-lettered too: it never blocks the queue.
//!
//! A dead-lettered message keeps its payload, delivery count, reason, redacted error and
//! idempotency key ([`Queue::dead_messages`]). With a dead-letter sink on the client, the
//! failed call itself is a [`DeadLetter`](crate::dead_letter::DeadLetter) under the same
//! key, with the request as sent (credentials removed), for verification and replay.
//!
//! # Never twice
//!
//! An event's idempotency key is `{key_prefix}-{message id}`: every redelivery of a
//! message sends the same key. A message is acknowledged only after its call, so a consumer
//! that crashes between the call and the ack leaves it to another consumer, which calls
//! again **with the same key**. That second call is not applied twice when either:
//!
//! - the clients share a ledger that records the key as completed: the
//!   [`RedisStore`](crate::idempotency::store::RedisStore) for workers in several
//!   processes (a [`MemoryStore`](crate::idempotency::store::MemoryStore) only protects
//!   workers in one process); the second call is answered from the ledger, nothing sent;
//! - or the API deduplicates by `Idempotency-Key` itself.
//!
//! Message ids must not repeat within the ledger's key lifetime: Redis stream ids never
//! do; `JetStream` sequences restart only when the stream is deleted and created again, so
//! give a recreated stream a new `key_prefix`.
//!
//! The tests run the first way: the loopback API counts commits per key and does not
//! deduplicate, so a second send would show.
//!
//! # Brokers
//!
//! | queue | feature | claiming a crashed consumer's messages | redelivery delay |
//! |---|---|---|---|
//! | [`RedisQueue`] | `redis` | `XAUTOCLAIM` after `lease` idle | idle time set to `lease - delay` |
//! | [`NatsQueue`] | `nats` | the server, after the ack wait (`lease`) | `nak` with the delay |
//!
//! # Errors
//!
//! A broker that is down is a [`QueueError`]: logged, counted and tried again with
//! backoff; every broker call is bounded by `broker_timeout`. A message whose settling
//! failed stays in the broker and is handed out again: nothing is lost.

mod config;
mod handle;
mod message;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "nats")]
mod nats_config;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_config;
mod traits;
mod worker;

pub use config::WorkerConfig;
pub use handle::{Handle, HandleError};
pub use message::{DeadMessage, DeadNote, DeadReason, Event, Message};
#[cfg(feature = "nats")]
pub use nats::NatsQueue;
#[cfg(feature = "nats")]
pub use nats_config::NatsQueueConfig;
#[cfg(feature = "redis")]
pub use redis::RedisQueue;
#[cfg(feature = "redis")]
pub use redis_config::RedisQueueConfig;
pub use traits::{Queue, QueueError};
pub use worker::{Worker, WorkerStats};

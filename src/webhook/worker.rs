//! Taking events from the queue's consumer group, and acknowledging them.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use redis::aio::ConnectionManager;
use redis::{Script, Value};

use super::claim::{Claim, Held, Namespace, claim};
use super::queue::{EventQueue, QueueError, QueuedEvent, unavailable};
use crate::idempotency::store::{IdempotencyStore, SharedStore, StoredResponse, Terms};
use crate::redis_stream;

/// Acknowledges an entry and deletes it. KEYS: stream; ARGV: group, entry id.
const ACK: &str = r"
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return n
";

/// One worker of an [`EventQueue`]'s consumer group.
///
/// [`next_batch`](Self::next_batch) first claims events another worker took and left
/// unacknowledged longer than `claim_after` (it crashed, or its processing failed), then
/// reads new ones, waiting up to `block`. [`ack`](Self::ack) acknowledges and deletes an
/// event once processed; an event never acknowledged is claimed again, so processing is
/// at least once. With a [`store`](Self::store), [`process`](Self::process) also records
/// each delivery id it processed, and acknowledges a repeat without processing it: an event
/// enqueued twice (its first answer was lost), or processed by a worker that crashed before
/// acknowledging it.
pub struct EventWorker {
    queue: EventQueue,
    connection: ConnectionManager,
    consumer: String,
    /// Where the next scan for stale events starts.
    cursor: String,
    ack: Script,
    seen: Option<Seen>,
}

/// Where a worker records the delivery ids it processed.
struct Seen {
    store: SharedStore,
    namespace: Namespace,
    ttl: Duration,
}

impl fmt::Debug for EventWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWorker")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

/// What [`EventWorker::process`] did with one batch.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Processed {
    /// Events processed and acknowledged.
    pub acked: usize,
    /// Events whose processing failed, left to be claimed again after `claim_after`.
    pub failed: usize,
    /// Events whose delivery id the store had seen processed: acknowledged, not processed.
    pub repeats: usize,
}

impl EventWorker {
    pub(crate) fn new(queue: EventQueue, connection: ConnectionManager, consumer: String) -> Self {
        Self {
            queue,
            connection,
            consumer,
            cursor: "0-0".to_owned(),
            ack: Script::new(ACK),
            seen: None,
        }
    }

    /// Records processed delivery ids in `store` for 3 days, so that
    /// [`process`](Self::process) processes each id once.
    #[must_use]
    pub fn store(self, store: impl IdempotencyStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// Records processed delivery ids in a store other workers hold too.
    #[must_use]
    pub fn shared_store(mut self, store: SharedStore) -> Self {
        let name = format!("worker.{}", self.queue.config.group);
        self.seen = Namespace::new(&name)
            .or_else(|| Namespace::new("worker"))
            .map(|namespace| Seen {
                store,
                namespace,
                ttl: Duration::from_secs(3 * 24 * 3600),
            });
        self
    }

    /// Up to `batch` events: stale ones claimed from other workers first, else new ones,
    /// waiting up to `block` for them. Empty when none came.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when Redis cannot be reached; [`QueueError::Corrupt`]
    /// when it answers with something that is not a stream entry.
    pub async fn next_batch(&mut self) -> Result<Vec<QueuedEvent>, QueueError> {
        let config = &self.queue.config;
        let claimed: Value = redis::cmd("XAUTOCLAIM")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&self.consumer)
            .arg(u64::try_from(config.claim_after.as_millis()).unwrap_or(u64::MAX))
            .arg(&self.cursor)
            .arg("COUNT")
            .arg(config.batch.max(1))
            .query_async(&mut self.connection)
            .await
            .map_err(unavailable)?;
        let Value::Array(parts) = claimed else {
            return Err(QueueError::Corrupt("XAUTOCLAIM reply"));
        };
        let mut parts = parts.into_iter();
        if let Some(next) = parts.next().and_then(redis_stream::string) {
            self.cursor = next;
        }
        let stale = entries(parts.next().unwrap_or(Value::Nil))?;
        if !stale.is_empty() {
            return Ok(stale);
        }
        let read: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&config.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(config.batch.max(1))
            .arg("BLOCK")
            .arg(
                u64::try_from(config.block.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )
            .arg("STREAMS")
            .arg(&config.stream)
            .arg(">")
            .query_async(&mut self.connection)
            .await
            .map_err(unavailable)?;
        // One stream asked for: its entries, under its name (an array of pairs, or a map).
        events(redis_stream::read_reply(read).map_err(QueueError::Corrupt)?)
    }

    /// Acknowledges `event` as processed and deletes it from the stream.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when Redis cannot be reached: the event is then claimed
    /// again later.
    pub async fn ack(&mut self, event: &QueuedEvent) -> Result<(), QueueError> {
        let _: i64 = self
            .ack
            .key(&self.queue.config.stream)
            .arg(&self.queue.config.group)
            .arg(&event.entry_id)
            .invoke_async(&mut self.connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Takes one batch and runs `handler` on each event in turn: acknowledged when it
    /// returns `Ok`, left for a later claim (and logged at `WARN`) when it returns `Err`.
    ///
    /// # Errors
    ///
    /// What [`next_batch`](Self::next_batch) and [`ack`](Self::ack) return.
    pub async fn process<F, Fut, E>(&mut self, mut handler: F) -> Result<Processed, QueueError>
    where
        F: FnMut(QueuedEvent) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
    {
        let mut processed = Processed::default();
        for event in self.next_batch().await? {
            let held = match self.claim(&event).await {
                Ok(held) => held,
                Err(Some(why)) => {
                    tracing::warn!(
                        webhook.entry_id = %event.entry_id,
                        error.type = why,
                        "webhook event not processed: its id cannot be checked; it will be claimed again"
                    );
                    processed.failed += 1;
                    continue;
                }
                Err(None) => {
                    self.ack(&event).await?;
                    processed.repeats += 1;
                    continue;
                }
            };
            match handler(event.clone()).await {
                Ok(()) => {
                    if let (Some(held), Some(seen)) = (held, &self.seen) {
                        let done = StoredResponse::new(StatusCode::OK, &HeaderMap::new(), None);
                        if let Err(error) = held.complete(done, seen.ttl).await {
                            tracing::warn!(webhook.entry_id = %event.entry_id, error = %error, "webhook event id not recorded");
                        }
                    }
                    self.ack(&event).await?;
                    processed.acked += 1;
                }
                Err(error) => {
                    if let Some(held) = held {
                        let _ = held.release().await;
                    }
                    tracing::warn!(
                        webhook.entry_id = %event.entry_id,
                        webhook.delivery_id = event.delivery_id.as_deref().unwrap_or_default(),
                        error = %error,
                        "webhook event processing failed; it will be claimed again"
                    );
                    processed.failed += 1;
                }
            }
        }
        Ok(processed)
    }
}

impl EventWorker {
    /// Claims `event`'s delivery id in the store: `Ok(Some)` to process it (and settle the
    /// claim), `Ok(None)` without a store or an id, `Err(None)` for an id processed
    /// already, `Err(Some(why))` when it cannot be processed now (another worker has it, or
    /// the store is unavailable).
    async fn claim(&self, event: &QueuedEvent) -> Result<Option<Held>, Option<&'static str>> {
        let (Some(seen), Some(id)) = (&self.seen, &event.delivery_id) else {
            return Ok(None);
        };
        let terms = Terms::new(self.queue.config.claim_after, seen.ttl);
        let key = seen.namespace.key(id);
        match claim(&seen.store, &seen.namespace, key, terms, Duration::ZERO).await {
            Claim::Run(held) => Ok(Some(held)),
            Claim::Replay(_) => Err(None),
            Claim::Busy => Err(Some("event_in_progress")),
            Claim::Unavailable(why) => Err(Some(why)),
        }
    }
}

/// Stream entries as events; entries deleted meanwhile are skipped.
fn entries(value: Value) -> Result<Vec<QueuedEvent>, QueueError> {
    events(redis_stream::entries(value).map_err(QueueError::Corrupt)?)
}

fn events(entries: Vec<redis_stream::Entry>) -> Result<Vec<QueuedEvent>, QueueError> {
    entries
        .into_iter()
        .map(|entry| {
            let body = entry
                .field("body")
                .cloned()
                .ok_or(QueueError::Corrupt("stream entry without a body"))?;
            let delivery_id = entry
                .field("id")
                .and_then(|id| String::from_utf8(id.to_vec()).ok());
            Ok(QueuedEvent {
                entry_id: entry.id,
                delivery_id,
                body,
            })
        })
        .collect()
}

//! The queue on a Redis Stream with a consumer group.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{Client, Script, Value};

use super::{DeadMessage, DeadNote, DeadReason, Message, Queue, QueueError, RedisQueueConfig};
use crate::redis_stream::{Entry, entries, pending_counts, read_reply, string};

/// Acknowledges an entry and deletes it. KEYS: stream; ARGV: group, entry id.
const ACK: &str = r"
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return n
";

/// Acknowledges an entry, copies it to the dead stream and deletes it, in one step; an entry
/// another consumer settled meanwhile is not copied twice. KEYS: stream, dead stream; ARGV:
/// group, entry id, payload, deliveries, reason, key, error.
const DEAD: &str = r"
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if n == 1 then
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'payload', ARGV[3], 'deliveries', ARGV[4],
    'reason', ARGV[5], 'key', ARGV[6], 'error', ARGV[7])
end
redis.call('XDEL', KEYS[1], ARGV[2])
return n
";

/// A [`Queue`] on a Redis Stream (feature `redis`): a consumer group shared by the workers.
///
/// - `receive` first claims (`XAUTOCLAIM`) entries idle longer than the lease: taken by a
///   consumer that crashed, or left for redelivery; then reads new ones (`XREADGROUP`),
///   blocking up to `block`. Delivery counts come from the group's pending list.
/// - `ack` acknowledges (`XACK`) and deletes the entry.
/// - `retry_later(delay)` leaves the entry pending and sets its idle time (`XCLAIM … IDLE
///   JUSTID`, which keeps the delivery count) to `lease - delay`, so it is claimed again
///   once `delay` has passed; a delay longer than the lease is cut to it.
/// - `dead_letter` copies the entry and its note to `dead_stream`, acknowledges and deletes
///   it, in one script.
///
/// Blocking reads have a connection of their own; other commands share one multiplexed
/// connection. Both are re-established after failures and every command is bounded by
/// `timeout` (reads by `block + timeout`).
///
/// # Clone
///
/// Clones share the connections and are the same consumer.
#[derive(Clone)]
pub struct RedisQueue {
    commands: ConnectionManager,
    reader: ConnectionManager,
    config: Arc<RedisQueueConfig>,
    cursor: Arc<Mutex<String>>,
    ack: Arc<Script>,
    dead: Arc<Script>,
}

impl fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: redis::RedisError) -> QueueError {
    QueueError::Unavailable(Box::new(error))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl RedisQueue {
    /// Connects, and creates the stream and the consumer group if they do not exist.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the URL is invalid or the server cannot be reached
    /// within the timeout.
    pub async fn connect(config: &RedisQueueConfig) -> Result<Self, QueueError> {
        let client = Client::open(config.url.as_str()).map_err(unavailable)?;
        let commands = connect(&client, config.timeout, config.timeout).await?;
        let reader = connect(&client, config.timeout, config.block + config.timeout).await?;
        let queue = Self {
            commands,
            reader,
            config: Arc::new(config.clone()),
            cursor: Arc::new(Mutex::new("0-0".to_owned())),
            ack: Arc::new(Script::new(ACK)),
            dead: Arc::new(Script::new(DEAD)),
        };
        let created: Result<Value, _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&config.stream)
            .arg(&config.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut queue.commands.clone())
            .await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => Err(unavailable(error)),
            _ => Ok(queue),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RedisQueueConfig {
        &self.config
    }

    /// Entries claimed from the pending list, with their delivery counts.
    async fn claim(&self, max: usize) -> Result<Vec<Message<()>>, QueueError> {
        let config = &self.config;
        let cursor = self
            .cursor
            .lock()
            .map_or_else(|_| "0-0".to_owned(), |c| c.clone());
        let claimed: Value = redis::cmd("XAUTOCLAIM")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&config.consumer)
            .arg(millis(config.lease))
            .arg(cursor)
            .arg("COUNT")
            .arg(max)
            .query_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        let Value::Array(parts) = claimed else {
            return Err(QueueError::Corrupt("XAUTOCLAIM reply"));
        };
        let mut parts = parts.into_iter();
        if let (Some(next), Ok(mut cursor)) = (parts.next().and_then(string), self.cursor.lock()) {
            *cursor = next;
        }
        let claimed = entries(parts.next().unwrap_or(Value::Nil)).map_err(QueueError::Corrupt)?;
        let (Some(first), Some(last)) = (claimed.first(), claimed.last()) else {
            return Ok(Vec::new());
        };
        let pending: Value = redis::cmd("XPENDING")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(claimed.len())
            .arg(&config.consumer)
            .query_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        let counts = pending_counts(pending).map_err(QueueError::Corrupt)?;
        Ok(claimed
            .into_iter()
            .map(|entry| {
                let deliveries = counts
                    .iter()
                    .find(|(id, _)| *id == entry.id)
                    .map_or(2, |(_, n)| *n);
                message(entry, deliveries)
            })
            .collect())
    }
}

fn message(entry: Entry, deliveries: u32) -> Message<()> {
    let payload = entry.field("payload").cloned().unwrap_or_default();
    Message::new(entry.id, payload, deliveries, ())
}

impl Queue for RedisQueue {
    type Receipt = ();

    async fn publish(&self, payload: &[u8]) -> Result<String, QueueError> {
        redis::cmd("XADD")
            .arg(&self.config.stream)
            .arg("*")
            .arg("payload")
            .arg(payload)
            .query_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn receive(&self, max: usize) -> Result<Vec<Message<()>>, QueueError> {
        let max = max.max(1);
        let claimed = self.claim(max).await?;
        if !claimed.is_empty() {
            return Ok(claimed);
        }
        let config = &self.config;
        let read: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&config.group)
            .arg(&config.consumer)
            .arg("COUNT")
            .arg(max)
            .arg("BLOCK")
            .arg(millis(config.block).max(1))
            .arg("STREAMS")
            .arg(&config.stream)
            .arg(">")
            .query_async(&mut self.reader.clone())
            .await
            .map_err(unavailable)?;
        Ok(read_reply(read)
            .map_err(QueueError::Corrupt)?
            .into_iter()
            .map(|entry| message(entry, 1))
            .collect())
    }

    async fn ack(&self, message: &Message<()>) -> Result<(), QueueError> {
        let _: i64 = self
            .ack
            .key(&self.config.stream)
            .arg(&self.config.group)
            .arg(&message.id)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn retry_later(&self, message: &Message<()>, delay: Duration) -> Result<(), QueueError> {
        let idle = self.config.lease.saturating_sub(delay);
        let _: Value = redis::cmd("XCLAIM")
            .arg(&self.config.stream)
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg(0)
            .arg(&message.id)
            .arg("IDLE")
            .arg(millis(idle))
            .arg("JUSTID")
            .query_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn dead_letter(&self, message: &Message<()>, note: &DeadNote) -> Result<(), QueueError> {
        let _: i64 = self
            .dead
            .key(&self.config.stream)
            .key(&self.config.dead_stream)
            .arg(&self.config.group)
            .arg(&message.id)
            .arg(message.payload.as_ref())
            .arg(message.deliveries)
            .arg(note.reason.as_str())
            .arg(&note.idempotency_key)
            .arg(&note.error)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn dead_messages(&self, max: usize) -> Result<Vec<DeadMessage>, QueueError> {
        let read: Value = redis::cmd("XRANGE")
            .arg(&self.config.dead_stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(max.max(1))
            .query_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(entries(read)
            .map_err(QueueError::Corrupt)?
            .into_iter()
            .map(|entry| DeadMessage {
                id: entry.text("id"),
                payload: entry.field("payload").cloned().unwrap_or_else(Bytes::new),
                deliveries: entry.text("deliveries").parse().unwrap_or(0),
                note: DeadNote::new(
                    DeadReason::parse(&entry.text("reason")).unwrap_or(DeadReason::Poison),
                    entry.text("key"),
                    entry.text("error"),
                ),
            })
            .collect())
    }
}

async fn connect(
    client: &Client,
    timeout: Duration,
    response: Duration,
) -> Result<ConnectionManager, QueueError> {
    crate::redis_stream::connect(client, timeout, response)
        .await
        .map_err(unavailable)
}

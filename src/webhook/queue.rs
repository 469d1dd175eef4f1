//! The event queue on a Redis Stream: enqueueing with a length cap, the consumer group.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{Client, Script};
use serde::{Deserialize, Serialize};

use super::EventWorker;
use crate::error::BoxError;

/// Settings of an [`EventQueue`].
///
/// ```
/// use steadfast::webhook::EventQueueConfig;
///
/// let config = EventQueueConfig::new("redis://127.0.0.1:6379/0")
///     .stream("billing:stripe-events")
///     .max_len(50_000);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventQueueConfig {
    /// The server, as a `redis://` URL (it may hold a password: it is never logged).
    /// Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// The stream's key. Default `steadfast:webhook:events`.
    pub stream: String,
    /// The consumer group the workers share. Default `webhook-workers`.
    pub group: String,
    /// The most events waiting or being processed; enqueueing beyond it fails (the sender
    /// is answered 503 and retries later), so nothing is trimmed away unprocessed.
    /// Default 100,000.
    pub max_len: usize,
    /// The limit for connecting and for each command. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long a worker waits for new events in one read. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub block: Duration,
    /// The most events a worker takes at once. Default 16.
    pub batch: usize,
    /// How long an event may stay taken but unacknowledged (its worker crashed, or its
    /// processing failed) before another worker claims it. Longer than the slowest
    /// processing. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub claim_after: Duration,
}

impl Default for EventQueueConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            stream: "steadfast:webhook:events".to_owned(),
            group: "webhook-workers".to_owned(),
            max_len: 100_000,
            timeout: Duration::from_secs(1),
            block: Duration::from_secs(1),
            batch: 16,
            claim_after: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for EventQueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventQueueConfig")
            .field("url", &"[redacted]")
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("max_len", &self.max_len)
            .field("timeout", &self.timeout)
            .field("block", &self.block)
            .field("batch", &self.batch)
            .field("claim_after", &self.claim_after)
            .finish()
    }
}

impl EventQueueConfig {
    /// Settings for the server at `url`, other fields at their defaults.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the stream's key. Default `steadfast:webhook:events`.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// Sets the consumer group. Default `webhook-workers`.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the most events held. Default 100,000.
    #[must_use]
    pub fn max_len(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    /// Sets the connect and command limit. Default 1 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long one read waits for events. Default 1 s.
    #[must_use]
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Sets the most events taken at once. Default 16.
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Sets how long an unacknowledged event waits before another worker claims it.
    /// Default 60 s.
    #[must_use]
    pub fn claim_after(mut self, after: Duration) -> Self {
        self.claim_after = after;
        self
    }
}

/// The event queue could not be used.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis could not be reached or answered with an error.
    #[error("webhook event queue unavailable")]
    Unavailable(#[source] BoxError),
    /// The stream holds `max_len` events: workers are behind. The delivery is answered 503,
    /// so the sender retries later.
    #[error("webhook event queue is full")]
    Full,
    /// Redis answered something that is not a stream entry.
    #[error("webhook event queue answered unexpectedly: {0}")]
    Corrupt(&'static str),
}

pub(crate) fn unavailable(error: redis::RedisError) -> QueueError {
    QueueError::Unavailable(Box::new(error))
}

/// Adds an event unless the stream is full. KEYS: stream; ARGV: max length, delivery id
/// (empty for none), body.
const ENQUEUE: &str = r"
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
if ARGV[2] == '' then
  return redis.call('XADD', KEYS[1], '*', 'body', ARGV[3])
end
return redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'body', ARGV[3])
";

/// Webhook events on a Redis Stream, for a receiver to acknowledge deliveries fast and
/// workers to process them after.
///
/// [`enqueue`](Self::enqueue) adds an event with `XADD` unless the stream already holds
/// `max_len` events; [`worker`](Self::worker) makes an [`EventWorker`] of the consumer
/// group, which deletes each event once processed. The group is created with the stream
/// when the queue connects.
///
/// # Clone
///
/// Clones share one multiplexed connection, re-established after failures.
///
/// # Example
///
/// ```no_run
/// use steadfast::webhook::{EventQueue, EventQueueConfig};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = EventQueue::connect(&EventQueueConfig::new("redis://127.0.0.1:6379")).await?;
/// queue.enqueue(Some("evt_1"), br#"{"id":"evt_1"}"#).await?;
/// let mut worker = queue.worker("worker-1").await?;
/// for event in worker.next_batch().await? {
///     println!("{:?}: {} bytes", event.delivery_id, event.body.len());
///     worker.ack(&event).await?;
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EventQueue {
    pub(crate) client: Client,
    pub(crate) connection: ConnectionManager,
    pub(crate) config: Arc<EventQueueConfig>,
    enqueue: Arc<Script>,
}

impl fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventQueue")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EventQueue {
    /// Connects, and creates the stream and its consumer group if they do not exist.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the URL is invalid or the server cannot be reached
    /// within the timeout.
    pub async fn connect(config: &EventQueueConfig) -> Result<Self, QueueError> {
        let client = Client::open(config.url.as_str()).map_err(unavailable)?;
        let connection = connect(&client, config.timeout, config.timeout).await?;
        let queue = Self {
            client,
            connection,
            config: Arc::new(config.clone()),
            enqueue: Arc::new(Script::new(ENQUEUE)),
        };
        let created: Result<redis::Value, _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&config.stream)
            .arg(&config.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut queue.connection.clone())
            .await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => Err(unavailable(error)),
            _ => Ok(queue),
        }
    }

    /// Adds an event: its delivery id, if known, and its body. Returns the stream entry's
    /// id once Redis has it.
    ///
    /// # Errors
    ///
    /// [`QueueError::Full`] when the stream holds `max_len` events;
    /// [`QueueError::Unavailable`] when Redis cannot be reached.
    pub async fn enqueue(
        &self,
        delivery_id: Option<&str>,
        body: &[u8],
    ) -> Result<String, QueueError> {
        let entry: Option<String> = self
            .enqueue
            .key(&self.config.stream)
            .arg(self.config.max_len)
            .arg(delivery_id.unwrap_or_default())
            .arg(body)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        entry.ok_or(QueueError::Full)
    }

    /// How many events the stream holds: waiting, or taken and not yet acknowledged.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when Redis cannot be reached.
    pub async fn backlog(&self) -> Result<usize, QueueError> {
        redis::cmd("XLEN")
            .arg(&self.config.stream)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)
    }

    /// A worker of the consumer group named `consumer` (unique per worker), on a
    /// connection of its own, since its reads block.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the server cannot be reached.
    pub async fn worker(&self, consumer: impl Into<String>) -> Result<EventWorker, QueueError> {
        let wait = self.config.block + self.config.timeout;
        let connection = connect(&self.client, self.config.timeout, wait).await?;
        Ok(EventWorker::new(self.clone(), connection, consumer.into()))
    }
}

/// An event taken from the queue.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The stream entry's id, to acknowledge it.
    pub entry_id: String,
    /// The delivery's id, when the receiver knew it.
    pub delivery_id: Option<String>,
    /// The delivery's body, as received (and verified).
    pub body: Bytes,
}

impl fmt::Debug for QueuedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body may carry personal data: its size only.
        f.debug_struct("QueuedEvent")
            .field("entry_id", &self.entry_id)
            .field("delivery_id", &self.delivery_id)
            .field("body_bytes", &self.body.len())
            .finish()
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

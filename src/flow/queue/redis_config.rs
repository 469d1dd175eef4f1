//! Settings of the Redis Streams queue.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings of a [`RedisQueue`](super::RedisQueue).
///
/// ```
/// use std::time::Duration;
/// use steadfast::flow::queue::RedisQueueConfig;
///
/// let config = RedisQueueConfig::new("redis://127.0.0.1:6379")
///     .stream("orders:events")
///     .consumer("worker-1")
///     .lease(Duration::from_secs(30));
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisQueueConfig {
    /// The server, as a `redis://` URL (it may hold a password: it is never logged).
    /// Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// The stream's key. Default `steadfast:queue:events`.
    pub stream: String,
    /// The consumer group the workers share. Default `steadfast-workers`.
    pub group: String,
    /// This consumer's name, unique per worker process. Default `worker-` and a random
    /// UUID.
    pub consumer: String,
    /// The stream dead-lettered messages go to. Default `steadfast:queue:dead`.
    pub dead_stream: String,
    /// How long a message may stay taken and unsettled before another consumer claims it
    /// (its consumer crashed). Longer than the slowest handling. Redelivery delays are cut
    /// to it. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long one receive waits for new messages. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub block: Duration,
    /// The limit for connecting and for each command. Default 2 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisQueueConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            stream: "steadfast:queue:events".to_owned(),
            group: "steadfast-workers".to_owned(),
            consumer: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            dead_stream: "steadfast:queue:dead".to_owned(),
            lease: Duration::from_secs(60),
            block: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for RedisQueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueueConfig")
            .field("url", &"[redacted]")
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .field("dead_stream", &self.dead_stream)
            .field("lease", &self.lease)
            .field("block", &self.block)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisQueueConfig {
    /// Settings for the server at `url`, other fields at their defaults.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the stream's key. Default `steadfast:queue:events`.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// Sets the consumer group. Default `steadfast-workers`.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets this consumer's name. Default `worker-` and a random UUID.
    #[must_use]
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = consumer.into();
        self
    }

    /// Sets the dead-letter stream. Default `steadfast:queue:dead`.
    #[must_use]
    pub fn dead_stream(mut self, stream: impl Into<String>) -> Self {
        self.dead_stream = stream.into();
        self
    }

    /// Sets the lease. Default 60 s.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets how long one receive waits. Default 1 s.
    #[must_use]
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Sets the connect and command limit. Default 2 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

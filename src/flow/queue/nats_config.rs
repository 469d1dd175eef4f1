//! Settings of the NATS `JetStream` queue.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings of a [`NatsQueue`](super::NatsQueue).
///
/// ```
/// use std::time::Duration;
/// use steadfast::flow::queue::NatsQueueConfig;
///
/// let config = NatsQueueConfig::new("nats://127.0.0.1:4222")
///     .stream("ORDERS")
///     .subject("orders.events")
///     .lease(Duration::from_secs(30));
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsQueueConfig {
    /// The server, as a `nats://` URL (it may hold credentials: it is never logged).
    /// Default `nats://127.0.0.1:4222`.
    pub url: String,
    /// The `JetStream` stream holding the events and the dead letters; created when missing.
    /// Default `STEADFAST_EVENTS`.
    pub stream: String,
    /// The subject events are published on. Default `steadfast.events`.
    pub subject: String,
    /// The subject dead-lettered messages are published on (in the same stream).
    /// Default `steadfast.dead`.
    pub dead_subject: String,
    /// The durable pull consumer the workers share. Default `steadfast-workers`.
    pub consumer: String,
    /// The consumer's ack wait: how long a message may stay taken and unsettled before the
    /// server hands it out again (its consumer crashed). Longer than the slowest handling.
    /// Default 60 s.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long one receive waits for messages. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub block: Duration,
    /// The limit for connecting and for each request to the server. Default 2 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for NatsQueueConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            stream: "STEADFAST_EVENTS".to_owned(),
            subject: "steadfast.events".to_owned(),
            dead_subject: "steadfast.dead".to_owned(),
            consumer: "steadfast-workers".to_owned(),
            lease: Duration::from_secs(60),
            block: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for NatsQueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsQueueConfig")
            .field("url", &"[redacted]")
            .field("stream", &self.stream)
            .field("subject", &self.subject)
            .field("dead_subject", &self.dead_subject)
            .field("consumer", &self.consumer)
            .field("lease", &self.lease)
            .field("block", &self.block)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl NatsQueueConfig {
    /// Settings for the server at `url`, other fields at their defaults.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the stream. Default `STEADFAST_EVENTS`.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// Sets the events' subject. Default `steadfast.events`.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the dead letters' subject. Default `steadfast.dead`.
    #[must_use]
    pub fn dead_subject(mut self, subject: impl Into<String>) -> Self {
        self.dead_subject = subject.into();
        self
    }

    /// Sets the durable consumer's name. Default `steadfast-workers`.
    #[must_use]
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = consumer.into();
        self
    }

    /// Sets the lease (ack wait). Default 60 s.
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

    /// Sets the connect and request limit. Default 2 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

//! The worker's settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::retry::{Backoff, Jitter};

/// Settings of a [`Worker`](super::Worker).
///
/// ```
/// use std::time::Duration;
/// use steadfast::flow::queue::WorkerConfig;
///
/// let config = WorkerConfig::default()
///     .concurrency(32)
///     .max_deliveries(5)
///     .backoff_max(Duration::from_secs(30));
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// The most events handled at once. Default 16.
    pub concurrency: usize,
    /// The most messages taken from the broker in one receive. Default 16.
    pub batch: usize,
    /// A message handed out more often than this is dead-lettered without being handled
    /// (it crashed every consumer that took it); one whose call is still not applied after
    /// this many deliveries is dead-lettered too. Default 10.
    pub max_deliveries: u32,
    /// The first redelivery delay of a message left for later; doubled per delivery,
    /// capped at `backoff_max`, fully jittered. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// The longest redelivery delay. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// The limit for each broker call, beyond the broker client's own. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub broker_timeout: Duration,
    /// The longest pause between tries while the broker is down (from 100 ms, doubled).
    /// Default 5 s.
    #[serde(with = "humantime_serde")]
    pub broker_backoff_max: Duration,
    /// The idempotency key of an event is `{key_prefix}-{message id}`. Name the queue
    /// here, so that two queues' ids never share a key. Default `event`.
    pub key_prefix: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            batch: 16,
            max_deliveries: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            broker_timeout: Duration::from_secs(10),
            broker_backoff_max: Duration::from_secs(5),
            key_prefix: "event".to_owned(),
        }
    }
}

impl WorkerConfig {
    /// Sets the most events handled at once. Default 16.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets the most messages taken in one receive. Default 16.
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Sets the most deliveries of one message. Default 10.
    #[must_use]
    pub fn max_deliveries(mut self, max: u32) -> Self {
        self.max_deliveries = max;
        self
    }

    /// Sets the first redelivery delay. Default 1 s.
    #[must_use]
    pub fn backoff_base(mut self, base: Duration) -> Self {
        self.backoff_base = base;
        self
    }

    /// Sets the longest redelivery delay. Default 60 s.
    #[must_use]
    pub fn backoff_max(mut self, max: Duration) -> Self {
        self.backoff_max = max;
        self
    }

    /// Sets the limit for each broker call. Default 10 s.
    #[must_use]
    pub fn broker_timeout(mut self, limit: Duration) -> Self {
        self.broker_timeout = limit;
        self
    }

    /// Sets the longest pause while the broker is down. Default 5 s.
    #[must_use]
    pub fn broker_backoff_max(mut self, max: Duration) -> Self {
        self.broker_backoff_max = max;
        self
    }

    /// Sets the idempotency key prefix. Default `event`.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The redelivery backoff, after checking the settings.
    pub(crate) fn validate(&self) -> Result<Backoff, ConfigError> {
        if self.concurrency == 0 || self.batch == 0 || self.max_deliveries == 0 {
            return Err(ConfigError::Invalid {
                name: "worker concurrency, batch and max_deliveries",
                value: "0".to_owned(),
            });
        }
        if self.broker_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "worker broker_timeout",
            });
        }
        let key_ok = !self.key_prefix.is_empty()
            && self.key_prefix.len() <= 64
            && self
                .key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !key_ok {
            return Err(ConfigError::Invalid {
                name: "worker key_prefix",
                value: self.key_prefix.clone(),
            });
        }
        Backoff::new(self.backoff_base, self.backoff_max, Jitter::Full)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::WorkerConfig;

    #[test]
    fn invalid_settings_are_typed_errors() {
        assert!(WorkerConfig::default().validate().is_ok());
        for bad in [
            WorkerConfig::default().concurrency(0),
            WorkerConfig::default().batch(0),
            WorkerConfig::default().max_deliveries(0),
            WorkerConfig::default().broker_timeout(Duration::ZERO),
            WorkerConfig::default().key_prefix(""),
            WorkerConfig::default().key_prefix("with space"),
            WorkerConfig::default().backoff_base(Duration::from_secs(120)),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}

//! Settings of the dead-letter layer.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Which failed calls become letters, and the bounds of what a letter keeps.
///
/// Every field has a default; a [`ClientConfig`](crate::ClientConfig) turns dead letters on
/// with `dead_letter: Some(..)` (a [`MemorySink`](super::MemorySink) unless the builder is
/// given a sink) or with [`ClientBuilder::dead_letter_sink`](crate::ClientBuilder::dead_letter_sink).
///
/// ```
/// use std::time::Duration;
/// use steadfast::dead_letter::DeadLetterConfig;
///
/// let config = DeadLetterConfig::default()
///     .idempotent_methods(true)
///     .max_body_bytes(64 * 1024)
///     .record_timeout(Duration::from_millis(500));
/// # let _ = config;
/// let config: DeadLetterConfig = serde_json::from_str(r#"{ "record_timeout": "250ms" }"#)?;
/// assert_eq!(config.record_timeout, Duration::from_millis(250));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// Also record failed calls with an idempotent method (GET, HEAD, PUT, DELETE…) that
    /// ended not applied; unknown outcomes are recorded whatever the method. Default `false`.
    pub idempotent_methods: bool,
    /// The largest request body kept for replay; a larger one makes a letter that cannot be
    /// replayed. Default 256 KiB.
    pub max_body_bytes: usize,
    /// The most bytes of the last response's body a letter keeps (redacted). Default 16 KiB.
    pub max_response_bytes: usize,
    /// How long the layer reads the last response's body for the letter. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub response_read_timeout: Duration,
    /// How long the layer waits for the sink to store a letter before the call's error is
    /// returned anyway (the letter is then counted as a sink error). Default 2 s.
    #[serde(with = "humantime_serde")]
    pub record_timeout: Duration,
    /// How long a replayer's claim on a letter lasts; another may take it over after.
    /// Default 5 min.
    #[serde(with = "humantime_serde")]
    pub replay_lease: Duration,
    /// The capacity of the in-memory sink used when no sink is given. Default 10,000.
    pub memory_capacity: usize,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        Self {
            idempotent_methods: false,
            max_body_bytes: 256 * 1024,
            max_response_bytes: 16 * 1024,
            response_read_timeout: Duration::from_secs(1),
            record_timeout: Duration::from_secs(2),
            replay_lease: Duration::from_secs(300),
            memory_capacity: super::sink::DEFAULT_CAPACITY,
        }
    }
}

impl DeadLetterConfig {
    /// Sets whether failed calls with idempotent methods are recorded too. Default `false`.
    #[must_use]
    pub fn idempotent_methods(mut self, record: bool) -> Self {
        self.idempotent_methods = record;
        self
    }

    /// Sets the largest request body kept for replay. Default 256 KiB.
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets the most bytes of the last response's body kept. Default 16 KiB.
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Sets how long the last response's body is read for. Default 1 s.
    #[must_use]
    pub fn response_read_timeout(mut self, limit: Duration) -> Self {
        self.response_read_timeout = limit;
        self
    }

    /// Sets how long storing a letter may hold the call's error. Default 2 s.
    #[must_use]
    pub fn record_timeout(mut self, limit: Duration) -> Self {
        self.record_timeout = limit;
        self
    }

    /// Sets how long a replayer's claim lasts. Default 5 min.
    #[must_use]
    pub fn replay_lease(mut self, lease: Duration) -> Self {
        self.replay_lease = lease;
        self
    }

    /// Sets the capacity of the default in-memory sink. Default 10,000.
    #[must_use]
    pub fn memory_capacity(mut self, capacity: usize) -> Self {
        self.memory_capacity = capacity;
        self
    }

    /// Checks the settings.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("dead_letter.record_timeout", self.record_timeout),
            ("dead_letter.replay_lease", self.replay_lease),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration { name });
            }
        }
        Ok(())
    }
}

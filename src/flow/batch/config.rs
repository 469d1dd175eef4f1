//! When a batch is full, and how long it waits to fill.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// When a [`Batcher`](super::Batcher) sends a batch: at `max_records` records, before the
/// body would pass `max_bytes`, or `linger` after the batch's first record arrived.
///
/// ```
/// use std::time::Duration;
/// use steadfast::flow::BatchConfig;
///
/// let config: BatchConfig = serde_json::from_str(r#"{ "max_records": 500, "linger": "250ms" }"#)?;
/// assert_eq!(
///     config,
///     BatchConfig::default().max_records(500).linger(Duration::from_millis(250))
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Records in one bulk call at most. Default 100.
    pub max_records: usize,
    /// Bytes of one bulk call's body (the JSON array) at most; a single record larger than
    /// this is sent alone. Default 1 MiB.
    pub max_bytes: usize,
    /// How long a batch waits for more records after its first arrived. Default 100 ms.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    /// Bytes of a bulk response's body read at most. Default 16 MiB.
    pub max_response_bytes: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_records: 100,
            max_bytes: 1024 * 1024,
            linger: Duration::from_millis(100),
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

impl BatchConfig {
    /// Sets the records of one bulk call at most. Default 100.
    #[must_use]
    pub fn max_records(mut self, max_records: usize) -> Self {
        self.max_records = max_records;
        self
    }

    /// Sets the bytes of one bulk call's body at most. Default 1 MiB.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets how long a batch waits for more records. Default 100 ms; zero sends what is
    /// ready at once.
    #[must_use]
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets the bytes of a bulk response's body read at most. Default 16 MiB.
    #[must_use]
    pub fn max_response_bytes(mut self, max_response_bytes: usize) -> Self {
        self.max_response_bytes = max_response_bytes;
        self
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("max_records", self.max_records),
            ("max_bytes", self.max_bytes),
            ("max_response_bytes", self.max_response_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::OutOfRange {
                    name,
                    range: ">= 1",
                    value: 0.0,
                });
            }
        }
        Ok(())
    }
}

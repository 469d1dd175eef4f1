use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// How many good responses are kept for stale-if-error, and how old one may be served.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::stale::StaleConfig;
///
/// let config = StaleConfig::default().max_age(Duration::from_secs(600)).max_entries(200);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaleConfig {
    /// The oldest response served stale. Default 5 min.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Responses kept at most (the oldest goes first). Default 1,000.
    pub max_entries: usize,
    /// Body bytes kept at most, all entries together. Default 16 MiB.
    pub max_bytes: usize,
    /// The largest body kept; larger ones, and bodies of unknown length, are not kept.
    /// Default 256 KiB.
    pub max_entry_bytes: usize,
    /// The longest the layer reads a body it would keep; a slower body is handed on as it
    /// comes and not kept. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub max_read: Duration,
}

impl Default for StaleConfig {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_entries: 1_000,
            max_bytes: 16 * 1024 * 1024,
            max_entry_bytes: 256 * 1024,
            max_read: Duration::from_secs(5),
        }
    }
}

impl StaleConfig {
    /// Sets the oldest response served stale. Default 5 min.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Sets the responses kept at most. Default 1,000.
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// Sets the body bytes kept at most. Default 16 MiB.
    #[must_use]
    pub fn max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// Sets the largest body kept. Default 256 KiB.
    #[must_use]
    pub fn max_entry_bytes(mut self, max: usize) -> Self {
        self.max_entry_bytes = max;
        self
    }

    /// Sets the longest read of a body to keep. Default 5 s.
    #[must_use]
    pub fn max_read(mut self, max_read: Duration) -> Self {
        self.max_read = max_read;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (name, duration) in [
            ("stale_if_error.max_age", self.max_age),
            ("stale_if_error.max_read", self.max_read),
        ] {
            if duration.is_zero() {
                return Err(ConfigError::ZeroDuration { name });
            }
        }
        if self.max_entries == 0 {
            return Err(ConfigError::Invalid {
                name: "stale_if_error.max_entries",
                value: "0".to_owned(),
            });
        }
        if self.max_entry_bytes > self.max_bytes {
            return Err(ConfigError::Invalid {
                name: "stale_if_error.max_entry_bytes",
                value: format!(
                    "{}, above max_bytes {}",
                    self.max_entry_bytes, self.max_bytes
                ),
            });
        }
        Ok(())
    }
}

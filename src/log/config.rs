use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::redact::RedactConfig;

/// Settings of the log layer; every field has a default.
///
/// # Example
///
/// ```
/// use steadfast::log::{BodyCapture, LogConfig};
/// use steadfast::redact::RedactConfig;
///
/// let config = LogConfig::default()
///     .redact(RedactConfig::default().header("X-Partner-Pin"))
///     .bodies(BodyCapture::default().request(true).response(true));
/// # let _ = config;
///
/// let config: LogConfig = serde_json::from_str(
///     r#"{ "redact": { "json_fields": ["iban"] }, "bodies": { "response": true, "max_bytes": 1024 } }"#,
/// )?;
/// assert_eq!(config.bodies.max_bytes, 1024);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Names masked besides the built-in lists. Default none.
    pub redact: RedactConfig,
    /// Which bodies are logged. Default none.
    pub bodies: BodyCapture,
}

impl LogConfig {
    /// Sets the extra names to mask. Default none.
    #[must_use]
    pub fn redact(mut self, redact: RedactConfig) -> Self {
        self.redact = redact;
        self
    }

    /// Sets which bodies are logged. Default none.
    #[must_use]
    pub fn bodies(mut self, bodies: BodyCapture) -> Self {
        self.bodies = bodies;
        self
    }
}

/// Which request and response bodies the log layer adds to its events, redacted and capped.
///
/// Off by default. When on, bodies go into the `gave up` event of failed calls, and with
/// [`on_success`](Self::on_success) into the `call succeeded` event too.
///
/// # Cost
///
/// A buffered request body is copied (up to 1 MiB) when the call starts. A response body is
/// read whole before the call returns, then handed to the caller unchanged (status,
/// headers, extensions, URL and bytes): a huge or slow response is buffered in memory. A
/// streaming request body is not captured.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BodyCapture {
    /// Log request bodies. Default `false`.
    pub request: bool,
    /// Log response bodies. Default `false`.
    pub response: bool,
    /// Log bodies of successful calls too, not only of failed ones. Default `false`.
    pub on_success: bool,
    /// The most bytes of a body shown in a log line. Default 4096.
    pub max_bytes: usize,
}

impl Default for BodyCapture {
    fn default() -> Self {
        Self {
            request: false,
            response: false,
            on_success: false,
            max_bytes: 4096,
        }
    }
}

impl BodyCapture {
    /// Logs request bodies. Default `false`.
    #[must_use]
    pub fn request(mut self, request: bool) -> Self {
        self.request = request;
        self
    }

    /// Logs response bodies. Default `false`.
    #[must_use]
    pub fn response(mut self, response: bool) -> Self {
        self.response = response;
        self
    }

    /// Logs bodies of successful calls too. Default `false`.
    #[must_use]
    pub fn on_success(mut self, on_success: bool) -> Self {
        self.on_success = on_success;
        self
    }

    /// Sets the most bytes of a body shown in a log line. Default 4096.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_bytes == 0 {
            return Err(ConfigError::OutOfRange {
                name: "log.bodies.max_bytes",
                range: "1 or more",
                value: 0.0,
            });
        }
        Ok(())
    }
}

use std::time::Duration;

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
/// # Cost and bounds
///
/// A buffered request body is copied (up to 1 MiB) when the call starts; a streaming request
/// body is not captured. Of a response body, the log layer reads at most
/// [`max_bytes`](Self::max_bytes) and one byte more (to know the body goes on), and only
/// for [`read_timeout`](Self::read_timeout) and never past the call's deadline (see
/// [`LogLayer::call_deadline`](super::LogLayer::call_deadline)): a huge body is not
/// buffered and a slow one does not hold the call, whose log line then says the body was
/// not read in time. The caller gets the same response (status, headers, extensions, URL)
/// with its whole body: the bytes read for the log, then the rest as it arrives, or the
/// error the read met.
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
    /// The longest the layer waits for the start of a response body it shows, from when the
    /// response arrives. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
}

impl Default for BodyCapture {
    fn default() -> Self {
        Self {
            request: false,
            response: false,
            on_success: false,
            max_bytes: 4096,
            read_timeout: Duration::from_secs(10),
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

    /// Sets the longest wait for the start of a response body to show, from when the
    /// response arrives. Default 10 s.
    #[must_use]
    pub fn read_timeout(mut self, read_timeout: Duration) -> Self {
        self.read_timeout = read_timeout;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.read_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "log.bodies.read_timeout",
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_timeout_is_text_and_must_not_be_zero() {
        let bodies: BodyCapture =
            serde_json::from_str(r#"{ "response": true, "read_timeout": "250ms" }"#)
                .expect("valid");
        assert_eq!(bodies.read_timeout, Duration::from_millis(250));
        assert_eq!(BodyCapture::default().read_timeout, Duration::from_secs(10));
        let zero = BodyCapture::default().read_timeout(Duration::ZERO);
        assert!(matches!(
            zero.validate(),
            Err(ConfigError::ZeroDuration {
                name: "log.bodies.read_timeout"
            })
        ));
    }
}

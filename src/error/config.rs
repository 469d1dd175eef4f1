//! Invalid configuration, reported when a layer or client is built.

use std::time::Duration;

/// An invalid configuration value, reported when a layer or client is built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `base_delay` is greater than `max_delay`.
    #[error("retry base_delay ({base:?}) is greater than max_delay ({max:?})")]
    #[non_exhaustive]
    BaseAboveMax {
        /// The configured base delay.
        base: Duration,
        /// The configured maximum delay.
        max: Duration,
    },
    /// A number that must be finite and within a range is not.
    #[error("{name} must be a finite number in {range}, got {value}")]
    #[non_exhaustive]
    OutOfRange {
        /// The setting's name.
        name: &'static str,
        /// The allowed range, as text.
        range: &'static str,
        /// The configured value.
        value: f64,
    },
    /// A duration that must not be zero is zero.
    #[error("{name} must be greater than zero")]
    #[non_exhaustive]
    ZeroDuration {
        /// The setting's name.
        name: &'static str,
    },
    /// A value is not one the setting accepts.
    #[error("{name} has an invalid value: {value:?}")]
    #[non_exhaustive]
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// The configured value.
        value: String,
    },
    /// A header name is not a valid HTTP header name.
    #[error("{name} is not a valid header name: {value:?}")]
    #[non_exhaustive]
    HeaderName {
        /// The setting's name.
        name: &'static str,
        /// The configured value.
        value: String,
    },
}

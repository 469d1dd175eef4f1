use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// When a circuit opens, for how long, and how it closes again.
///
/// The defaults sit between the two references users compare with. Polly's standard HTTP
/// pipeline trips at a 10 % failure ratio over 30 s with at least 100 calls and breaks for
/// 5 s; resilience4j at 50 % over its last 100 calls, waits 60 s and lets 10 calls through
/// half-open. steadfast takes:
///
/// | setting | default | why |
/// |---|---|---|
/// | `failure_ratio` | 0.5 | the retry layer above already absorbs a 10 % fault rate (DESIGN §3 asks ≥ 99.9 % success there): tripping at 10 % would fail calls retries would have saved |
/// | `window` | 10 s | under steady traffic a full outage trips the circuit after `failure_ratio` × `window` (the failures must outweigh the window's earlier successes): 5 s, near Polly's 3 s (10 % × 30 s), where 30 s at 50 % would take 15 s |
/// | `minimum_calls` | 20 | integrations often run at a few calls a second: with Polly's 100 a host at 5 calls/s would never trip; at a 10 % fault rate 20 calls reach 50 % failed with a chance of about 10⁻⁵ |
/// | `break_duration` | 5 s | Polly's: short enough that a blip costs little |
/// | `max_break` | 60 s | resilience4j's wait; also the crate's cap on server hints, so `Retry-After` on a 503 opens for at most this |
/// | `half_open_probes` | 3 | between Polly's one and resilience4j's ten: one lucky probe should not close a flapping circuit |
///
/// The break doubles on every trip without a close in between (a probe that fails), up to
/// `max_break`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::breaker::CircuitBreakerConfig;
///
/// let config = CircuitBreakerConfig::default()
///     .failure_ratio(0.25)
///     .minimum_calls(50)
///     .break_duration(Duration::from_secs(10));
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// The share of counted calls that failed, over `window`, at which the circuit opens
    /// (in `(0, 1]`). Default 0.5.
    pub failure_ratio: f64,
    /// How far back calls are counted (a sliding window of ten buckets). Default 10 s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How many counted calls the window must hold before the ratio can open the circuit.
    /// Default 20.
    pub minimum_calls: u32,
    /// How long the circuit stays open after its first trip. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub break_duration: Duration,
    /// The longest break, however often it trips, and the longest `Retry-After` on a 503
    /// honoured. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub max_break: Duration,
    /// How many calls a half-open circuit lets through; all must succeed to close it, one
    /// failure opens it again. Default 3.
    pub half_open_probes: u32,
    /// How many keys (origins) have a circuit at most; beyond it, idle circuits are
    /// evicted (but the first origin's, which is kept to be found fastest), and a key that
    /// finds no room is not guarded. Default 1024.
    pub max_keys: usize,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_ratio: 0.5,
            window: Duration::from_secs(10),
            minimum_calls: 20,
            break_duration: Duration::from_secs(5),
            max_break: Duration::from_secs(60),
            half_open_probes: 3,
            max_keys: 1024,
        }
    }
}

impl CircuitBreakerConfig {
    /// Sets the failure ratio that opens the circuit. Default 0.5.
    #[must_use]
    pub fn failure_ratio(mut self, ratio: f64) -> Self {
        self.failure_ratio = ratio;
        self
    }

    /// Sets how far back calls are counted. Default 10 s.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets the calls the window must hold before it can open the circuit. Default 20.
    #[must_use]
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// Sets the first break. Default 5 s.
    #[must_use]
    pub fn break_duration(mut self, duration: Duration) -> Self {
        self.break_duration = duration;
        self
    }

    /// Sets the longest break. Default 60 s.
    #[must_use]
    pub fn max_break(mut self, duration: Duration) -> Self {
        self.max_break = duration;
        self
    }

    /// Sets how many probes a half-open circuit lets through. Default 3.
    #[must_use]
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.half_open_probes = probes;
        self
    }

    /// Sets how many keys have a circuit at most. Default 1024.
    #[must_use]
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            return Err(ConfigError::OutOfRange {
                name: "breaker.failure_ratio",
                range: "(0, 1]",
                value: self.failure_ratio,
            });
        }
        for (name, duration) in [
            ("breaker.window", self.window),
            ("breaker.break_duration", self.break_duration),
            ("breaker.max_break", self.max_break),
        ] {
            if duration.is_zero() {
                return Err(ConfigError::ZeroDuration { name });
            }
        }
        if self.max_break < self.break_duration {
            return Err(ConfigError::Invalid {
                name: "breaker.max_break",
                value: format!(
                    "{:?}, shorter than break_duration {:?}",
                    self.max_break, self.break_duration
                ),
            });
        }
        for (name, value) in [
            ("breaker.minimum_calls", self.minimum_calls),
            ("breaker.half_open_probes", self.half_open_probes),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    value: "0".to_owned(),
                });
            }
        }
        if self.max_keys == 0 {
            return Err(ConfigError::Invalid {
                name: "breaker.max_keys",
                value: "0".to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_bad_values_are_typed_errors() {
        assert_eq!(CircuitBreakerConfig::default().validate(), Ok(()));
        let bad = [
            CircuitBreakerConfig::default().failure_ratio(0.0),
            CircuitBreakerConfig::default().failure_ratio(1.5),
            CircuitBreakerConfig::default().failure_ratio(f64::NAN),
            CircuitBreakerConfig::default().window(Duration::ZERO),
            CircuitBreakerConfig::default().break_duration(Duration::ZERO),
            CircuitBreakerConfig::default().max_break(Duration::from_secs(1)),
            CircuitBreakerConfig::default().minimum_calls(0),
            CircuitBreakerConfig::default().half_open_probes(0),
            CircuitBreakerConfig::default().max_keys(0),
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }

    #[test]
    fn reads_from_a_file() {
        let config: CircuitBreakerConfig =
            serde_json::from_str(r#"{ "failure_ratio": 0.2, "break_duration": "10s" }"#)
                .expect("valid");
        assert_eq!(config.break_duration, Duration::from_secs(10));
        assert!(serde_json::from_str::<CircuitBreakerConfig>(r#"{ "ratio": 1 }"#).is_err());
    }
}

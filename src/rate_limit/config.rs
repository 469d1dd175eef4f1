use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

const MAX_DEPTH: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How many requests a key may make per period, and how many at once.
///
/// A GCRA token bucket: one permit comes back every `per / rate`, and at most `burst` can
/// be saved up. Over any stretch of time `d` a key is sent at most
/// `burst + rate × d / per` requests.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::rate_limit::Quota;
///
/// let orders_api = Quota::per_second(50).burst(5);
/// let crm = Quota::per_minute(600);
/// let billing = Quota::per(100, Duration::from_secs(10));
/// # let _ = (orders_api, crm, billing);
/// ```
///
/// In a file, the period is text: `{ "rate": 50, "per": "1s", "burst": 5 }`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests allowed per `per`.
    pub rate: u32,
    /// The period `rate` is counted over.
    #[serde(with = "humantime_serde")]
    pub per: Duration,
    /// How many requests may go at once after a quiet spell. Default `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Quota {
    /// `rate` requests per second, bursting to `rate`.
    #[must_use]
    pub fn per_second(rate: u32) -> Self {
        Self::per(rate, Duration::from_secs(1))
    }

    /// `rate` requests per minute, bursting to `rate`.
    #[must_use]
    pub fn per_minute(rate: u32) -> Self {
        Self::per(rate, Duration::from_secs(60))
    }

    /// `rate` requests per hour, bursting to `rate`.
    #[must_use]
    pub fn per_hour(rate: u32) -> Self {
        Self::per(rate, Duration::from_secs(60 * 60))
    }

    /// `rate` requests per `period`, bursting to `rate`.
    #[must_use]
    pub fn per(rate: u32, period: Duration) -> Self {
        Self {
            rate,
            per: period,
            burst: None,
        }
    }

    /// Sets how many requests may go at once. Default `rate`.
    #[must_use]
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The time between two permits: `per / rate`, rounded up to the nanosecond so that
    /// the limit is never exceeded.
    pub(crate) fn interval(&self) -> Duration {
        let nanos = self.per.as_nanos().div_ceil(u128::from(self.rate.max(1)));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The schedule's parameters, or the first invalid setting; `field` names where it is
    /// configured (`"rate_limit.quota"`, `"rate_limit.hosts"`).
    pub(crate) fn to_params(self, field: Field) -> Result<Params, ConfigError> {
        let names = field.names();
        let zero = |name: &'static str| ConfigError::OutOfRange {
            name,
            range: "1..=4294967295",
            value: 0.0,
        };
        let rate = NonZeroU32::new(self.rate).ok_or_else(|| zero(names[0]))?;
        let burst =
            NonZeroU32::new(self.burst.unwrap_or(rate.get())).ok_or_else(|| zero(names[1]))?;
        if self.per.is_zero() {
            return Err(ConfigError::ZeroDuration { name: names[2] });
        }
        // The bucket's depth (interval × burst) is kept in u64 nanoseconds with room to
        // spare; a quota deeper than 100 years is a mistake, not a quota.
        let depth = self.interval().as_nanos() * u128::from(burst.get());
        if depth > MAX_DEPTH.as_nanos() {
            return Err(ConfigError::OutOfRange {
                name: names[2],
                range: "per / rate × burst up to 100 years",
                value: self.per.as_secs_f64(),
            });
        }
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Ok(Params {
            interval: nanos(self.interval()),
            burst: burst.get(),
            per: nanos(self.per),
        })
    }
}

/// A validated quota as the schedule runs it, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Params {
    /// Between two permits; never zero.
    pub(crate) interval: u64,
    pub(crate) burst: u32,
    /// The period the rate is counted over: the window a server-stated limit without one
    /// is read in.
    pub(crate) per: u64,
}

/// Where a quota is configured, to name it in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    Quota,
    Hosts,
}

impl Field {
    fn names(self) -> [&'static str; 3] {
        match self {
            Self::Quota => [
                "rate_limit.quota.rate",
                "rate_limit.quota.burst",
                "rate_limit.quota.per",
            ],
            Self::Hosts => [
                "rate_limit.hosts.*.rate",
                "rate_limit.hosts.*.burst",
                "rate_limit.hosts.*.per",
            ],
        }
    }
}

/// What a caller does when no permit is free.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitMode {
    /// Wait for a permit, up to `max_wait`; beyond that fail with
    /// [`Error::RateLimited`](crate::Error::RateLimited) without sending. The default.
    #[default]
    Wait,
    /// Never wait: fail with [`Error::RateLimited`](crate::Error::RateLimited) at once.
    FailFast,
}

/// Settings of the rate limiter: a default quota per key, per-host overrides, and what to
/// do when no permit is free.
///
/// There is no default quota: only you know your API's.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::rate_limit::{Quota, RateLimitConfig};
///
/// let config = RateLimitConfig::new(Quota::per_second(10))
///     .host("api.stripe.com", Quota::per_second(25).burst(5))
///     .max_wait(Duration::from_secs(5));
/// # let _ = config;
/// ```
///
/// From a file or environment, durations are text and misspelt settings are errors:
///
/// ```
/// let config: steadfast::rate_limit::RateLimitConfig = serde_json::from_str(
///     r#"{
///         "quota": { "rate": 600, "per": "1m" },
///         "hosts": { "crm.example.com": { "rate": 50, "per": "1s", "burst": 5 } },
///         "max_wait": "10s",
///         "mode": "wait"
///     }"#,
/// )?;
/// assert_eq!(config.quota.rate, 600);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// The quota of every key without an override.
    pub quota: Quota,
    /// Quotas for particular hosts, by `host` or `host:port` (which wins). Default none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, Quota>,
    /// What a caller does when no permit is free. Default [`RateLimitMode::Wait`].
    #[serde(default)]
    pub mode: RateLimitMode,
    /// The longest a call waits for a permit in `Wait` mode; a call that would wait longer
    /// fails at once with [`Error::RateLimited`](crate::Error::RateLimited). Default 30 s.
    #[serde(default = "defaults::max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
    /// Random extra wait, up to this much, when a key paused by the server resumes, so that
    /// callers (and other processes told the same reset) do not all fire at that instant.
    /// Default 100 ms.
    #[serde(default = "defaults::jitter", with = "humantime_serde")]
    pub jitter: Duration,
    /// Whether responses adjust the limiter: a 429, or a spent quota with a reset, pauses
    /// every caller on the key until the server's reset. Default `true`.
    #[serde(default = "defaults::adaptive")]
    pub adaptive: bool,
    /// The pause after a 429 that names no time (no `Retry-After`, no reset). Default 1 s.
    #[serde(default = "defaults::pause_without_hint", with = "humantime_serde")]
    pub pause_without_hint: Duration,
    /// The longest a server's hint pauses a key (`Retry-After`, a `RateLimit` or
    /// `X-RateLimit-Reset` reset, `pause_without_hint`). A longer hint pauses the key for
    /// this long only, logged at WARN once per key and pause: a server's
    /// `Retry-After: 86400` must not stop every call for a day. Must not be zero (turn
    /// `adaptive` off instead). Default 60 s, the retry layer's `max_retry_after`.
    #[serde(default = "defaults::max_pause", with = "humantime_serde")]
    pub max_pause: Duration,
    /// Whether a server's `remaining` and reset pace the key: what remains is spread over
    /// the time to the reset (no bursts) instead of being spent at once and then waited
    /// for. Default `true`.
    #[serde(default = "defaults::enabled")]
    pub pacing: bool,
    /// Whether a limit the server states (`RateLimit-Policy`, `RateLimit-Limit`,
    /// `X-RateLimit-Limit`) replaces the configured quota of its key: `limit` per the
    /// policy's window, or per the configured quota's period when the server names none
    /// (then only when that is slower than the configured quota), with the configured
    /// burst at most. Logged at INFO when it changes. Default `true`.
    #[serde(default = "defaults::enabled")]
    pub server_limits: bool,
    /// How long a key may go unused before its state is dropped: keys are swept when a new
    /// key is made, at most once per half of this, so a key goes between one and one and a
    /// half timeouts after its bucket refilled. A paused key or one a call is using stays.
    /// Must not be zero. Default 10 min.
    #[serde(default = "defaults::idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The most keys kept; past it the longest unused keys are dropped first, idle or not
    /// (a key a call is using is never dropped). Default 10,000.
    #[serde(default = "defaults::max_keys")]
    pub max_keys: usize,
}

mod defaults {
    use std::time::Duration;

    pub(super) fn max_wait() -> Duration {
        Duration::from_secs(30)
    }

    pub(super) fn jitter() -> Duration {
        Duration::from_millis(100)
    }

    pub(super) fn adaptive() -> bool {
        true
    }

    pub(super) fn pause_without_hint() -> Duration {
        Duration::from_secs(1)
    }

    pub(super) fn max_pause() -> Duration {
        crate::hints::DEFAULT_MAX_WAIT
    }

    pub(super) fn enabled() -> bool {
        true
    }

    pub(super) fn idle_timeout() -> Duration {
        Duration::from_secs(10 * 60)
    }

    pub(super) fn max_keys() -> usize {
        10_000
    }
}

impl RateLimitConfig {
    /// A configuration with `quota` for every key and the other settings at their defaults.
    #[must_use]
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            hosts: BTreeMap::new(),
            mode: RateLimitMode::default(),
            max_wait: defaults::max_wait(),
            jitter: defaults::jitter(),
            adaptive: defaults::adaptive(),
            pause_without_hint: defaults::pause_without_hint(),
            max_pause: defaults::max_pause(),
            pacing: defaults::enabled(),
            server_limits: defaults::enabled(),
            idle_timeout: defaults::idle_timeout(),
            max_keys: defaults::max_keys(),
        }
    }

    /// Sets the quota of every key without an override.
    #[must_use]
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = quota;
        self
    }

    /// Gives `host` (`api.example.com`, or `api.example.com:8443` for one port) its own
    /// quota. Default none.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>, quota: Quota) -> Self {
        self.hosts.insert(host.into(), quota);
        self
    }

    /// Sets what a caller does when no permit is free. Default [`RateLimitMode::Wait`].
    #[must_use]
    pub fn mode(mut self, mode: RateLimitMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the longest wait for a permit. Default 30 s.
    #[must_use]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets the random extra wait when a paused key resumes. Default 100 ms.
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets whether responses adjust the limiter. Default `true`.
    #[must_use]
    pub fn adaptive(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Sets the pause after a 429 that names no time. Default 1 s.
    #[must_use]
    pub fn pause_without_hint(mut self, pause: Duration) -> Self {
        self.pause_without_hint = pause;
        self
    }

    /// Sets the longest a server's hint pauses a key. Default 60 s.
    #[must_use]
    pub fn max_pause(mut self, max_pause: Duration) -> Self {
        self.max_pause = max_pause;
        self
    }

    /// Turns proactive pacing from `remaining` and reset off. Default on.
    #[must_use]
    pub fn without_pacing(mut self) -> Self {
        self.pacing = false;
        self
    }

    /// Keeps the configured quotas whatever limit a server states. Default: a stated limit
    /// replaces its key's quota.
    #[must_use]
    pub fn without_server_limits(mut self) -> Self {
        self.server_limits = false;
        self
    }

    /// Sets how long a key may go unused before its state is dropped. Default 10 min.
    #[must_use]
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets the most keys kept. Default 10,000.
    #[must_use]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Checks every quota and duration, so that a bad one fails at build time.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_pause.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "rate_limit.max_pause",
            });
        }
        if self.idle_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "rate_limit.idle_timeout",
            });
        }
        if self.max_keys == 0 {
            return Err(ConfigError::OutOfRange {
                name: "rate_limit.max_keys",
                range: "1..",
                value: 0.0,
            });
        }
        self.quota.to_params(Field::Quota)?;
        for quota in self.hosts.values() {
            quota.to_params(Field::Hosts)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_up() {
        assert_eq!(Quota::per_second(50).interval(), Duration::from_millis(20));
        assert_eq!(
            Quota::per_second(3).interval(),
            Duration::from_nanos(333_333_334)
        );
        assert_eq!(
            Quota::per_hour(5_000).interval(),
            Duration::from_millis(720)
        );
    }

    #[test]
    fn bursts_default_to_the_rate() {
        let quota = Quota::per_second(50)
            .to_params(Field::Quota)
            .expect("valid");
        assert_eq!(quota.burst, 50);
        let quota = Quota::per_second(50)
            .burst(5)
            .to_params(Field::Quota)
            .expect("valid");
        assert_eq!(quota.burst, 5);
        assert_eq!(quota.interval, 20_000_000);
        assert_eq!(quota.per, 1_000_000_000);
    }

    #[test]
    fn invalid_quotas_are_typed_errors() {
        let cases = [
            Quota::per_second(0),
            Quota::per(10, Duration::ZERO),
            Quota::per_second(10).burst(0),
            Quota::per(10, Duration::MAX),
            Quota::per_hour(1).burst(u32::MAX),
        ];
        for quota in cases {
            let error = RateLimitConfig::new(quota).validate();
            assert!(error.is_err(), "{quota:?} accepted");
            let error = RateLimitConfig::new(Quota::per_second(1))
                .host("api.example.com", quota)
                .validate();
            assert!(error.is_err(), "{quota:?} accepted as an override");
        }
    }

    #[test]
    fn deserializes_with_defaults() {
        let config: RateLimitConfig =
            serde_json::from_str(r#"{ "quota": { "rate": 5, "per": "1s" } }"#).expect("valid");
        assert_eq!(config, RateLimitConfig::new(Quota::per_second(5)));
        let config: RateLimitConfig = serde_json::from_str(
            r#"{ "quota": { "rate": 5, "per": "1m", "burst": 2 }, "mode": "fail_fast",
                 "jitter": "0s", "adaptive": false, "pause_without_hint": "250ms",
                 "max_pause": "5m" }"#,
        )
        .expect("valid");
        assert_eq!(config.quota, Quota::per_minute(5).burst(2));
        assert_eq!(config.mode, RateLimitMode::FailFast);
        assert_eq!(config.jitter, Duration::ZERO);
        assert!(!config.adaptive);
        assert_eq!(config.pause_without_hint, Duration::from_millis(250));
        assert_eq!(config.max_pause, Duration::from_secs(300));
        let default = RateLimitConfig::new(Quota::per_second(5));
        assert_eq!(default.max_pause, Duration::from_secs(60));
        assert_eq!(
            default.max_pause(Duration::ZERO).validate(),
            Err(ConfigError::ZeroDuration {
                name: "rate_limit.max_pause"
            })
        );
    }

    #[test]
    fn rejects_unknown_and_missing_fields() {
        let misspelt = r#"{ "quota": { "rate": 5, "per": "1s" }, "max_wiat": "1s" }"#;
        assert!(serde_json::from_str::<RateLimitConfig>(misspelt).is_err());
        let no_quota = r#"{ "max_wait": "1s" }"#;
        assert!(serde_json::from_str::<RateLimitConfig>(no_quota).is_err());
        let bad_quota = r#"{ "quota": { "rate": 5, "per": "1s", "brust": 1 } }"#;
        assert!(serde_json::from_str::<RateLimitConfig>(bad_quota).is_err());
    }

    #[test]
    fn round_trips_through_serde() {
        let config = RateLimitConfig::new(Quota::per_minute(600))
            .host("crm.example.com", Quota::per_second(5).burst(1))
            .mode(RateLimitMode::FailFast);
        let text = serde_json::to_string(&config).expect("serializes");
        let back: RateLimitConfig = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, config);
    }
}

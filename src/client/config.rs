use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::{BulkheadConfig, CircuitBreakerConfig};
use crate::credentials::CredentialsConfig;
use crate::dead_letter::DeadLetterConfig;
use crate::idempotency::IdempotencyConfig;
use crate::log::LogConfig;
use crate::rate_limit::RateLimitConfig;
use crate::retry::RetryConfig;
use crate::stale::StaleConfig;

use super::switch;

/// Everything a [`Client`](super::Client) is built from, deserializable from a file or the
/// environment.
///
/// Read it from a TOML or JSON file with [`from_file`](Self::from_file), from
/// `STEADFAST_*` variables with [`from_env`](Self::from_env), or both layered over the
/// defaults with [`load`](Self::load); [`Profiles`](crate::Profiles) reads one per API
/// from one file.
///
/// # Example
///
/// ```
/// let config: steadfast::ClientConfig = serde_json::from_str(
///     r#"{
///         "attempt_timeout": "5s",
///         "retry": { "max_retries": 4, "base_delay": "200ms", "deadline": "45s" },
///         "rate_limit": {
///             "quota": { "rate": 50, "per": "1s", "burst": 5 },
///             "hosts": { "crm.example.com": { "rate": 600, "per": "1m" } }
///         }
///     }"#,
/// )?;
/// let client = steadfast::Client::from_config(reqwest::Client::new(), &config)?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
/// Every `Option` setting can be turned off in a file, where TOML has no `null`: `false` or
/// `"off"` (`breaker = false`, `attempt_timeout = "off"`); `true` turns a setting with
/// defaults on with them (`breaker = true`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Retry rules; `retry.deadline` also bounds the whole call (and, with
    /// [`deadline_covers_body`](Self::deadline_covers_body), the read of its body). Default
    /// [`RetryConfig::default`].
    pub retry: RetryConfig,
    /// Whether `retry.deadline` also bounds the caller's read of a successful response's
    /// body, as reqwest's own `timeout` does: a body still arriving at the deadline fails
    /// with a timeout error (see [`Deadline`](crate::timeout::Deadline)). It costs a few
    /// allocations per call. Default `true`.
    pub deadline_covers_body: bool,
    /// The limit of each attempt; a hung attempt becomes a transient failure. `false` or
    /// `"off"` in a file for none. Default 30 s.
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "switch::duration"
    )]
    pub attempt_timeout: Option<Duration>,
    /// Idempotency keys and the completed-key ledger; `None` turns them off. Its header name
    /// is also the one the retry layer trusts when `retry.server_dedupes` is on. Default
    /// [`IdempotencyConfig::default`].
    #[serde(deserialize_with = "switch::setting")]
    pub idempotency: Option<IdempotencyConfig>,
    /// Logging: extra names to redact and body capture. Default [`LogConfig::default`]
    /// (built-in redaction, no bodies).
    pub log: LogConfig,
    /// Rate limiting: a default quota per origin and per-host overrides; every attempt,
    /// retries included, takes a permit. `None` for no limit. Default `None`.
    #[serde(deserialize_with = "switch::required_table")]
    pub rate_limit: Option<RateLimitConfig>,
    /// Dead letters: failed and unknown calls recorded for replay. `None` keeps none, unless
    /// the builder is given a sink ([`ClientBuilder::dead_letter_sink`](crate::ClientBuilder::dead_letter_sink)),
    /// which turns them on with [`DeadLetterConfig::default`]; `Some` without a sink keeps
    /// them in memory. Default `None`: where letters go is the application's choice.
    #[serde(deserialize_with = "switch::setting")]
    pub dead_letter: Option<DeadLetterConfig>,
    /// Where each attempt's credentials come from (an environment variable, a file, an
    /// OAuth 2.0 token endpoint): names of secrets, never secrets. `None` for none; a
    /// provider given to [`ClientBuilder::credentials`](crate::ClientBuilder::credentials)
    /// replaces it. Default `None`.
    #[serde(deserialize_with = "switch::required_table")]
    pub credentials: Option<CredentialsConfig>,
    /// The URL that relative request URLs resolve against (`client.get("orders")`), an
    /// `http` or `https` URL whose path is a directory whether or not it ends with `/`;
    /// see [`IntoRequestUrl`](crate::IntoRequestUrl). Absolute URLs still go where they
    /// say. Default `None`: every request URL must be absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<reqwest::Url>,
    /// A circuit breaker per origin: calls to a host that keeps failing fail fast, not
    /// sent, until it recovers (see [`breaker`](crate::breaker)). `None` for none. Default
    /// `None`.
    #[serde(deserialize_with = "switch::setting")]
    pub breaker: Option<CircuitBreakerConfig>,
    /// A bound on concurrent attempts per origin, with a bounded queue. `None` for none.
    /// Default `None`.
    #[serde(deserialize_with = "switch::setting")]
    pub bulkhead: Option<BulkheadConfig>,
    /// Stale-if-error for GET and HEAD: the last good response per URL, served (marked
    /// [`Stale`](crate::stale::Stale)) when a call fails transiently or its circuit is
    /// open. `None` for none. Default `None`.
    #[serde(deserialize_with = "switch::setting")]
    pub stale_if_error: Option<StaleConfig>,
    /// Faults injected at the attempt level, for tests (feature `chaos`); see
    /// [`ClientBuilder::chaos`](crate::ClientBuilder::chaos), which takes precedence and
    /// keeps its draws and counts over a reload (a layer made from here starts afresh).
    /// `None` for none. Default `None`.
    #[cfg(feature = "chaos")]
    pub chaos: Option<crate::chaos::ChaosConfig>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            retry: RetryConfig::default(),
            deadline_covers_body: true,
            attempt_timeout: Some(Duration::from_secs(30)),
            idempotency: Some(IdempotencyConfig::default()),
            log: LogConfig::default(),
            rate_limit: None,
            dead_letter: None,
            credentials: None,
            base_url: None,
            breaker: None,
            bulkhead: None,
            stale_if_error: None,
            #[cfg(feature = "chaos")]
            chaos: None,
        }
    }
}

impl ClientConfig {
    /// Injects faults at the attempt level, for tests (feature `chaos`). Default `None`.
    #[cfg(feature = "chaos")]
    #[must_use]
    pub fn chaos(mut self, chaos: crate::chaos::ChaosConfig) -> Self {
        self.chaos = Some(chaos);
        self
    }

    /// Sets the retry rules. Default [`RetryConfig::default`].
    #[must_use]
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets whether the call's deadline also bounds the caller's read of a successful
    /// response's body. Default `true`.
    #[must_use]
    pub fn deadline_covers_body(mut self, covers: bool) -> Self {
        self.deadline_covers_body = covers;
        self
    }

    /// Sets the limit of each attempt. Default 30 s.
    #[must_use]
    pub fn attempt_timeout(mut self, limit: Duration) -> Self {
        self.attempt_timeout = Some(limit);
        self
    }

    /// Turns the limit of each attempt off: only the call's deadline bounds an attempt.
    /// Default on (30 s).
    #[must_use]
    pub fn without_attempt_timeout(mut self) -> Self {
        self.attempt_timeout = None;
        self
    }

    /// Sets idempotency keys and the ledger. Default [`IdempotencyConfig::default`].
    #[must_use]
    pub fn idempotency(mut self, idempotency: IdempotencyConfig) -> Self {
        self.idempotency = Some(idempotency);
        self
    }

    /// Turns idempotency keys and the ledger off: a key the caller sets is still sent.
    /// Default on.
    #[must_use]
    pub fn without_idempotency(mut self) -> Self {
        self.idempotency = None;
        self
    }

    /// Sets the logging configuration. Default [`LogConfig::default`].
    #[must_use]
    pub fn log(mut self, log: LogConfig) -> Self {
        self.log = log;
        self
    }

    /// Limits the rate of attempts: a default quota per origin and per-host overrides.
    /// Default: no limit.
    #[must_use]
    pub fn rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Turns rate limiting off. Default (off).
    #[must_use]
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// Records failed and unknown calls as dead letters. Default: off.
    #[must_use]
    pub fn dead_letter(mut self, dead_letter: DeadLetterConfig) -> Self {
        self.dead_letter = Some(dead_letter);
        self
    }

    /// Keeps no dead letters (a sink given to the builder turns them on again). Default
    /// (off).
    #[must_use]
    pub fn without_dead_letter(mut self) -> Self {
        self.dead_letter = None;
        self
    }

    /// Applies credentials from this source to every attempt; see
    /// [`credentials`](crate::credentials). Default: none.
    #[must_use]
    pub fn credentials(mut self, credentials: CredentialsConfig) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Applies no credentials. Default (none).
    #[must_use]
    pub fn without_credentials(mut self) -> Self {
        self.credentials = None;
        self
    }

    /// Sets the URL that relative request URLs resolve against; see
    /// [`base_url`](Self::base_url). Default: none.
    #[must_use]
    pub fn base_url(mut self, base_url: reqwest::Url) -> Self {
        self.base_url = Some(base_url);
        self
    }

    /// Forgets the base URL: every request URL must be absolute. Default (none).
    #[must_use]
    pub fn without_base_url(mut self) -> Self {
        self.base_url = None;
        self
    }

    /// Sets a circuit breaker per origin. Default: none.
    #[must_use]
    pub fn breaker(mut self, breaker: CircuitBreakerConfig) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Turns the circuit breaker off. Default (off).
    #[must_use]
    pub fn without_breaker(mut self) -> Self {
        self.breaker = None;
        self
    }

    /// Sets a bulkhead per origin. Default: none.
    #[must_use]
    pub fn bulkhead(mut self, bulkhead: BulkheadConfig) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Turns the bulkhead off. Default (off).
    #[must_use]
    pub fn without_bulkhead(mut self) -> Self {
        self.bulkhead = None;
        self
    }

    /// Serves the last good response of a GET or HEAD when a call fails transiently.
    /// Default: off.
    #[must_use]
    pub fn stale_if_error(mut self, stale: StaleConfig) -> Self {
        self.stale_if_error = Some(stale);
        self
    }

    /// Turns stale-if-error off. Default (off).
    #[must_use]
    pub fn without_stale_if_error(mut self) -> Self {
        self.stale_if_error = None;
        self
    }
}

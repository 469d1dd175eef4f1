use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BudgetConfig, HedgeConfig, Jitter};

/// Settings of the retry layer; every field has a production default.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry::{Jitter, RetryConfig};
///
/// let config = RetryConfig::default()
///     .max_retries(5)
///     .base_delay(Duration::from_millis(200))
///     .max_delay(Duration::from_secs(20))
///     .jitter(Jitter::Equal)
///     .deadline(Duration::from_secs(60));
/// # let _ = config;
/// ```
///
/// From a file or environment, durations are written as text:
///
/// ```
/// let config: steadfast::retry::RetryConfig = serde_json::from_str(
///     r#"{ "max_retries": 5, "base_delay": "250ms", "deadline": "1m", "jitter": "equal" }"#,
/// )?;
/// assert_eq!(config.max_retries, 5);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt. Default 3 (so at most 4 attempts).
    pub max_retries: u32,
    /// The first retry's exponential term. Default 100 ms.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The cap of the exponential term. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// How delays are randomised. Default [`Jitter::Full`].
    pub jitter: Jitter,
    /// The whole call's deadline, attempts and waits together: a retry whose delay would end
    /// past it fails at once with `retry_at`; the [`Client`](crate::Client) also cuts an
    /// attempt still running at the deadline. `None` for no deadline. Default 2 min.
    #[serde(with = "humantime_serde")]
    pub deadline: Option<Duration>,
    /// The longest server `Retry-After` that is honoured; a longer one ends the call with
    /// `retry_at` instead of sleeping. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// The retry budget; `None` turns it off. Default [`BudgetConfig::default`].
    pub budget: Option<BudgetConfig>,
    /// The idempotency key header: the one `server_dedupes` trusts and verifiers are given.
    /// Default `Idempotency-Key`.
    pub idempotency_header: String,
    /// Whether the server deduplicates requests by their idempotency key, so that a request
    /// carrying one is safe to retry whatever its method. Most CRMs and ERPs ignore the
    /// header: turn it on only where the API documents it. This is the setting for every
    /// host; [`server_dedupes_hosts`](Self::server_dedupes_hosts) overrides it per host.
    /// Default `false`.
    pub server_dedupes: bool,
    /// Per-host overrides of [`server_dedupes`](Self::server_dedupes): `true` for an API
    /// that documents deduplication by the key, `false` for one that does not when the
    /// setting for every host is on. Keys are `host` or `host:port` (which wins for that
    /// port; without a port, the scheme's default is the URL's), compared with the request
    /// URL's host case-insensitively. An entry that is not a host (a URL, a path, userinfo,
    /// a bad port) is a [`ConfigError::Invalid`](crate::ConfigError::Invalid) when the
    /// layer is built. Read only for a request that is not idempotent and carries a key.
    /// Default none.
    ///
    /// ```
    /// let config: steadfast::retry::RetryConfig = serde_json::from_str(
    ///     r#"{ "server_dedupes_hosts": { "api.stripe.com": true, "erp.example.com:8443": true } }"#,
    /// )?;
    /// assert!(!config.server_dedupes, "every other host: off");
    /// assert_eq!(config.server_dedupes_hosts.get("api.stripe.com"), Some(&true));
    /// # steadfast::retry::RetryLayer::new(&config)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub server_dedupes_hosts: BTreeMap<String, bool>,
    /// The verifier's lookups allowed per call (see [`verify`](crate::verify)). Default 3.
    pub max_verifications: u32,
    /// The limit of one verification, all its lookups together (the deadline bounds it
    /// too). Default 10 s.
    #[serde(with = "humantime_serde")]
    pub verify_timeout: Duration,
    /// Hedging: a second attempt of a request safe to repeat when the first is slow (see
    /// [`Hedge`](super::Hedge)); `None` for none. Default `None`.
    pub hedge: Option<HedgeConfig>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            jitter: Jitter::Full,
            deadline: Some(Duration::from_secs(120)),
            max_retry_after: crate::hints::DEFAULT_MAX_WAIT,
            budget: Some(BudgetConfig::default()),
            idempotency_header: crate::key::DEFAULT_HEADER.to_owned(),
            server_dedupes: false,
            server_dedupes_hosts: BTreeMap::new(),
            max_verifications: 3,
            verify_timeout: Duration::from_secs(10),
            hedge: None,
        }
    }
}

impl RetryConfig {
    /// Sets the retries after the first attempt. Default 3.
    #[must_use]
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first retry's exponential term. Default 100 ms.
    #[must_use]
    pub fn base_delay(mut self, base_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self
    }

    /// Sets the cap of the exponential term. Default 10 s.
    #[must_use]
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sets the jitter mode. Default [`Jitter::Full`].
    #[must_use]
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the whole call's deadline. Default 2 min.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Turns the whole call's deadline off: only the attempts' own limits and the retry
    /// count bound a call. Default on.
    #[must_use]
    pub fn without_deadline(mut self) -> Self {
        self.deadline = None;
        self
    }

    /// Sets the longest `Retry-After` honoured. Default 60 s.
    #[must_use]
    pub fn max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Sets the retry budget. Default [`BudgetConfig::default`].
    #[must_use]
    pub fn budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Turns the retry budget off: every failed attempt may be retried up to
    /// [`max_retries`](Self::max_retries). Default on.
    #[must_use]
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// Sets the idempotency key header. Default `Idempotency-Key`.
    #[must_use]
    pub fn idempotency_header(mut self, name: impl Into<String>) -> Self {
        self.idempotency_header = name.into();
        self
    }

    /// Says whether the server deduplicates by the idempotency key, making a request that
    /// carries one safe to retry. Default `false`.
    #[must_use]
    pub fn server_dedupes(mut self, server_dedupes: bool) -> Self {
        self.server_dedupes = server_dedupes;
        self
    }

    /// Says whether `host` (`api.example.com`, or `api.example.com:8443` for one port)
    /// deduplicates by the idempotency key, whatever
    /// [`server_dedupes`](Self::server_dedupes) says for every host; see
    /// [`server_dedupes_hosts`](Self::server_dedupes_hosts). Default: no overrides.
    ///
    /// ```
    /// use steadfast::retry::{RetryConfig, RetryLayer};
    ///
    /// // Payments dedupe by the key; the CRM ignores it.
    /// let config = RetryConfig::default().server_dedupes_host("api.stripe.com", true);
    /// let layer = RetryLayer::new(&config)?;
    /// # let _ = layer;
    /// # Ok::<(), steadfast::ConfigError>(())
    /// ```
    #[must_use]
    pub fn server_dedupes_host(mut self, host: impl Into<String>, dedupes: bool) -> Self {
        self.server_dedupes_hosts.insert(host.into(), dedupes);
        self
    }

    /// Sets the verifications allowed per call. Default 3.
    #[must_use]
    pub fn max_verifications(mut self, max_verifications: u32) -> Self {
        self.max_verifications = max_verifications;
        self
    }

    /// Sets the limit of one verification. Default 10 s.
    #[must_use]
    pub fn verify_timeout(mut self, verify_timeout: Duration) -> Self {
        self.verify_timeout = verify_timeout;
        self
    }

    /// Hedges slow attempts of requests safe to repeat; see [`Hedge`](super::Hedge).
    /// Default: off.
    #[must_use]
    pub fn hedge(mut self, hedge: HedgeConfig) -> Self {
        self.hedge = Some(hedge);
        self
    }

    /// Turns hedging off. Default (off).
    #[must_use]
    pub fn without_hedge(mut self) -> Self {
        self.hedge = None;
        self
    }
}

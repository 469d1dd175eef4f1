//! Swapping a client's settings while it runs: new calls take the new stack, shared state
//! carries over.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderName;

use super::facade::Stack;
use super::{Client, ClientConfig};
use crate::breaker::{BulkheadConfig, CircuitBreakerConfig, Circuits};
use crate::classify::{DefaultClassifier, SharedClassifier};
use crate::credentials::{CredentialsConfig, SharedCredentials};
use crate::dead_letter::sink::MemorySink;
use crate::dead_letter::{DeadLetterConfig, Recorder, SharedSink};
use crate::error::ConfigError;
use crate::idempotency::store::MemoryStore;
use crate::idempotency::{KeyFormat, SharedStore};
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::retry::RetryBudget;
use crate::verify::SharedVerifier;

/// What one configuration of a client built: each call takes it with one atomic load.
pub(super) struct Current {
    pub(super) stack: Stack,
    /// The dead letters' shared state, when the client keeps them.
    pub(super) dead_letters: Option<Arc<Recorder>>,
    /// The verifier and its time limit, for replays of unknown letters.
    pub(super) verify: Option<(SharedVerifier, Duration)>,
    pub(super) base_url: Option<Url>,
    pub(super) key_header: (HeaderName, KeyFormat),
    pub(super) budget: Option<RetryBudget>,
    pub(super) limiter: Option<RateLimiter>,
    pub(super) circuits: Option<Circuits>,
}

/// The state a client keeps across reloads, made the first time a configuration needs it.
#[derive(Default)]
pub(super) struct Carried {
    pub(super) budget: OnceLock<RetryBudget>,
    limiter: OnceLock<RateLimiter>,
    store: OnceLock<SharedStore>,
    classifier: OnceLock<SharedClassifier>,
    dead_letter_sink: OnceLock<SharedSink>,
    /// The configured provider, kept while its configuration stays the same (its token).
    credentials: Mutex<Option<(CredentialsConfig, SharedCredentials)>>,
    /// The client's own circuits, kept while the breaker and bulkhead settings stay the same.
    circuits: Mutex<Option<(CircuitSettings, Option<Circuits>)>>,
}

type CircuitSettings = (Option<CircuitBreakerConfig>, Option<BulkheadConfig>);

impl Carried {
    /// The default classifier, one per client.
    pub(super) fn classifier(&self) -> &SharedClassifier {
        self.classifier
            .get_or_init(|| Arc::new(DefaultClassifier::new()))
    }

    /// The client's own ledger, kept for every configuration.
    pub(super) fn store(&self) -> &SharedStore {
        self.store.get_or_init(|| Arc::new(MemoryStore::new()))
    }

    /// The client's own limiter: made on first use, reconfigured in place afterwards so
    /// that its buckets and pauses carry over.
    /// The memory sink of a client given none, made once.
    pub(super) fn dead_letter_sink(&self, config: &DeadLetterConfig) -> SharedSink {
        Arc::clone(
            self.dead_letter_sink
                .get_or_init(|| Arc::new(MemorySink::new(config.memory_capacity))),
        )
    }

    /// The provider for `config`: the one built before while `config` is unchanged, so a
    /// reload keeps a cached token.
    pub(super) fn credentials_for(
        &self,
        config: &CredentialsConfig,
        http: &reqwest::Client,
    ) -> Result<SharedCredentials, ConfigError> {
        let mut kept = self
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((built_from, provider)) = kept.as_ref()
            && built_from == config
        {
            return Ok(Arc::clone(provider));
        }
        let provider = config.build(http)?;
        *kept = Some((config.clone(), Arc::clone(&provider)));
        Ok(provider)
    }

    /// The circuits for `config`: the ones made before while the breaker and bulkhead
    /// settings are unchanged (so open circuits stay open across a reload), else `make()`'s.
    pub(super) fn circuits_for(
        &self,
        config: &ClientConfig,
        make: impl FnOnce() -> Result<Option<Circuits>, ConfigError>,
    ) -> Result<Option<Circuits>, ConfigError> {
        let settings = (config.breaker.clone(), config.bulkhead.clone());
        let mut kept = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built_from, circuits)) = kept.as_ref()
            && *built_from == settings
        {
            return Ok(circuits.clone());
        }
        let circuits = make()?;
        *kept = Some((settings, circuits.clone()));
        Ok(circuits)
    }

    pub(super) fn limiter_for(&self, config: &RateLimitConfig) -> Result<RateLimiter, ConfigError> {
        if let Some(limiter) = self.limiter.get() {
            limiter.reconfigure(config)?;
            return Ok(limiter.clone());
        }
        let limiter = RateLimiter::new(config)?;
        Ok(self.limiter.get_or_init(|| limiter).clone())
    }
}

impl Client {
    /// Replaces the client's settings for every call that starts after it returns: retry
    /// rules, attempt timeout, deadline, rate-limit quota, idempotency and log settings,
    /// base URL. Clones of the client see the new settings too.
    ///
    /// What the client has learned carries over: the retry budget's balance, the rate
    /// limiter's buckets and the pauses servers asked for, the idempotency ledger, and
    /// the parts given to the builder (classifier, verifier, hooks, shared limiter or
    /// budget). A call already running finishes with the settings it started with,
    /// except the rate limiter's quota, which is shared state and changes for its next
    /// attempt. The budget's own settings (`retry.budget`) are those of the first
    /// configuration that had a budget; a reload that turns the budget or the rate limit
    /// off stops using it, and one that turns it back on finds it as it was.
    ///
    /// A call takes its settings with one atomic load, without a lock.
    ///
    /// # Example
    ///
    /// ```
    /// use steadfast::retry::RetryConfig;
    ///
    /// let client = steadfast::Client::new(reqwest::Client::new());
    /// let config = steadfast::ClientConfig::default().retry(RetryConfig::default().max_retries(0));
    /// client.reload(&config)?;
    /// # Ok::<(), steadfast::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid; the client keeps its settings.
    pub fn reload(&self, config: &ClientConfig) -> Result<(), ConfigError> {
        let inner = &self.inner;
        // Reloads one at a time, so that the limiter's settings and the stack agree.
        let _one = inner
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = inner
            .builder
            .assemble(config, &inner.http, &inner.carried)?;
        inner.current.store(Arc::new(current));
        Ok(())
    }
}

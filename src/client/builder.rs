use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::{Client, ClientConfig};
use crate::classify::{Classify, SharedClassifier};
use crate::error::ConfigError;
use crate::rate_limit::{RateLimit, RateLimitConfig, RateLimiter};
use crate::retry::{RetryBudget, RetryConfig, RetryLayer};
use crate::timeout::TimeoutLayer;

/// Builds a [`Client`]: the whole stack from one configuration.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry::RetryConfig;
///
/// let client = steadfast::Client::builder()
///     .retry(RetryConfig::default().max_retries(5))
///     .attempt_timeout(Some(Duration::from_secs(10)))
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    config: ClientConfig,
    classifier: Option<SharedClassifierDebug>,
    budget: Option<RetryBudget>,
    rate_limiter: Option<RateLimiter>,
}

/// A shared classifier that can sit in a `Debug` struct.
#[derive(Clone)]
struct SharedClassifierDebug(SharedClassifier);

impl std::fmt::Debug for SharedClassifierDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Classify")
    }
}

impl ClientBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the retry rules. Default [`RetryConfig::default`].
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.config.retry = retry;
        self
    }

    /// Sets the limit of each attempt (`None`: no limit). Default 30 s.
    pub fn attempt_timeout(mut self, limit: Option<Duration>) -> Self {
        self.config.attempt_timeout = limit;
        self
    }

    /// Replaces the classifier every layer reads. Default
    /// [`DefaultClassifier`](crate::classify::DefaultClassifier).
    pub fn classifier(mut self, classifier: impl Classify) -> Self {
        self.classifier = Some(SharedClassifierDebug(Arc::new(classifier)));
        self
    }

    /// Spends retries from a budget shared with other clients. Default: the client's own.
    pub fn shared_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Limits the rate of attempts: a default quota per origin and per-host overrides.
    /// Default: no limit.
    pub fn rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.config.rate_limit = Some(rate_limit);
        self
    }

    /// Takes permits from `limiter`, shared with other clients or layers, instead of a
    /// limiter of the client's own; the configured `rate_limit` is then not used.
    pub fn shared_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Builds the client around `http`, the transport.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn build(self, http: reqwest::Client) -> Result<Client, ConfigError> {
        let mut retry = RetryLayer::new(&self.config.retry)?;
        if let Some(classifier) = self.classifier {
            retry = retry.shared_classifier(classifier.0);
        }
        if let Some(budget) = self.budget {
            retry = retry.shared_budget(budget);
        }
        if self.config.attempt_timeout.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroDuration {
                name: "attempt_timeout",
            });
        }
        let limiter = match (self.rate_limiter, &self.config.rate_limit) {
            (Some(shared), _) => Some(shared),
            (None, Some(config)) => Some(RateLimiter::new(config)?),
            (None, None) => None,
        };
        let budget = retry.budget().cloned();
        let attempt = TimeoutLayer::new(self.config.attempt_timeout).layer(http.clone());
        let rate_limited = match &limiter {
            Some(limiter) => RateLimit::new(attempt, limiter.clone()),
            None => RateLimit::unlimited(attempt),
        };
        let call = TimeoutLayer::new(self.config.retry.deadline).layer(retry.layer(rate_limited));
        Ok(Client::from_parts(http, call, budget, limiter))
    }
}

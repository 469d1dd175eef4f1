use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderName;
use tower_layer::Layer;

use super::{Client, ClientConfig};
use crate::classify::{Classify, SharedClassifier};
use crate::error::ConfigError;
use crate::log::{FailedCall, Hooks, LogConfig, LogLayer};
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
    log_hooks: Hooks,
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

    /// Sets the logging configuration. Default [`LogConfig::default`].
    pub fn log(mut self, log: LogConfig) -> Self {
        self.config.log = log;
        self
    }

    /// Runs `hook` when a call fails with a retryable verdict; see [`LogLayer::on_give_up`].
    pub fn on_give_up(mut self, hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        self.log_hooks.on_give_up = Some(crate::log::Hook::new(hook));
        self
    }

    /// Runs `hook` when a call fails with a permanent verdict (a 401 or 403 among them); see
    /// [`LogLayer::on_permanent`].
    pub fn on_permanent(mut self, hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        self.log_hooks.on_permanent = Some(crate::log::Hook::new(hook));
        self
    }

    /// The outermost layer: it reads the idempotency key from the retry layer's header.
    fn log_layer(&self) -> Result<LogLayer, ConfigError> {
        let header = &self.config.retry.idempotency_header;
        let header =
            HeaderName::try_from(header.as_str()).map_err(|_| ConfigError::HeaderName {
                name: "retry.idempotency_header",
                value: header.clone(),
            })?;
        let mut log = LogLayer::new(&self.config.log)?
            .idempotency_header(header)
            .hooks(self.log_hooks.clone());
        if let Some(classifier) = &self.classifier {
            log = log.shared_classifier(Arc::clone(&classifier.0));
        }
        Ok(log)
    }

    /// Builds the client around `http`, the transport.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn build(self, http: reqwest::Client) -> Result<Client, ConfigError> {
        let log = self.log_layer()?;
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
        let budget = retry.budget().cloned();
        let attempt = TimeoutLayer::new(self.config.attempt_timeout).layer(http.clone());
        let call = TimeoutLayer::new(self.config.retry.deadline).layer(retry.layer(attempt));
        Ok(Client::from_parts(http, log.layer(call), budget))
    }
}

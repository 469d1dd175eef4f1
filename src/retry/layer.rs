use std::sync::Arc;

use tower_layer::Layer;

use super::policy::Policy;
use super::{HedgeLayer, Retry, RetryBudget, RetryConfig};
use crate::classify::{Classify, SharedClassifier};
use crate::error::ConfigError;
use crate::key::KeyFormat;
use crate::verify::{SharedVerifier, Verify};

/// Applies [`Retry`] to a service.
///
/// # Clone
///
/// The layer and every service it makes share one policy, one classifier and one
/// [`RetryBudget`].
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: Arc<Policy>,
}

impl RetryLayer {
    /// A retry layer with the given settings and the default classifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid (`base_delay > max_delay`, a NaN budget
    /// ratio, an invalid header name…).
    pub fn new(config: &RetryConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            policy: Arc::new(Policy::new(config)?),
        })
    }

    /// Replaces the classifier. Default
    /// [`DefaultClassifier`](crate::classify::DefaultClassifier).
    #[must_use]
    pub fn classifier(self, classifier: impl Classify) -> Self {
        self.shared_classifier(Arc::new(classifier))
    }

    /// Uses a classifier already shared with other layers; see
    /// [`classifier`](Self::classifier).
    #[must_use]
    pub fn shared_classifier(mut self, classifier: SharedClassifier) -> Self {
        Arc::make_mut(&mut self.policy).classifier = classifier;
        self
    }

    /// Asks `verifier` whether an attempt that may have been applied was, before retrying a
    /// request that is not safe to repeat; see [`verify`](crate::verify). Default: none
    /// (such a request is not retried).
    #[must_use]
    pub fn verifier(self, verifier: impl Verify) -> Self {
        self.shared_verifier(Arc::new(verifier))
    }

    /// Uses a verifier already shared with other layers (the idempotency ledger's, say).
    #[must_use]
    pub fn shared_verifier(mut self, verifier: SharedVerifier) -> Self {
        Arc::make_mut(&mut self.policy).verifier = Some(verifier);
        self
    }

    /// How the idempotency layer writes keys, so that a verifier is told the key itself,
    /// not its header spelling (an sf-string is unquoted). The `Client` sets it.
    pub(crate) fn key_format(mut self, format: KeyFormat) -> Self {
        Arc::make_mut(&mut self.policy).key_format = format;
        self
    }

    /// Spends retries from `budget`, shared with other layers or clients, instead of the
    /// layer's own.
    #[must_use]
    pub fn shared_budget(mut self, budget: RetryBudget) -> Self {
        Arc::make_mut(&mut self.policy).budget = Some(budget);
        self
    }

    /// The budget this layer spends, if it has one.
    #[must_use]
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.policy.budget.as_ref()
    }
}

impl RetryLayer {
    /// The layer that hedges slow attempts as [`RetryConfig::hedge`] says, spending this
    /// layer's budget; it goes inside this one. Without `hedge` its services pass calls
    /// through.
    #[must_use]
    pub fn hedging(&self) -> HedgeLayer {
        HedgeLayer::new(Arc::clone(&self.policy))
    }

    pub(super) fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }
}

impl Default for RetryLayer {
    fn default() -> Self {
        Self {
            policy: Arc::new(
                Policy::new(&RetryConfig::default()).expect("the default configuration is valid"),
            ),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self)
    }
}

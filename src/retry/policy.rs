use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderName;

use super::dedupes::Dedupes;
use super::{Backoff, HedgeConfig, RetryBudget, RetryConfig};
use crate::classify::{DefaultClassifier, SharedClassifier};
use crate::error::ConfigError;
use crate::key::KeyFormat;
use crate::verify::SharedVerifier;

/// A validated [`RetryConfig`] with its classifier and budget, shared by every clone of a
/// retry service.
#[derive(Clone)]
pub(crate) struct Policy {
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) deadline: Option<Duration>,
    pub(crate) max_retry_after: Duration,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) idempotency_header: HeaderName,
    /// How keys are written in that header (set by the `Client`; plain by default).
    pub(crate) key_format: KeyFormat,
    /// `server_dedupes` and its per-host overrides.
    pub(crate) dedupes: Dedupes,
    pub(crate) max_verifications: u32,
    pub(crate) verify_timeout: Duration,
    pub(crate) verifier: Option<SharedVerifier>,
    pub(crate) classifier: SharedClassifier,
    pub(crate) hedge: Option<HedgeConfig>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("deadline", &self.deadline)
            .field("max_retry_after", &self.max_retry_after)
            .field("budget", &self.budget.is_some())
            .field("idempotency_header", &self.idempotency_header)
            .field("dedupes", &self.dedupes)
            .field("max_verifications", &self.max_verifications)
            .field("verify_timeout", &self.verify_timeout)
            .field("verifier", &self.verifier.is_some())
            .field("hedge", &self.hedge)
            .finish_non_exhaustive()
    }
}

impl Policy {
    pub(crate) fn new(config: &RetryConfig) -> Result<Self, ConfigError> {
        let idempotency_header =
            crate::key::header_name(&config.idempotency_header).map_err(|_| {
                ConfigError::HeaderName {
                    name: "retry.idempotency_header",
                    value: config.idempotency_header.clone(),
                }
            })?;
        if config.deadline.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroDuration {
                name: "retry.deadline",
            });
        }
        if config.verify_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "retry.verify_timeout",
            });
        }
        if let Some(hedge) = &config.hedge {
            hedge.validate()?;
        }
        Ok(Self {
            max_retries: config.max_retries,
            backoff: Backoff::new(config.base_delay, config.max_delay, config.jitter)?,
            deadline: config.deadline,
            max_retry_after: config.max_retry_after,
            budget: config.budget.as_ref().map(RetryBudget::new).transpose()?,
            idempotency_header,
            key_format: KeyFormat::default(),
            dedupes: Dedupes::new(config.server_dedupes, &config.server_dedupes_hosts)?,
            max_verifications: config.max_verifications,
            verify_timeout: config.verify_timeout,
            verifier: None,
            classifier: Arc::new(DefaultClassifier::new()),
            hedge: config.hedge.clone(),
        })
    }
}

impl Policy {
    /// Whether a request that is not idempotent may be repeated after any failure: it
    /// carries a key, and the server at its URL deduplicates by it.
    #[inline]
    pub(crate) fn server_dedupes(&self, request: &reqwest::Request) -> bool {
        self.dedupes.any()
            && request.headers().contains_key(&self.idempotency_header)
            && self.dedupes.at(request.url())
    }
}

/// Whether RFC 9110 calls the method idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

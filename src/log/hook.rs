use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::classify::{Classification, Verdict};
use crate::error::Error;

/// What a hook learns about a call that ended in failure.
///
/// Passed to the hooks set with [`LogLayer::on_give_up`](super::LogLayer::on_give_up) and
/// [`LogLayer::on_permanent`](super::LogLayer::on_permanent) (or the same methods of
/// [`ClientBuilder`](crate::ClientBuilder)). Everything in it is safe to forward to a pager
/// or a chat channel: the URL is redacted and the error shows no secrets.
pub struct FailedCall<'a> {
    pub(crate) method: &'a Method,
    pub(crate) url: &'a str,
    pub(crate) classification: Classification,
    pub(crate) status: Option<StatusCode>,
    pub(crate) attempts: Option<u32>,
    pub(crate) elapsed: Duration,
    pub(crate) idempotency_key: Option<&'a str>,
    pub(crate) error: Option<&'a Error>,
}

impl FailedCall<'_> {
    /// The request's method.
    #[must_use]
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The request's URL, redacted (no userinfo, no sensitive query values).
    #[must_use]
    pub fn url(&self) -> &str {
        self.url
    }

    /// The final classification.
    #[must_use]
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// The final verdict.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        self.classification.verdict()
    }

    /// Whether a human must act: credentials or permissions were refused (401, 403).
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        self.classification.needs_attention()
    }

    /// The last response's status, when the call ended on one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// How many attempts were made, when the retry layer reported it.
    #[must_use]
    pub fn attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// How long the call took, attempts and waits together.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The idempotency key the caller set on the request, if any.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key
    }

    /// The error the call returns; `None` when it returns a response that the classifier
    /// calls a failure (a log layer with no retry layer below it).
    #[must_use]
    pub fn error(&self) -> Option<&Error> {
        self.error
    }
}

impl fmt::Debug for FailedCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailedCall")
            .field("method", self.method)
            .field("url", &self.url)
            .field("classification", &self.classification)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("elapsed", &self.elapsed)
            .field("idempotency_key", &self.idempotency_key)
            .field("error", &self.error)
            .finish()
    }
}

/// A user callback run when a call fails.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn Fn(&FailedCall<'_>) + Send + Sync>);

impl Hook {
    pub(crate) fn new(hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }

    pub(crate) fn call(&self, failed: &FailedCall<'_>) {
        (self.0)(failed);
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook")
    }
}

/// The hooks of a log layer: exactly one runs for each failed call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_give_up: Option<Hook>,
    pub(crate) on_permanent: Option<Hook>,
}

impl Hooks {
    pub(crate) fn is_empty(&self) -> bool {
        self.on_give_up.is_none() && self.on_permanent.is_none()
    }

    /// `on_permanent` when retrying could not have helped, `on_give_up` otherwise.
    pub(crate) fn run(&self, failed: &FailedCall<'_>) {
        let hook = if failed.verdict() == Verdict::Permanent {
            &self.on_permanent
        } else {
            &self.on_give_up
        };
        if let Some(hook) = hook {
            hook.call(failed);
        }
    }
}

//! What the layer and the handle share: the sink, the settings and the counters.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::Method;

use super::{DeadLetter, DeadLetterConfig, SharedSink, SinkError};
use crate::classify::Applied;
use crate::error::Error;
use crate::redact::Redactor;

/// Decides whether a failed call becomes a letter; see
/// [`DeadLetterLayer::record_if`](super::DeadLetterLayer::record_if).
pub type SharedPredicate = Arc<dyn Fn(&Method, &Error) -> bool + Send + Sync>;

/// The state shared by a layer, its services and every [`DeadLetters`](super::DeadLetters)
/// handle.
pub(crate) struct Recorder {
    pub(crate) sink: SharedSink,
    pub(crate) config: DeadLetterConfig,
    pub(crate) redactor: Redactor,
    pub(crate) predicate: Option<SharedPredicate>,
    /// Who this process is when it claims letters.
    pub(crate) claimant: String,
    pub(crate) recorded: AtomicU64,
    pub(crate) sink_errors: AtomicU64,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("config", &self.config)
            .field("claimant", &self.claimant)
            .field("recorded", &self.recorded)
            .field("sink_errors", &self.sink_errors)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    pub(crate) fn new(sink: SharedSink, config: DeadLetterConfig) -> Self {
        Self {
            sink,
            config,
            redactor: Redactor::default(),
            predicate: None,
            claimant: format!("steadfast-{}", uuid::Uuid::new_v4().simple()),
            recorded: AtomicU64::new(0),
            sink_errors: AtomicU64::new(0),
        }
    }

    /// A copy with fresh counters, for a layer changed after it was cloned.
    pub(crate) fn copy(&self) -> Self {
        Self {
            sink: Arc::clone(&self.sink),
            config: self.config.clone(),
            redactor: self.redactor.clone(),
            predicate: self.predicate.clone(),
            claimant: self.claimant.clone(),
            recorded: AtomicU64::new(0),
            sink_errors: AtomicU64::new(0),
        }
    }

    /// Whether the call that ended with `error` is recorded.
    pub(crate) fn wants(&self, method: &Method, error: &Error) -> bool {
        if !recordable(error) {
            return false;
        }
        match &self.predicate {
            Some(predicate) => predicate(method, error),
            None => {
                error.outcome() == Applied::MaybeApplied
                    || self.config.idempotent_methods
                    || !is_idempotent(method)
            }
        }
    }

    /// Stores `letter` within the record timeout; a failure is logged and counted, never
    /// returned.
    pub(crate) async fn store(&self, letter: &DeadLetter) {
        let limit = self.config.record_timeout;
        let stored = match tokio::time::timeout(limit, self.sink.store(letter)).await {
            Ok(stored) => stored,
            Err(_) => Err(SinkError::TimedOut(limit)),
        };
        match stored {
            Ok(()) => {
                self.recorded.fetch_add(1, Ordering::Relaxed);
                crate::metrics::dead_letter_recorded(letter.outcome.as_str());
            }
            Err(e) => self.sink_failed(letter, &e),
        }
    }

    /// Logs and counts a sink's failure.
    pub(crate) fn sink_failed(&self, letter: &DeadLetter, error: &SinkError) {
        let errors = self.sink_errors.fetch_add(1, Ordering::Relaxed) + 1;
        // The letter's `Display` is redacted; the error's chain names no value.
        tracing::warn!(
            target: "steadfast",
            letter = %letter,
            error = %crate::redact::Redactor::shared_default().text(&error_chain(error)),
            sink_errors = errors,
            "dead letter not stored"
        );
    }
}

/// `error` and its sources, for a log line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Whether an error ends a call someone may want to send again. Not: a request or
/// configuration that cannot be sent, a key another call holds or used, or an earlier
/// call's unknown key (that call has its own letter).
fn recordable(error: &Error) -> bool {
    match error {
        Error::Timeout { .. }
        | Error::Transport { .. }
        | Error::RetriesExhausted { .. }
        | Error::RateLimited { .. }
        | Error::NotRetried { .. }
        | Error::DeadlineExceeded { .. }
        | Error::Ledger { .. }
        | Error::Credentials { .. }
        | Error::QuotaUnavailable { .. }
        | Error::CircuitOpen { .. }
        | Error::BulkheadFull { .. } => true,
        Error::Config(_)
        | Error::InvalidRequest(_)
        | Error::Decode(_)
        | Error::IdempotencyKeyInFlight { .. }
        | Error::IdempotencyOutcomeUnknown { .. }
        | Error::IdempotencyKeyReused { .. } => false,
    }
}

/// GET, HEAD, OPTIONS, TRACE, PUT and DELETE.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

//! What became of each record of a batch.

use std::fmt;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use super::BatchError;

/// One record's result as the results mapper reads it from a bulk response: the server's
/// value for it (an id, the stored record, `null`) or why it was rejected.
pub type RecordResult = Result<Value, RecordFailure>;

/// A record the server rejected inside a successful bulk response.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    /// The server's error code, when it gives one.
    pub code: Option<String>,
    /// The server's message. It is the server's text: it may quote the record.
    pub message: String,
}

impl RecordFailure {
    /// A failure with `message` and no code.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
        }
    }

    /// Sets the server's error code.
    #[must_use]
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "rejected ({code}): {}", self.message),
            None => write!(f, "rejected: {}", self.message),
        }
    }
}

/// What became of a record, in the three states of the crate's promise.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordState {
    /// The server took it.
    Applied,
    /// The server did not act on it: safe to send again (after fixing it, if rejected).
    NotApplied,
    /// It may have been applied: check before sending it again.
    Unknown,
}

/// What became of one record.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum RecordOutcome {
    /// The server took it; its result for the record.
    Applied(Value),
    /// The server rejected it inside a successful bulk response: not applied.
    Rejected(RecordFailure),
    /// The whole bulk call failed (or its response could not be read); see
    /// [`BatchError::state`].
    Failed(Arc<BatchError>),
}

impl RecordOutcome {
    /// Applied, not applied or unknown.
    #[must_use]
    pub fn state(&self) -> RecordState {
        match self {
            Self::Applied(_) => RecordState::Applied,
            Self::Rejected(_) => RecordState::NotApplied,
            Self::Failed(error) => error.state(),
        }
    }
}

/// One record and what became of it.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RecordReport<R> {
    /// The record, handed back.
    pub record: R,
    /// What became of it.
    pub outcome: RecordOutcome,
}

/// One bulk call's report: every record it carried, in order, and what became of each.
#[derive(Debug, Clone)]
pub struct BatchReport<R> {
    pub(super) number: u64,
    pub(super) records: Vec<RecordReport<R>>,
    pub(super) status: Option<StatusCode>,
    pub(super) error: Option<Arc<BatchError>>,
}

impl<R> BatchReport<R> {
    /// The batch's number in its run, from 0.
    #[must_use]
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Every record of the batch, in the order they came.
    #[must_use]
    pub fn records(&self) -> &[RecordReport<R>] {
        &self.records
    }

    /// Every record of the batch, by value.
    #[must_use]
    pub fn into_records(self) -> Vec<RecordReport<R>> {
        self.records
    }

    /// The records not applied or unknown: rejected by the server, or in a failed call.
    pub fn failed(&self) -> impl Iterator<Item = &RecordReport<R>> {
        self.records
            .iter()
            .filter(|r| r.outcome.state() != RecordState::Applied)
    }

    /// Whether every record was applied.
    #[must_use]
    pub fn all_applied(&self) -> bool {
        self.failed().next().is_none()
    }

    /// The bulk response's status, when the call ended on one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// Why the whole call failed, when it did.
    #[must_use]
    pub fn error(&self) -> Option<&BatchError> {
        self.error.as_deref()
    }
}

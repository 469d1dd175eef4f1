//! The error a failed call ends with: its history, built once.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use tokio::time::Instant;

use super::future::Progress;
use crate::classify::Classification;
use crate::error::{BoxError, Error, Failure, NotRetried};

/// How the call ended, besides its last outcome.
#[derive(Clone, Copy)]
pub(super) enum Ending {
    /// The rules stopped it: `None` when the retries ran out.
    Rules {
        why: Option<NotRetried>,
        retry_at: Option<Instant>,
    },
    /// The deadline cut an attempt; the status is the last one received, whose response was
    /// let go before the wait.
    Deadline {
        deadline: Duration,
        status: Option<StatusCode>,
    },
}

/// The error for a call whose last completed attempt ended with `outcome`.
pub(super) fn fail(
    ending: Ending,
    classification: Classification,
    outcome: Result<Response, BoxError>,
    progress: &Progress,
    url: Option<&reqwest::Url>,
) -> Error {
    let (response, source) = match outcome {
        Ok(response) => (Some(response), None),
        Err(error) => (None, Some(error)),
    };
    let mut failure = Failure::new(
        progress.method.clone(),
        None,
        progress.attempts,
        classification,
        response,
    );
    if let Some(url) = url {
        failure = failure.at(url);
    }
    failure.outcome = progress.outcome;
    failure.timed_out_after = match source.as_deref().and_then(|e| e.downcast_ref()) {
        Some(Error::Timeout { elapsed, .. }) => Some(*elapsed),
        _ => None,
    };
    let why = match ending {
        Ending::Rules { why, retry_at } => {
            failure.retry_at = retry_at;
            why
        }
        Ending::Deadline { deadline, status } => {
            failure.deadline = Some(deadline);
            failure.status = failure.status.or(status);
            // The source says the deadline elapsed, not an attempt's limit.
            failure.timed_out_after = None;
            None
        }
    };
    tracing::debug!(
        {
            "http.request.method" = progress.method.as_str(),
            attempts = progress.attempts,
            "steadfast.verdict" = classification.verdict().as_str(),
            "steadfast.reason" = %classification.reason(),
            "steadfast.outcome" = progress.outcome.as_str(),
            not_retried = why.map(tracing::field::display),
            deadline_ms = failure.deadline.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        },
        "call failed"
    );
    let deadline = failure.deadline.is_some();
    let failure = Box::new(failure);
    match why {
        _ if deadline => Error::DeadlineExceeded { failure, source },
        None => Error::RetriesExhausted { failure, source },
        Some(why) => Error::NotRetried {
            why,
            failure,
            source,
        },
    }
}

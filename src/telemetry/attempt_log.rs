//! Every attempt of a call, for the dead-letter layer: the retry layer classifies each
//! attempt and appends it here, when a layer above asked for the log; and the request,
//! handed back by the layer that held it when the call failed ([`super::hand_back`]).
//!
//! The log is a task-local value that the dead-letter layer sets around the call it wraps
//! (`reqwest::Request` has no public extensions to carry it in). Without a dead-letter
//! layer nothing is set and [`record_attempt`] finds nothing: it is called only for
//! attempts that did not succeed at once, so a call that succeeds at its first attempt
//! never reaches it.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use reqwest::{Request, StatusCode};
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;

use crate::classify::Classification;

tokio::task_local! {
    pub(super) static ATTEMPTS: RefCell<CallLog>;
}

/// What the dead-letter layer learns of the call it wraps while the call runs.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    pub(crate) attempts: Vec<AttemptEntry>,
    /// The request, handed back when the call failed; boxed so that the log, which moves in
    /// and out of the task-local slot at every poll, stays small.
    pub(crate) request: Option<Box<Request>>,
}

/// One attempt as the retry layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptEntry {
    pub(crate) classification: Classification,
    pub(crate) status: Option<StatusCode>,
    pub(crate) started: Instant,
    pub(crate) elapsed: Duration,
}

/// Runs `future` with an empty attempt log; take it back with `TaskLocalFuture::take_value`.
pub(crate) fn with_attempt_log<F: Future>(future: F) -> TaskLocalFuture<RefCell<CallLog>, F> {
    ATTEMPTS.scope(RefCell::new(CallLog::default()), future)
}

/// Appends an attempt to the log of the call being polled, when a layer above keeps one.
pub(crate) fn record_attempt(
    classification: Classification,
    status: Option<StatusCode>,
    started: Instant,
) {
    let _ = ATTEMPTS.try_with(|log| {
        if let Ok(mut log) = log.try_borrow_mut()
            // Bounded: a runaway retry configuration cannot grow a letter without end.
            && log.attempts.len() < MAX_ATTEMPTS
        {
            log.attempts.push(AttemptEntry {
                classification,
                status,
                started,
                elapsed: started.elapsed(),
            });
        }
    });
}

/// The most attempts one log keeps.
const MAX_ATTEMPTS: usize = 1_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Reason;

    #[tokio::test]
    async fn attempts_reach_the_log_of_the_call_only() {
        // Outside a scope: nothing to record into, and no panic.
        record_attempt(
            Classification::transient(Reason::Timeout),
            None,
            Instant::now(),
        );
        let mut scoped = std::pin::pin!(with_attempt_log(async {
            record_attempt(
                Classification::transient(Reason::Status(StatusCode::BAD_GATEWAY)),
                Some(StatusCode::BAD_GATEWAY),
                Instant::now(),
            );
        }));
        scoped.as_mut().await;
        let log = scoped.as_mut().take_value().expect("the log").into_inner();
        assert_eq!(log.attempts.len(), 1);
        assert_eq!(log.attempts[0].status, Some(StatusCode::BAD_GATEWAY));
    }
}

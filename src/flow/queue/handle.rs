//! The user's handler, how it fails, and what the worker does with each failure.

use std::future::Future;

use super::{DeadReason, Event};
use crate::classify::Verdict;
use crate::error::{BoxError, Error};

/// Why a handler could not process an event.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// A call through the [`Client`](crate::Client) failed; its outcome decides: unknown or
    /// permanent → dead letters, not applied and transient → redelivered later.
    #[error("the event's call failed")]
    Call(#[from] Error),
    /// The payload cannot be processed, now or ever (undecodable, invalid): dead letters.
    #[error("the event is unusable (poison)")]
    Poison(#[source] BoxError),
    /// Something the handler needs is unavailable for now: redelivered later.
    #[error("the event could not be processed now")]
    Later(#[source] BoxError),
}

/// Processes one event, usually by calling an API through a [`Client`](crate::Client) with
/// the event's [`idempotency_key`](Event::idempotency_key).
///
/// Implemented by closures `Fn(Event) -> impl Future<Output = Result<(), HandleError>>`.
pub trait Handle: Send + Sync + 'static {
    /// Processes `event`.
    fn handle(&self, event: Event) -> impl Future<Output = Result<(), HandleError>> + Send;
}

impl<F, Fut> Handle for F
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send,
{
    fn handle(&self, event: Event) -> impl Future<Output = Result<(), HandleError>> + Send {
        self(event)
    }
}

/// What the worker does with a handled message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    Ack,
    Retry,
    Dead(DeadReason),
}

/// The disposition for a handler's result: applied → ack; outcome unknown, permanent or
/// poison → dead letters; not applied for now → redelivered.
pub(crate) fn decide(result: &Result<(), HandleError>) -> Disposition {
    let error = match result {
        Ok(()) => return Disposition::Ack,
        Err(HandleError::Poison(_)) => return Disposition::Dead(DeadReason::Poison),
        Err(HandleError::Later(_)) => return Disposition::Retry,
        Err(HandleError::Call(error)) => error,
    };
    if error.outcome().is_maybe_applied() {
        return Disposition::Dead(DeadReason::OutcomeUnknown);
    }
    match error {
        // Sending it again cannot help: the request, the configuration or the key is wrong.
        Error::Config(_) | Error::InvalidRequest(_) | Error::IdempotencyKeyReused { .. } => {
            Disposition::Dead(DeadReason::Permanent)
        }
        // An earlier delivery's call may have been applied: its own letter says so.
        Error::IdempotencyOutcomeUnknown { .. } => Disposition::Dead(DeadReason::OutcomeUnknown),
        _ => match error.classification().map(|c| c.verdict()) {
            Some(Verdict::Permanent) => Disposition::Dead(DeadReason::Permanent),
            _ => Disposition::Retry,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Disposition, HandleError, decide};
    use crate::flow::queue::DeadReason;

    #[test]
    fn outcomes_map_to_dispositions() {
        assert_eq!(decide(&Ok(())), Disposition::Ack);
        assert_eq!(
            decide(&Err(HandleError::Poison("bad json".into()))),
            Disposition::Dead(DeadReason::Poison)
        );
        assert_eq!(
            decide(&Err(HandleError::Later("inventory down".into()))),
            Disposition::Retry
        );
        let invalid = crate::Error::InvalidRequest("no url".into());
        assert_eq!(
            decide(&Err(invalid.into())),
            Disposition::Dead(DeadReason::Permanent)
        );
    }
}

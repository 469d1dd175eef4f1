//! The retry rules (DESIGN §3), as pure decisions over the call so far.

use std::time::Duration;

use tokio::time::Instant;

use reqwest::Response;

use super::policy::Policy;
use crate::classify::{Classification, Verdict};
use crate::error::{BoxError, Error, NotRetried};
use crate::hints::{self, Hint};

/// What to do after a failed attempt.
pub(super) enum Decision {
    Retry(Duration),
    /// The attempt may have been applied and the request is not safe to repeat: ask the
    /// verifier before anything else.
    Verify,
    GiveUp {
        why: Option<NotRetried>,
        retry_at: Option<Instant>,
    },
}

/// What the rules need to know about the call so far.
pub(super) struct Attempted {
    pub(super) classification: Classification,
    /// How long the server asked to wait, if it did ([`server_hint`]).
    pub(super) hint: Option<Hint>,
    pub(super) attempts: u32,
    pub(super) safe: bool,
    pub(super) replayable: bool,
    pub(super) previous_delay: Duration,
    pub(super) start: Instant,
    pub(super) now: Instant,
}

/// The retry rules, in the order the crate documents them.
pub(super) fn decide(policy: &Policy, a: &Attempted) -> Decision {
    let verdict = a.classification.verdict();
    let hint = a.hint.map(|h| h.bounded(policy.max_retry_after));
    let retry_at = hint
        .and_then(Hint::requested)
        .and_then(|h| a.now.checked_add(h));
    let give_up = |why| Decision::GiveUp { why, retry_at };
    if !verdict.is_retryable() {
        return give_up(Some(NotRetried::Permanent));
    }
    // Rule 2 comes before the count: a verifier may still turn the last attempt into a
    // success, or show that it is safe to send again later.
    if !a.safe && a.classification.applied().is_maybe_applied() {
        return if policy.verifier.is_some() {
            Decision::Verify
        } else {
            give_up(Some(NotRetried::UnsafeMethod))
        };
    }
    if a.attempts > policy.max_retries {
        return give_up(None);
    }
    if !a.replayable {
        return give_up(Some(NotRetried::BodyNotReplayable));
    }
    if hint.is_some_and(Hint::is_too_long) {
        return give_up(Some(NotRetried::RetryAfterTooLong));
    }
    let backoff = policy.backoff.delay(a.attempts - 1, a.previous_delay);
    let delay = hint
        .and_then(Hint::delay)
        .map_or(backoff, |h| h.max(backoff));
    if policy.deadline.is_some_and(|d| a.now + delay > a.start + d) {
        return Decision::GiveUp {
            why: Some(NotRetried::Deadline),
            retry_at: Some(a.now + delay),
        };
    }
    // Last, so that a retry refused for another reason costs no token.
    if policy.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
        crate::metrics::budget_refused();
        return give_up(Some(NotRetried::BudgetExhausted));
    }
    Decision::Retry(delay)
}

/// How long the server asked to wait after a retryable failure: the throttled verdict's own
/// wait, else the response's `Retry-After` on any status (a 500, 502 or 504 may name one
/// too). Read only here, after a failure: a success is never parsed.
pub(super) fn server_hint(
    classification: Classification,
    outcome: &Result<Response, BoxError>,
) -> Option<Hint> {
    match classification.verdict() {
        Verdict::Throttled {
            retry_after: Some(wait),
        } => Some(Hint::new(wait)),
        verdict if verdict.is_retryable() => match outcome {
            Ok(response) => hints::retry_after(response.headers()),
            // An open circuit below says when it lets a call through: waiting less would
            // only send into a circuit known to be open.
            Err(error) => match error.downcast_ref() {
                Some(Error::CircuitOpen { until, .. }) => {
                    Some(Hint::new(until.saturating_duration_since(Instant::now())))
                }
                _ => None,
            },
        },
        _ => None,
    }
}

//! The retry rules (DESIGN §3), as pure decisions over the call so far.

use std::time::Duration;

use tokio::time::Instant;

use super::policy::Policy;
use crate::classify::{Classification, Verdict};
use crate::error::NotRetried;

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
    let hint = match verdict {
        Verdict::Throttled { retry_after } => retry_after,
        _ => None,
    };
    let give_up = |why| Decision::GiveUp {
        why,
        retry_at: hint.map(|h| a.now + h),
    };
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
    if hint.is_some_and(|h| h > policy.max_retry_after) {
        return give_up(Some(NotRetried::RetryAfterTooLong));
    }
    let backoff = policy.backoff.delay(a.attempts - 1, a.previous_delay);
    let delay = hint.map_or(backoff, |h| h.max(backoff));
    if policy.deadline.is_some_and(|d| a.now + delay > a.start + d) {
        return Decision::GiveUp {
            why: Some(NotRetried::Deadline),
            retry_at: Some(a.now + delay),
        };
    }
    // Last, so that a retry refused for another reason costs no token.
    if policy.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
        return give_up(Some(NotRetried::BudgetExhausted));
    }
    Decision::Retry(delay)
}

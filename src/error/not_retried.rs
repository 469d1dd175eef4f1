//! Why a failed call was not retried, and why a verifier could not settle an outcome.

use std::fmt;

/// Why a failed call was not retried.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRetried {
    /// The verdict was permanent: retrying cannot help.
    Permanent,
    /// The method is not idempotent, the attempt may have been applied, and nothing says a
    /// repeat is safe: no verifier is set, and the server is not known to deduplicate by the
    /// idempotency key.
    UnsafeMethod,
    /// The request body is a stream that cannot be sent twice.
    BodyNotReplayable,
    /// The retry budget is spent: too many retries relative to recent successes.
    BudgetExhausted,
    /// The next attempt could not start before the total deadline.
    Deadline,
    /// The server asked for a longer wait than the configured `max_retry_after` (or than a
    /// day, [`hints::MAX_HINT`](crate::hints::MAX_HINT)); `retry_at` holds the server's
    /// time when it can be represented.
    RetryAfterTooLong,
    /// The attempt may have been applied and the verifier could not tell whether it was.
    OutcomeUnknown(Unverified),
}

/// Why a verifier could not settle an attempt's outcome.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverified {
    /// The verifier answered [`Verification::Unknown`](crate::verify::Verification::Unknown).
    Unknown,
    /// The verifier took longer than `verify_timeout`, or ran into the deadline.
    TimedOut,
    /// The call used up its `max_verifications`.
    OutOfTries,
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "the verifier could not tell",
            Self::TimedOut => "the verifier timed out",
            Self::OutOfTries => "the call used up its verifications (max_verifications)",
        })
    }
}

impl fmt::Display for NotRetried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Permanent => "a repeat would fail the same way",
            Self::UnsafeMethod => {
                "the method is not idempotent and the server may have acted (set a verifier \
                 that looks the request up, or server_dedupes if the API documents that it \
                 deduplicates by the idempotency key)"
            }
            Self::BodyNotReplayable => {
                "the request body is a stream and cannot be replayed (use a buffered body to \
                 allow retries)"
            }
            Self::BudgetExhausted => {
                "the retry budget is exhausted (too many retries relative to recent successes)"
            }
            Self::Deadline => "the next attempt would start after the total deadline",
            Self::RetryAfterTooLong => "the server asked for a wait longer than max_retry_after",
            Self::OutcomeUnknown(why) => {
                return write!(f, "the outcome could not be verified: {why}");
            }
        })
    }
}

//! How much retrying a call took: written by the retry layer, read by the log layer and the
//! caller.

use std::time::Duration;

use reqwest::Response;

/// How much retrying a successful call took.
///
/// Read it with [`RetryStats::of`]. The retry layer stores it in the response's extensions
/// only when the call needed more than one attempt, so the happy path allocates nothing.
///
/// # Example
///
/// ```
/// use steadfast::retry::RetryStats;
///
/// # fn report(response: &reqwest::Response) {
/// let stats = RetryStats::of(response);
/// println!("{} attempts, {:?} waiting", stats.attempts, stats.waited);
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryStats {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// Time spent waiting between attempts (backoff and `Retry-After`).
    pub waited: Duration,
}

impl RetryStats {
    /// The stats of a response: one attempt and no waiting unless the retry layer recorded
    /// more.
    #[must_use]
    pub fn of(response: &Response) -> Self {
        response
            .extensions()
            .get::<Self>()
            .copied()
            .unwrap_or(Self {
                attempts: 1,
                waited: Duration::ZERO,
            })
    }
}

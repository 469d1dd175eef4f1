use std::time::Duration;

use tokio::time::Instant;

/// Nanoseconds since the registry was made, read from `tokio::time` so that a paused test
/// clock drives the circuits too; the numbers fit in atomics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// Nanoseconds since the base, now.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.base))
    }

    /// The instant `at` nanoseconds after the base.
    pub(crate) fn instant(&self, at: u64) -> Instant {
        self.base + Duration::from_nanos(at)
    }
}

/// A duration in nanoseconds, saturating.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

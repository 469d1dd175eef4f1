use std::time::Duration;

use tokio::time::Instant;

/// The limiter's clock, read from `tokio::time`, so that a paused test clock drives the
/// buckets too.
///
/// Instants are nanoseconds since the limiter was made; the same numbers mark the keys'
/// "paused until" instants, which lets them live in atomics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioClock {
    base: Instant,
}

impl TokioClock {
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// `at` as nanoseconds since the base (0 for earlier instants).
    pub(crate) fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Nanoseconds since the base, now.
    pub(crate) fn now_nanos(&self) -> u64 {
        self.nanos(Instant::now())
    }

    /// The instant `nanos` after the base.
    pub(crate) fn instant(&self, nanos: u64) -> Instant {
        self.base + Duration::from_nanos(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_tokio_clock() {
        let clock = TokioClock::new();
        let start = clock.now_nanos();
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(clock.now_nanos() - start, 1_500_000_000);
        assert_eq!(clock.instant(clock.now_nanos()), Instant::now());
    }
}

use std::time::Duration;

use governor::clock::Clock;
use governor::nanos::Nanos;
use tokio::time::Instant;

/// governor's clock, read from `tokio::time`, so that a paused test clock drives the
/// buckets too (governor's own clocks read the real time).
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

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.now_nanos())
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_tokio_clock() {
        let clock = TokioClock::new();
        let start = clock.now();
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(
            Nanos::from(Duration::from_millis(1_500)),
            clock.now().saturating_sub(start)
        );
        assert_eq!(clock.instant(clock.now_nanos()), Instant::now());
    }

    #[tokio::test(start_paused = true)]
    async fn drives_governor_on_a_paused_clock() {
        let quota = governor::Quota::per_second(NonZeroU32::new(2).expect("non-zero"));
        let clock = TokioClock::new();
        let limiter = governor::RateLimiter::direct_with_clock(quota, clock);
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_ok());
        let refused = limiter.check().expect_err("the burst of 2 is spent");
        assert_eq!(
            refused.wait_time_from(clock.now()),
            Duration::from_millis(500)
        );
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(
            limiter.check().is_err(),
            "no real time passes on a paused clock"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(limiter.check().is_ok());
    }
}

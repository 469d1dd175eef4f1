use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// How randomness spreads retry delays so that clients do not retry in lockstep.
///
/// In every mode the exponential term `min(max_delay, base_delay · 2^n)` is capped first and
/// jittered second, so delays at the cap stay random.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// `U(0, term)`: the widest spread and the least load (the default).
    #[default]
    Full,
    /// `term / 2 + U(0, term / 2)`: never shorter than half the term.
    Equal,
    /// `min(max_delay, U(base_delay, 3 · previous))`: grows from the previous delay.
    Decorrelated,
    /// The term itself, no randomness (tests and lockstep-tolerant APIs only).
    None,
}

/// Exponential backoff with a cap and jitter.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry::{Backoff, Jitter};
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), Jitter::Full)?;
/// let delay = backoff.delay(3, Duration::ZERO);
/// assert!(delay <= Duration::from_millis(800));
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: Jitter,
}

impl Backoff {
    /// A backoff starting at `base`, capped at `max`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BaseAboveMax`] when `base > max`.
    pub fn new(base: Duration, max: Duration, jitter: Jitter) -> Result<Self, ConfigError> {
        if base > max {
            return Err(ConfigError::BaseAboveMax { base, max });
        }
        Ok(Self { base, max, jitter })
    }

    /// The capped exponential term for retry `retry` (0 for the first retry).
    #[must_use]
    pub fn term(&self, retry: u32) -> Duration {
        if retry >= 32 {
            return self.max;
        }
        self.base.saturating_mul(1 << retry).min(self.max)
    }

    /// A jittered delay for retry `retry` (0 for the first retry); `previous` is the delay
    /// used before this one (only decorrelated jitter reads it).
    #[must_use]
    pub fn delay(&self, retry: u32, previous: Duration) -> Duration {
        self.delay_with(retry, previous, fastrand::f64())
    }

    /// The delay for a given uniform sample `unit` in `[0, 1)`.
    fn delay_with(&self, retry: u32, previous: Duration, unit: f64) -> Duration {
        let unit = unit.clamp(0.0, 1.0);
        match self.jitter {
            Jitter::None => self.term(retry),
            Jitter::Full => self.term(retry).mul_f64(unit),
            Jitter::Equal => {
                let half = self.term(retry) / 2;
                half + half.mul_f64(unit)
            }
            Jitter::Decorrelated => {
                let high = previous.saturating_mul(3).clamp(self.base, self.max);
                self.base + high.saturating_sub(self.base).mul_f64(unit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff::new(100 * MS, 5_000 * MS, jitter).expect("valid backoff")
    }

    #[test]
    fn term_doubles_then_caps() {
        let b = backoff(Jitter::None);
        let terms: Vec<_> = (0..8).map(|n| b.term(n)).collect();
        assert_eq!(
            terms,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000].map(|m| m * MS)
        );
        assert_eq!(b.term(31), 5_000 * MS);
        assert_eq!(b.term(u32::MAX), 5_000 * MS);
    }

    #[test]
    fn modes_at_the_edges_of_the_sample() {
        let prev = 1_000 * MS;
        let cases = [
            (Jitter::Full, 0.0, Duration::ZERO),
            (Jitter::Full, 1.0, 400 * MS),
            (Jitter::Equal, 0.0, 200 * MS),
            (Jitter::Equal, 1.0, 400 * MS),
            (Jitter::Decorrelated, 0.0, 100 * MS),
            (Jitter::Decorrelated, 1.0, 3_000 * MS),
            (Jitter::None, 0.5, 400 * MS),
        ];
        for (jitter, unit, expected) in cases {
            assert_eq!(
                backoff(jitter).delay_with(2, prev, unit),
                expected,
                "{jitter:?} at {unit}"
            );
        }
    }

    #[test]
    fn base_above_max_is_rejected() {
        assert_eq!(
            Backoff::new(2 * MS, MS, Jitter::Full),
            Err(ConfigError::BaseAboveMax {
                base: 2 * MS,
                max: MS
            })
        );
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
            Just(Jitter::None)
        ]
    }

    proptest! {
        #[test]
        fn delays_stay_within_zero_and_the_cap(
            base_ms in 0u64..10_000,
            extra_ms in 0u64..100_000,
            retry in 0u32..200,
            prev_ms in 0u64..1_000_000,
            jitter in any_jitter(),
        ) {
            let max = Duration::from_millis(base_ms + extra_ms);
            let b = Backoff::new(Duration::from_millis(base_ms), max, jitter).expect("base <= max");
            let delay = b.delay(retry, Duration::from_millis(prev_ms));
            prop_assert!(delay <= max, "{delay:?} > {max:?}");
        }

        #[test]
        fn delays_at_the_cap_still_vary(
            retry in 10u32..100,
            jitter in prop_oneof![Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::Decorrelated)],
        ) {
            let b = backoff(jitter);
            let prev = b.term(retry);
            let delays: std::collections::HashSet<_> =
                (0..50).map(|_| b.delay(retry, prev)).collect();
            // 50 draws at the cap from a continuous range: equal values would mean no jitter.
            prop_assert!(delays.len() > 40, "only {} distinct delays", delays.len());
        }
    }
}

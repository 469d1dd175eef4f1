//! A server's "wait this long", bounded: a delay within a maximum, or "too long".

use std::time::Duration;

/// The longest wait any server hint may name; beyond it a hint is [`Hint::TooLong`] whatever
/// the configured maxima. 24 hours: no quota window or maintenance a client should sleep
/// through is longer, and values past it (`999999999`, a date in 9999, `1e9`) are a server
/// saying "not soon", not a schedule.
pub const MAX_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest hinted wait honoured unless configured otherwise: the default of both retry's
/// `max_retry_after` and the rate limiter's `max_pause`, so the two bounds agree.
pub(crate) const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);

/// How long a server asked its clients to wait, checked against a maximum.
///
/// A hint is never silently dropped for being long: beyond the maximum it is `TooLong`,
/// so that a retry can stop at once (with the server's time in its error) and a rate
/// limiter can pause for its own cap instead of for a day.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::hints::Hint;
///
/// let minute = Duration::from_secs(60);
/// let hint = Hint::new(Duration::from_secs(90));
/// assert_eq!(hint, Hint::Delay(Duration::from_secs(90)));
///
/// // A retry that honours at most a minute stops; a limiter capped at a minute pauses that long.
/// let bounded = hint.bounded(minute);
/// assert!(bounded.is_too_long());
/// assert_eq!(bounded.requested(), Some(Duration::from_secs(90)));
/// assert_eq!(bounded.capped(minute), minute);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hint {
    /// Wait this long: no longer than the maximum the hint was checked against.
    Delay(Duration),
    /// Longer than the maximum.
    TooLong {
        /// The wait the server named; `None` when it is beyond what a `Duration` or the
        /// system clock can hold.
        requested: Option<Duration>,
    },
}

impl Hint {
    /// A hint for a wait of `requested`, checked against [`MAX_HINT`].
    #[must_use]
    pub fn new(requested: Duration) -> Self {
        Self::Delay(requested).bounded(MAX_HINT)
    }

    /// The same hint checked against `max` as well: a delay longer than `max` becomes too
    /// long; a hint already too long stays so.
    #[must_use]
    pub fn bounded(self, max: Duration) -> Self {
        match self {
            Self::Delay(wait) if wait > max => Self::TooLong {
                requested: Some(wait),
            },
            other => other,
        }
    }

    /// The delay to honour, or `None` when the hint is too long.
    #[must_use]
    pub fn delay(self) -> Option<Duration> {
        match self {
            Self::Delay(wait) => Some(wait),
            Self::TooLong { .. } => None,
        }
    }

    /// The wait the server named, too long or not; `None` only when it cannot be held.
    #[must_use]
    pub fn requested(self) -> Option<Duration> {
        match self {
            Self::Delay(wait) => Some(wait),
            Self::TooLong { requested } => requested,
        }
    }

    /// Whether the hint is beyond its maximum.
    #[must_use]
    pub fn is_too_long(self) -> bool {
        matches!(self, Self::TooLong { .. })
    }

    /// The wait the server named, but no longer than `cap`.
    #[must_use]
    pub fn capped(self, cap: Duration) -> Duration {
        self.requested().map_or(cap, |wait| wait.min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn bounds() {
        let long = |requested| Hint::TooLong { requested };
        // (hint, bounded by 60 s, its delay, what it requested, capped at 60 s)
        let cases = [
            (Hint::new(S), Hint::Delay(S), Some(S), Some(S), S),
            (
                Hint::new(60 * S),
                Hint::Delay(60 * S),
                Some(60 * S),
                Some(60 * S),
                60 * S,
            ),
            (
                Hint::new(61 * S),
                long(Some(61 * S)),
                None,
                Some(61 * S),
                60 * S,
            ),
            (
                Hint::new(MAX_HINT),
                long(Some(MAX_HINT)),
                None,
                Some(MAX_HINT),
                60 * S,
            ),
            (long(None), long(None), None, None, 60 * S),
        ];
        for (hint, bounded, delay, requested, capped) in cases {
            let got = hint.bounded(60 * S);
            assert_eq!(got, bounded, "{hint:?}");
            assert_eq!(got.delay(), delay, "{hint:?}");
            assert_eq!(got.requested(), requested, "{hint:?}");
            assert_eq!(got.is_too_long(), delay.is_none(), "{hint:?}");
            assert_eq!(got.capped(60 * S), capped, "{hint:?}");
        }
    }

    #[test]
    fn beyond_a_day_is_too_long_whatever_the_maximum() {
        let day_and_a_second = MAX_HINT + S;
        assert_eq!(
            Hint::new(MAX_HINT),
            Hint::Delay(MAX_HINT),
            "a day is the limit"
        );
        let hint = Hint::new(day_and_a_second);
        assert!(hint.is_too_long());
        assert!(
            hint.bounded(Duration::MAX).is_too_long(),
            "a larger maximum does not undo the ceiling"
        );
        assert_eq!(hint.capped(Duration::MAX), day_and_a_second);
    }

    proptest::proptest! {
        #[test]
        fn a_delay_never_exceeds_its_maximum(secs in 0u64..200_000, max in 0u64..200_000) {
            let max = Duration::from_secs(max);
            let hint = Hint::new(Duration::from_secs(secs)).bounded(max);
            if let Some(delay) = hint.delay() {
                proptest::prop_assert!(delay <= max && delay <= MAX_HINT);
            }
            proptest::prop_assert!(hint.capped(max) <= max);
            proptest::prop_assert_eq!(hint.requested(), Some(Duration::from_secs(secs)));
        }
    }
}

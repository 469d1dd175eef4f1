//! A sliding window of counts in atomics: ten buckets, each one word holding its epoch and
//! its two counts, so that recording a call is one compare-and-swap and no lock.
//!
//! Most successes are counted without reading the clock: in the bucket of the epoch the
//! clock last gave, while that bucket still holds that epoch. The first call of a bucket and
//! every sixteenth after it read the clock, as every failure does. After a quiet spell up
//! to fifteen successes can so land in a bucket that already left the window: they can
//! make a circuit trip a little sooner, never later.

use std::sync::atomic::{AtomicU64, Ordering};

/// A success that finds this many calls (or a multiple) in its bucket reads the clock.
const REREAD: u64 = 16;

/// Buckets in a window: a call leaves the window at most a tenth of it late.
const LEN: usize = 10;
pub(crate) const BUCKETS: u64 = LEN as u64;

const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const EPOCH_BITS: u32 = 64 - 2 * COUNT_BITS;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;

/// Calls and failures over the last `BUCKETS` bucket widths.
#[derive(Debug)]
pub(crate) struct Window {
    /// `epoch << 40 | failures << 20 | calls`; an epoch is `now / width`, modulo 2^24.
    buckets: [AtomicU64; LEN],
    width: u64,
    /// The epoch of the clock's last reading, for successes counted without one.
    last_epoch: AtomicU64,
}

/// What the window holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
}

impl Window {
    /// A window `window_nanos` long.
    pub(crate) fn new(window_nanos: u64) -> Self {
        Self {
            buckets: Default::default(),
            width: (window_nanos / BUCKETS).max(1),
            last_epoch: AtomicU64::new(0),
        }
    }

    /// Counts a success in the bucket of the clock's last reading, if that bucket still
    /// holds that epoch and it is not time to read the clock again; `false` when the caller
    /// must read it and [`record`](Self::record).
    #[inline(always)]
    pub(crate) fn record_success_without_clock(&self) -> bool {
        let epoch = self.last_epoch.load(Ordering::Relaxed);
        let bucket = &self.buckets[usize::try_from(epoch % BUCKETS).unwrap_or(0)];
        let mut current = bucket.load(Ordering::Relaxed);
        loop {
            let calls = current & COUNT_MAX;
            if current >> (2 * COUNT_BITS) != epoch
                || calls.is_multiple_of(REREAD)
                || calls == COUNT_MAX
            {
                return false;
            }
            // One more call, in the low bits.
            match bucket.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Counts one call at `now` (nanoseconds of the circuit's clock).
    #[inline]
    pub(crate) fn record(&self, now: u64, failed: bool) {
        let epoch = (now / self.width) & EPOCH_MASK;
        self.last_epoch.store(epoch, Ordering::Relaxed);
        let bucket = &self.buckets[usize::try_from(epoch % BUCKETS).unwrap_or(0)];
        let mut current = bucket.load(Ordering::Relaxed);
        loop {
            let (calls, failures) = if current >> (2 * COUNT_BITS) == epoch {
                (current & COUNT_MAX, (current >> COUNT_BITS) & COUNT_MAX)
            } else {
                (0, 0)
            };
            // Saturating: a million calls in a bucket already says what it has to.
            let calls = (calls + 1).min(COUNT_MAX);
            let failures = (failures + u64::from(failed)).min(calls);
            let next = epoch << (2 * COUNT_BITS) | failures << COUNT_BITS | calls;
            match bucket.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The calls and failures of the buckets still inside the window at `now`.
    pub(crate) fn counts(&self, now: u64) -> Counts {
        let epoch = (now / self.width) & EPOCH_MASK;
        let mut counts = Counts {
            calls: 0,
            failures: 0,
        };
        for bucket in &self.buckets {
            let word = bucket.load(Ordering::Relaxed);
            let age = epoch.wrapping_sub(word >> (2 * COUNT_BITS)) & EPOCH_MASK;
            if age < BUCKETS {
                counts.calls += word & COUNT_MAX;
                counts.failures += (word >> COUNT_BITS) & COUNT_MAX;
            }
        }
        counts
    }

    /// Forgets every call: a circuit that closes starts over.
    pub(crate) fn clear(&self) {
        for bucket in &self.buckets {
            // An epoch no `now` maps to soon: the bucket counts as empty.
            bucket.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn counts_slide_out_bucket_by_bucket() {
        let window = Window::new(10 * SECOND);
        for _ in 0..3 {
            window.record(SECOND, true);
        }
        window.record(5 * SECOND, false);
        assert_eq!(
            window.counts(5 * SECOND),
            Counts {
                calls: 4,
                failures: 3
            }
        );
        // The first bucket (1 s..2 s) leaves at 11 s.
        assert_eq!(
            window.counts(10 * SECOND + SECOND / 2),
            Counts {
                calls: 4,
                failures: 3
            }
        );
        assert_eq!(
            window.counts(11 * SECOND),
            Counts {
                calls: 1,
                failures: 0
            }
        );
        assert_eq!(
            window.counts(16 * SECOND),
            Counts {
                calls: 0,
                failures: 0
            }
        );
        // A bucket reused by a later epoch starts from zero.
        window.record(21 * SECOND, false);
        assert_eq!(
            window.counts(21 * SECOND),
            Counts {
                calls: 1,
                failures: 0
            }
        );
        window.clear();
        assert_eq!(
            window.counts(21 * SECOND),
            Counts {
                calls: 0,
                failures: 0
            }
        );
    }

    #[test]
    fn successes_between_readings_count_in_the_last_bucket_read() {
        let window = Window::new(10 * SECOND);
        assert!(
            !window.record_success_without_clock(),
            "an empty bucket reads the clock"
        );
        window.record(3 * SECOND, false);
        for _ in 1..REREAD {
            assert!(window.record_success_without_clock());
        }
        assert!(
            !window.record_success_without_clock(),
            "the sixteenth reads the clock again"
        );
        window.record(4 * SECOND, true);
        assert!(window.record_success_without_clock(), "in the 4 s bucket");
        assert_eq!(
            window.counts(4 * SECOND),
            Counts {
                calls: REREAD + 2,
                failures: 1
            }
        );
        assert_eq!(
            window.counts(13 * SECOND + SECOND / 2),
            Counts {
                calls: 2,
                failures: 1
            },
            "the 3 s bucket left, the 4 s one stays"
        );
        // A bucket taken by a later epoch is never written with an earlier one.
        window.record(14 * SECOND, false);
        window.last_epoch.store(4, Ordering::Relaxed);
        assert!(!window.record_success_without_clock());
        window.clear();
        assert!(
            !window.record_success_without_clock(),
            "a cleared window reads"
        );
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let window = std::sync::Arc::new(Window::new(10 * SECOND));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let window = std::sync::Arc::clone(&window);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        window.record(SECOND, (i + t) % 2 == 0);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
        assert_eq!(
            window.counts(SECOND),
            Counts {
                calls: 4000,
                failures: 2000
            }
        );
    }
}

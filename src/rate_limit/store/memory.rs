//! One key's GCRA schedule in atomics: take a permit now, or reserve the next free slot
//! and sleep until it.
//!
//! The whole state is the theoretical arrival time (`tat`): the instant the bucket is
//! empty again. A permit at `now` is free when `tat <= now + tau` (`tau` is the burst's
//! depth, `interval × (burst - 1)`); taking it moves `tat` on by one interval. A caller
//! that finds none free does not sleep and retry: it reserves the slot at
//! `tat - tau`, moving `tat` on as if it had taken it, and sleeps until its slot. The
//! slots follow each other at exactly one interval whenever anyone waits, so a timer that
//! wakes late (tokio's has a 1 ms tick) delays a send, never the schedule: at 10,000/s
//! ten slots share a tick and go together.
//!
//! Times are nanoseconds on the limiter's [`TokioClock`](super::clock::TokioClock).

use std::sync::atomic::{AtomicU64, Ordering};

/// Two timer ticks: how late a sleeper commonly wakes (tokio's timer has a 1 ms tick, and a
/// busy machine adds to it). A caller arriving up to this long after the bucket emptied
/// catches up the lateness instead of losing it, so that a single task at 10,000/s gets
/// its quota though it can only sleep whole ticks. It costs at most `rate × 2 ms` permits
/// over any stretch (0.2 % over a second).
pub(crate) const CATCH_UP: u64 = 2_000_000;

/// A GCRA schedule whose quota can change while it runs.
#[derive(Debug)]
pub(crate) struct Schedule {
    tat: AtomicU64,
    interval: AtomicU64,
    tau: AtomicU64,
    /// Proactive pacing from a server's `remaining` and reset: until `pace_until`, permits
    /// are at least `pace` apart and never burst.
    pace: AtomicU64,
    pace_until: AtomicU64,
}

/// A slot taken by a waiter: when it may send, and the schedule's end after taking it (to
/// hand the slot back if the waiter gives up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) at: u64,
    end: u64,
    interval: u64,
}

impl Schedule {
    /// A full bucket of `burst` permits, one back every `interval` nanoseconds.
    pub(crate) fn new(interval: u64, burst: u32) -> Self {
        Self {
            tat: AtomicU64::new(0),
            interval: AtomicU64::new(interval),
            tau: AtomicU64::new(tau(interval, burst)),
            pace: AtomicU64::new(0),
            pace_until: AtomicU64::new(0),
        }
    }

    /// Changes the quota; the bucket's state (what was spent, who holds a slot) is kept.
    pub(crate) fn set_quota(&self, interval: u64, burst: u32) {
        self.interval.store(interval, Ordering::Relaxed);
        self.tau.store(tau(interval, burst), Ordering::Relaxed);
    }

    /// Changes the quota at `now`, keeping what was spent as a number of permits: a bucket
    /// that owed one permit at the old rate owes one at the new rate, so a raised quota
    /// applies from the next call instead of after the old debt ran out. Slots already
    /// reserved keep their times.
    pub(crate) fn rescale(&self, now: u64, interval: u64, burst: u32) {
        let old = self.interval.swap(interval, Ordering::Relaxed);
        self.tau.store(tau(interval, burst), Ordering::Relaxed);
        if old == 0 || old == interval {
            return;
        }
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                let debt = tat.checked_sub(now)?;
                let scaled = u128::from(debt) * u128::from(interval) / u128::from(old);
                Some(now.saturating_add(u64::try_from(scaled).unwrap_or(u64::MAX)))
            });
    }

    /// The interval between permits and the burst depth in force at `now`.
    #[inline]
    pub(crate) fn params(&self, now: u64) -> (u64, u64) {
        let interval = self.interval.load(Ordering::Relaxed);
        if self.pace_until.load(Ordering::Relaxed) > now {
            let pace = self.pace.load(Ordering::Relaxed);
            if pace > interval {
                return (pace, 0);
            }
        }
        (interval, self.tau.load(Ordering::Relaxed))
    }

    /// Takes a permit at `now`, or says how many nanoseconds until one is free.
    #[inline]
    pub(crate) fn try_take(&self, now: u64) -> Result<(), u64> {
        let (interval, tau) = self.params(now);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let free_at = tat.saturating_sub(tau);
            if free_at > now {
                return Err(free_at - now);
            }
            let next = tat.max(now.saturating_sub(CATCH_UP)) + interval;
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Reserves the first slot at or after `now` and `not_before`, unless it is more than
    /// `max_wait` nanoseconds away (then `Err` says how far).
    pub(crate) fn reserve(&self, now: u64, not_before: u64, max_wait: u64) -> Result<Slot, u64> {
        let (interval, tau) = self.params(now);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let base = tat.max(now.saturating_sub(CATCH_UP));
            let at = base.saturating_sub(tau).max(now).max(not_before);
            if at - now > max_wait {
                return Err(at - now);
            }
            // As if the call arrived at its slot: a slot after a pause starts the schedule
            // afresh there.
            let end = base.max(at) + interval;
            match self
                .tat
                .compare_exchange_weak(tat, end, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Ok(Slot { at, end, interval });
                }
                Err(seen) => tat = seen,
            }
        }
    }

    /// Hands back a slot its waiter gave up, when no slot was reserved after it; a slot
    /// in the middle of the line stays taken (the key sends one fewer, never one more).
    pub(crate) fn give_back(&self, slot: Slot) {
        let _ = self.tat.compare_exchange(
            slot.end,
            slot.end - slot.interval,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// Spreads what the server says remains over its window: permits at least `pace`
    /// apart, without bursts, until `until`.
    pub(crate) fn pace(&self, pace: u64, until: u64) {
        self.pace.store(pace, Ordering::Relaxed);
        self.pace_until.store(until, Ordering::Release);
    }

    /// The schedule's end: from then on the bucket is full.
    pub(crate) fn full_at(&self) -> u64 {
        self.tat.load(Ordering::Acquire)
    }
}

fn tau(interval: u64, burst: u32) -> u64 {
    interval.saturating_mul(u64::from(burst.saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn bursts_then_refuses_with_the_exact_wait() {
        let schedule = Schedule::new(100 * MS, 3);
        for _ in 0..3 {
            assert_eq!(schedule.try_take(0), Ok(()));
        }
        assert_eq!(schedule.try_take(0), Err(100 * MS));
        assert_eq!(schedule.try_take(40 * MS), Err(60 * MS));
        assert_eq!(schedule.try_take(100 * MS), Ok(()));
    }

    #[test]
    fn reservations_follow_each_other_one_interval_apart_whenever_they_wake() {
        let schedule = Schedule::new(10 * MS, 1);
        assert_eq!(schedule.try_take(0), Ok(()));
        let slots: Vec<u64> = (0..5)
            .map(|_| schedule.reserve(0, 0, u64::MAX).expect("no limit").at)
            .collect();
        assert_eq!(slots, [10 * MS, 20 * MS, 30 * MS, 40 * MS, 50 * MS]);
        // A reservation made late (its caller's timer fired late) still gets the next slot.
        let late = schedule.reserve(55 * MS, 0, u64::MAX).expect("no limit");
        assert_eq!(late.at, 60 * MS);
    }

    #[test]
    fn a_reservation_beyond_max_wait_takes_nothing() {
        let schedule = Schedule::new(10 * MS, 1);
        assert_eq!(schedule.try_take(0), Ok(()));
        assert_eq!(schedule.reserve(0, 0, 5 * MS), Err(10 * MS));
        assert_eq!(schedule.reserve(0, 0, 10 * MS).map(|s| s.at), Ok(10 * MS));
    }

    #[test]
    fn the_last_slot_is_handed_back_a_middle_one_is_not() {
        let schedule = Schedule::new(10 * MS, 1);
        assert_eq!(schedule.try_take(0), Ok(()));
        let first = schedule.reserve(0, 0, u64::MAX).expect("no limit");
        let second = schedule.reserve(0, 0, u64::MAX).expect("no limit");
        schedule.give_back(first);
        assert_eq!(
            schedule.reserve(0, 0, u64::MAX).map(|s| s.at),
            Ok(30 * MS),
            "a hole stays"
        );
        let last = schedule.reserve(0, 0, u64::MAX).expect("no limit");
        schedule.give_back(last);
        assert_eq!(schedule.reserve(0, 0, u64::MAX).map(|s| s.at), Ok(last.at));
        let _ = second;
    }

    #[test]
    fn a_pause_moves_the_slot_and_the_catch_up_is_two_ticks() {
        let schedule = Schedule::new(10 * MS, 1);
        assert_eq!(
            schedule.reserve(0, 500 * MS, u64::MAX).map(|s| s.at),
            Ok(500 * MS)
        );
        assert_eq!(schedule.reserve(0, 0, u64::MAX).map(|s| s.at), Ok(510 * MS));
        // Idle for long: two ticks of lateness are caught up, no more.
        let schedule = Schedule::new(MS / 10, 1);
        assert_eq!(schedule.try_take(1_000 * MS), Ok(()));
        let taken = (0..100)
            .take_while(|_| schedule.try_take(1_000 * MS).is_ok())
            .count();
        assert_eq!(taken, 20, "burst + rate × 2 ms: twenty more at 10,000/s");
    }

    #[test]
    fn pacing_spaces_permits_without_bursts_until_the_reset() {
        let schedule = Schedule::new(MS, 100);
        schedule.pace(50 * MS, 1_000 * MS);
        assert_eq!(schedule.try_take(0), Ok(()));
        assert_eq!(schedule.try_take(0), Err(50 * MS));
        // After the reset the configured quota and burst are back.
        assert_eq!(schedule.try_take(1_000 * MS), Ok(()));
        assert_eq!(schedule.try_take(1_000 * MS), Ok(()));
    }

    #[test]
    fn a_new_quota_keeps_what_was_spent() {
        let schedule = Schedule::new(100 * MS, 1);
        assert_eq!(schedule.try_take(0), Ok(()));
        schedule.set_quota(MS, 1);
        assert_eq!(schedule.try_take(0), Err(100 * MS), "spent stays spent");
        assert_eq!(schedule.try_take(100 * MS), Ok(()));
        assert_eq!(schedule.try_take(100 * MS), Err(MS));
    }

    #[test]
    fn a_rescaled_quota_keeps_the_debt_in_permits() {
        let schedule = Schedule::new(100 * MS, 1);
        assert_eq!(schedule.try_take(0), Ok(()));
        // One permit owed at 10/s becomes one permit owed at 1,000/s.
        schedule.rescale(0, MS, 1);
        assert_eq!(
            schedule.try_take(0),
            Err(MS),
            "still spent, for one new interval"
        );
        assert_eq!(schedule.try_take(MS), Ok(()));
        // Lowering the quota stretches what is owed the same way.
        schedule.rescale(MS, 10 * MS, 1);
        assert_eq!(schedule.try_take(MS), Err(10 * MS));
        // A bucket owing nothing stays full.
        let idle = Schedule::new(100 * MS, 1);
        idle.rescale(500 * MS, MS, 1);
        assert_eq!(idle.try_take(500 * MS), Ok(()));
    }
}

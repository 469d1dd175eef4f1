//! The bulkhead: a bound on concurrent attempts per key, with a bounded queue.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};

use crate::error::ConfigError;

/// How many attempts of one key (origin) may be in flight, and how many may wait.
///
/// An attempt over both bounds fails at once with
/// [`Error::BulkheadFull`](crate::Error::BulkheadFull), not applied: one slow host cannot
/// take every connection and task of the process with it.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::breaker::BulkheadConfig;
///
/// let config = BulkheadConfig::default().max_concurrent(16).max_queue(32);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Attempts in flight per key at most (from sending to the response's head). Default
    /// 64.
    pub max_concurrent: usize,
    /// Attempts waiting for a slot per key at most; one more fails at once. Default 64.
    pub max_queue: usize,
    /// The longest an attempt waits in the queue before it fails. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 64,
            max_queue: 64,
            max_wait: Duration::from_secs(5),
        }
    }
}

impl BulkheadConfig {
    /// Sets the attempts in flight per key at most. Default 64.
    #[must_use]
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }

    /// Sets the attempts waiting per key at most; 0 for none. Default 64.
    #[must_use]
    pub fn max_queue(mut self, max: usize) -> Self {
        self.max_queue = max;
        self
    }

    /// Sets the longest wait in the queue. Default 5 s.
    #[must_use]
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 || self.max_concurrent > Semaphore::MAX_PERMITS {
            return Err(ConfigError::Invalid {
                name: "bulkhead.max_concurrent",
                value: self.max_concurrent.to_string(),
            });
        }
        if self.max_wait.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "bulkhead.max_wait",
            });
        }
        Ok(())
    }
}

/// One key's slots and queue: a count of attempts in flight in one atomic (no lock to take
/// or give back a slot) and a [`Notify`] that wakes the queue when one frees.
#[derive(Debug)]
pub(crate) struct Bulkhead {
    in_flight: AtomicUsize,
    waiting: AtomicUsize,
    freed: Notify,
    pub(crate) config: BulkheadConfig,
}

/// A wait in the queue, counted until it ends, however it ends.
pub(crate) struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Bulkhead {
    pub(crate) fn new(config: &BulkheadConfig) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
            config: config.clone(),
        }
    }

    /// Takes a slot now if one is free. The caller gives it back with
    /// [`give_back`](Self::give_back).
    ///
    /// One atomic add when a slot is free. At the bound the add is taken back at once;
    /// until it is, a call racing this one may find the bulkhead full too (and queue or be
    /// refused), and never more than `max_concurrent` run.
    #[inline]
    pub(crate) fn try_take(&self) -> bool {
        let max = self.config.max_concurrent;
        if self.in_flight.fetch_add(1, Ordering::SeqCst) < max {
            return true;
        }
        // A slot freed meanwhile woke a waiter that found the count still raised by this
        // add: wake one again, now that the slot shows.
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) <= max
            && self.waiting.load(Ordering::SeqCst) > 0
        {
            self.freed.notify_one();
        }
        false
    }

    /// A place in the queue, if the queue has room.
    pub(crate) fn queue(&self) -> Option<Queued<'_>> {
        let max = self.config.max_queue;
        self.waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Queued(&self.waiting))
    }

    /// Waits for a slot, up to `max_wait`; whether one was taken. Woken in arrival order;
    /// a newcomer finding a slot free takes it first.
    pub(crate) async fn wait(&self, _queued: &Queued<'_>) -> bool {
        let taken = async {
            loop {
                // Registered before looking, so that a slot freed in between still wakes.
                let mut freed = pin!(self.freed.notified());
                freed.as_mut().enable();
                if self.try_take() {
                    return;
                }
                freed.await;
            }
        };
        tokio::time::timeout(self.config.max_wait, taken)
            .await
            .is_ok()
    }

    /// Gives a slot back, waking one waiter if any.
    #[inline]
    pub(crate) fn give_back(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_one();
        }
    }

    /// No attempt in flight or waiting: a bulkhead that may be evicted.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.waiting.load(Ordering::SeqCst) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_then_queue_then_refusal() {
        let bulkhead = Bulkhead::new(&BulkheadConfig::default().max_concurrent(2).max_queue(1));
        assert!(bulkhead.try_take() && bulkhead.try_take());
        assert!(!bulkhead.try_take());
        let queued = bulkhead.queue().expect("room for one");
        assert!(bulkhead.queue().is_none(), "the queue is full");
        bulkhead.give_back();
        assert!(bulkhead.wait(&queued).await);
        drop(queued);
        assert!(bulkhead.queue().is_some(), "room again");
        assert!(!bulkhead.is_idle());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_at_max_wait() {
        let bulkhead = Bulkhead::new(
            &BulkheadConfig::default()
                .max_concurrent(1)
                .max_wait(Duration::from_secs(2)),
        );
        assert!(bulkhead.try_take());
        let queued = bulkhead.queue().expect("room");
        let start = tokio::time::Instant::now();
        assert!(!bulkhead.wait(&queued).await);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn zero_slots_is_a_config_error() {
        assert!(
            BulkheadConfig::default()
                .max_concurrent(0)
                .validate()
                .is_err()
        );
        assert!(BulkheadConfig::default().validate().is_ok());
    }
}

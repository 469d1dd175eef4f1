//! Admission: taking a permit at once in `call`, or reserving the next slot and sleeping
//! until it (up to `max_wait`), or refusing without sending.

use std::time::Duration;

use super::RateLimiter;
use crate::error::Error;
use crate::rate_limit::RateLimitKey;
use crate::rate_limit::state::{Counted, KeyState};
use crate::rate_limit::store::Slot;

/// What a call does after its first look at the bucket.
pub(crate) enum Admission {
    /// A permit was taken: send now.
    Go,
    /// Wait in the slow path for this slot, reserved in line.
    Wait(Slot),
    /// Fail without sending: the wait would be this long, more than allowed.
    Refuse(Duration),
}

impl RateLimiter {
    /// The fast path, run in `call`: takes a permit, or reserves the next slot in line
    /// (so that the line is in the order of the calls), or refuses. Never waits.
    #[inline]
    pub(crate) fn admit(&self, key: &KeyState) -> Admission {
        match key.take() {
            Ok(()) => Admission::Go,
            Err(wait) if self.settings().fail_fast() => Admission::Refuse(wait),
            Err(wait) if wait > self.settings().max_wait() => Admission::Refuse(wait),
            Err(_) => {
                let now = self.clock().now_nanos();
                match self.reserve(key, now, self.settings().max_wait_nanos()) {
                    Ok(slot) => Admission::Wait(slot),
                    Err(wait) => Admission::Refuse(wait),
                }
            }
        }
    }

    /// Reserves the key's next slot at or after `now`, after the server's pause if there
    /// is one (plus jitter), within `max_wait` nanoseconds.
    fn reserve(&self, key: &KeyState, now: u64, max_wait: u64) -> Result<Slot, Duration> {
        // Jitter only where the server set the time: the quota's own slots are already
        // one interval apart.
        let not_before = if key.pause_left(now).is_some() {
            key.paused_until().saturating_add(self.jitter())
        } else {
            0
        };
        key.schedule
            .reserve(now, not_before, max_wait)
            .map_err(Duration::from_nanos)
    }

    /// The slow path: sleeps until the slot `admit` reserved (or reserves one), up to
    /// `max_wait` in all. A pause the server sets meanwhile moves the call to a slot after
    /// it. A call dropped while it waits hands its slot back when it can.
    pub(crate) async fn wait_for_permit(
        &self,
        key: &KeyState,
        reserved: Option<Slot>,
    ) -> Result<(), Error> {
        let clock = self.clock();
        let (_waiting, _) = Counted::enter(&key.waiting);
        let start = clock.now_nanos();
        let deadline = start.saturating_add(self.settings().max_wait_nanos());
        let mut reserved = reserved;
        loop {
            let now = clock.now_nanos();
            let slot = match reserved.take() {
                Some(slot) => slot,
                None => self
                    .reserve(key, now, deadline.saturating_sub(now))
                    .map_err(|wait| self.refuse(&key.name, wait))?,
            };
            let held = Held {
                key,
                slot: Some(slot),
            };
            let paused = key.paused_until() > now;
            let wait = Duration::from_nanos(slot.at.saturating_sub(now));
            crate::metrics::rate_limit_waited(wait, paused);
            // The log module's convention: a throttle the server asked for is a WARN; pacing
            // by our own quota is the normal case and stays at DEBUG.
            if paused {
                tracing::warn!(
                    rate_limit.key = %key.name,
                    wait_ms = millis(wait),
                    reason = "paused by the server",
                    "waited for the rate limit"
                );
            } else {
                tracing::debug!(
                    rate_limit.key = %key.name,
                    wait_ms = millis(wait),
                    reason = "quota",
                    "waited for the rate limit"
                );
            }
            tokio::time::sleep_until(clock.instant(slot.at)).await;
            if key.pause_left(clock.now_nanos()).is_none() {
                held.keep();
                return Ok(());
            }
            // Paused while this call slept: its slot is not one to use now.
        }
    }

    /// The error of a call refused without being sent.
    pub(super) fn refuse(&self, name: &RateLimitKey, retry_after: Duration) -> Error {
        self.log_refusal(name, retry_after);
        Error::RateLimited {
            retry_after,
            key: name.as_public_str().map(str::to_owned),
            idempotency_key: None,
        }
    }

    pub(crate) fn log_refusal(&self, name: &RateLimitKey, retry_after: Duration) {
        crate::metrics::rate_limit_refused();
        tracing::debug!(
            rate_limit.key = %name,
            retry_after_ms = millis(retry_after),
            max_wait_ms = millis(self.settings().max_wait()),
            "rate limited: no permit within the allowed wait, not sent"
        );
    }

    fn jitter(&self) -> u64 {
        fastrand::u64(0..=self.settings().jitter())
    }
}

/// A reserved slot, handed back if its waiter gives up (cancelled, or moved by a pause).
struct Held<'a> {
    key: &'a KeyState,
    slot: Option<Slot>,
}

impl Held<'_> {
    fn keep(mut self) {
        self.slot = None;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.key.schedule.give_back(slot);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

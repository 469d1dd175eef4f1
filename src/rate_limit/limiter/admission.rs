//! Admission: taking a permit at once in `call`, or waiting in line for one up to
//! `max_wait`, or refusing without sending.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::RateLimiter;
use crate::error::Error;
use crate::rate_limit::state::{Counted, KeyState};
use crate::rate_limit::{RateLimitKey, RateLimitMode};

/// What a call does after its first look at the bucket.
pub(crate) enum Admission {
    /// A permit was taken: send now.
    Go,
    /// Wait for a permit in the slow path.
    Wait,
    /// Fail without sending: the wait would be this long, more than allowed.
    Refuse(Duration),
}

impl RateLimiter {
    /// Takes a permit now or says how long until one may be free.
    pub(super) fn try_take(&self, key: &KeyState) -> Result<(), Duration> {
        let ahead = key.waiting.load(Ordering::Acquire);
        // Reading the clock costs as much as the rest: only when a pause was ever set.
        if ahead > 0 || key.was_paused() {
            let now = self.shared.clock.now_nanos();
            if ahead > 0 || key.pause_left(now).is_some() {
                // Paused, or others are in line (no overtaking).
                return Err(key.wait_at_least(now, ahead));
            }
        }
        key.take(&self.shared.clock)
    }

    /// The fast path, run in `call`: never waits.
    pub(crate) fn admit(&self, key: &KeyState) -> Admission {
        match self.try_take(key) {
            Ok(()) => Admission::Go,
            Err(wait) => {
                let settings = self.shared.settings.load();
                if settings.mode == RateLimitMode::FailFast || wait > settings.max_wait {
                    Admission::Refuse(wait)
                } else {
                    Admission::Wait
                }
            }
        }
    }

    /// The slow path: waits in line for a permit, up to `max_wait`.
    pub(crate) async fn wait_for_permit(&self, key: &KeyState) -> Result<(), Error> {
        let name = &key.name;
        let max_wait = self.shared.settings.load().max_wait;
        let deadline = Instant::now()
            .checked_add(max_wait)
            .unwrap_or_else(far_future);
        let (_waiting, ahead) = Counted::enter(&key.waiting);
        let at_least = key.wait_at_least(self.shared.clock.now_nanos(), ahead);
        if at_least > max_wait {
            return Err(self.refuse(name, at_least));
        }
        let Ok(_turn) = tokio::time::timeout_at(deadline, key.queue.lock()).await else {
            let ahead = key.waiting.load(Ordering::Acquire).saturating_sub(1);
            let at_least = key.wait_at_least(self.shared.clock.now_nanos(), ahead);
            return Err(self.refuse(name, at_least.max(key.interval)));
        };
        loop {
            let now = self.shared.clock.now_nanos();
            let (wait, paused) = match key.pause_left(now) {
                Some(left) => (left, true),
                None => match key.take(&self.shared.clock) {
                    Ok(()) => return Ok(()),
                    Err(wait) => (wait, false),
                },
            };
            let now = Instant::now();
            if now + wait > deadline {
                return Err(self.refuse(name, wait));
            }
            // Jitter only where the server set the time: the quota's own waits are already
            // one caller at a time.
            let jitter = if paused {
                self.jitter()
            } else {
                Duration::ZERO
            };
            let until = (now + wait + jitter).min(deadline);
            // The log module's convention: a throttle the server asked for is a WARN; pacing
            // by our own quota is the normal case and stays at DEBUG.
            if paused {
                tracing::warn!(
                    rate_limit.key = %key.name,
                    wait_ms = millis(until - now),
                    reason = "paused by the server",
                    "waited for the rate limit"
                );
            } else {
                tracing::debug!(
                    rate_limit.key = %key.name,
                    wait_ms = millis(until - now),
                    reason = "quota",
                    "waited for the rate limit"
                );
            }
            tokio::time::sleep_until(until).await;
        }
    }

    /// The error of a call refused without being sent.
    fn refuse(&self, name: &RateLimitKey, retry_after: Duration) -> Error {
        self.log_refusal(name, retry_after);
        Error::RateLimited {
            retry_after,
            key: name.as_public_str().map(str::to_owned),
            idempotency_key: None,
        }
    }

    pub(crate) fn log_refusal(&self, name: &RateLimitKey, retry_after: Duration) {
        tracing::debug!(
            rate_limit.key = %name,
            retry_after_ms = millis(retry_after),
            max_wait_ms = millis(self.shared.settings.load().max_wait),
            "rate limited: no permit within the allowed wait, not sent"
        );
    }

    fn jitter(&self) -> Duration {
        let max = u64::try_from(self.shared.settings.load().jitter.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=max))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An instant no wait reaches (about 30 years on), for `max_wait` values that overflow.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

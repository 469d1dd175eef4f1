//! What a key learns from its server besides pauses: the limit it states, which replaces
//! the configured quota, and what remains until the reset, which paces the key.

use std::sync::atomic::Ordering;

use super::state::KeyState;
use crate::hints::{Hint, RateLimitHeaders};

impl KeyState {
    /// Runs the key at the limit the server stated: `limit` per the policy's window, or per
    /// the configured period when the server names none (then only to lower the quota),
    /// bursting to the configured burst at most. Logged at INFO when the stated limit
    /// changes.
    pub(crate) fn follow_stated_limit(&self, seen: &RateLimitHeaders) {
        let Some(limit) = seen.limit.filter(|limit| *limit > 0) else {
            return;
        };
        let configured = self.configured.get();
        let window = seen.window.map_or(configured.per, |w| {
            u64::try_from(w.as_nanos()).unwrap_or(u64::MAX)
        });
        if window == 0 {
            return;
        }
        let interval = window.div_ceil(limit).max(1);
        // Without a window the period is our guess: it may lower the quota, never raise it
        // (GitHub's `X-RateLimit-Limit: 5000` is per hour, whatever period was configured).
        if seen.window.is_none() && interval < configured.interval {
            return;
        }
        // The same limit as before, or another window for the same count: compare both.
        let stamp = (limit.saturating_mul(1_000_003) ^ window) | 1;
        if self.stated.swap(stamp, Ordering::AcqRel) == stamp {
            return;
        }
        let burst = u32::try_from(limit)
            .unwrap_or(u32::MAX)
            .min(configured.burst);
        self.schedule.set_quota(interval, burst);
        tracing::info!(
            rate_limit.key = %self.name,
            limit,
            window_ms = window / 1_000_000,
            "the server stated its limit: the key follows it instead of the configured quota"
        );
    }

    /// Spreads what the server says remains over the time to its reset: permits at least
    /// `reset / remaining` apart, without bursts, until the reset. A spent quota is a
    /// pause, not a pace.
    pub(crate) fn pace(&self, seen: &RateLimitHeaders) {
        let (Some(remaining), Some(Hint::Delay(reset))) = (seen.remaining, seen.reset) else {
            return;
        };
        if remaining == 0 || reset.is_zero() {
            return;
        }
        let reset = u64::try_from(reset.as_nanos()).unwrap_or(u64::MAX);
        let now = self.clock.now_nanos();
        self.schedule
            .pace(reset.div_ceil(remaining), now.saturating_add(reset));
    }
}

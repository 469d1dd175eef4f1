//! Idle eviction: keys nobody used for `idle_timeout` are dropped, and the map never holds
//! more than `max_keys`, so that per-tenant or per-token keys do not grow it forever.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::RateLimiter;

impl RateLimiter {
    /// Run before a new key is made: drops the keys idle for `idle_timeout` (a sweep at
    /// most once per half of it), and when the map is full, the longest unused keys no call
    /// holds, down to three quarters of `max_keys`, so that the next sweep is far off.
    pub(super) fn make_room(&self, idle_timeout: u64, max_keys: usize) {
        let keys = &self.shared.keys;
        let now = self.shared.clock.now_nanos();
        let swept = self.shared.swept.load(Ordering::Relaxed);
        if now.saturating_sub(swept) >= idle_timeout / 2
            && self
                .shared
                .swept
                .compare_exchange(swept, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let idle_since = now.saturating_sub(idle_timeout);
            keys.retain(|_, state| Arc::strong_count(state) > 1 || !state.idle_since(idle_since));
        }
        if keys.len() < max_keys {
            return;
        }
        let keep = max_keys - (max_keys / 4).max(1);
        let mut unused: Vec<_> = keys
            .iter()
            .filter(|entry| Arc::strong_count(entry.value()) == 1)
            .map(|entry| (entry.value().schedule.full_at(), entry.key().clone()))
            .collect();
        let excess = keys.len().saturating_sub(keep).min(unused.len());
        if excess == 0 {
            return;
        }
        unused.select_nth_unstable_by_key(excess - 1, |(full_at, _)| *full_at);
        for (_, key) in unused.into_iter().take(excess) {
            keys.remove_if(&key, |_, state| Arc::strong_count(state) == 1);
        }
        tracing::debug!(
            dropped = excess,
            max_keys,
            "rate limiter full: dropped the longest unused keys"
        );
    }
}

//! Changing the quotas and settings of a running limiter, keeping what it knows.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::{Quotas, RateLimiter};
use crate::error::ConfigError;
use crate::rate_limit::RateLimitConfig;

impl RateLimiter {
    /// Swaps in `config`'s quotas and settings while calls run: every key keeps its bucket
    /// (what it spent, counted in permits, and the slots of calls waiting in line) and any
    /// pause a server set, and takes its new quota from its next permit: a bucket that owed
    /// one permit at 1 a minute owes one at the new rate. A key following a limit its server stated keeps
    /// following it (the server's word is the API's truth) unless `config` turns
    /// `server_limits` off. A custom key function stays as it was.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `config` is invalid; the limiter is then left unchanged.
    ///
    /// # Example
    ///
    /// ```
    /// use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitKey, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(&RateLimitConfig::new(Quota::per_minute(1)))?;
    /// let key = RateLimitKey::custom("orders");
    /// assert!(limiter.check(&key).is_ok());
    /// assert!(limiter.check(&key).is_err());
    ///
    /// // The spent permit stays spent: it is owed for half a minute now, not a whole one.
    /// limiter.reconfigure(&RateLimitConfig::new(Quota::per_minute(2).burst(1)))?;
    /// assert!(limiter.check(&key).is_err());
    /// assert!(limiter.reconfigure(&RateLimitConfig::new(Quota::per_second(0))).is_err());
    /// # Ok::<(), steadfast::ConfigError>(())
    /// ```
    pub fn reconfigure(&self, config: &RateLimitConfig) -> Result<(), ConfigError> {
        let quotas = Quotas::new(config)?;
        let mut current = self
            .shared
            .quotas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.settings.set(config);
        let now = self.shared.clock.now_nanos();
        for entry in &self.shared.keys {
            let state = entry.value();
            let quota = quotas.of(&state.name);
            state.configured.set(quota);
            let stated = state.stated.load(Ordering::Relaxed) != 0;
            if !stated || !config.server_limits {
                state.stated.store(0, Ordering::Relaxed);
                state.schedule.rescale(now, quota.interval, quota.burst);
            }
        }
        *current = quotas;
        drop(current);
        tracing::info!(
            keys = self.shared.keys.len(),
            "rate limiter reconfigured: every key keeps its bucket and pauses"
        );
        Ok(())
    }
}

//! Changing a limiter's settings in place, keeping what it knows about each key.

use std::collections::HashMap;
use std::sync::Arc;

use super::{RateLimiter, Settings};
use crate::error::ConfigError;
use crate::rate_limit::RateLimitConfig;
use crate::rate_limit::config::Field;
use crate::rate_limit::state::KeyState;

impl Settings {
    pub(super) fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let hosts: HashMap<String, governor::Quota> = config
            .hosts
            .iter()
            .map(|(host, quota)| Ok((host.to_ascii_lowercase(), quota.to_governor(Field::Hosts)?)))
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            quota: config.quota.to_governor(Field::Quota)?,
            hosts,
            mode: config.mode,
            max_wait: config.max_wait,
            jitter: config.jitter,
            adaptive: config.adaptive,
            pause_without_hint: config.pause_without_hint,
            max_pause: config.max_pause,
        })
    }
}

impl RateLimiter {
    /// Replaces the limiter's settings, for every layer and client that shares it, keeping
    /// what it knows about each key.
    ///
    /// A key whose quota and adaptive settings are unchanged keeps its bucket as it is. A
    /// key whose quota changed gets a new bucket at the new quota (full, as a new key's
    /// is) and keeps the pause a server asked for and what it last said was left. Calls
    /// already waiting for a permit finish on the bucket they waited on; `mode`, `max_wait`
    /// and `jitter` apply from the next call.
    ///
    /// # Example
    ///
    /// ```
    /// use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(&RateLimitConfig::new(Quota::per_second(10)))?;
    /// limiter.reconfigure(&RateLimitConfig::new(Quota::per_second(50)))?;
    /// # Ok::<(), steadfast::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a quota is invalid; the limiter keeps its settings.
    pub fn reconfigure(&self, config: &RateLimitConfig) -> Result<(), ConfigError> {
        let settings = Arc::new(Settings::new(config)?);
        self.shared.settings.store(Arc::clone(&settings));
        for mut entry in self.shared.keys.iter_mut() {
            let old = entry.value();
            let quota = self.quota_of(&old.name);
            let same = old.interval == quota.replenish_interval()
                && old.burst == quota.burst_size().get()
                && old.adapts_as(
                    settings.adaptive,
                    settings.pause_without_hint,
                    settings.max_pause,
                );
            if same {
                continue;
            }
            let fresh = KeyState::new(old.name.clone(), quota, self.shared.clock)
                .adapting(
                    settings.adaptive,
                    settings.pause_without_hint,
                    settings.max_pause,
                )
                .carrying(old);
            *entry.value_mut() = Arc::new(fresh);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::rate_limit::{Quota, RateLimitConfig, RateLimitKey, RateLimiter};

    fn key() -> RateLimitKey {
        RateLimitKey::custom("orders")
    }

    fn config(quota: Quota) -> RateLimitConfig {
        RateLimitConfig::new(quota).jitter(Duration::ZERO)
    }

    #[tokio::test(start_paused = true)]
    async fn an_unchanged_quota_keeps_its_bucket() {
        let limiter = RateLimiter::new(&config(Quota::per_second(1).burst(2))).expect("valid");
        assert_eq!(limiter.check(&key()), Ok(()));
        assert_eq!(limiter.check(&key()), Ok(()));
        assert!(limiter.check(&key()).is_err(), "burst spent");
        limiter
            .reconfigure(&config(Quota::per_second(1).burst(2)).max_wait(Duration::from_secs(1)))
            .expect("valid");
        assert!(
            limiter.check(&key()).is_err(),
            "still spent after the reload"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_quota_applies_to_known_keys() {
        let limiter = RateLimiter::new(&config(Quota::per_second(1).burst(1))).expect("valid");
        assert_eq!(limiter.check(&key()), Ok(()));
        assert!(limiter.check(&key()).is_err());
        limiter
            .reconfigure(&config(Quota::per_second(10).burst(1)))
            .expect("valid");
        assert_eq!(limiter.check(&key()), Ok(()), "a new bucket");
        assert_eq!(
            limiter.check(&key()),
            Err(Duration::from_millis(100)),
            "at the new rate"
        );
    }

    #[test]
    fn an_invalid_quota_changes_nothing() {
        let limiter = RateLimiter::new(&config(Quota::per_second(1))).expect("valid");
        assert!(limiter.reconfigure(&config(Quota::per_second(0))).is_err());
        assert!(format!("{limiter:?}").contains("max_wait"));
    }
}

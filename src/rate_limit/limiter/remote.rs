//! Permits from a quota in Redis (one round trip each), and this process's share of the
//! quota while Redis cannot be reached.

use std::time::Duration;

use reqwest::Response;

use super::RateLimiter;
use crate::error::{ConfigError, Error};
use crate::hints::RateLimitHeaders;
use crate::rate_limit::RateLimitConfig;
use crate::rate_limit::state::{Counted, KeyState};
use crate::rate_limit::store::{RedisQuota, Schedule, WhenRedisIsDown};

/// How late a sleeper may wake: the local schedule's catch-up, the same in Redis.
const CATCH_UP: u64 = 2_000_000;

impl RateLimiter {
    /// A limiter keyed by origin whose buckets live in Redis, shared by every process
    /// using the same server and prefix: one quota for all of them.
    ///
    /// Waiting, fail-fast, `max_wait`, pauses and server-stated limits work as in a local
    /// limiter; each permit is one round trip to Redis, and a waiting call's slot is
    /// reserved in that same round trip. [`check`](Self::check) stays local to this
    /// process. See [`store`](crate::rate_limit::store).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a quota is invalid.
    pub fn with_redis(config: &RateLimitConfig, quota: RedisQuota) -> Result<Self, ConfigError> {
        Self::build_with(config, None, Some(quota))
    }

    /// The quota in Redis, when the limiter has one.
    pub(crate) fn remote(&self) -> Option<&RedisQuota> {
        self.shared.remote.as_ref()
    }

    /// Takes a permit from the quota in Redis, sleeping for a reserved slot; when Redis is
    /// down, fails closed or takes one from this process's share.
    pub(crate) async fn remote_permit(&self, key: &KeyState) -> Result<(), Error> {
        let Some(remote) = self.remote() else {
            return Ok(());
        };
        let settings = self.settings();
        let (interval, tau) = key.schedule.params(self.clock().now_nanos());
        let max_wait = if settings.fail_fast() {
            0
        } else {
            settings.max_wait_nanos()
        };
        let redis_key = remote.redis_key(&key.name);
        match remote
            .take(&redis_key, interval, tau, max_wait, CATCH_UP)
            .await
        {
            Ok(answer) if answer.allowed => {
                if !answer.wait.is_zero() {
                    let (_waiting, _) = Counted::enter(&key.waiting);
                    tracing::debug!(
                        rate_limit.key = %key.name,
                        wait_ms = millis(answer.wait),
                        reason = "shared quota",
                        "waited for the rate limit"
                    );
                    tokio::time::sleep(answer.wait).await;
                }
                Ok(())
            }
            Ok(answer) => Err(self.refuse(&key.name, answer.wait)),
            Err(error) => match remote.when_down() {
                WhenRedisIsDown::LocalShare => self.local_share_permit(key, remote).await,
                _ => Err(Error::QuotaUnavailable {
                    key: key.name.as_public_str().map(str::to_owned),
                    source: Box::new(error),
                    idempotency_key: None,
                }),
            },
        }
    }

    /// A permit from this process's share of the key's quota, while Redis is down.
    async fn local_share_permit(&self, key: &KeyState, remote: &RedisQuota) -> Result<(), Error> {
        let schedule = key.fallback.get_or_init(|| {
            let quota = key.configured.get();
            let share = remote.local_share();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let (interval, burst) = (
                (quota.interval as f64 / share).ceil() as u64,
                ((f64::from(quota.burst) * share).floor() as u32).max(1),
            );
            Schedule::new(interval.max(1), burst)
        });
        let clock = self.clock();
        let now = clock.now_nanos();
        let paused = key.paused_until();
        if paused <= now && schedule.try_take(now).is_ok() {
            return Ok(());
        }
        let max_wait = if self.settings().fail_fast() {
            0
        } else {
            self.settings().max_wait_nanos()
        };
        let slot = schedule
            .reserve(now, paused, max_wait)
            .map_err(|wait| self.refuse(&key.name, Duration::from_nanos(wait)))?;
        let (_waiting, _) = Counted::enter(&key.waiting);
        tokio::time::sleep_until(clock.instant(slot.at)).await;
        Ok(())
    }

    /// Reads a response as a local limiter does, and shares a pause it asks for with every
    /// process through Redis.
    pub(crate) async fn remote_observe(&self, key: &KeyState, response: &Response) {
        key.observe(response.status(), response.headers());
        let Some(remote) = self.remote() else {
            return;
        };
        let settings = self.settings();
        if !settings.adaptive() {
            return;
        }
        // `parse` reads no clock and allocates nothing when no rate-limit field is present.
        let seen = RateLimitHeaders::parse(response.headers(), std::time::SystemTime::now());
        let max_pause = settings.max_pause();
        let Some(hint) = crate::rate_limit::pause::server_pause(
            &seen,
            response.status(),
            settings.pause_without_hint(),
            max_pause,
        ) else {
            return;
        };
        let pause = hint.capped(max_pause);
        if let Err(error) = remote.pause(&remote.redis_key(&key.name), pause).await {
            tracing::debug!(
                rate_limit.key = %key.name,
                error.kind = ?error.kind(),
                "could not share the server's pause through Redis"
            );
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

//! The quota in Redis: a GCRA in one Lua script on the Redis server's clock.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::rate_limit::RateLimitKey;

/// A [`RedisQuota`] could not be set up.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RedisQuotaError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The URL is invalid or the server could not be reached within the timeout.
    #[error("the rate-limit quota's Redis cannot be reached")]
    Unavailable(#[source] redis::RedisError),
}

/// What a process does when Redis cannot be reached.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenRedisIsDown {
    /// Fail the call with [`Error::QuotaUnavailable`](crate::Error::QuotaUnavailable);
    /// nothing is sent. The default: the quota is the API's, and no process may guess it.
    #[default]
    FailClosed,
    /// Fall back to a limiter in this process at [`RedisQuotaConfig::local_share`] of the
    /// quota, logged at WARN, until Redis answers again.
    LocalShare,
}

/// Settings of a [`RedisQuota`].
///
/// # Example
///
/// ```
/// use steadfast::rate_limit::store::{RedisQuotaConfig, WhenRedisIsDown};
///
/// // Four instances: each keeps a quarter of the quota when Redis is down.
/// let config = RedisQuotaConfig::new("redis://127.0.0.1:6379/0")
///     .prefix("billing-sync:quota:")
///     .when_down(WhenRedisIsDown::LocalShare)
///     .local_share(0.25);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisQuotaConfig {
    /// The server, as a `redis://` URL (it may hold a password: it is never logged).
    /// Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// Prepended to every key, so that several integrations can share a server.
    /// Default `steadfast:quota:`.
    pub prefix: String,
    /// The limit for connecting and for each permit's round trip. Default 250 ms.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// What a process does when Redis cannot be reached. Default
    /// [`WhenRedisIsDown::FailClosed`].
    pub when_down: WhenRedisIsDown,
    /// The share of each quota this process takes alone when Redis is down and
    /// `when_down` is `LocalShare`: 1 / the number of processes. Default 1.0 (set it).
    pub local_share: f64,
}

impl Default for RedisQuotaConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "steadfast:quota:".to_owned(),
            timeout: Duration::from_millis(250),
            when_down: WhenRedisIsDown::FailClosed,
            local_share: 1.0,
        }
    }
}

impl fmt::Debug for RedisQuotaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQuotaConfig")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("when_down", &self.when_down)
            .field("local_share", &self.local_share)
            .finish()
    }
}

impl RedisQuotaConfig {
    /// Settings for the server at `url`, other fields at their defaults.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the key prefix. Default `steadfast:quota:`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the connect and round-trip limit. Default 250 ms.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets what a process does when Redis is down. Default fail closed.
    #[must_use]
    pub fn when_down(mut self, when_down: WhenRedisIsDown) -> Self {
        self.when_down = when_down;
        self
    }

    /// Sets this process's share of each quota when Redis is down. Default 1.0.
    #[must_use]
    pub fn local_share(mut self, share: f64) -> Self {
        self.local_share = share;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(self.local_share > 0.0 && self.local_share <= 1.0) {
            return Err(ConfigError::OutOfRange {
                name: "rate_limit.redis.local_share",
                range: "(0, 1]",
                value: self.local_share,
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "rate_limit.redis.timeout",
            });
        }
        Ok(())
    }
}

/// A quota in Redis, shared by every process that uses the same server and prefix.
///
/// Hand it to [`RateLimiter::with_redis`](crate::rate_limit::RateLimiter::with_redis).
/// Each permit is one round trip (`EVALSHA` of one script); each key is two Redis values
/// (`<prefix><key>` and `<prefix><key>:pause`), both with a TTL. An origin key is stored
/// as its text; a custom key (which may be a token) as its SHA-256.
///
/// The script reads Redis's clock (`TIME`), so Redis 5 or later is needed, and one Redis
/// (or a replicated primary), not a cluster.
///
/// # Clone
///
/// Clones share one multiplexed connection, re-established after failures.
#[derive(Clone)]
pub struct RedisQuota {
    connection: ConnectionManager,
    shared: Arc<Shared>,
}

struct Shared {
    prefix: String,
    when_down: WhenRedisIsDown,
    local_share: f64,
    take: Script,
    pause: Script,
    /// Whether the last round trip failed: the WARN is logged once per outage.
    down: AtomicBool,
}

impl fmt::Debug for RedisQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQuota")
            .field("prefix", &self.shared.prefix)
            .field("when_down", &self.shared.when_down)
            .field("local_share", &self.shared.local_share)
            .finish_non_exhaustive()
    }
}

/// Microseconds of Redis's clock since 2023-11-14 (1.7 × 10⁹ s), which keeps Lua's
/// doubles exact to a hundredth of a nanosecond for a century.
const NOW: &str = r"
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
";

/// KEYS: the schedule's end (µs), the pause's end (µs). ARGV: interval µs, burst depth µs
/// (interval × (burst - 1)), the longest wait µs, catch-up µs.
/// Returns {allowed, wait µs, remaining, reset µs}.
const TAKE: &str = r"
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
local pause = tonumber(redis.call('GET', KEYS[2])) or 0
local base = math.max(tat, now - tonumber(ARGV[4]))
local at = math.max(base - tau, now, pause)
if at - now > tonumber(ARGV[3]) then
  return {0, math.ceil(at - now), 0, math.ceil(math.max(tat - now, 0))}
end
local ends = math.max(base, at) + interval
redis.call('SET', KEYS[1], string.format('%.3f', ends), 'PX', math.ceil((ends - now) / 1000) + 1)
local remaining = math.max(math.floor((now + tau + interval - ends) / interval), 0)
return {1, math.ceil(at - now), remaining, math.ceil(ends - now)}
";

/// KEYS: the pause's end (µs). ARGV: the pause µs. Extends the pause, never shortens it.
const PAUSE: &str = r"
local stop = now + tonumber(ARGV[1])
local old = tonumber(redis.call('GET', KEYS[1])) or 0
if stop > old then
  redis.call('SET', KEYS[1], string.format('%.0f', stop), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return 1
";

/// What the script answered for one permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    /// Whether a permit (now or at `wait`) was taken.
    pub(crate) allowed: bool,
    /// How long until the permit (allowed) or until one may be free (refused).
    pub(crate) wait: Duration,
    /// Permits free right after this one.
    pub(crate) remaining: u64,
    /// How long until the bucket is full again.
    pub(crate) reset: Duration,
}

fn micros(nanos: u64) -> String {
    // Three decimals: intervals such as 1 s / 3 keep their nanoseconds; exact integers.
    format!("{}.{:03}", nanos / 1_000, nanos % 1_000)
}

fn duration(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

impl RedisQuota {
    /// Connects to the server now.
    ///
    /// # Errors
    ///
    /// [`RedisQuotaError::Config`] when a setting is invalid,
    /// [`RedisQuotaError::Unavailable`] when the URL is invalid or the server cannot be
    /// reached within the timeout.
    pub async fn connect(config: &RedisQuotaConfig) -> Result<Self, RedisQuotaError> {
        config.validate()?;
        let client = Client::open(config.url.as_str()).map_err(RedisQuotaError::Unavailable)?;
        let connection = ConnectionManager::new_with_config(client, manager_config(config))
            .await
            .map_err(RedisQuotaError::Unavailable)?;
        Ok(Self::from_parts(connection, config))
    }

    /// A quota that connects on first use; while the server cannot be reached each permit
    /// is handled as [`RedisQuotaConfig::when_down`] says.
    ///
    /// # Errors
    ///
    /// [`RedisQuotaError`] when a setting is invalid, or the URL is.
    pub fn lazy(config: &RedisQuotaConfig) -> Result<Self, RedisQuotaError> {
        config.validate()?;
        let client = Client::open(config.url.as_str()).map_err(RedisQuotaError::Unavailable)?;
        let connection = client
            .get_connection_manager_lazy(manager_config(config))
            .map_err(RedisQuotaError::Unavailable)?;
        Ok(Self::from_parts(connection, config))
    }

    fn from_parts(connection: ConnectionManager, config: &RedisQuotaConfig) -> Self {
        Self {
            connection,
            shared: Arc::new(Shared {
                prefix: config.prefix.clone(),
                when_down: config.when_down,
                local_share: config.local_share,
                take: Script::new(&format!("{NOW}{TAKE}")),
                pause: Script::new(&format!("{NOW}{PAUSE}")),
                down: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn when_down(&self) -> WhenRedisIsDown {
        self.shared.when_down
    }

    pub(crate) fn local_share(&self) -> f64 {
        self.shared.local_share
    }

    /// The Redis key of `key`: an origin as its text, a custom key (maybe a token) hashed.
    pub(crate) fn redis_key(&self, key: &RateLimitKey) -> String {
        if let Some(origin) = key.as_public_str() {
            return format!("{}{origin}", self.shared.prefix);
        }
        let digest = Sha256::digest(key.tagged());
        let mut name = format!("{}custom:", self.shared.prefix);
        for byte in digest {
            let _ = write!(name, "{byte:02x}");
        }
        name
    }

    /// Takes a permit now or reserves the next slot within `max_wait` (nanoseconds), in
    /// one round trip.
    pub(crate) async fn take(
        &self,
        redis_key: &str,
        interval: u64,
        tau: u64,
        max_wait: u64,
        catch_up: u64,
    ) -> Result<Answer, redis::RedisError> {
        let reply: Result<Vec<i64>, _> = self
            .shared
            .take
            .key(redis_key)
            .key(format!("{redis_key}:pause"))
            .arg(micros(interval))
            .arg(micros(tau))
            .arg(micros(max_wait))
            .arg(micros(catch_up))
            .invoke_async(&mut self.connection.clone())
            .await;
        let reply = self.note(reply)?;
        let [allowed, wait, remaining, reset] = reply[..] else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the quota script answered an unexpected shape",
            )));
        };
        Ok(Answer {
            allowed: allowed == 1,
            wait: duration(wait),
            remaining: u64::try_from(remaining).unwrap_or(0),
            reset: duration(reset),
        })
    }

    /// Pauses the key in every process for `pause`, on Redis's clock.
    pub(crate) async fn pause(
        &self,
        redis_key: &str,
        pause: Duration,
    ) -> Result<(), redis::RedisError> {
        let nanos = u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX);
        let reply: Result<i64, _> = self
            .shared
            .pause
            .key(format!("{redis_key}:pause"))
            .arg(micros(nanos))
            .invoke_async(&mut self.connection.clone())
            .await;
        self.note(reply).map(|_| ())
    }

    /// Logs the start (WARN) and the end (INFO) of an outage, once each.
    fn note<T>(&self, reply: Result<T, redis::RedisError>) -> Result<T, redis::RedisError> {
        match &reply {
            Ok(_) => {
                if self.shared.down.swap(false, Ordering::AcqRel) {
                    tracing::info!("the shared rate-limit quota is reachable again");
                }
            }
            Err(error) => {
                if !self.shared.down.swap(true, Ordering::AcqRel) {
                    let fallback = match self.shared.when_down {
                        WhenRedisIsDown::FailClosed => "calls fail closed, nothing is sent",
                        WhenRedisIsDown::LocalShare => {
                            "this process falls back to its local share of the quota"
                        }
                    };
                    tracing::warn!(
                        error.kind = ?error.kind(),
                        fallback,
                        "the shared rate-limit quota (Redis) cannot be reached"
                    );
                }
            }
        }
        reply
    }
}

fn manager_config(config: &RedisQuotaConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
        .set_number_of_retries(1)
}

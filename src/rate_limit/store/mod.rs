//! Where a quota's state lives: in this process ([`RateLimiter::new`](super::RateLimiter::new),
//! a lock-free GCRA schedule per key), or in Redis, shared by every process that uses the
//! same quota (`RedisQuota`, feature `redis`).
//!
//! An integration usually runs as several instances while the API's quota is per account:
//! with a bucket each they overshoot by the number of instances. With a [`RedisQuota`] the
//! schedule of each key lives in Redis: one Lua script on the Redis server's clock
//! (`TIME`) takes or reserves each permit in one round trip (`EVALSHA`), so every process
//! draws from one quota, and a pause a server asks of one process (429, a spent
//! `RateLimit`) reaches them all.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use steadfast::rate_limit::store::{RedisQuota, RedisQuotaConfig};
//! use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimiter};
//!
//! let quota = RedisQuota::connect(&RedisQuotaConfig::new("redis://127.0.0.1:6379")).await?;
//! let limiter = RateLimiter::with_redis(&RateLimitConfig::new(Quota::per_second(200)), quota)?;
//! let client = steadfast::Client::builder()
//!     .shared_rate_limiter(limiter)
//!     .build(reqwest::Client::new())?;
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! # The algorithm
//!
//! The same GCRA as the local limiter, after go-redis's `redis_rate`: one value per key,
//! its theoretical arrival time in microseconds of Redis's clock, with a TTL that ends
//! when the bucket is full again. Where `redis_rate` only answers "allowed or retry
//! after", the script also *reserves* a waiting caller's slot within `max_wait`, and
//! returns how long to sleep for it, so that waiting callers in every process are served
//! one interval apart without retrying. It returns allowed, the wait, what remains and
//! the time to the reset. A second key per limit holds the end of a pause a server asked
//! for; the script reads it.
//!
//! # When Redis is down
//!
//! [`WhenRedisIsDown::FailClosed`] (the default): the call fails with
//! [`Error::QuotaUnavailable`](crate::Error::QuotaUnavailable) and nothing is sent.
//! [`WhenRedisIsDown::LocalShare`]: the process falls back to a local limiter at its share
//! of the quota ([`RedisQuotaConfig::local_share`]), logged at WARN when Redis goes and at
//! INFO when it is back.

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub(crate) use memory::{Schedule, Slot};
#[cfg(feature = "redis")]
pub use redis::{RedisQuota, RedisQuotaConfig, RedisQuotaError, WhenRedisIsDown};

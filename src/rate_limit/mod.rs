//! Rate limiting: a GCRA token bucket per key that waits, adapts to 429 and `RateLimit`
//! headers, and is never multiplied by cloning.
//!
//! State the quota once; every attempt, retries included, stays inside it. When a server
//! says "slow down", every call on that key slows down, not each one after its own 429.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitLayer};
//! use steadfast::retry::RetryLayer;
//! use tower::ServiceBuilder;
//!
//! let config = RateLimitConfig::new(Quota::per_second(50).burst(5))
//!     .host("crm.example.com", Quota::per_minute(600))
//!     .max_wait(Duration::from_secs(10));
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::default())
//!     .layer(RateLimitLayer::new(&config)?) // inside retry: every attempt takes a permit
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! # Keys and quotas
//!
//! Each key has its own bucket, a GCRA (generic cell rate algorithm): a [`Quota`] of
//! `rate` per period, with a `burst`. The default key is the request's origin (scheme,
//! host and port); [`RateLimitConfig::host`] gives a host its own quota, and
//! [`RateLimiter::keyed_by`] keys by anything else, such as an API token.
//!
//! # Waiting, and why the quota is delivered
//!
//! A GCRA's whole state is one instant, the theoretical arrival time (TAT): when the bucket
//! is next empty. A permit is free while the TAT is at most a burst's depth ahead of now;
//! taking one moves the TAT on by one interval (`per / rate`).
//!
//! A call that finds no permit does not sleep and then try again: sleeping on tokio's
//! timer (1 ms ticks, later on a busy machine) would round every wait up, and with a small
//! burst that lateness is lost for good (200/s delivered 139/s that way). Instead the call
//! *reserves* the next slot in `call` itself (moving the TAT on as if it had taken it) and
//! sleeps until its slot. Slots follow each other exactly one interval apart whatever the
//! timer does, in the order of the calls (FIFO); a late wake delays one send, never the
//! schedule, and at 10,000/s the ten slots of a tick all go when it fires. A caller that
//! arrives just after the bucket emptied catches up up to 2 ms of such lateness, so the
//! limit over any stretch `d` is `burst + rate × (d + 2 ms)`. Measured on the real clock
//! (`benches/rate_limit.rs`), 64 tasks get 0.999–1.000 of the quota at 100, 1,000 and
//! 10,000/s.
//!
//! A call whose slot is more than [`RateLimitConfig::max_wait`] away fails at once,
//! without being sent, with [`Error::RateLimited { retry_after }`](crate::Error::RateLimited);
//! a call dropped while it waits hands its slot back when no later one was reserved.
//! [`RateLimitMode::FailFast`] never waits. Each wait emits a DEBUG event (`wait_ms`,
//! `reason`).
//!
//! # Adapting to the server
//!
//! Every response's headers are read ([`hints::RateLimitHeaders`](crate::hints::RateLimitHeaders)):
//! `Retry-After`, the IETF `RateLimit` and `RateLimit-Policy` fields,
//! `RateLimit-Limit / -Remaining / -Reset` and `X-RateLimit-Limit / -Remaining / -Reset`.
//! A 429, a 503 with `Retry-After`, or a spent quota with a reset, pauses every call on the
//! key until the server's time (`Retry-After` first), plus a little jitter so that they do
//! not all fire at once. Malformed headers are ignored. A 500, 502 or 504 never pauses the
//! key, whatever its `Retry-After`: the retry layer honours that for its own call.
//! [`RateLimiter::state`] shows what is known of a key.
//!
//! A pause is never longer than [`RateLimitConfig::max_pause`] (60 s by default): one
//! `Retry-After: 86400` must not stop every call to an origin for a day. A longer hint
//! pauses the key for the cap and is logged at WARN, once per key and pause.
//!
//! Before the quota is spent, a server that says what remains and when it resets
//! (`RateLimit`, `X-RateLimit-Remaining` + `-Reset`) paces the key: permits at least
//! `reset / remaining` apart, without bursts, until the reset, rather than spending what
//! remains at once and then waiting ([`RateLimitConfig::pacing`]). A limit the server
//! states (`RateLimit-Policy`'s `q` per `w`, `RateLimit-Limit` or `X-RateLimit-Limit` per
//! the configured period) replaces the key's configured quota, with the configured burst
//! at most, logged once at INFO ([`RateLimitConfig::server_limits`]).
//!
//! # Changing quotas, and forgetting keys
//!
//! [`RateLimiter::reconfigure`] swaps quotas and settings while calls run; every key keeps
//! its bucket and pauses. Keys unused for [`RateLimitConfig::idle_timeout`] are dropped,
//! and the map never holds more than [`RateLimitConfig::max_keys`]: per-tenant or
//! per-token keys do not grow it forever.
//!
//! # Many processes
//!
//! [`RateLimiter::with_redis`] (feature `redis`) keeps the buckets in Redis, so that every
//! instance of an integration draws from one quota; see [`store`].
//!
//! # Ordering
//!
//! Place it inside [`Retry`](crate::retry::Retry), so that every attempt takes a permit,
//! and outside the attempt timeout, so that waiting for a permit is not an attempt's time.
//! The retry layer hands a `RateLimited` error back as it is: the limiter already waited
//! as long as allowed.
//!
//! # Time
//!
//! Buckets and waits use `tokio::time`, so tests can run on a paused clock.
//!
//! # Clone
//!
//! The layer, the service and [`RateLimiter`] share their buckets through an `Arc`:
//! cloning a layer, a service or a [`Client`](crate::Client) never creates a new bucket.

mod adapt;
mod clock;
mod config;
mod future;
mod key;
mod layer;
mod limiter;
mod pause;
mod service;
mod settings;
mod state;
pub mod store;

pub use config::{Quota, RateLimitConfig, RateLimitMode};
pub use future::ResponseFuture;
pub use key::RateLimitKey;
pub use layer::RateLimitLayer;
pub use limiter::RateLimiter;
pub use service::RateLimit;
pub use state::RateLimitState;

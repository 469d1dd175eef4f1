//! Degrade gracefully: a circuit breaker and a bulkhead per host.
//!
//! When an API goes down, every caller would otherwise wait out its timeouts and retries.
//! A circuit counts each key's (origin's) recent outcomes; once too many failed it
//! **opens**, and calls fail at once, without touching the network, with
//! [`Error::CircuitOpen`](crate::Error::CircuitOpen) (not applied, saying until when).
//! After the break it **half-opens** and lets a few probes through: if they all succeed it
//! **closes**, one failure opens it again for longer. A bulkhead bounds the attempts in
//! flight per key, so one slow host cannot hold every task of the process.
//!
//! ```
//! use steadfast::breaker::{BulkheadConfig, CircuitBreakerConfig, CircuitBreakerLayer, Circuits};
//! use steadfast::retry::RetryLayer;
//! use tower::ServiceBuilder;
//!
//! let circuits = Circuits::builder()
//!     .breaker(CircuitBreakerConfig::default().failure_ratio(0.3))
//!     .bulkhead(BulkheadConfig::default().max_concurrent(16))
//!     .build()?;
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::default())
//!     .layer(CircuitBreakerLayer::shared_circuits(circuits)) // inside retry: per attempt
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! # What counts
//!
//! Each outcome is read through the shared [classification](crate::classify): a
//! `Transient` verdict (connect errors, timeouts, resets, 408, 500, 502, 503, 504) counts
//! as a failure, a `Success` as a success; throttles (429, a local rate limit) and
//! permanent failures (other 4xx) are not counted at all: the host answered. A 503 with
//! `Retry-After` opens the circuit for that long at once, at most
//! [`max_break`](CircuitBreakerConfig::max_break). The defaults and why are in
//! [`CircuitBreakerConfig`].
//!
//! # Errors
//!
//! - [`Error::CircuitOpen`](crate::Error::CircuitOpen): the circuit is open (or half-open
//!   with its probes out); `until` says when it lets a call through. Not applied.
//! - [`Error::BulkheadFull`](crate::Error::BulkheadFull): every slot busy and the queue
//!   full, or the queue wait ran out. Not applied.
//!
//! Both are transient and not applied, so the [retry layer](crate::retry) may try again:
//! after an open circuit it waits at least until `until` (never sending into a circuit it
//! knows is open), when that fits the call's deadline, `max_retry_after` and budget; else
//! the call ends with the typed error itself.
//!
//! # Events
//!
//! WARN `circuit opened` (fields `breaker.key`, `steadfast.circuit.state`, `calls`,
//! `failures`, `break_ms`), INFO `circuit half-open` and `circuit closed`. A custom key is
//! never logged.
//!
//! # Ordering
//!
//! Inside [`Retry`](crate::retry::Retry), so that every attempt is counted and refused
//! attempts can be retried later; outside the rate limiter, so that an open circuit takes
//! no permit, and outside the attempt timeout, so that a hung attempt counts as the
//! transient failure it becomes.
//!
//! # Cost
//!
//! A call to a closed circuit with an idle bulkhead takes no lock and makes no allocation.
//! Its origin is found in a cache in front of the registry's map: the first origin the
//! circuits see is their home, found with one atomic load and one comparison and never
//! evicted; later ones share 16 slots, each an `arc-swap` load. The call is admitted with
//! one atomic load, takes a bulkhead slot with one atomic add and is counted with one
//! compare-and-swap. Failures, the first call of each of the window's buckets and every
//! sixteenth after it read the clock; the successes between are counted in the bucket of
//! the last reading. After a quiet spell up to fifteen of them can land in a bucket that
//! already left the window, which can make a circuit trip a little sooner, never later.
//! With the built-in rules a status below 400 counts as a success without a
//! classification. About 514 instructions per call over the bare service, 811 over four
//! origins in turn (callgrind, `benches/profile.rs` `breaker` and `breaker-origins`).
//! Locks are taken only to change state and to add a key.
//!
//! # Time
//!
//! Breaks and windows use `tokio::time`, so tests can run on a paused clock.
//!
//! # Clone
//!
//! The layer, the service and [`Circuits`] share their state through an `Arc`: cloning
//! never creates a new circuit.

mod bulkhead;
mod circuit;
mod clock;
mod config;
mod future;
mod key;
mod layer;
mod registry;
mod service;
mod state;
mod window;

pub use bulkhead::BulkheadConfig;
pub use config::CircuitBreakerConfig;
pub use future::ResponseFuture;
pub use key::CircuitKey;
pub use layer::CircuitBreakerLayer;
pub use registry::{Circuits, CircuitsBuilder};
pub use service::CircuitBreaker;
pub use state::CircuitState;

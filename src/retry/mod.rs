//! Retry with capped exponential backoff, jitter, `Retry-After` and a retry budget.
//!
//! One logical call may become several attempts. [`Retry`] replays a clone of the request
//! when, and only when, all of these hold:
//!
//! 1. the attempt's verdict is `Transient` or `Throttled` (see [`classify`](crate::classify));
//! 2. repeating is safe: an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT, DELETE); or
//!    the attempt was not applied ([`Applied::NotApplied`](crate::classify::Applied): a
//!    failed connection, 408, 429, 503, a local refusal); or the request carries an
//!    `Idempotency-Key` **and** [`RetryConfig::server_dedupes`] says the server honours it
//!    (off by default: most CRMs and ERPs ignore the header; per host in
//!    [`RetryConfig::server_dedupes_hosts`]); or a
//!    [verifier](crate::verify) asked the server and learned the attempt was not applied (a
//!    verifier that finds it applied ends the call `Ok` with what it found);
//! 3. the body can be replayed: a streaming body is sent once, and the error says it was
//!    not retried because the body is not replayable;
//! 4. retries are left, the [`RetryBudget`] has a token, and the next delay ends before the
//!    deadline. If it would not, the call fails at once with `retry_at`, without sleeping.
//!
//! The delay for retry `n` caps the exponential term first and jitters second:
//! full jitter `U(0, min(max_delay, base_delay · 2^n))` by default. A server hint wins when
//! longer: `delay = max(backoff, hint)`. The hint is a throttled verdict's `retry_after`,
//! else a `Retry-After` on any retryable response (a 500, 502 or 504 too), read through
//! [`hints`](crate::hints). A hint beyond [`RetryConfig::max_retry_after`] ends the call at
//! once with [`NotRetried::RetryAfterTooLong`](crate::NotRetried::RetryAfterTooLong) and
//! the server's time in `retry_at`, rather than sleeping that long or retrying at once.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::retry::{RetryConfig, RetryLayer};
//! use tower::ServiceBuilder;
//!
//! let layer = RetryLayer::new(&RetryConfig::default().max_retries(2))?;
//! let service = ServiceBuilder::new().layer(layer).service(reqwest::Client::new());
//! # let _ = service;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! # The retry budget, in a first experiment
//!
//! The budget is on by default and shared by every clone of a client: within a sliding
//! 10 s window, retries may not exceed `0.2` × the calls that succeeded plus a floor of
//! `1` retry per second, that is 10 retries per window when nothing succeeds. Point a new
//! client at an API that always answers 503 and the first three calls make their three
//! retries each (9 of the 10), the fourth makes one, and every call after that fails at
//! its first 503 with [`NotRetried::BudgetExhausted`](crate::NotRetried::BudgetExhausted)
//! until the window moves on. That is the budget working: under a full outage a client
//! adds at most one retry per second, whatever its call rate. Each success buys a fifth of
//! a retry.
//!
//! To experiment without it, or for an API known to fail at random rather than under
//! load, change it:
//!
//! ```
//! use steadfast::retry::{BudgetConfig, RetryConfig};
//!
//! let off = RetryConfig::default().without_budget();
//! let roomier = RetryConfig::default()
//!     .budget(BudgetConfig::default().retry_ratio(0.5).min_per_second(5.0));
//! # let _ = (off, roomier);
//! ```
//!
//! In a file: `[retry.budget]` with `retry_ratio`, `min_per_second` and `window`.
//!
//! # Errors
//!
//! The service's error is [`Error`](crate::Error): `RetriesExhausted` when every allowed
//! attempt failed, `DeadlineExceeded` when the deadline cut a later attempt,
//! `NotRetried` with the reason otherwise. All keep the call's history (the
//! attempts, the last classification, status and response) and say whether the server may
//! have acted ([`Error::outcome`](crate::Error::outcome)): a POST answered 500 ends
//! `NotRetried { why: UnsafeMethod }` with its outcome unknown, never sent twice blindly.
//!
//! # Deadline
//!
//! Waits that would end past the deadline are not started (`NotRetried::Deadline`, with
//! `retry_at`); later attempts are cut at the deadline (`DeadlineExceeded`, outcome
//! unknown), and so are verifications (`NotRetried::OutcomeUnknown`). The first attempt runs without a timer of the
//! retry layer's: in the [`Client`](crate::Client) the outer deadline layer cuts it, with
//! [`Error::Timeout`](crate::Error::Timeout).
//!
//! # Hedging
//!
//! With [`RetryConfig::hedge`], [`RetryLayer::hedging`] makes a [`Hedge`] layer that goes
//! inside this one: an attempt still unanswered after a delay (fixed, or a percentile of
//! recent latencies) gets a second attempt beside it, only where rule 2 holds before the
//! outcome is known (an idempotent method, or a key the server dedupes), and only with a
//! budget token. The first response wins; the other attempt is dropped and its connection
//! closed.
//!
//! # Time
//!
//! Delays use `tokio::time`, so tests can run on a paused clock.
//!
//! # Clone
//!
//! Clones of the layer and of the service share one budget.

mod attempts;
mod backoff;
mod budget;
mod config;
mod dedupes;
mod future;
mod give_up;
mod hedge;
mod layer;
pub(crate) mod policy;
mod rules;
mod service;
mod spare;

pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetConfig, RetryBudget};
pub use config::RetryConfig;
pub use future::ResponseFuture;
pub use hedge::{Hedge, HedgeConfig, HedgeLayer, ResponseFuture as HedgeFuture};
pub use layer::RetryLayer;
pub use service::Retry;

pub use crate::telemetry::RetryStats;

//! Retry with capped exponential backoff, jitter, `Retry-After` and a retry budget.
//!
//! One logical call may become several attempts. [`Retry`] replays a clone of the request
//! when, and only when, all of these hold:
//!
//! 1. the attempt's verdict is `Transient` or `Throttled` (see [`classify`](crate::classify));
//! 2. the request is safe to repeat: an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT,
//!    DELETE), or it carries an `Idempotency-Key` header, or the failure provably happened
//!    before the server processed anything (connection refused, DNS, TLS handshake);
//! 3. the body can be replayed: a streaming body is sent once, and the error says it was
//!    not retried because the body is not replayable;
//! 4. retries are left, the [`RetryBudget`] has a token, and the next delay ends before the
//!    deadline. If it would not, the call fails at once with `retry_at`, without sleeping.
//!
//! The delay for retry `n` caps the exponential term first and jitters second:
//! full jitter `U(0, min(max_delay, base_delay · 2^n))` by default. A server hint
//! (`Retry-After`) wins when longer: `delay = max(backoff, hint)`.
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
//! # Errors
//!
//! The service's error is [`Error`](crate::Error): `RetriesExhausted` when every allowed
//! attempt failed, `NotRetried` with the reason otherwise. Both keep the last response, so its
//! status, headers and body can still be read.
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
mod future;
mod give_up;
mod layer;
pub(crate) mod policy;
mod retry_after;
mod rules;
mod service;
mod spare;

pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetConfig, RetryBudget};
pub use future::{ResponseFuture, RetryStats};
pub use layer::RetryLayer;
pub use policy::RetryConfig;
pub use retry_after::{parse_retry_after, retry_after};
pub use service::Retry;

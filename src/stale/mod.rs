//! Stale-if-error for reads: the last good response of a GET or HEAD, served when a later
//! call fails transiently or finds the host's circuit open.
//!
//! A catalog, a price list or a customer record a minute old is often better than an
//! error page. [`StaleIfErrorLayer`] keeps the last good response per URL and, when a later
//! call to that URL fails with a transient verdict (a 5xx after retries, a timeout, a
//! refused connection, [`Error::CircuitOpen`](crate::Error::CircuitOpen)), returns it
//! instead, marked [`Stale`] in its extensions (with its age and the error) and logged at
//! WARN (`served a stale response`, the URL redacted). Throttles and permanent failures
//! are never answered from the store.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::stale::{StaleConfig, StaleIfErrorLayer};
//! use steadfast::timeout::DeadlineLayer;
//! use steadfast::retry::RetryLayer;
//! use tower::ServiceBuilder;
//!
//! let service = ServiceBuilder::new()
//!     .layer(StaleIfErrorLayer::new(&StaleConfig::default().max_age(Duration::from_secs(600)))?)
//!     .layer(DeadlineLayer::new(Duration::from_secs(30)))
//!     .layer(RetryLayer::default())
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! # What is kept
//!
//! A success (2xx) to a GET or HEAD whose `Cache-Control` says neither `no-store` nor
//! `private`, whose body announces its length (`Content-Length`) within
//! [`max_entry_bytes`](StaleConfig::max_entry_bytes) and arrives within
//! [`max_read`](StaleConfig::max_read). A `no-store` response also forgets what was kept
//! for its URL. `private` is not kept because the store is shared by every caller of the
//! client, and entries are keyed by method, URL and a hash of the request's
//! `Authorization` and `Cookie` headers, so that one caller's response is never served to
//! another holding other credentials. Entries and bytes are bounded; the oldest go first.
//! A kept response is served only while younger than [`max_age`](StaleConfig::max_age).
//!
//! # Ordering
//!
//! At call scope, outside the deadline and retry, so that it sees the call's final
//! outcome: in the [`Client`](crate::Client) between the idempotency layer and the
//! deadline. The body it reads to keep is bounded by the deadline too.
//!
//! # Cost
//!
//! Only GET and HEAD pay: one allocation for the boxed future, a copy of the headers, and
//! for a kept response one lock of the store. Other methods, and a client without it,
//! pass through.

mod cache;
mod config;
mod future;
mod layer;
mod marker;
mod read;
mod service;

pub use config::StaleConfig;
pub use future::ResponseFuture;
pub use layer::StaleIfErrorLayer;
pub use marker::Stale;
pub use service::StaleIfError;

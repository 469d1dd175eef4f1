//! Resilient HTTP API clients: composable `tower` layers around any `reqwest::Client`.
//!
//! Integrations fail at the unhappy paths: the undocumented 502, the 429 on request 101, the
//! retry that charged a customer twice. steadfast classifies every outcome once
//! ([`classify`]), retries what is safe to retry with capped, jittered backoff that honours
//! `Retry-After` and a retry budget ([`retry`]), keeps every attempt inside the API's quota
//! and slows all callers down when the server says so ([`rate_limit`]), and bounds attempts
//! and calls in time ([`timeout`]). The [`Client`] facade builds the whole stack from one configuration, and
//! the [`mapper`] keeps every data transformation between two systems in one place,
//! reporting every bad field at once and the upstream's schema drift.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = steadfast::Client::new(reqwest::Client::new());
//! let response = client.get("http://127.0.0.1:8080/orders/42").send().await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! ```
//!
//! # The stack
//!
//! One logical call (what the caller asked for) may become several attempts (what went over
//! the wire). The layers are ordered by that, outermost first:
//!
//! | # | layer | scope | why there |
//! |---|---|---|---|
//! | 1 | total deadline ([`timeout::Timeout`]) | call | bounds attempts and waits together |
//! | 2 | [`retry::Retry`] with budget and `Retry-After` | call → attempts | replays a clone of the request |
//! | 3 | [`rate_limit::RateLimit`] (per key, GCRA) | attempt | every attempt takes a permit, retries included |
//! | 4 | attempt timeout ([`timeout::Timeout`]) | attempt | a hung attempt becomes a transient failure |
//! | 5 | `reqwest::Client` | attempt | the transport |
//!
//! Logging, dead letters, idempotency keys and circuit breaking take their places around
//! and inside retry as they land (see the README). Each layer also works alone with
//! `tower::ServiceBuilder`.
//!
//! # Errors
//!
//! Every layer and the client return [`Error`]; match it to tell a retried-out call from one
//! that was not safe to retry.
//!
//! # Features
//!
//! No cargo features yet. steadfast turns on no TLS backend of reqwest: your own `reqwest`
//! dependency chooses it (reqwest's default is rustls).

pub mod classify;
mod client;
mod error;
pub mod log;
pub mod mapper;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

pub use client::{Client, ClientBuilder, ClientConfig, RequestBuilder, ResponseExt};
pub use error::{BoxError, ConfigError, Error, Failure, NotRetried};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

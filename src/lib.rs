//! Resilient HTTP API clients: composable `tower` layers around any `reqwest::Client`.
//!
//! Integrations fail at the unhappy paths: the undocumented 502, the 429 on request 101, the
//! retry that charged a customer twice. steadfast classifies every outcome once
//! ([`classify`]) and says whether the server may have acted on it, retries what is safe to
//! retry with capped, jittered backoff that honours `Retry-After` and a retry budget
//! ([`retry`]), asks a verifier before sending again a POST that may have been applied
//! ([`verify`]), keeps every attempt inside the API's quota and slows all callers down when
//! the server says so ([`rate_limit`]) — both reading the server's hints through one bounded
//! parser ([`hints`]) — bounds attempts and
//! calls in time ([`timeout`]), gives every POST one idempotency key for all its attempts,
//! with a ledger that answers repeated keys without touching the network ([`idempotency`]),
//! and logs every call and decision with secrets masked ([`log`], [`redact`]). The
//! [`Client`] facade builds the whole stack from one configuration, and
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
//! | 1 | [`log::Log`] | call | one span per call; attempts are child spans |
//! | 2 | [`idempotency::Idempotency`] | call | one key per call, so every attempt carries it; the ledger sees final outcomes |
//! | 3 | total deadline ([`timeout::Deadline`]) | call | bounds attempts, waits and the caller's read of the body together |
//! | 4 | [`retry::Retry`] with budget and `Retry-After` | call → attempts | replays a clone of the request |
//! | 5 | [`rate_limit::RateLimit`] (per key, GCRA) | attempt | every attempt takes a permit, retries included |
//! | 6 | attempt timeout ([`timeout::Timeout`]) | attempt | a hung attempt becomes a transient failure |
//! | 7 | `reqwest::Client` | attempt | the transport |
//!
//! Dead letters and circuit breaking take their places around and inside retry as they
//! land (see the README). Each layer also works alone with `tower::ServiceBuilder`.
//!
//! # Logging
//!
//! Every call is a `tracing` span with OpenTelemetry field names and every attempt a child
//! span; retries, throttling and failures are events; URLs, headers and bodies go through
//! [`redact`] first ([`log`] lists the spans, events and fields). steadfast never
//! installs a subscriber: with none installed, logging costs next to nothing.
//!
//! # Errors
//!
//! Every layer and the client return [`Error`]; match it to tell a retried-out call from one
//! that was not safe to retry, and ask [`Error::outcome`] whether the server may have acted:
//! not applied (safe to send again) or unknown (look it up first). A call never ends
//! silently re-sent.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `redis` | `idempotency::store::RedisStore`, a ledger shared by many instances |
//!
//! steadfast turns on no TLS backend of reqwest: your own `reqwest`
//! dependency chooses it (reqwest's default is rustls).

mod body;
mod boxed;
pub mod classify;
mod client;
mod error;
pub mod hints;
pub mod idempotency;
mod key;
pub mod log;
pub mod mapper;
pub mod rate_limit;
pub mod redact;
pub mod retry;
mod telemetry;
pub mod timeout;
pub mod verify;

pub use client::{Client, ClientBuilder, ClientConfig, RequestBuilder, ResponseExt};
pub use error::{BoxError, ConfigError, Error, Failure, NotRetried, Unverified};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! Resilient HTTP API clients: composable `tower` layers around any `reqwest::Client`.
//!
//! Integrations fail at the unhappy paths: the undocumented 502, the 429 on request 101, the
//! retry that charged a customer twice. steadfast classifies every outcome once
//! ([`classify`]) and says whether the server may have acted on it, retries what is safe to
//! retry with capped, jittered backoff that honours `Retry-After` and a retry budget
//! ([`retry`]), asks a verifier before sending again a POST that may have been applied
//! ([`verify`]), keeps every attempt inside the API's quota and slows all callers down when
//! the server says so ([`rate_limit`]) — both reading the server's hints through one bounded
//! parser ([`hints`]) — bounds attempts and calls in time ([`timeout`]), fails calls to a
//! host that is down fast and answers reads that fail with their last good response
//! ([`breaker`], [`stale`]), gives every POST one idempotency key for all its attempts,
//! with a ledger that answers repeated keys without touching the network ([`idempotency`]),
//! logs every call and decision with secrets masked ([`log`], [`redact`]), records
//! every call that failed or may have been applied for a person or a job to replay
//! ([`dead_letter`]), and takes credentials from a provider asked on every attempt, so keys
//! and tokens rotate without a redeploy ([`credentials`]). The
//! [`Client`] facade builds the whole stack from one configuration (read from files and
//! `STEADFAST_*` variables, one profile per API with [`Profiles`], swapped while the
//! program runs with [`Client::reload`]), and
//! the [`mapper`] keeps every data transformation between two systems in one place,
//! reporting every bad field at once and the upstream's schema drift.
//! [`flow`] walks paginated lists as streams, sends records in bulk calls (each page and
//! batch a call through the same stack), compares what two systems hold and reports the
//! records missing, extra or different, and runs a queue-driven worker on a real broker.
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
//! | 2 | [`dead_letter::DeadLetterService`] | call | sees the final outcome only; records failed and unknown calls for replay |
//! | 3 | [`idempotency::Idempotency`] | call | one key per call, so every attempt carries it; the ledger sees final outcomes |
//! | 4 | [`stale::StaleIfError`] (opt-in) | call | sees the final outcome: a transient failure of a GET is answered with the last good response |
//! | 5 | total deadline ([`timeout::Deadline`]) | call | bounds attempts, waits and the caller's read of the body together |
//! | 6 | [`retry::Retry`] with budget and `Retry-After` | call → attempts | replays a clone of the request |
//! | 7 | [`retry::Hedge`] (opt-in) | attempt | a second attempt of a slow, safe request; the first answer wins |
//! | 8 | [`breaker::CircuitBreaker`] + bulkhead (per key, opt-in) | attempt | an open circuit fails fast, not applied, and takes no permit |
//! | 9 | [`rate_limit::RateLimit`] (per key, GCRA) | attempt | every attempt takes a permit, retries included |
//! | 10 | [`credentials::ApplyCredentials`] | attempt | applied per attempt, so a rotated key or refreshed token is used at once |
//! | 11 | attempt timeout ([`timeout::Timeout`]) | attempt | a hung attempt becomes a transient failure |
//! | 12 | `reqwest::Client` | attempt | the transport |
//!
//! Each layer also works alone with `tower::ServiceBuilder`.
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
//! | `redis` | `idempotency::store::RedisStore`, a ledger shared by many instances; `dead_letter::sink::RedisSink`, dead letters in Redis Streams; `rate_limit::store::RedisQuota`, one rate-limit quota for many instances; `flow::queue::RedisQueue`, the queue worker on a Redis Stream |
//! | `nats` | `flow::queue::NatsQueue`, the queue worker on NATS `JetStream` (a durable pull consumer) |
//! | `webhook` | `webhook`: signature verification and deduplication layers for receivers; with `redis`, an event queue on a Redis Stream |
//! | `admin` | `admin::router`, the dead-letter page and JSON API, an axum `Router` to mount behind your auth |
//! | `metrics` | `metrics`: OpenTelemetry HTTP client metrics and `steadfast.*` resilience metrics through the `metrics` facade; the application installs the recorder |
//! | `chaos` | `chaos::ChaosLayer`: injected latency, statuses, resets and lost answers, for your own tests; `ClientBuilder::chaos` places it at the attempt level |
//!
//! steadfast turns on no TLS backend of reqwest: your own `reqwest`
//! dependency chooses it (reqwest's default is rustls).
//!
//! # Writing a layer
//!
//! Every layer has the same shape, so that a user who knows one knows them all. A new layer
//! follows these rules; [`retry::Backoff`] (`retry/backoff.rs`), [`hints::parse_retry_after`]
//! (`hints/retry_after.rs`) and [`timeout`] (`timeout/`) are the files to imitate.
//!
//! - **Three parts.** `XLayer` holds the configuration and is cheap to clone; `X<S>` is the
//!   `Service`, with the inner service as first type parameter; its `ResponseFuture` is a
//!   `pin_project_lite` state machine. `poll_ready` forwards to the inner service and `call`
//!   never blocks.
//! - **Constructors.** `XLayer::new(&XConfig) -> Result<Self, ConfigError>` when there is
//!   anything to validate. `X::new(inner, ..)` takes the wrapped thing first, then the one
//!   thing the layer holds: a limit ([`timeout::Timeout::new`]), a shared handle
//!   ([`rate_limit::RateLimit::new`]) or the configured layer
//!   ([`retry::Retry::new`]); it is the same as `layer.layer(inner)`. Every service has
//!   `get_ref`, `get_mut` and `into_inner`. The facade follows the same rule:
//!   [`Client::from_config`] takes the transport first, like [`Client::new`] and
//!   [`ClientBuilder::build`].
//! - **Shared state.** A part that clients may share (budget, rate limiter, ledger,
//!   classifier, verifier, key maker) is given two ways: `x(value)` gives the layer its own,
//!   `shared_x(handle)` takes a handle other layers or clients hold too
//!   ([`retry::RetryLayer::shared_budget`], [`rate_limit::RateLimitLayer::shared_limiter`],
//!   [`idempotency::IdempotencyLayer::shared_store`], `shared_classifier`,
//!   `shared_verifier`, `shared_key_maker`). A handle is a cheap clone: a type with an `Arc`
//!   inside ([`retry::RetryBudget`], [`rate_limit::RateLimiter`]) or an `Arc<dyn Trait>`
//!   named `SharedX` ([`classify::SharedClassifier`], [`verify::SharedVerifier`],
//!   [`idempotency::SharedStore`], [`idempotency::SharedKeyMaker`]). Cloning a layer or a
//!   client never multiplies a limit; its `# Clone` docs say so.
//! - **Settings.** Config structs are the builders: serde with `deny_unknown_fields`,
//!   durations through `humantime_serde`, a setter per field named after it, the default
//!   stated in its doc line. Setters take the value, never an `Option`: a part that can be
//!   off has one `without_x()` ([`retry::RetryConfig::without_budget`],
//!   [`ClientConfig::without_attempt_timeout`],
//!   [`idempotency::IdempotencyLayer::without_ledger`]). A serde field stays an `Option`
//!   where the file needs to say "off". Typed values, not strings, where a type exists
//!   (`Method`, `Duration`); a layer's config lives in its `config.rs`.
//! - **Errors.** Invalid configuration is a [`ConfigError`] when the layer is built, never
//!   a panic at request time. Call errors are [`Error`] variants. Every public error enum
//!   is `#[non_exhaustive]`; so is every variant with named fields, unless callers are
//!   meant to build it (a custom store's `StoreError`). An idempotency key in an error is
//!   an [`idempotency::IdempotencyKey`], in an `Option` where a call may have none.
//! - **`#[must_use]`.** On every constructor, setter and accessor that returns a value
//!   (`new`, `x`, `shared_x`, `without_x`, `get_ref`, `get_mut`, `into_inner`); a builder
//!   type such as [`ClientBuilder`] carries it on the type instead.

// The docs name items of the `redis` and `nats` features from pages that exist without
// them; without those features the links have no target and render as plain text. CI
// builds the docs with every feature and `-D warnings`, where every link must resolve.
#![cfg_attr(
    not(all(feature = "redis", feature = "nats")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "admin")]
pub mod admin;
mod body;
mod boxed;
pub mod breaker;
#[cfg(feature = "chaos")]
pub mod chaos;
pub mod classify;
mod client;
pub mod credentials;
pub mod dead_letter;
mod error;
pub mod flow;
pub mod hints;
pub mod idempotency;
mod key;
pub mod log;
pub mod mapper;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics/noop.rs"]
mod metrics;
pub mod rate_limit;
pub mod redact;
#[cfg(feature = "redis")]
mod redis_stream;
pub mod retry;
pub mod stale;
mod telemetry;
pub mod timeout;
pub mod verify;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use client::{
    Client, ClientBuilder, ClientConfig, ConfigSource, FileWatch, IntoRequestUrl, LoadError,
    Profiles, RequestBuilder, ResponseExt,
};
pub use error::{BoxError, ConfigError, Error, Failure, NotRetried, Unverified};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

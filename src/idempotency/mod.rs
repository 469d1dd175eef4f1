//! Idempotency keys on every attempt of a call, and a completed-key ledger.
//!
//! A network drop after the payment gateway said yes must not charge the customer twice.
//! [`Idempotency`] gives every POST and PATCH (configurable) an `Idempotency-Key` header
//! unless the caller set one. The key is made once per logical call, outside retry, so all
//! attempts carry the same key — and the retry layer retries a POST only when it has one.
//!
//! Keys the caller names are also remembered: after a success the ledger
//! ([`store::IdempotencyStore`]) keeps the response under the key for a TTL, and a later
//! call with the same key gets that response back without any network I/O, marked
//! [`Replayed`]. This protects APIs that do not support idempotency keys themselves. A key
//! still in flight elsewhere makes the call wait (bounded) or fail with a typed error.
//!
//! A call that fails in a way the server may have acted on (a timeout after sending, a
//! reset, 500, 502, 504) leaves its key **unknown**: a later call with it fails with
//! [`Error::IdempotencyOutcomeUnknown`](crate::Error::IdempotencyOutcomeUnknown) and sends
//! nothing, until the key is resolved ([`IdempotencyLayer::resolve`],
//! `Client::resolve_idempotency_key`) — or, with a [verifier](IdempotencyLayer::verifier),
//! asks the server first (see [Unknown keys](#unknown-keys)). A failure the server provably did not act on
//! (connection refused, 408, 429, 503, another 4xx, a local refusal) frees the key. The same
//! key sent with another method, URL or body fails with
//! [`Error::IdempotencyKeyReused`](crate::Error::IdempotencyKeyReused).
//!
//! A key the layer generates is sent on every attempt, so that the server can tell a retry
//! from a new operation, but it is not recorded: it belongs to one call, no other call can
//! present it, and entries for it would only push out the ones that can repeat. A call
//! replayed from an error with its key ([`Error::idempotency_key`](crate::Error::idempotency_key))
//! names that key, and is recorded from then on.
//!
//! ```
//! use steadfast::idempotency::{IdempotencyConfig, IdempotencyLayer};
//! use steadfast::retry::RetryLayer;
//! use tower::ServiceBuilder;
//!
//! let service = ServiceBuilder::new()
//!     .layer(IdempotencyLayer::new(&IdempotencyConfig::default())?)
//!     .layer(RetryLayer::default())
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! # Keys from business data
//!
//! A key named after the operation (`invoice-2024-0042`) makes a re-run of the same job —
//! after a crash, or a dead-letter replay — reuse it:
//! `client.post(url).idempotency_key("invoice-2024-0042")`. Ledger entries are scoped to the
//! method and the URL without its query, so one key used for two endpoints cannot replay
//! the wrong response.
//!
//! # Errors
//!
//! [`Error::IdempotencyKeyInFlight`](crate::Error::IdempotencyKeyInFlight) when another call
//! holds the key; [`Error::IdempotencyOutcomeUnknown`](crate::Error::IdempotencyOutcomeUnknown)
//! when an earlier call with it may have been applied;
//! [`Error::IdempotencyKeyReused`](crate::Error::IdempotencyKeyReused) when it was used for
//! another request; [`Error::Ledger`](crate::Error::Ledger) when the ledger cannot be reached,
//! is full, or lost its data (nothing is sent; [`LedgerDown::FailOpen`] sends anyway when it
//! cannot be reached); [`Error::InvalidRequest`](crate::Error::InvalidRequest) with an
//! [`InvalidKey`] for an empty or non-ASCII key. None of these sent anything. Every error of
//! a keyed call carries its key: [`Error::idempotency_key`](crate::Error::idempotency_key).
//!
//! # Unknown keys
//!
//! With a [verifier](crate::verify) ([`IdempotencyLayer::verifier`], or
//! `ClientBuilder::verifier`, which serves the retry layer too), a call with a key held as
//! unknown, or one a ledger that lost its data cannot vouch for, asks it first, once, within
//! `verify_timeout` ([`IdempotencyLayer::verify_timeout`]) and the call's deadline. Its
//! lookups go through the layers below this one (in the [`Client`](crate::Client): deadline,
//! retry, rate limit, attempt timeout), so they take quota like any attempt, and a lookup
//! that fails transiently is retried as any GET; the verifier gets the last response
//! whatever its status.
//!
//! - [`Verification::Applied`](crate::verify::Verification::Applied): the call ends `Ok`
//!   with the verifier's response, marked [`Verified`](crate::verify::Verified); the key is
//!   completed with it (body read as a recorded call's is), so later calls replay it.
//! - [`Verification::NotApplied`](crate::verify::Verification::NotApplied): the key is freed
//!   and reserved again, and the request is sent. If another call took the key meanwhile,
//!   this one waits for it; if the key is unknown (or unvouched) again, the call is refused.
//!   A ledger that lost its data cannot hold the key for the resend, so there it is refused.
//! - [`Verification::Unknown`](crate::verify::Verification::Unknown), or no answer in
//!   time: refused as without a verifier, nothing sent.
//!
//! # Bodies
//!
//! A call whose key is recorded (a named key, with a ledger) has its response body read
//! before it is returned, up to `max_body_bytes` and for at most `max_body_wait` (and not
//! past the call's deadline, [`IdempotencyLayer::call_deadline`]): a body
//! read whole is stored with the key. A larger or slower one is not kept (the stored
//! response says why: [`store::BodyOmitted`], also in a replay's extensions), and the caller
//! gets what was read followed by the rest of the stream. Other calls' bodies stream as
//! reqwest gives them.
//!
//! # Cancellation
//!
//! A call dropped before it ends settles its reservation at once: released if nothing was
//! sent yet, marked unknown if the request may have gone out. (A store doing I/O does that
//! write on the tokio runtime; without one, the lease's end makes the key unknown.)

mod body;
mod call;
mod config;
mod future;
mod layer;
mod make_key;
mod replay;
mod reserve;
mod service;
mod settle;
pub mod store;
mod verify;

pub use config::{CompleteOn, IdempotencyConfig, InFlight, LedgerDown};
pub use future::ResponseFuture;
pub use layer::IdempotencyLayer;
pub use make_key::{
    InvalidKey, KeyGenerator, MakeIdempotencyKey, SharedKeyMaker, UuidV4Keys, UuidV7Keys,
};
pub use replay::Replayed;
pub use service::Idempotency;
pub use store::{IdempotencyStore, SharedStore};

pub use crate::key::{IdempotencyKey, KeyFormat};

//! Asking the server whether an attempt whose outcome is unknown was applied.
//!
//! A POST that timed out, or was answered 500, may have created the invoice anyway. Most
//! APIs ignore `Idempotency-Key`, so sending it again may create a second one. A [`Verify`]
//! implementation looks the request up (an invoice by its external reference, an order by
//! the client's id) and answers:
//!
//! - [`Verification::Applied`] with the response it found: the call ends `Ok` with that
//!   response, marked [`Verified`];
//! - [`Verification::NotApplied`]: the attempt is known not to have been applied, and the
//!   retry rules go on as for a 503;
//! - [`Verification::Unknown`]: the call ends with
//!   [`NotRetried::OutcomeUnknown`](crate::NotRetried::OutcomeUnknown), its outcome unknown.
//!
//! The verifier sends its lookups through a [`Sender`], which goes through the same layers as
//! an attempt (rate limit, attempt timeout): lookups take quota and are bounded in time.
//!
//! ```
//! use steadfast::verify::{Sender, Verification, VerifyRequest};
//!
//! // The invoice's external reference is the idempotency key: look it up.
//! let verifier = |request: VerifyRequest, sender: Sender| async move {
//!     let Some(key) = request.idempotency_key else {
//!         return Verification::Unknown;
//!     };
//!     let mut url = request.url.clone();
//!     url.set_path("/invoices");
//!     url.query_pairs_mut().clear().append_pair("external_ref", &key);
//!     match sender.send(reqwest::Request::new(reqwest::Method::GET, url)).await {
//!         Ok(found) if found.status() == 200 => Verification::Applied(found),
//!         Ok(missing) if missing.status() == 404 => Verification::NotApplied,
//!         _ => Verification::Unknown,
//!     }
//! };
//! let client = steadfast::Client::builder()
//!     .verifier(verifier)
//!     .build(reqwest::Client::new())?;
//! # let _ = client;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! # Time
//!
//! `verify_timeout` is a `tokio::time` timer running while the lookups are in flight: on a
//! paused clock, tokio jumps to it whenever the runtime waits on I/O, so tests of verifiers
//! that talk to a real server run on the real clock.
//!
//! # Who calls it
//!
//! The retry layer, after a maybe-applied failure of a request that is not safe to repeat
//! (a POST or PATCH, unless `server_dedupes` is on and it carries a key), at most
//! `max_verifications` times per call, each bounded by `verify_timeout` and the call's
//! deadline. The idempotency ledger calls the same trait for keys it holds as unknown. The
//! trait's shape is kept for both: a [`VerifyRequest`] and a [`Sender`] in, a
//! [`Verification`] out.
//!
//! # When a verifier can be trusted
//!
//! "Not found" must mean "will not be created": answer [`Verification::NotApplied`] only
//! when the API cannot still act on the earlier attempt after the lookup, or the next
//! attempt may create a second record. An API that queues writes (accepts a POST, creates
//! the record later) needs the lookup to see queued work too, or a verifier that answers
//! [`Verification::Unknown`] until the queue has drained.

mod request;
mod sender;
mod verifier;

pub use request::{Verification, Verified, VerifyRequest};
pub use sender::Sender;
pub use verifier::{SharedVerifier, Verify, VerifyFuture};

//! Dead letters: every call that ended not applied after its retries, or with its outcome
//! unknown, recorded with what it takes to understand it and to send it again.
//!
//! A [`DeadLetterLayer`] sits at call scope, between the log and the idempotency layers: it
//! sees each call's final outcome once. When a call fails, it makes a [`DeadLetter`] (the
//! request as sent minus credentials, the idempotency key, every attempt's classification,
//! status and timing, the last response bounded and redacted) and stores it in a
//! [`DeadLetterSink`]: in memory ([`MemorySink`]), a JSONL file ([`JsonlSink`]) or Redis
//! Streams (`RedisSink`, feature `redis`). A [`DeadLetters`] handle lists, replays,
//! discards and confirms them.
//!
//! ```
//! use steadfast::dead_letter::{LetterFilter, MemorySink};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = steadfast::Client::builder()
//!     .dead_letter_sink(MemorySink::default())
//!     .build(reqwest::Client::new())?;
//! // Nothing listens on port 9: the POST is not applied, and recorded.
//! let failed = client.post("http://127.0.0.1:9/invoices").body("{}").send().await;
//! assert!(failed.is_err());
//!
//! let letters = client.dead_letters().ok_or("dead letters are on")?;
//! let pending = letters.list(&LetterFilter::default().state("pending")).await?;
//! assert_eq!(pending.len(), 1);
//! println!("{}", pending[0]); // redacted
//! # Ok(())
//! # }
//! ```
//!
//! # What is recorded
//!
//! A call that succeeds never is. A failed call is, when it ended with an error a letter can
//! be made of (not an invalid request or configuration, nor a key another call holds) and
//! the predicate agrees: by default every call with a non-idempotent method (POST, PATCH),
//! every call whose outcome is unknown, and with
//! [`DeadLetterConfig::idempotent_methods`] every other failed call
//! ([`DeadLetterLayer::record_if`] replaces the rule).
//!
//! # Secrets
//!
//! Credentials and sensitive headers (`Authorization`, `Cookie`, API-key headers, the names
//! the redactor is configured with, values reqwest marked sensitive) and URL userinfo are
//! dropped, not masked: the client applies its credentials again when it replays. The URL's
//! query and the body are kept as sent, since the replay needs them; everything a person
//! sees ([`DeadLetter::redacted`], `Display`, `Debug`, logs) goes through the
//! [`Redactor`](crate::redact::Redactor). The last response's headers and body are stored
//! redacted: a replay does not need them.
//!
//! # Recording is bounded
//!
//! The letter is stored before the call's error is returned, so a process that stops right
//! after a failed call has its letter; the store is bounded by
//! [`DeadLetterConfig::record_timeout`] and the read of the last response's body by
//! [`DeadLetterConfig::response_read_timeout`] (and `max_response_bytes`), so a slow sink or
//! server delays a failed call by at most their sum. A sink that fails or times out never
//! fails the call: the error is logged at WARN (redacted) and counted
//! ([`DeadLetters::sink_errors`]), and the call's own result returned.
//!
//! # Replay
//!
//! [`DeadLetters::replay`] (or [`Client::replay`](crate::Client::replay)) sends a letter
//! through the same client and stack with its original idempotency key, and records the
//! result on the letter. A replay makes no second letter. A resolved letter is not sent
//! again; an unknown one only after the client's verifier or a person
//! ([`DeadLetters::confirm_not_applied`]) said it was not applied. Claims (a lease per
//! letter) make sure two replayers never send one letter twice.
//!
//! A caller that drops a failed call's future while its letter is being stored does not drop
//! the letter: on a tokio runtime the letter is made and stored by a task of its own, bounded
//! as above, and the caller's future waits for it. (A caller that drops the future before the
//! call has failed cancels the call itself: there is no failure to record.)
//!
//! # Cost
//!
//! A call that succeeds pays for no copy of its request. The layer asks the layers below
//! for the request back: a [`Retry`](crate::retry::Retry) layer keeps a spare copy of every
//! request for its next attempt anyway, and hands it back when the call fails, is cut by a
//! deadline or dropped; the idempotency layer hands back a copy on the paths where its
//! ledger answers before retry runs. Until a call has shown that the stack below does this
//! (the first one), and over a stack that does not (the layer alone over a transport), the
//! layer copies each request up front instead: its URL, headers and a body up to 1 KiB in
//! one buffer (a larger body is shared, not copied). The retry layer logs attempts only when
//! an attempt did not succeed at once.
//!
//! Measured with callgrind (`benches/profile.rs`, in memory, instructions per call): see
//! the README's benchmark section. A client without dead letters keeps the layer in its
//! stack as a pass-through (a branch; not measured separately).
//!
//! A stack that stops handing requests back after the layer learned that it does (a layer
//! of another crate between this one and retry that answers without calling it) would
//! leave that call's letter without its request (logged at ERROR); the layer sees it as the
//! call starts and copies requests up front again from the next call on.

mod capture;
mod config;
mod filter;
mod future;
mod handle;
mod layer;
mod record;
mod recorder;
mod replay;
mod service;
pub mod sink;

pub use config::DeadLetterConfig;
pub use filter::LetterFilter;
pub use future::ResponseFuture;
pub use handle::{DeadLetters, LetterCounts};
pub use layer::DeadLetterLayer;
pub use record::{
    DeadLetter, LetterAttempt, LetterBody, LetterId, LetterOutcome, LetterRequest, LetterResponse,
    LetterState,
};
pub(crate) use recorder::Recorder;
pub use recorder::SharedPredicate;
pub(crate) use replay::{BoxFuture, Resend};
pub use replay::{ReplayError, Replayed};
pub use service::DeadLetterService;
pub use sink::{Claim, DeadLetterSink, JsonlSink, MemorySink, SharedSink, SinkError, SinkFuture};

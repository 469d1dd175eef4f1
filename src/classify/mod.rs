//! One classification of every outcome, read by every layer.
//!
//! Each attempt's outcome (a response or an error) is classified once into a
//! [`Verdict`] — `Success`, `Transient`, `Throttled { retry_after }` or `Permanent` — with a
//! [`Reason`] and whether the server may have acted on it ([`Applied`]).
//! Retry, rate limiting, logging and dead letters all act on that one verdict, so an API's
//! quirks are described once.
//!
//! ```
//! use reqwest::StatusCode;
//! use reqwest::header::HeaderMap;
//! use steadfast::classify::{DefaultClassifier, Verdict};
//!
//! let verdict = DefaultClassifier::classify_status(StatusCode::BAD_GATEWAY, &HeaderMap::new());
//! assert_eq!(verdict.verdict(), Verdict::Transient);
//! ```
//!
//! # Customising
//!
//! Implement [`Classify`], pass a closure, or add overrides to the default with
//! [`DefaultClassifier::builder`].

mod applied;
mod default;
mod outcome;
mod verdict;

pub use applied::Applied;
pub use default::{DefaultClassifier, DefaultClassifierBuilder};
pub use outcome::{Classify, Outcome, SharedClassifier};
pub use verdict::{Classification, Reason, Verdict};

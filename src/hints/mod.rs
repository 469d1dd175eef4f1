//! Server hints, parsed once and bounded: `Retry-After`, the IETF `RateLimit` and
//! `RateLimit-Policy` fields, `RateLimit-*` and `X-RateLimit-*`.
//!
//! The classifier, the retry layer and the rate limiter all read a server's hints through
//! this module, so that they agree on what a header means. A hint is a [`Hint`]: a
//! [`Delay`](Hint::Delay) within a maximum, or [`TooLong`](Hint::TooLong) beyond it (a day,
//! [`MAX_HINT`], at most; each reader also checks its own configured maximum). A long wait
//! is never mistaken for no hint at all: a retry stops at once with the server's time in
//! its error, and a rate limiter pauses for its own cap. Negative and unparseable values
//! are no hint: they say nothing, not even "long".
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use reqwest::header::HeaderMap;
//! use steadfast::hints::{Hint, RateLimitHeaders, retry_after};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "120".parse()?);
//! headers.insert("x-ratelimit-remaining", "0".parse()?);
//! headers.insert("x-ratelimit-reset", "999999999".parse()?);
//!
//! // Two minutes: honoured by a retry that accepts up to five, too long for one minute.
//! let hint = retry_after(&headers).expect("a valid Retry-After");
//! assert_eq!(hint.bounded(Duration::from_secs(300)).delay(), Some(Duration::from_secs(120)));
//! assert!(hint.bounded(Duration::from_secs(60)).is_too_long());
//!
//! // A reset 31 years away is too long, not absent.
//! let seen = RateLimitHeaders::parse(&headers, SystemTime::now());
//! assert!(seen.is_spent());
//! assert!(seen.reset.is_some_and(Hint::is_too_long));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The happy path parses nothing: the classifier and the retry layer read hints only from
//! failed responses, and the rate limiter only from responses that carry one of these
//! fields.

mod hint;
mod ietf;
mod rate_limit;
mod reset;
mod retry_after;

pub(crate) use hint::DEFAULT_MAX_WAIT;
pub use hint::{Hint, MAX_HINT};
pub use rate_limit::RateLimitHeaders;
pub(crate) use rate_limit::any_present;
pub use retry_after::{parse_retry_after, retry_after};

//! The crate's error type.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use crate::classify::{Classification, Reason, Verdict};
use crate::idempotency::IdempotencyKey;

/// A boxed error, as tower layers pass them around.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in a steadfast call.
///
/// Match on the variant to decide what to do; every variant keeps its cause in the
/// `source()` chain. No variant's `Display` or `Debug` shows a URL's query, userinfo or
/// path, nor any header value.
///
/// # Example
///
/// ```
/// # async fn example(client: steadfast::Client) {
/// match client.get("http://127.0.0.1:9/orders").send().await {
///     Ok(response) => println!("{}", response.status()),
///     Err(steadfast::Error::RetriesExhausted { failure, .. }) => {
///         eprintln!("gave up after {} attempts", failure.attempts());
///     }
///     Err(steadfast::Error::NotRetried { why, .. }) => eprintln!("not retried: {why}"),
///     Err(other) => eprintln!("{other}"),
/// }
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// The request could not be built (bad URL, header or body); nothing was sent.
    #[error("invalid request")]
    InvalidRequest(#[source] BoxError),

    /// An attempt, or the whole call, took longer than its timeout.
    #[error("timed out after {elapsed:?}")]
    #[non_exhaustive]
    Timeout {
        /// The timeout that elapsed.
        elapsed: Duration,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// A response body could not be decoded into the expected type.
    #[error("response body could not be decoded")]
    Decode(#[from] crate::mapper::DecodeError),

    /// Another call holds this idempotency key and did not finish in time; nothing was sent.
    #[error("another call with idempotency key {key} is still in flight (waited {waited:?})")]
    IdempotencyKeyInFlight {
        /// The key (keys are not secrets).
        key: String,
        /// How long this call waited for the other one.
        waited: Duration,
    },

    /// The idempotency ledger could not be reached; nothing was sent.
    #[error("idempotency ledger unavailable for key {key}; nothing was sent")]
    Ledger {
        /// The key of the call.
        key: String,
        /// What the ledger said.
        #[source]
        source: crate::idempotency::store::StoreError,
    },

    /// The transport failed and no retry layer was in the stack to take the decision.
    #[error("transport error")]
    #[non_exhaustive]
    Transport {
        /// What failed.
        #[source]
        source: BoxError,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The call failed on every attempt allowed by the retry configuration.
    #[error("{failure}")]
    RetriesExhausted {
        /// What happened on the last attempt.
        failure: Box<Failure>,
        /// The last attempt's error, when it ended without a response.
        #[source]
        source: Option<BoxError>,
    },

    /// A local rate limiter had no permit within the allowed wait (or was set to fail
    /// fast); the request was not sent.
    #[error(
        "rate limited on {}: no permit for {retry_after:?}, longer than the allowed wait; \
         the request was not sent",
        .key.as_deref().unwrap_or("a custom key")
    )]
    #[non_exhaustive]
    RateLimited {
        /// How long until a permit may be free, at least.
        retry_after: Duration,
        /// The limiter's key when it may be shown (an origin: scheme, host and port);
        /// `None` for a custom key, which may be a secret.
        key: Option<String>,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The call failed and was not retried, for the reason in `why`.
    #[error("{failure}; not retried: {why}")]
    NotRetried {
        /// Why no further attempt was made.
        why: NotRetried,
        /// What happened on the last attempt.
        failure: Box<Failure>,
        /// The last attempt's error, when it ended without a response.
        #[source]
        source: Option<BoxError>,
    },

    /// An earlier call with this idempotency key may have been applied (it timed out after
    /// sending, got a 500, or its holder vanished): sending again could act twice, so
    /// nothing was sent. Check with the server, then settle the key with
    /// [`IdempotencyStore::resolve`](crate::idempotency::store::IdempotencyStore::resolve).
    #[error(
        "the outcome of an earlier call with idempotency key {key} is unknown (it may have \
         been applied); nothing was sent: check with the server, then resolve the key"
    )]
    IdempotencyOutcomeUnknown {
        /// The key (keys are not secrets).
        key: String,
    },

    /// The idempotency key was used before for another request (method, URL or body):
    /// nothing was sent. Use a new key for a new operation.
    #[error(
        "idempotency key {key} was used before for a different request (method, URL or \
         body); nothing was sent"
    )]
    IdempotencyKeyReused {
        /// The key (keys are not secrets).
        key: String,
    },
}

impl Error {
    /// The classification this error stands for, when it has one of its own.
    ///
    /// Used by the default classifier when a steadfast error comes back from an inner layer
    /// (an attempt timeout, say).
    #[must_use]
    pub fn classification(&self) -> Option<Classification> {
        match self {
            Self::Timeout { .. } => Some(Classification::transient(Reason::Timeout)),
            Self::Config(_) | Self::InvalidRequest(_) => {
                Some(Classification::permanent(Reason::InvalidRequest))
            }
            Self::Decode(_) => Some(Classification::permanent(Reason::Decode)),
            // Nothing was sent: a later attempt may go through.
            Self::IdempotencyKeyInFlight { .. } | Self::Ledger { .. } => Some(
                Classification::transient(Reason::Custom("idempotency ledger"))
                    .with_pre_processing(true),
            ),
            Self::RateLimited { retry_after, .. } => Some(
                Classification::throttled(Some(*retry_after), Reason::RateLimited)
                    .with_pre_processing(true),
            ),
            Self::RetriesExhausted { failure, .. } | Self::NotRetried { failure, .. } => {
                Some(failure.classification)
            }
            Self::Transport { .. } => None,
            // Nothing was sent, and sending later cannot help until someone acts.
            Self::IdempotencyOutcomeUnknown { .. } => Some(
                Classification::permanent(Reason::Custom("idempotency outcome unknown"))
                    .with_pre_processing(true),
            ),
            Self::IdempotencyKeyReused { .. } => Some(
                Classification::permanent(Reason::Custom("idempotency key reused"))
                    .with_pre_processing(true),
            ),
        }
    }

    /// The details of the last attempt, for errors that ended a retried call.
    #[must_use]
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::RetriesExhausted { failure, .. } | Self::NotRetried { failure, .. } => {
                Some(failure)
            }
            _ => None,
        }
    }

    /// The status of the last response, when the call ended on one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.failure().and_then(Failure::status)
    }

    /// When the server said a new attempt may be made, if it said so.
    #[must_use]
    pub fn retry_at(&self) -> Option<Instant> {
        self.failure().and_then(Failure::retry_at)
    }

    /// The idempotency key of the call, when it had one.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Self::IdempotencyKeyInFlight { key, .. }
            | Self::Ledger { key, .. }
            | Self::IdempotencyOutcomeUnknown { key }
            | Self::IdempotencyKeyReused { key } => Some(key),
            Self::Timeout {
                idempotency_key, ..
            }
            | Self::Transport {
                idempotency_key, ..
            }
            | Self::RateLimited {
                idempotency_key, ..
            } => idempotency_key.as_ref().map(IdempotencyKey::as_str),
            _ => self
                .failure()
                .and_then(|f| f.idempotency_key.as_ref())
                .map(IdempotencyKey::as_str),
        }
    }

    pub(crate) fn set_idempotency_key(&mut self, key: IdempotencyKey) {
        match self {
            Self::RetriesExhausted { failure, .. } | Self::NotRetried { failure, .. } => {
                failure.idempotency_key = Some(key);
            }
            Self::Timeout {
                idempotency_key, ..
            }
            | Self::Transport {
                idempotency_key, ..
            }
            | Self::RateLimited {
                idempotency_key, ..
            } => *idempotency_key = Some(key),
            _ => {}
        }
    }

    /// Takes the last response out of the error, to read its headers and body.
    ///
    /// Returns `None` when the call did not end on a response, or when it was taken before.
    #[must_use]
    pub fn take_response(&self) -> Option<reqwest::Response> {
        self.failure().and_then(Failure::take_response)
    }
}

/// Why a failed call was not retried.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRetried {
    /// The verdict was permanent: retrying cannot help.
    Permanent,
    /// The method is not idempotent and the request carries no idempotency key, and the
    /// failure may have happened after the server acted on it.
    UnsafeMethod,
    /// The request body is a stream that cannot be sent twice.
    BodyNotReplayable,
    /// The retry budget is spent: too many retries relative to recent successes.
    BudgetExhausted,
    /// The next attempt could not start before the total deadline.
    Deadline,
    /// The server asked for a longer wait than the configured `max_retry_after`.
    RetryAfterTooLong,
}

impl fmt::Display for NotRetried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Permanent => "the failure is permanent",
            Self::UnsafeMethod => {
                "the method is not idempotent and the request has no idempotency key \
                 (set one to make it safe to retry)"
            }
            Self::BodyNotReplayable => {
                "the request body is a stream and cannot be replayed (use a buffered body to \
                 allow retries)"
            }
            Self::BudgetExhausted => {
                "the retry budget is exhausted (too many retries relative to recent successes)"
            }
            Self::Deadline => "the next attempt would start after the total deadline",
            Self::RetryAfterTooLong => "the server asked for a wait longer than max_retry_after",
        })
    }
}

/// The last attempt of a failed call: what was asked, how it ended, and what the server said.
pub struct Failure {
    pub(crate) method: Method,
    pub(crate) host: Option<String>,
    pub(crate) attempts: u32,
    pub(crate) classification: Classification,
    pub(crate) status: Option<StatusCode>,
    pub(crate) retry_at: Option<Instant>,
    // A mutex so the error stays `Sync` and the response can be taken out through `&self`.
    pub(crate) response: Mutex<Option<reqwest::Response>>,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
}

impl Failure {
    /// The request's method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The host the request was sent to.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// How many attempts were made, the first included.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last attempt's classification.
    #[must_use]
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// The last attempt's verdict.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        self.classification.verdict()
    }

    /// The status of the last response, when the last attempt got one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// When the server said a new attempt may be made, if it said so.
    #[must_use]
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The headers of the last response, when it has not been taken yet.
    #[must_use]
    pub fn headers(&self) -> Option<HeaderMap> {
        self.lock().as_ref().map(|r| r.headers().clone())
    }

    /// Takes the last response, to read its body. Returns `None` the second time.
    #[must_use]
    pub fn take_response(&self) -> Option<reqwest::Response> {
        self.lock().take()
    }

    /// The idempotency key of the call, when it had one.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_ref().map(IdempotencyKey::as_str)
    }

    /// Puts a response (back) in, after the log layer read its body for a log line.
    pub(crate) fn put_response(&self, response: reqwest::Response) {
        *self.lock() = Some(response);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<reqwest::Response>> {
        // A poisoned lock only means a reader panicked; the response itself is intact.
        self.response
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.method)?;
        if let Some(host) = &self.host {
            write!(f, " {host}")?;
        }
        match self.attempts {
            // Only the idempotency ledger answers without an attempt.
            0 => write!(
                f,
                " failed earlier with the same idempotency key (replayed from the ledger): {}",
                self.classification
            )?,
            1 => write!(f, " failed after 1 attempt: {}", self.classification)?,
            n => write!(f, " failed after {n} attempts: {}", self.classification)?,
        }
        if let Some(at) = self.retry_at {
            let wait = at.saturating_duration_since(Instant::now());
            write!(f, "; the server asked to wait {wait:?}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No URL, headers or body: they may hold secrets.
        f.debug_struct("Failure")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("attempts", &self.attempts)
            .field("classification", &self.classification)
            .field("status", &self.status)
            .field("retry_at", &self.retry_at)
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// An invalid configuration value, reported when a layer or client is built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `base_delay` is greater than `max_delay`.
    #[error("retry base_delay ({base:?}) is greater than max_delay ({max:?})")]
    BaseAboveMax {
        /// The configured base delay.
        base: Duration,
        /// The configured maximum delay.
        max: Duration,
    },
    /// A number that must be finite and within a range is not.
    #[error("{name} must be a finite number in {range}, got {value}")]
    OutOfRange {
        /// The setting's name.
        name: &'static str,
        /// The allowed range, as text.
        range: &'static str,
        /// The configured value.
        value: f64,
    },
    /// A duration that must not be zero is zero.
    #[error("{name} must be greater than zero")]
    ZeroDuration {
        /// The setting's name.
        name: &'static str,
    },
    /// A value is not one the setting accepts.
    #[error("{name} has an invalid value: {value:?}")]
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// The configured value.
        value: String,
    },
    /// A header name is not a valid HTTP header name.
    #[error("{name} is not a valid header name: {value:?}")]
    HeaderName {
        /// The setting's name.
        name: &'static str,
        /// The configured value.
        value: String,
    },
}

impl Error {
    /// A transport error without a key yet (the idempotency layer adds it).
    pub(crate) fn transport(source: BoxError) -> Self {
        Self::Transport {
            source,
            idempotency_key: None,
        }
    }

    /// Wraps an inner service's error: a steadfast error passes through unchanged, any other
    /// becomes [`Error::Transport`] (with reqwest's URL stripped).
    pub(crate) fn from_inner(error: BoxError) -> Self {
        match error.downcast::<Self>() {
            Ok(own) => *own,
            Err(other) => Self::transport(without_url(other)),
        }
    }
}

/// Strips the URL from reqwest errors so that no query string or userinfo reaches a log.
pub(crate) fn without_url(error: BoxError) -> BoxError {
    match error.downcast::<reqwest::Error>() {
        Ok(e) => Box::new(e.without_url()),
        Err(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn error_is_send_sync_static() {
        assert_send_sync::<Error>();
    }

    #[test]
    fn rate_limited_is_throttled_and_never_sent() {
        let error = Error::RateLimited {
            retry_after: Duration::from_secs(2),
            key: Some("https://api.example.com:443".to_owned()),
            idempotency_key: None,
        };
        let classification = error.classification().expect("classified");
        assert_eq!(
            classification.verdict(),
            Verdict::Throttled {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(classification.reason(), Reason::RateLimited);
        assert!(classification.is_pre_processing());
        assert_eq!(
            error.to_string(),
            "rate limited on https://api.example.com:443: no permit for 2s, longer than the \
             allowed wait; the request was not sent"
        );
        let custom = Error::RateLimited {
            retry_after: Duration::from_secs(2),
            key: None,
            idempotency_key: None,
        };
        assert!(custom.to_string().contains("a custom key"), "{custom}");
    }
}

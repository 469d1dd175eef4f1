//! The crate's error enum: one variant per way a call can end badly, each saying whether
//! the server may have acted.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::Instant;

use super::{ConfigError, CredentialsError, Failure, NotRetried};
use crate::classify::{Applied, Classification, DefaultClassifier, Reason};
use crate::key::IdempotencyKey;

/// A boxed error, as tower layers pass them around.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in a steadfast call.
///
/// Match on the variant to decide what to do; every variant keeps its cause in the
/// `source()` chain, and [`outcome`](Self::outcome) says whether the server may have acted
/// (its `Display` says it too: "not applied, safe to send again" or "outcome unknown: the
/// server may have acted"). No variant's `Display` or `Debug` shows a URL's query, userinfo or
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
    #[error("invalid configuration: {0}; nothing was sent, not applied")]
    Config(#[from] ConfigError),

    /// The request could not be built (bad URL, header or body); nothing was sent.
    #[error("invalid request; nothing was sent, not applied")]
    InvalidRequest(#[source] BoxError),

    /// An attempt took longer than its limit, or a [`Timeout`](crate::timeout::Timeout)
    /// layer's limit elapsed: in the [`Client`](crate::Client), the deadline cut the first
    /// attempt. Later attempts cut by the deadline end [`Error::DeadlineExceeded`].
    ///
    /// The outcome is unknown: the request may have been written.
    #[error("timed out after {elapsed:?}; {}", Applied::MaybeApplied)]
    #[non_exhaustive]
    Timeout {
        /// The timeout that elapsed.
        elapsed: Duration,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// A response body could not be decoded into the expected type. The message names the
    /// first problem (position, or path and what was wrong) and shows no value from the body.
    #[error("response body could not be decoded: {}; {}", .0.summary(), Applied::MaybeApplied)]
    Decode(#[from] crate::mapper::DecodeError),

    /// Another call holds this idempotency key and did not finish in time; nothing was sent.
    #[error(
        "another call with idempotency key {key} is still in flight (waited {waited:?}); \
         nothing was sent, not applied"
    )]
    #[non_exhaustive]
    IdempotencyKeyInFlight {
        /// The key (keys are not secrets).
        key: IdempotencyKey,
        /// How long this call waited for the other one.
        waited: Duration,
    },

    /// The idempotency ledger could not be reached; nothing was sent.
    #[error("idempotency ledger unavailable for key {key}; nothing was sent, not applied")]
    #[non_exhaustive]
    Ledger {
        /// The key of the call.
        key: IdempotencyKey,
        /// What the ledger said.
        #[source]
        source: super::StoreError,
    },

    /// The transport failed and no retry layer was in the stack to take the decision.
    #[error("transport error; {}", transport_outcome(.source.as_ref()))]
    #[non_exhaustive]
    Transport {
        /// What failed.
        #[source]
        source: BoxError,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The call failed on every attempt allowed by the retry configuration.
    #[error("{failure}; {}", .failure.outcome)]
    #[non_exhaustive]
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
         the request was not sent, not applied",
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

    /// The shared quota (Redis) could not be reached and the limiter is set to fail closed:
    /// no permit was taken and the request was not sent.
    #[error(
        "shared rate-limit quota unavailable for {}; the request was not sent, not applied",
        .key.as_deref().unwrap_or("a custom key")
    )]
    #[non_exhaustive]
    QuotaUnavailable {
        /// The limiter's key when it may be shown (an origin); `None` for a custom key.
        key: Option<String>,
        /// What the quota's store said.
        #[source]
        source: BoxError,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The circuit of the request's key (its origin by default) is open: the host failed
    /// too often lately, so the request was not sent. A retry layer above waits for the
    /// circuit to half-open when that fits the call's deadline and budget, and never sends
    /// into a circuit still open.
    #[error(
        "circuit open for {}: calls fail fast for {retry_after:?}; the request was not sent, \
         not applied",
        .key.as_deref().unwrap_or("a custom key")
    )]
    #[non_exhaustive]
    CircuitOpen {
        /// When the circuit half-opens and lets a probe through, at the earliest.
        until: Instant,
        /// How long that was from the refusal.
        retry_after: Duration,
        /// The circuit's key when it may be shown (an origin); `None` for a custom key.
        key: Option<String>,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The bulkhead of the request's key had every slot busy and its queue full (or the
    /// queue wait ran out): the request was not sent.
    #[error(
        "bulkhead full for {}: {max_concurrent} attempts in flight and the queue full; the \
         request was not sent, not applied",
        .key.as_deref().unwrap_or("a custom key")
    )]
    #[non_exhaustive]
    BulkheadFull {
        /// The configured bound on concurrent attempts.
        max_concurrent: usize,
        /// The bulkhead's key when it may be shown (an origin); `None` for a custom key.
        key: Option<String>,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The call failed and was not retried, for the reason in `why`.
    #[error("{failure}; not retried: {why}; {}", .failure.outcome)]
    #[non_exhaustive]
    NotRetried {
        /// Why no further attempt was made.
        why: NotRetried,
        /// What happened on the last attempt.
        failure: Box<Failure>,
        /// The last attempt's error, when it ended without a response.
        #[source]
        source: Option<BoxError>,
    },

    /// The call's deadline passed while a later attempt was running (a verification cut by
    /// it ends `NotRetried` with [`Unverified::TimedOut`](super::Unverified::TimedOut)).
    ///
    /// [`Failure::deadline`] is the deadline, [`Failure::attempts`] counts the attempt that
    /// was cut, whose outcome is unknown.
    #[error("{failure}; {}", .failure.outcome)]
    #[non_exhaustive]
    DeadlineExceeded {
        /// The call so far: attempts, the last classification and status, the key.
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
    #[non_exhaustive]
    IdempotencyOutcomeUnknown {
        /// The key (keys are not secrets).
        key: IdempotencyKey,
    },

    /// The credentials provider had nothing to apply to an attempt (an unset variable, an
    /// unreadable file, a token endpoint down or refusing the client): the attempt was not
    /// sent. [`CredentialsError::is_transient`] says whether a later attempt may succeed; the
    /// retry layer retries those and stops on the others.
    #[error("no credentials for the attempt: {source}; nothing was sent, not applied")]
    #[non_exhaustive]
    Credentials {
        /// Why.
        #[source]
        source: CredentialsError,
        /// The call's idempotency key, to replay it with.
        idempotency_key: Option<IdempotencyKey>,
    },

    /// The idempotency key was used before for another request (method, URL or body):
    /// nothing was sent. Use a new key for a new operation.
    #[error(
        "idempotency key {key} was used before for a different request (method, URL or \
         body); nothing was sent"
    )]
    #[non_exhaustive]
    IdempotencyKeyReused {
        /// The key (keys are not secrets).
        key: IdempotencyKey,
    },
}

/// A transport error's outcome, as the default classifier reads it.
fn transport_outcome(source: &(dyn StdError + Send + Sync + 'static)) -> Applied {
    DefaultClassifier::classify_error(source).applied()
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
                    .with_applied(Applied::NotApplied),
            ),
            Self::RateLimited { retry_after, .. } => Some(Classification::throttled(
                Some(*retry_after),
                Reason::RateLimited,
            )),
            // Nothing was sent: once the quota's store is back a later attempt may go.
            Self::QuotaUnavailable { .. } => Some(
                Classification::transient(Reason::Custom("shared quota unavailable"))
                    .with_applied(Applied::NotApplied),
            ),
            // Refused locally, nothing sent: worth another attempt once the circuit
            // half-opens or a slot frees ([`Error::retry_at`] says when).
            Self::CircuitOpen { .. } => Some(
                Classification::transient(Reason::Custom("circuit open"))
                    .with_applied(Applied::NotApplied),
            ),
            Self::BulkheadFull { .. } => Some(
                Classification::transient(Reason::Custom("bulkhead full"))
                    .with_applied(Applied::NotApplied),
            ),
            Self::RetriesExhausted { failure, .. }
            | Self::NotRetried { failure, .. }
            | Self::DeadlineExceeded { failure, .. } => Some(failure.classification),
            Self::Transport { .. } => None,
            // Nothing was sent, and sending later cannot help until someone acts.
            Self::IdempotencyOutcomeUnknown { .. } => Some(
                Classification::permanent(Reason::Custom("idempotency outcome unknown"))
                    .with_applied(Applied::NotApplied),
            ),
            Self::IdempotencyKeyReused { .. } => Some(
                Classification::permanent(Reason::Custom("idempotency key reused"))
                    .with_applied(Applied::NotApplied),
            ),
            Self::Credentials { source, .. } => {
                let reason = Reason::Custom("no credentials");
                let classification = if source.is_transient() {
                    Classification::transient(reason)
                } else {
                    Classification::permanent(reason)
                };
                Some(classification.with_applied(Applied::NotApplied))
            }
        }
    }

    /// Whether the server may have acted on the call: `NotApplied` (safe to send again) or
    /// `MaybeApplied` (outcome unknown: check before sending again).
    ///
    /// A call is `MaybeApplied` when any of its attempts may have been applied and no
    /// verifier showed otherwise, so a 500 followed by a 503 is still unknown. A timeout is
    /// unknown (the request may have been written); a [`Error::Transport`] (a stack without
    /// a retry layer) is read by the default classifier.
    ///
    /// # Example
    ///
    /// ```
    /// use steadfast::classify::Applied;
    ///
    /// # async fn example(client: steadfast::Client) {
    /// match client.post("http://127.0.0.1:9/invoices").send().await {
    ///     Ok(response) => println!("{}", response.status()),
    ///     Err(e) if e.outcome() == Applied::NotApplied => eprintln!("safe to send again: {e}"),
    ///     Err(e) => eprintln!("look the invoice up before sending again: {e}"),
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn outcome(&self) -> Applied {
        match self {
            Self::Config(_)
            | Self::InvalidRequest(_)
            | Self::IdempotencyKeyInFlight { .. }
            | Self::Ledger { .. }
            | Self::RateLimited { .. }
            | Self::Credentials { .. }
            | Self::QuotaUnavailable { .. }
            | Self::CircuitOpen { .. }
            | Self::BulkheadFull { .. }
            | Self::IdempotencyKeyReused { .. } => Applied::NotApplied,
            // Nothing was sent now, but an earlier call with the key may have acted.
            Self::Timeout { .. } | Self::Decode(_) | Self::IdempotencyOutcomeUnknown { .. } => {
                Applied::MaybeApplied
            }
            Self::Transport { source, .. } => transport_outcome(source.as_ref()),
            Self::RetriesExhausted { failure, .. }
            | Self::NotRetried { failure, .. }
            | Self::DeadlineExceeded { failure, .. } => failure.outcome,
        }
    }

    /// The details of the last attempt, for errors that ended a retried call.
    #[must_use]
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::RetriesExhausted { failure, .. }
            | Self::NotRetried { failure, .. }
            | Self::DeadlineExceeded { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// The status of the last response, when the call ended on one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.failure().and_then(Failure::status)
    }

    /// When a new attempt may be made: the time the server named, if it named one, or when
    /// an open circuit half-opens ([`Error::CircuitOpen`]).
    #[must_use]
    pub fn retry_at(&self) -> Option<Instant> {
        if let Self::CircuitOpen { until, .. } = self {
            return Some(*until);
        }
        self.failure().and_then(Failure::retry_at)
    }

    /// The idempotency key of the call, when it had one.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Self::IdempotencyKeyInFlight { key, .. }
            | Self::Ledger { key, .. }
            | Self::IdempotencyOutcomeUnknown { key }
            | Self::IdempotencyKeyReused { key } => Some(key.as_str()),
            Self::Timeout {
                idempotency_key, ..
            }
            | Self::Transport {
                idempotency_key, ..
            }
            | Self::RateLimited {
                idempotency_key, ..
            }
            | Self::Credentials {
                idempotency_key, ..
            }
            | Self::QuotaUnavailable {
                idempotency_key, ..
            }
            | Self::CircuitOpen {
                idempotency_key, ..
            }
            | Self::BulkheadFull {
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
            Self::RetriesExhausted { failure, .. }
            | Self::NotRetried { failure, .. }
            | Self::DeadlineExceeded { failure, .. } => {
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
            }
            | Self::Credentials {
                idempotency_key, ..
            }
            | Self::QuotaUnavailable {
                idempotency_key, ..
            }
            | Self::CircuitOpen {
                idempotency_key, ..
            }
            | Self::BulkheadFull {
                idempotency_key, ..
            } => *idempotency_key = Some(key),
            _ => {}
        }
    }

    /// Takes the last response out of the error, to read its headers and body.
    ///
    /// Returns `None` when the call did not end on a response, or when it was taken before.
    ///
    /// The response is the server's, unredacted: its headers may carry cookies or tokens,
    /// and `reqwest::Response`'s own `Debug` prints the full URL (query and userinfo
    /// included) and every header value. Log it through [`Redactor`](crate::redact::Redactor) (`url`, `headers`,
    /// `body`), never with `{:?}`.
    #[must_use]
    pub fn take_response(&self) -> Option<reqwest::Response> {
        self.failure().and_then(Failure::take_response)
    }
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
    use reqwest::Method;

    use super::*;
    use crate::classify::Verdict;
    use crate::error::Unverified;

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
        assert_eq!(classification.applied(), Applied::NotApplied);
        assert_eq!(error.outcome(), Applied::NotApplied);
        assert_eq!(
            error.to_string(),
            "rate limited on https://api.example.com:443: no permit for 2s, longer than the \
             allowed wait; the request was not sent, not applied"
        );
        let custom = Error::RateLimited {
            retry_after: Duration::from_secs(2),
            key: None,
            idempotency_key: None,
        };
        assert!(custom.to_string().contains("a custom key"), "{custom}");
    }

    fn failure(classification: Classification) -> Box<Failure> {
        Box::new(Failure::new(
            Method::POST,
            Some("api.example.com".to_owned()),
            2,
            classification,
            None,
        ))
    }

    #[test]
    fn every_error_says_its_outcome() {
        let unknown = "outcome unknown: the server may have acted";
        let not_applied = "not applied";
        let cases: Vec<(Error, Applied, &str)> = vec![
            (
                Error::Config(ConfigError::ZeroDuration { name: "x" }),
                Applied::NotApplied,
                not_applied,
            ),
            (
                Error::InvalidRequest("bad".into()),
                Applied::NotApplied,
                not_applied,
            ),
            (
                Error::Timeout {
                    elapsed: Duration::from_secs(2),
                    idempotency_key: None,
                },
                Applied::MaybeApplied,
                unknown,
            ),
            (
                Error::IdempotencyKeyInFlight {
                    key: IdempotencyKey::new("k"),
                    waited: Duration::from_secs(1),
                },
                Applied::NotApplied,
                not_applied,
            ),
            (
                Error::Transport {
                    source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
                    idempotency_key: None,
                },
                Applied::NotApplied,
                not_applied,
            ),
            (
                Error::Transport {
                    source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                    idempotency_key: None,
                },
                Applied::MaybeApplied,
                unknown,
            ),
            (
                Error::RetriesExhausted {
                    failure: failure(Classification::transient(Reason::Status(
                        StatusCode::SERVICE_UNAVAILABLE,
                    ))),
                    source: None,
                },
                Applied::NotApplied,
                not_applied,
            ),
            (
                Error::NotRetried {
                    why: NotRetried::OutcomeUnknown(Unverified::TimedOut),
                    failure: failure(Classification::transient(Reason::Status(
                        StatusCode::BAD_GATEWAY,
                    ))),
                    source: None,
                },
                Applied::MaybeApplied,
                unknown,
            ),
        ];
        for (error, outcome, text) in cases {
            assert_eq!(error.outcome(), outcome, "{error:?}");
            let shown = error.to_string();
            assert!(shown.contains(text), "{shown}");
        }
    }
}

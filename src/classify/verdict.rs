use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

use super::Applied;

/// What a single outcome means for every layer of the stack.
///
/// The retry layer retries `Transient` and `Throttled`; a rate limiter slows a key down on
/// `Throttled`; a circuit breaker counts `Transient` as a host failure but not `Throttled`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The call did what was asked.
    Success,
    /// Worth retrying: connect errors, timeouts, resets, 408, 500, 502, 503, 504.
    Transient,
    /// The server asked us to slow down (429, or 503 / 403 with rate-limit signals).
    Throttled {
        /// How long the server asked us to wait, when it said so.
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help: other 4xx, 501, 505, invalid requests, decode errors.
    Permanent,
}

impl Verdict {
    /// Whether the verdict allows a retry (`Transient` or `Throttled`).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient | Self::Throttled { .. })
    }

    /// The verdict's name without details, as logs record it: `success`, `transient`,
    /// `throttled` or `permanent`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Transient => "transient",
            Self::Throttled { .. } => "throttled",
            Self::Permanent => "permanent",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success => f.write_str("success"),
            Self::Transient => f.write_str("transient"),
            Self::Throttled { retry_after: None } => f.write_str("throttled"),
            Self::Throttled {
                retry_after: Some(d),
            } => write!(f, "throttled, retry after {d:?}"),
            Self::Permanent => f.write_str("permanent"),
        }
    }
}

/// Why an outcome got its verdict.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The server answered with this status.
    Status(StatusCode),
    /// The connection could not be established (refused, DNS, TLS handshake, connect timeout).
    Connect,
    /// The attempt or the call ran out of time.
    Timeout,
    /// The connection was reset or aborted by the peer.
    ConnectionReset,
    /// The connection closed before the response was complete.
    ConnectionClosed,
    /// Sending the request body or reading the response body failed.
    Body,
    /// The response body could not be decoded.
    Decode,
    /// The request itself is invalid (bad URL, header, or body).
    InvalidRequest,
    /// The response could not be parsed (its head is too large, say).
    InvalidResponse,
    /// Too many redirects, or a redirect loop.
    Redirect,
    /// A local rate limiter refused to send the request.
    RateLimited,
    /// An error the classifier does not recognise.
    Unknown,
    /// A reason given by a custom classifier.
    Custom(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "status {status}"),
            Self::Connect => f.write_str("connection failed"),
            Self::Timeout => f.write_str("timed out"),
            Self::ConnectionReset => f.write_str("connection reset"),
            Self::ConnectionClosed => {
                f.write_str("connection closed before the response completed")
            }
            Self::Body => f.write_str("body error"),
            Self::Decode => f.write_str("response body could not be decoded"),
            Self::InvalidRequest => f.write_str("invalid request"),
            Self::InvalidResponse => f.write_str("invalid response (head too large)"),
            Self::Redirect => f.write_str("redirect error"),
            Self::RateLimited => f.write_str("local rate limit"),
            Self::Unknown => f.write_str("unrecognised error"),
            Self::Custom(reason) => f.write_str(reason),
        }
    }
}

/// A verdict, the reason for it, and whether the server may have acted ([`Applied`]).
///
/// The constructors derive [`Applied`] from the verdict and reason: `NotApplied` for a
/// `Throttled` verdict, a failed connection, a local rate limit, 408, 503 and the other 4xx;
/// `MaybeApplied` for everything else (500, 502, 504, timeouts, resets, unknown errors,
/// successes). [`with_applied`](Self::with_applied) says otherwise.
///
/// # Example
///
/// ```
/// use steadfast::classify::{Applied, Classification, Reason, Verdict};
/// use reqwest::StatusCode;
///
/// // "409 means a lock is held: nothing was done, try again"
/// let c = Classification::transient(Reason::Status(StatusCode::CONFLICT));
/// assert_eq!(c.verdict(), Verdict::Transient);
/// assert_eq!(c.applied(), Applied::NotApplied);
/// // "this vendor's 500 is sent before anything is written"
/// let c = Classification::transient(Reason::Status(StatusCode::INTERNAL_SERVER_ERROR))
///     .with_applied(Applied::NotApplied);
/// assert_eq!(c.applied(), Applied::NotApplied);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    verdict: Verdict,
    reason: Reason,
    applied: Applied,
}

impl Classification {
    /// A successful outcome.
    #[must_use]
    pub fn success(reason: Reason) -> Self {
        Self::new(Verdict::Success, reason)
    }

    /// A failure worth retrying.
    #[must_use]
    pub fn transient(reason: Reason) -> Self {
        Self::new(Verdict::Transient, reason)
    }

    /// The server asked to slow down, optionally saying for how long.
    #[must_use]
    pub fn throttled(retry_after: Option<Duration>, reason: Reason) -> Self {
        Self::new(Verdict::Throttled { retry_after }, reason)
    }

    /// A failure that retrying cannot fix.
    #[must_use]
    pub fn permanent(reason: Reason) -> Self {
        Self::new(Verdict::Permanent, reason)
    }

    /// A classification from its parts.
    #[must_use]
    pub fn new(verdict: Verdict, reason: Reason) -> Self {
        Self {
            verdict,
            reason,
            applied: default_applied(verdict, reason),
        }
    }

    /// Says whether the server may have acted, instead of what the verdict and reason
    /// imply. `NotApplied` makes a failed request safe to retry whatever its method.
    #[must_use]
    pub fn with_applied(mut self, applied: Applied) -> Self {
        self.applied = applied;
        self
    }

    /// The verdict.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Why the verdict was given.
    #[must_use]
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether the server may have acted on the attempt.
    #[must_use]
    pub fn applied(&self) -> Applied {
        self.applied
    }

    /// Whether a human must act: a permanent 401 or 403 (credentials or permissions).
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        self.verdict == Verdict::Permanent
            && matches!(
                self.reason,
                Reason::Status(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            )
    }
}

/// What a verdict and reason imply when nobody said otherwise.
fn default_applied(verdict: Verdict, reason: Reason) -> Applied {
    let not_applied = match (verdict, reason) {
        // The server refused to do the work now.
        (Verdict::Throttled { .. }, _)
        | (_, Reason::Connect | Reason::RateLimited | Reason::InvalidRequest) => true,
        // A 4xx is a rejection, 503 a refusal; other 5xx may come after the work was done.
        (_, Reason::Status(status)) => {
            status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE
        }
        _ => false,
    };
    if not_applied {
        Applied::NotApplied
    } else {
        Applied::MaybeApplied
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.verdict, self.reason)
    }
}

use std::fmt;

/// Whether the server may have acted on an attempt, or on a whole call (DESIGN §0).
///
/// The retry layer reads it to decide whether repeating a POST is safe; errors report it
/// through [`Error::outcome`](crate::Error::outcome), and logs as `steadfast.outcome`.
///
/// | outcome | applied |
/// |---|---|
/// | connect, DNS and TLS failures | `NotApplied` |
/// | a refusal by steadfast's own layers (rate limiter, ledger) | `NotApplied` |
/// | 408, 429, 503, any verdict `Throttled`, other 4xx (a rejection) | `NotApplied` |
/// | timeouts and resets after the request was written, 500, 502, 504, other 5xx | `MaybeApplied` |
/// | a body that broke mid-way, an unrecognised error | `MaybeApplied` |
/// | a success (the server acted) | `MaybeApplied` |
///
/// # Example
///
/// ```
/// use reqwest::StatusCode;
/// use reqwest::header::HeaderMap;
/// use steadfast::classify::{Applied, DefaultClassifier};
///
/// let busy = DefaultClassifier::classify_status(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new());
/// assert_eq!(busy.applied(), Applied::NotApplied);
/// let broken = DefaultClassifier::classify_status(StatusCode::BAD_GATEWAY, &HeaderMap::new());
/// assert_eq!(broken.applied(), Applied::MaybeApplied);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applied {
    /// The server provably did not act: safe to send again, whatever the method.
    NotApplied,
    /// The server may have acted: the outcome is unknown until someone checks.
    MaybeApplied,
}

impl Applied {
    /// The name logs record as `steadfast.outcome`: `not_applied` or `unknown`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotApplied => "not_applied",
            Self::MaybeApplied => "unknown",
        }
    }

    /// Whether the server may have acted.
    #[must_use]
    pub fn is_maybe_applied(&self) -> bool {
        *self == Self::MaybeApplied
    }

    /// `MaybeApplied` when either is: what a call made of several attempts is.
    #[must_use]
    pub(crate) fn or(self, other: Self) -> Self {
        if self.is_maybe_applied() || other.is_maybe_applied() {
            Self::MaybeApplied
        } else {
            Self::NotApplied
        }
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotApplied => "not applied, safe to send again",
            Self::MaybeApplied => "outcome unknown: the server may have acted",
        })
    }
}

//! Why a whole bulk call failed.

use crate::classify::Applied;
use crate::error::{BoxError, Error};
use crate::mapper::{DecodeError, MapError};

use super::RecordState;

/// Why a whole bulk call failed, for every record in it (shared by them in an `Arc`).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The call failed, after the stack's retries; [`Error::outcome`] says whether the
    /// server may have acted. With a dead-letter sink, the stack recorded it there.
    #[error(transparent)]
    Call(Error),
    /// The record could not be serialized as JSON; it was not sent.
    #[error("record could not be serialized as json; not sent")]
    Serialize(#[source] serde_json::Error),
    /// The bulk response's body was over the byte cap: the call was applied, but what
    /// became of each record is unknown.
    #[error("bulk response body larger than {max} bytes; each record's outcome is unknown")]
    #[non_exhaustive]
    BodyTooLarge {
        /// The cap.
        max: usize,
    },
    /// The bulk response's body broke off; each record's outcome is unknown.
    #[error("bulk response body could not be read; each record's outcome is unknown")]
    Body(#[source] BoxError),
    /// The bulk response is not JSON; each record's outcome is unknown.
    #[error(
        "bulk response could not be decoded: {}; each record's outcome is unknown",
        .0.summary()
    )]
    Decode(#[source] DecodeError),
    /// The results mapper failed; each record's outcome is unknown.
    #[error("bulk response results could not be mapped; each record's outcome is unknown")]
    Results(#[source] MapError),
    /// The results mapper gave another number of results than records were sent.
    #[error(
        "bulk response has {got} results for {expected} records; each record's outcome is \
         unknown"
    )]
    #[non_exhaustive]
    ResultCount {
        /// Records sent.
        expected: usize,
        /// Results mapped.
        got: usize,
    },
}

impl BatchError {
    /// What became of each record of the batch.
    #[must_use]
    pub fn state(&self) -> RecordState {
        match self {
            Self::Call(e) => match e.outcome() {
                Applied::NotApplied => RecordState::NotApplied,
                _ => RecordState::Unknown,
            },
            Self::Serialize(_) => RecordState::NotApplied,
            _ => RecordState::Unknown,
        }
    }
}

//! Why a reconciliation stopped before its report was complete.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{BoxError, ConfigError};

/// One of the two streams being reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The system of record: what should be there.
    Source,
    /// The system that should hold a copy of it.
    Destination,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Source => "source",
            Self::Destination => "destination",
        })
    }
}

/// Which cap of the unsorted index was reached.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexLimit {
    /// [`ReconcileConfig::max_pending`](super::ReconcileConfig::max_pending): records
    /// waiting for their match.
    Pending,
    /// [`ReconcileConfig::max_keys`](super::ReconcileConfig::max_keys): distinct keys seen.
    Keys,
}

impl fmt::Display for IndexLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pending => "records waiting for their match (max_pending)",
            Self::Keys => "keys (max_keys)",
        })
    }
}

/// Why a reconciliation ended without a report. Nothing is skipped silently: a record
/// that cannot be read, keyed or placed ends the run, saying which side and how far it got.
///
/// Keys in these errors are shown like the report shows them: sensitive parts masked.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A setting or the key is invalid; nothing was read.
    #[error("invalid reconciliation settings")]
    Config(#[source] ConfigError),
    /// A stream returned an error.
    #[error("reading the {side} failed after {records_read} records")]
    #[non_exhaustive]
    Read {
        /// The stream that failed.
        side: Side,
        /// How many records it had delivered before the error.
        records_read: u64,
        /// The stream's error.
        #[source]
        source: BoxError,
    },
    /// A record could not be turned into JSON.
    #[error("record {position} of the {side} cannot be represented as JSON")]
    #[non_exhaustive]
    Encode {
        /// The stream it came from.
        side: Side,
        /// Its place in the stream, counting from 1.
        position: u64,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// A record has no usable key: a part is absent, or neither a string nor an integer.
    #[error(
        "record {position} of the {side} has no usable key at {pointers} (a string or an integer is needed)"
    )]
    #[non_exhaustive]
    MissingKey {
        /// The stream it came from.
        side: Side,
        /// Its place in the stream, counting from 1.
        position: u64,
        /// The key's pointers.
        pointers: String,
    },
    /// In [`Order::Sorted`](super::Order::Sorted), a key came after a greater one.
    #[error("the {side} is not sorted by key: record {position} has key {key} after {previous}")]
    #[non_exhaustive]
    Unsorted {
        /// The stream out of order.
        side: Side,
        /// The record's place in the stream, counting from 1.
        position: u64,
        /// Its key.
        key: Value,
        /// The key before it.
        previous: Value,
    },
    /// The same key twice on one side.
    #[error("the {side} has key {key} more than once (again at record {position})")]
    #[non_exhaustive]
    DuplicateKey {
        /// The stream with the duplicate.
        side: Side,
        /// The place of the second record, counting from 1.
        position: u64,
        /// The key.
        key: Value,
    },
    /// In [`Order::Unsorted`](super::Order::Unsorted), a cap of the index was reached.
    #[error(
        "the reconciliation index is full at record {position} of the {side}: {limit} {what}; \
         sort both streams by key and use Order::Sorted, or raise the cap"
    )]
    #[non_exhaustive]
    IndexFull {
        /// The stream whose record did not fit.
        side: Side,
        /// The record's place in the stream, counting from 1.
        position: u64,
        /// Which cap.
        what: IndexLimit,
        /// Its value.
        limit: usize,
    },
}

impl ReconcileError {
    /// The side the error concerns, if one.
    #[must_use]
    pub fn side(&self) -> Option<Side> {
        match self {
            Self::Config(_) => None,
            Self::Read { side, .. }
            | Self::Encode { side, .. }
            | Self::MissingKey { side, .. }
            | Self::Unsorted { side, .. }
            | Self::DuplicateKey { side, .. }
            | Self::IndexFull { side, .. } => Some(*side),
        }
    }
}

//! A ledger that could not be read or written; on the ground floor so that [`Error`](super::Error)
//! can carry it without importing the idempotency layer.

/// A ledger could not be read or written.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend (Redis, say) could not be reached or answered with an error.
    #[error("idempotency ledger unavailable")]
    Unavailable(#[source] super::BoxError),
    /// A stored entry could not be decoded.
    #[error("idempotency ledger entry is corrupt: {0}")]
    Corrupt(&'static str),
    /// Every entry the ledger may hold is a call in flight or of unknown outcome, which
    /// cannot be evicted: raise the bound, or resolve unknown keys.
    #[error("idempotency ledger is full of keys in flight or of unknown outcome")]
    Full,
    /// The ledger lost its data and cannot vouch for any key until the loss is
    /// acknowledged (`RedisStore::acknowledge_loss`).
    #[error(
        "idempotency ledger lost its data (restarted empty, flushed or failed over); keys \
         cannot be vouched for until the loss is acknowledged"
    )]
    Unvouched,
}

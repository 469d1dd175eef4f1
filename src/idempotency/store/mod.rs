//! Completed-key ledgers: where finished calls are remembered.
//!
//! An [`IdempotencyStore`] reserves a key before a call goes out, completes it with a
//! [`StoredResponse`] after a success, and releases it after a failure so a later call may
//! try again. [`MemoryStore`] serves one process (the default); `RedisStore` (feature
//! `redis`) lets many instances of one integration share one ledger.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

mod memory;
#[cfg(feature = "redis")]
mod redis;
mod snapshot;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreConfig};
pub use snapshot::StoredResponse;

/// A boxed future returned by store operations, so that stores can be trait objects.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a reservation found.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free and is now held by the caller, with this lease token.
    Reserved(LeaseToken),
    /// Another call holds the key and has not finished.
    InFlight,
    /// A call with this key finished; here is what it got.
    Completed(StoredResponse),
}

/// Proof of holding a reservation: only the holder may complete or release it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(pub(crate) String);

impl LeaseToken {
    /// A new random token.
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The token as text, for stores that persist it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for LeaseToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LeaseToken(..)")
    }
}

/// A ledger of idempotency keys, shared by every clone of a client.
///
/// Implementations must make `reserve` atomic: of many concurrent callers with one key, at
/// most one gets [`Reservation::Reserved`]. A reservation is a lease: if its holder never
/// completes or releases it (a crash), it expires after `lease` and the key is free again.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Reserves `key` for `lease`, or reports who has it.
    fn reserve<'a>(&'a self, key: &'a str, lease: Duration) -> StoreFuture<'a, Reservation>;

    /// Records the finished call's response under `key` for `ttl`, if `token` still holds
    /// the reservation. Returns whether it did.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a LeaseToken,
        response: &'a StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Frees `key` after a failure, if `token` still holds the reservation.
    fn release<'a>(&'a self, key: &'a str, token: &'a LeaseToken) -> StoreFuture<'a, ()>;
}

/// A ledger could not be read or written.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend (Redis, say) could not be reached or answered with an error.
    #[error("idempotency ledger unavailable")]
    Unavailable(#[source] crate::BoxError),
    /// A stored entry could not be decoded.
    #[error("idempotency ledger entry is corrupt: {0}")]
    Corrupt(&'static str),
}

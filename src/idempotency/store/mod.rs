//! Completed-key ledgers: where finished calls are remembered.
//!
//! An [`IdempotencyStore`] reserves a key before a call goes out, completes it with a
//! [`StoredResponse`] after a success, and releases it after a failure so a later call may
//! try again. [`MemoryStore`] serves one process (the default); `RedisStore` (feature
//! `redis`) lets many instances of one integration share one ledger.
//!
//! # Writing a store
//!
//! Operations return a [`StoreFuture`]: [`StoreFuture::ready`] for a store that answers
//! at once (as [`MemoryStore`] does: such calls cost no allocation), or
//! [`StoreFuture::new`] around an `async` block for one that does I/O. The future owns what
//! it needs (`'static`), so clone the connection handle into it.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::idempotency::store::{
//!     IdempotencyStore, LeaseToken, LedgerKey, MemoryStore, Reservation, StoreFuture,
//!     StoredResponse,
//! };
//!
//! /// A ledger that counts reservations, around the memory one.
//! #[derive(Clone, Default)]
//! struct Counted {
//!     inner: MemoryStore,
//!     reserved: std::sync::Arc<std::sync::atomic::AtomicU64>,
//! }
//!
//! impl IdempotencyStore for Counted {
//!     fn reserve(&self, key: &LedgerKey, lease: Duration) -> StoreFuture<Reservation> {
//!         self.reserved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!         self.inner.reserve(key, lease)
//!     }
//!     fn complete(
//!         &self,
//!         key: &LedgerKey,
//!         token: &LeaseToken,
//!         response: StoredResponse,
//!         ttl: Duration,
//!     ) -> StoreFuture<bool> {
//!         self.inner.complete(key, token, response, ttl)
//!     }
//!     fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
//!         // An I/O-bound store would do its work in an async block.
//!         let inner = self.inner.clone();
//!         let (key, token) = (key.clone(), token.clone());
//!         StoreFuture::new(async move { inner.release(&key, &token).await })
//!     }
//! }
//! # let _ = Counted::default();
//! ```

use std::time::Duration;

mod future;
mod key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod snapshot;

pub use future::StoreFuture;
pub use key::{LeaseToken, LedgerKey};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreConfig};
pub use snapshot::StoredResponse;

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

/// A ledger of idempotency keys, shared by every clone of a client.
///
/// Implementations must make `reserve` atomic: of many concurrent callers with one key, at
/// most one gets [`Reservation::Reserved`]. A reservation is a lease: if its holder never
/// completes or releases it (a crash), it expires after `lease` and the key is free again.
/// See the [module docs](self) for an example.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Reserves `key` for `lease`, or reports who has it.
    fn reserve(&self, key: &LedgerKey, lease: Duration) -> StoreFuture<Reservation>;

    /// Records the finished call's response under `key` for `ttl`, if `token` still holds
    /// the reservation. Returns whether it did.
    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool>;

    /// Frees `key` after a failure, if `token` still holds the reservation.
    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()>;
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

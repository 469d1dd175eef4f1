//! Completed-key ledgers: where finished calls are remembered.
//!
//! An [`IdempotencyStore`] reserves a key before a call goes out, completes it with a
//! [`StoredResponse`] after a success, releases it after a failure that provably did not
//! reach the server, and marks it unknown after one that may have. [`MemoryStore`] serves
//! one process (the default); `RedisStore` (feature `redis`) lets many instances of one
//! integration share one ledger.
//!
//! # A key's states
//!
//! | state | how it is entered | what a new call with the key gets |
//! |---|---|---|
//! | in flight | [`reserve`](IdempotencyStore::reserve) found the key free | [`Reservation::InFlight`] |
//! | completed | [`complete`](IdempotencyStore::complete), or [`resolve`](IdempotencyStore::resolve) with [`Resolution::Applied`] | [`Reservation::Completed`], until the TTL ends |
//! | unknown | [`mark_unknown`](IdempotencyStore::mark_unknown), or a lease that ran out | [`Reservation::Unknown`], until the TTL ends or it is resolved |
//! | released | [`release`](IdempotencyStore::release), or [`resolve`](IdempotencyStore::resolve) with [`Resolution::NotApplied`] | the key is free |
//!
//! A lease that runs out does not free its key: its holder may have crashed after sending,
//! so the outcome is unknown. Every entry is stored with the request's [`Fingerprint`]; a
//! reservation with another fingerprint gets [`Reservation::KeyReused`].
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
//!     Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, MemoryStore, Reservation,
//!     Resolution, StoreFuture, StoredResponse, Terms,
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
//!     fn reserve(
//!         &self,
//!         key: &LedgerKey,
//!         fingerprint: &Fingerprint,
//!         terms: Terms,
//!     ) -> StoreFuture<Reservation> {
//!         self.reserved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!         self.inner.reserve(key, fingerprint, terms)
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
//!     fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()> {
//!         self.inner.mark_unknown(key, token, ttl)
//!     }
//!     fn resolve(&self, key: &LedgerKey, resolution: Resolution, ttl: Duration) -> StoreFuture<bool> {
//!         self.inner.resolve(key, resolution, ttl)
//!     }
//! }
//! # let _ = Counted::default();
//! ```

use std::time::Duration;

mod fingerprint;
mod future;
mod key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod snapshot;

pub use fingerprint::Fingerprint;
pub use future::StoreFuture;
pub use key::{LeaseToken, LedgerKey};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreConfig};
pub use snapshot::{BodyOmitted, StoredResponse};

/// What a reservation found.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free and is now held by the caller, with this lease token.
    Reserved(LeaseToken),
    /// Another call holds the key and has not finished; its lease is still running.
    InFlight,
    /// A call with this key finished; here is what it got.
    Completed(StoredResponse),
    /// A call with this key ended in a way that may have reached the server (a timeout after
    /// sending, a 500, a lease that ran out): sending again could act twice. The key stays
    /// held until it is [resolved](IdempotencyStore::resolve) or its TTL ends.
    Unknown,
    /// The key is held for a different request (another method, URL or body): the IETF
    /// draft's 422 case.
    KeyReused,
    /// The ledger lost its data (a Redis restarted empty, flushed or failed over without
    /// it) and cannot say whether the key was used: see `RedisStore::acknowledge_loss`.
    Unvouched,
}

/// How long a reservation holds, and how long its key is kept after that.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// How long the holder has to finish. After it the key reads as [`Reservation::Unknown`].
    pub lease: Duration,
    /// How long a finished (completed or unknown) key is kept, counted from when it
    /// finished; a lease that ran out counts from the lease's end.
    pub ttl: Duration,
}

impl Terms {
    /// A lease of `lease`, then `ttl` of memory.
    #[must_use]
    pub fn new(lease: Duration, ttl: Duration) -> Self {
        Self { lease, ttl }
    }
}

/// How a person or a job settles a key whose outcome was unknown, after checking with the
/// server.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The server acted: the key becomes completed with this response, replayed to later
    /// calls.
    Applied(StoredResponse),
    /// The server did not act: the key is freed, so the call may be sent again.
    NotApplied,
}

/// A ledger behind an `Arc`, to share one between layers and clients
/// ([`IdempotencyLayer::shared_store`](super::IdempotencyLayer::shared_store)).
pub type SharedStore = std::sync::Arc<dyn IdempotencyStore>;

/// A ledger of idempotency keys, shared by every clone of a client.
///
/// Implementations must make every operation atomic: of many concurrent callers with one
/// key, at most one gets [`Reservation::Reserved`], and a token only settles the
/// reservation it was given for. A reservation is a lease: if its holder never settles it
/// (a crash), the key reads as [`Reservation::Unknown`] once the lease ends, never as free.
/// The holder may still settle it after that, as long as nobody resolved it meanwhile.
/// See the [module docs](self) for an example.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Reserves `key` for a request with `fingerprint`, or reports what holds it.
    fn reserve(
        &self,
        key: &LedgerKey,
        fingerprint: &Fingerprint,
        terms: Terms,
    ) -> StoreFuture<Reservation>;

    /// Records the finished call's response under `key` for `ttl`, if `token` still holds
    /// the reservation. Returns whether it did.
    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool>;

    /// Frees `key` after a failure that provably did not reach the server, if `token`
    /// still holds the reservation.
    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()>;

    /// Keeps `key` held for `ttl` after a call whose outcome is unknown, if `token` still
    /// holds the reservation: later calls get [`Reservation::Unknown`].
    fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()>;

    /// Settles a key whose outcome is unknown (marked so, or whose lease ran out).
    /// [`Resolution::Applied`] completes it for `ttl`; [`Resolution::NotApplied`] frees it.
    /// Returns `false`, changing nothing, when the key is not unknown: free, completed, or
    /// held by a call whose lease is still running.
    fn resolve(&self, key: &LedgerKey, resolution: Resolution, ttl: Duration) -> StoreFuture<bool>;
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

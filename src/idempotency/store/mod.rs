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

mod fingerprint;
mod future;
mod ledger;
mod ledger_key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod snapshot;

pub use fingerprint::Fingerprint;
pub use future::StoreFuture;
pub use ledger::{IdempotencyStore, Reservation, Resolution, SharedStore, Terms};
pub use ledger_key::{LeaseToken, LedgerKey};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreConfig};
pub use snapshot::{BodyOmitted, StoredResponse};

pub use crate::error::StoreError;

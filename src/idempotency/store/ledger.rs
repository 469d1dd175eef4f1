//! What a ledger does: the [`IdempotencyStore`] trait and the answers it gives.

use std::time::Duration;

use super::{Fingerprint, LeaseToken, LedgerKey, StoreFuture, StoredResponse};

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
/// ([`IdempotencyLayer::shared_store`](crate::idempotency::IdempotencyLayer::shared_store)).
pub type SharedStore = std::sync::Arc<dyn IdempotencyStore>;

/// A ledger of idempotency keys, shared by every clone of a client.
///
/// Implementations must make every operation atomic: of many concurrent callers with one
/// key, at most one gets [`Reservation::Reserved`], and a token only settles the
/// reservation it was given for. A reservation is a lease: if its holder never settles it
/// (a crash), the key reads as [`Reservation::Unknown`] once the lease ends, never as free.
/// The holder may still settle it after that, as long as nobody resolved it meanwhile.
/// See the [module docs](crate::idempotency::store) for an example.
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

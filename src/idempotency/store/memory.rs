//! The in-process ledger: a table bounded in entries and bytes, evicting the oldest
//! completed entries first.

mod ledger;

use std::collections::VecDeque;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex, PoisonError};

use hashbrown::HashTable;
use tokio::time::Instant;

use super::{BodyOmitted, Fingerprint, LeaseToken, LedgerKey, StoredResponse};

/// An in-process ledger, bounded in entries and bytes, with per-entry expiry.
///
/// Everything counts toward the bounds: keys in flight and of unknown outcome as well as
/// completed ones, each with its key's bytes, its fingerprint and room for a response's
/// status. When a bound is reached the oldest completed entries are evicted first; keys in
/// flight or of unknown outcome are never evicted (that would let a duplicate through), so
/// a ledger full of them refuses new reservations with [`StoreError::Full`](super::StoreError::Full). Expired
/// entries are dropped when met and before a reservation is refused. A response that does
/// not fit even after evicting is kept without its body.
///
/// Every operation answers at once ([`StoreFuture::ready`](super::StoreFuture::ready)) under one short lock. A
/// completed entry is one slot of the index (with a short key inline) and its
/// [`StoredResponse`]; evicting it touches nothing else.
///
/// # Clone
///
/// Clones share one ledger.
///
/// # Example
///
/// ```
/// use steadfast::idempotency::store::MemoryStore;
///
/// let store = MemoryStore::new().max_entries(1_000).max_bytes(8 << 20);
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    /// The entries, each with its key's hash: hashed once per operation, never on eviction.
    entries: HashTable<Slot>,
    // foldhash, seeded per ledger, as hashbrown's default: SipHash was a tenth of a keyed call.
    hasher: foldhash::fast::RandomState,
    /// Completed entries in the order they completed, oldest first, for eviction, as
    /// (sequence number, key hash). An entry dropped otherwise (expired when met) leaves its
    /// record behind; a record counts only while a completed entry with its hash has its
    /// sequence number.
    completed: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// No entry is forgotten before this instant: a ledger full of held keys is scanned for
    /// expired ones only once one may have expired, not on every refused reservation.
    forget_floor: Option<Instant>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Slot {
    hash: u64,
    key: LedgerKey,
    fingerprint: Fingerprint,
    /// What the slot counts toward `bytes`.
    weight: usize,
    entry: Entry,
}

#[derive(Debug)]
enum Entry {
    InFlight {
        token: LeaseToken,
        /// The lease's end: from then on the key reads as unknown.
        lease_until: Instant,
        forget_at: Instant,
    },
    Unknown {
        forget_at: Instant,
    },
    Done {
        response: StoredResponse,
        forget_at: Instant,
        seq: u64,
    },
}

/// What a slot weighs before its response: the slot, a long key's text, and room for the
/// smallest response (a status), so that completing a key never needs room it cannot get.
fn base_weight(key: &LedgerKey) -> usize {
    std::mem::size_of::<Slot>() + key.heap_bytes() + MIN_RESPONSE
}

/// The weight of a response with its status only (see [`StoredResponse::weight`]).
const MIN_RESPONSE: usize = 64 + 6;

impl Entry {
    fn forget_at(&self) -> Instant {
        match self {
            Self::InFlight { forget_at, .. }
            | Self::Unknown { forget_at }
            | Self::Done { forget_at, .. } => *forget_at,
        }
    }

    fn is_done(&self, seq: u64) -> bool {
        matches!(self, Self::Done { seq: s, .. } if *s == seq)
    }

    /// Whether `token` holds this entry's reservation (its lease may have run out).
    fn held_by(&self, token: &LeaseToken) -> bool {
        matches!(self, Self::InFlight { token: held, .. } if held == token)
    }

    /// Whether the entry's outcome is unknown: so marked, or a lease that ran out.
    fn is_unknown(&self, now: Instant) -> bool {
        match self {
            Self::Unknown { .. } => true,
            Self::InFlight { lease_until, .. } => *lease_until <= now,
            Self::Done { .. } => false,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty ledger holding at most 10,000 entries and 64 MiB.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashTable::new(),
                hasher: foldhash::fast::RandomState::default(),
                completed: VecDeque::new(),
                next_seq: 0,
                forget_floor: None,
                bytes: 0,
                max_entries: 10_000,
                max_bytes: 64 << 20,
            })),
        }
    }

    /// Sets the most entries kept, in flight, unknown or completed. Default 10,000.
    #[must_use]
    pub fn max_entries(self, max: usize) -> Self {
        self.lock().max_entries = max.max(1);
        self
    }

    /// Sets the most bytes kept: entries, their keys and their responses. Default 64 MiB.
    #[must_use]
    pub fn max_bytes(self, max: usize) -> Self {
        self.lock().max_bytes = max;
        self
    }

    /// Entries currently held, in flight, unknown or completed (expired ones may linger
    /// until met).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the ledger holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes currently held: every entry, its key and its stored response, as counted
    /// toward [`max_bytes`](Self::max_bytes).
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The ledger's invariants hold between statements; a panic elsewhere cannot break them.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn hash(&self, key: &LedgerKey) -> u64 {
        self.hasher.hash_one(key)
    }

    fn get(&self, hash: u64, key: &LedgerKey) -> Option<&Slot> {
        self.entries.find(hash, |slot| slot.key == *key)
    }

    fn get_mut(&mut self, hash: u64, key: &LedgerKey) -> Option<&mut Slot> {
        self.entries.find_mut(hash, |slot| slot.key == *key)
    }

    fn remove(&mut self, hash: u64, key: &LedgerKey) {
        if let Ok(found) = self.entries.find_entry(hash, |slot| slot.key == *key) {
            self.bytes -= found.get().weight;
            found.remove();
        }
    }

    fn fits(&self, new_entries: usize, weight: usize) -> bool {
        self.entries.len() + new_entries <= self.max_entries
            && self.bytes + weight <= self.max_bytes
    }

    /// Evicts until `new_entries` more entries and `weight` more bytes fit; `false` when
    /// only entries that must not be evicted are left and it still does not fit.
    fn make_room(&mut self, new_entries: usize, weight: usize, now: Instant) -> bool {
        while !self.fits(new_entries, weight) {
            if !self.evict_oldest() {
                // Only keys in flight or unknown are left; they are never evicted, but
                // their time may be over.
                self.drop_expired(now);
                return self.fits(new_entries, weight);
            }
        }
        true
    }

    /// Evicts the oldest completed entry; `false` when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((seq, hash)) = self.completed.pop_front() {
            // Sequence numbers are unique: the record's own entry, or a stale record.
            if let Ok(found) = self
                .entries
                .find_entry(hash, |slot| slot.entry.is_done(seq))
            {
                self.bytes -= found.get().weight;
                found.remove();
                return true;
            }
        }
        false
    }

    fn drop_expired(&mut self, now: Instant) {
        if self.forget_floor.is_none_or(|floor| floor > now) {
            return;
        }
        let (mut freed, mut floor) = (0, None::<Instant>);
        self.entries.retain(|slot| {
            let at = slot.entry.forget_at();
            if at <= now {
                freed += slot.weight;
                return false;
            }
            floor = Some(floor.map_or(at, |f| f.min(at)));
            true
        });
        self.bytes -= freed;
        self.forget_floor = floor;
    }

    /// Notes that an entry is now forgotten at `at`.
    fn forget_at(&mut self, at: Instant) {
        self.forget_floor = Some(self.forget_floor.map_or(at, |f| f.min(at)));
    }

    /// Drops records of entries that are gone, once they outnumber the live ones.
    fn compact(&mut self) {
        if self.completed.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.completed.retain(|&(seq, hash)| {
                entries.find(hash, |slot| slot.entry.is_done(seq)).is_some()
            });
        }
    }

    /// Turns the entry at `key` into a completed one holding `response`, making room for it:
    /// evicting older completed entries, else dropping the body, else the headers.
    fn finish(
        &mut self,
        hash: u64,
        key: &LedgerKey,
        response: StoredResponse,
        forget_at: Instant,
        now: Instant,
    ) {
        let Some(slot) = self.get(hash, key) else {
            return;
        };
        let base = base_weight(&slot.key);
        let old = slot.weight;
        let mut response = response;
        // The slot's own weight is already counted; it is never evicted (not completed yet).
        let extra = |r: &StoredResponse| (base - MIN_RESPONSE + r.weight()).saturating_sub(old);
        // A body larger than the whole ledger would evict everything else, and still not fit.
        if base - MIN_RESPONSE + response.weight() > self.max_bytes
            || !self.make_room(0, extra(&response), now)
        {
            response = response.without_body(BodyOmitted::TooLarge);
            if !self.make_room(0, extra(&response), now) {
                // A status always fits: its room was taken with the reservation.
                response = StoredResponse::omitting(
                    response.status(),
                    &reqwest::header::HeaderMap::new(),
                    BodyOmitted::TooLarge,
                );
            }
        }
        let weight = base - MIN_RESPONSE + response.weight();
        let seq = self.next_seq;
        // Making room may have dropped the entry itself, if its time was over.
        let Some(slot) = self.get_mut(hash, key) else {
            return;
        };
        slot.weight = weight;
        slot.entry = Entry::Done {
            response,
            forget_at,
            seq,
        };
        self.next_seq += 1;
        self.completed.push_back((seq, hash));
        self.bytes = self.bytes + weight - old;
        self.forget_at(forget_at);
        self.compact();
    }
}

use std::collections::VecDeque;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hashbrown::HashTable;
use tokio::time::Instant;

use super::{
    BodyOmitted, Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, Reservation, Resolution,
    StoreError, StoreFuture, StoredResponse, Terms,
};

/// An in-process ledger, bounded in entries and bytes, with per-entry expiry.
///
/// Everything counts toward the bounds: keys in flight and of unknown outcome as well as
/// completed ones, each with its key's bytes, its fingerprint and room for a response's
/// status. When a bound is reached the oldest completed entries are evicted first; keys in
/// flight or of unknown outcome are never evicted (that would let a duplicate through), so
/// a ledger full of them refuses new reservations with [`StoreError::Full`]. Expired
/// entries are dropped when met and before a reservation is refused. A response that does
/// not fit even after evicting is kept without its body.
///
/// Every operation answers at once ([`StoreFuture::ready`]) under one short lock. A
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

impl IdempotencyStore for MemoryStore {
    fn reserve(
        &self,
        key: &LedgerKey,
        fingerprint: &Fingerprint,
        terms: Terms,
    ) -> StoreFuture<Reservation> {
        let now = Instant::now();
        let mut inner = self.lock();
        let hash = inner.hash(key);
        let found = match inner.get(hash, key) {
            Some(slot) if slot.entry.forget_at() > now => Some(match &slot.entry {
                _ if slot.fingerprint != *fingerprint => Reservation::KeyReused,
                Entry::Done { response, .. } => Reservation::Completed(response.clone()),
                entry if entry.is_unknown(now) => Reservation::Unknown,
                Entry::InFlight { .. } | Entry::Unknown { .. } => Reservation::InFlight,
            }),
            Some(_) => {
                inner.remove(hash, key);
                None
            }
            None => None,
        };
        if let Some(found) = found {
            return StoreFuture::ready(Ok(found));
        }
        let weight = base_weight(key);
        if !inner.make_room(1, weight, now) {
            return StoreFuture::ready(Err(StoreError::Full));
        }
        let token = LeaseToken::new();
        let lease_until = now + terms.lease;
        let slot = Slot {
            hash,
            key: key.clone(),
            fingerprint: *fingerprint,
            weight,
            entry: Entry::InFlight {
                token: token.clone(),
                lease_until,
                forget_at: lease_until + terms.ttl,
            },
        };
        inner.entries.insert_unique(hash, slot, |slot| slot.hash);
        inner.bytes += weight;
        inner.forget_at(lease_until + terms.ttl);
        StoreFuture::ready(Ok(Reservation::Reserved(token)))
    }

    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool> {
        let now = Instant::now();
        let mut inner = self.lock();
        let hash = inner.hash(key);
        // A holder whose lease ran out may still complete: nobody else could take the key.
        let holds = inner
            .get(hash, key)
            .is_some_and(|slot| slot.entry.held_by(token));
        if holds {
            inner.finish(hash, key, response, now + ttl, now);
        }
        StoreFuture::ready(Ok(holds))
    }

    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        let mut inner = self.lock();
        let hash = inner.hash(key);
        if inner
            .get(hash, key)
            .is_some_and(|slot| slot.entry.held_by(token))
        {
            inner.remove(hash, key);
        }
        StoreFuture::ready(Ok(()))
    }

    fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()> {
        let now = Instant::now();
        let mut inner = self.lock();
        let hash = inner.hash(key);
        if let Some(slot) = inner
            .get_mut(hash, key)
            .filter(|slot| slot.entry.held_by(token))
        {
            slot.entry = Entry::Unknown {
                forget_at: now + ttl,
            };
            inner.forget_at(now + ttl);
        }
        StoreFuture::ready(Ok(()))
    }

    fn resolve(&self, key: &LedgerKey, resolution: Resolution, ttl: Duration) -> StoreFuture<bool> {
        let now = Instant::now();
        let mut inner = self.lock();
        let hash = inner.hash(key);
        let unknown = inner
            .get(hash, key)
            .is_some_and(|slot| slot.entry.forget_at() > now && slot.entry.is_unknown(now));
        if unknown {
            match resolution {
                Resolution::Applied(response) => inner.finish(hash, key, response, now + ttl, now),
                Resolution::NotApplied => inner.remove(hash, key),
            }
        }
        StoreFuture::ready(Ok(unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::{Method, StatusCode};

    const MIN: Duration = Duration::from_secs(60);
    const TERMS: Terms = Terms {
        lease: MIN,
        ttl: MIN,
    };

    fn ok(body: &str) -> StoredResponse {
        StoredResponse::new(StatusCode::OK, &HeaderMap::new(), Some(body.as_bytes()))
    }

    fn url() -> reqwest::Url {
        "http://127.0.0.1:9/invoices".parse().expect("valid url")
    }

    fn key(name: &str) -> LedgerKey {
        LedgerKey::new(name, &Method::POST, &url())
    }

    fn print(body: &str) -> Fingerprint {
        Fingerprint::new(&Method::POST, &url(), Some(body.as_bytes()))
    }

    fn reserve(store: &MemoryStore, name: &str) -> Result<Reservation, StoreError> {
        store
            .reserve(&key(name), &print("{}"), TERMS)
            .now()
            .expect("memory answers at once")
    }

    fn reserved(store: &MemoryStore, name: &str) -> LeaseToken {
        match reserve(store, name) {
            Ok(Reservation::Reserved(token)) => token,
            other => panic!("{name} not free: {other:?}"),
        }
    }

    fn complete(store: &MemoryStore, name: &str, body: &str) {
        let token = reserved(store, name);
        assert!(matches!(
            store.complete(&key(name), &token, ok(body), MIN).now(),
            Ok(Ok(true))
        ));
    }

    fn answer(store: &MemoryStore, name: &str) -> Reservation {
        reserve(store, name).expect("memory never fails here")
    }

    #[tokio::test(start_paused = true)]
    async fn reserve_complete_replay_release() {
        let store = MemoryStore::new();
        let token = reserved(&store, "k");
        assert_eq!(answer(&store, "k"), Reservation::InFlight);
        assert!(
            !store
                .complete(&key("k"), &LeaseToken::new(), ok("x"), MIN)
                .await
                .expect("ok")
        );
        assert!(
            store
                .complete(&key("k"), &token, ok("done"), MIN)
                .await
                .expect("ok")
        );
        assert_eq!(answer(&store, "k"), Reservation::Completed(ok("done")));

        let other = reserved(&store, "j");
        store.release(&key("j"), &other).await.expect("ok");
        assert!(matches!(answer(&store, "j"), Reservation::Reserved(_)));
    }

    #[test]
    fn every_answer_is_ready_without_polling() {
        let store = MemoryStore::new();
        let token = reserved(&store, "k");
        assert!(matches!(
            store.complete(&key("k"), &token, ok("x"), MIN).now(),
            Ok(Ok(true))
        ));
        assert!(matches!(store.release(&key("k"), &token).now(), Ok(Ok(()))));
        assert!(matches!(
            store.mark_unknown(&key("k"), &token, MIN).now(),
            Ok(Ok(()))
        ));
        assert!(matches!(
            store.resolve(&key("k"), Resolution::NotApplied, MIN).now(),
            Ok(Ok(false))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_that_ran_out_is_unknown_and_its_holder_may_still_settle_it() {
        let store = MemoryStore::new();
        let token = reserved(&store, "k");
        tokio::time::advance(MIN + Duration::from_millis(1)).await;
        assert_eq!(answer(&store, "k"), Reservation::Unknown, "never free");
        assert!(
            store
                .complete(&key("k"), &token, ok("late"), MIN)
                .await
                .expect("ok")
        );
        assert_eq!(answer(&store, "k"), Reservation::Completed(ok("late")));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_keys_are_held_until_resolved_or_forgotten() {
        let store = MemoryStore::new();
        let token = reserved(&store, "k");
        assert!(
            !store
                .resolve(&key("k"), Resolution::NotApplied, MIN)
                .await
                .expect("ok"),
            "a live lease is not resolved under its holder"
        );
        store
            .mark_unknown(&key("k"), &token, MIN)
            .await
            .expect("ok");
        assert_eq!(answer(&store, "k"), Reservation::Unknown);
        store.release(&key("k"), &token).await.expect("ok");
        assert_eq!(answer(&store, "k"), Reservation::Unknown, "no longer held");
        assert!(
            store
                .resolve(&key("k"), Resolution::Applied(ok("checked")), MIN)
                .await
                .expect("ok")
        );
        assert_eq!(answer(&store, "k"), Reservation::Completed(ok("checked")));
        assert!(
            !store
                .resolve(&key("k"), Resolution::NotApplied, MIN)
                .await
                .expect("ok"),
            "a completed key is not unknown"
        );

        let token = reserved(&store, "j");
        store
            .mark_unknown(&key("j"), &token, MIN)
            .await
            .expect("ok");
        assert!(
            store
                .resolve(&key("j"), Resolution::NotApplied, MIN)
                .await
                .expect("ok")
        );
        assert!(matches!(answer(&store, "j"), Reservation::Reserved(_)));

        let token = reserved(&store, "i");
        store
            .mark_unknown(&key("i"), &token, MIN)
            .await
            .expect("ok");
        tokio::time::advance(MIN + Duration::from_millis(1)).await;
        assert!(
            matches!(answer(&store, "i"), Reservation::Reserved(_)),
            "forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn another_request_with_a_held_key_is_refused_in_every_state() {
        let store = MemoryStore::new();
        let other = |name: &str| {
            store
                .reserve(&key(name), &print(r#"{"amount":2}"#), TERMS)
                .now()
                .expect("ready")
                .expect("ok")
        };
        let token = reserved(&store, "in-flight");
        assert_eq!(other("in-flight"), Reservation::KeyReused);
        store
            .mark_unknown(&key("in-flight"), &token, MIN)
            .await
            .expect("ok");
        assert_eq!(other("in-flight"), Reservation::KeyReused);
        complete(&store, "done", "x");
        assert_eq!(other("done"), Reservation::KeyReused);
        assert_eq!(answer(&store, "done"), Reservation::Completed(ok("x")));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire() {
        let store = MemoryStore::new();
        complete(&store, "done", "x");
        tokio::time::advance(MIN + Duration::from_millis(1)).await;
        assert!(matches!(answer(&store, "done"), Reservation::Reserved(_)));
        assert_eq!(store.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_completed_entry_is_evicted_first() {
        let store = MemoryStore::new().max_entries(3);
        let _ = reserved(&store, "in-flight");
        complete(&store, "a", "1");
        complete(&store, "b", "2");
        complete(&store, "c", "3");
        assert_eq!(store.len(), 3);
        assert!(
            matches!(answer(&store, "a"), Reservation::Reserved(_)),
            "a was evicted"
        );
        assert_eq!(
            answer(&store, "c"),
            Reservation::Completed(ok("3")),
            "reserving a evicted b, the oldest completed entry left, not c"
        );
        assert_eq!(
            answer(&store, "in-flight"),
            Reservation::InFlight,
            "never evicted"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_ledger_full_of_held_keys_refuses_new_ones() {
        let store = MemoryStore::new().max_entries(2);
        let held = reserved(&store, "a");
        let _ = reserved(&store, "b");
        assert!(matches!(reserve(&store, "c"), Err(StoreError::Full)));
        assert_eq!(store.len(), 2);
        store.mark_unknown(&key("a"), &held, MIN).await.expect("ok");
        assert!(
            matches!(reserve(&store, "c"), Err(StoreError::Full)),
            "unknown is held too"
        );
        // Once their time is over, held keys make room.
        tokio::time::advance(2 * MIN + Duration::from_millis(1)).await;
        assert!(matches!(reserve(&store, "c"), Ok(Reservation::Reserved(_))));
        assert_eq!(store.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_stays_bounded() {
        let store = MemoryStore::new().max_entries(100).max_bytes(16_384);
        for n in 0..10_000 {
            complete(&store, &format!("key-{n}"), "a response body of some size");
            assert!(store.len() <= 100);
            assert!(store.bytes() <= 16_384);
        }
        assert!(store.len() > 10, "the bound is used, not collapsed");
    }

    #[tokio::test(start_paused = true)]
    async fn records_of_entries_that_expired_when_met_do_not_pile_up() {
        let store = MemoryStore::new();
        for n in 0..1_000 {
            let name = format!("key-{n}");
            complete(&store, &name, "x");
            tokio::time::advance(MIN + Duration::from_millis(1)).await;
            // Meeting the expired entry drops it, and its eviction record goes stale.
            let token = reserved(&store, &name);
            store.release(&key(&name), &token).await.expect("ok");
        }
        let inner = store.lock();
        assert_eq!(inner.entries.len(), 0);
        assert_eq!(inner.bytes, 0);
        assert!(inner.completed.len() <= 64 + 1, "{}", inner.completed.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_larger_than_the_ledger_keeps_its_head_only() {
        let store = MemoryStore::new().max_bytes(1_000);
        complete(&store, "small", "x");
        complete(&store, "big", &"0123456789".repeat(200));
        let Reservation::Completed(stored) = answer(&store, "big") else {
            panic!("completed");
        };
        assert_eq!(stored.status(), StatusCode::OK);
        assert_eq!(stored.body(), None);
        assert_eq!(stored.omitted(), Some(BodyOmitted::TooLarge));
        assert!(store.bytes() <= 1_000);
        assert_eq!(
            answer(&store, "small"),
            Reservation::Completed(ok("x")),
            "it evicted nothing for a body that could never fit"
        );
    }
}

use std::collections::VecDeque;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hashbrown::HashTable;
use tokio::time::Instant;

use super::{IdempotencyStore, LeaseToken, LedgerKey, Reservation, StoreFuture, StoredResponse};

/// An in-process ledger, bounded in entries and bytes, with per-entry expiry.
///
/// When a bound is reached the oldest completed entries are evicted first; keys in flight
/// are never evicted (that would let a duplicate through). Expired entries are dropped when
/// met and before anything is evicted.
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
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Slot {
    hash: u64,
    key: LedgerKey,
    entry: Entry,
}

#[derive(Debug)]
enum Entry {
    InFlight {
        token: LeaseToken,
        until: Instant,
    },
    Done {
        response: StoredResponse,
        until: Instant,
        seq: u64,
        weight: usize,
    },
}

impl Entry {
    fn until(&self) -> Instant {
        match self {
            Self::InFlight { until, .. } | Self::Done { until, .. } => *until,
        }
    }

    fn weight(&self) -> usize {
        match self {
            Self::InFlight { .. } => 0,
            Self::Done { weight, .. } => *weight,
        }
    }

    fn is_done(&self, seq: u64) -> bool {
        matches!(self, Self::Done { seq: s, .. } if *s == seq)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty ledger holding at most 10,000 entries and 64 MiB of responses.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashTable::new(),
                hasher: foldhash::fast::RandomState::default(),
                completed: VecDeque::new(),
                next_seq: 0,
                bytes: 0,
                max_entries: 10_000,
                max_bytes: 64 << 20,
            })),
        }
    }

    /// Sets the most entries kept. Default 10,000.
    #[must_use]
    pub fn max_entries(self, max: usize) -> Self {
        self.lock().max_entries = max.max(1);
        self
    }

    /// Sets the most bytes of stored responses kept. Default 64 MiB.
    #[must_use]
    pub fn max_bytes(self, max: usize) -> Self {
        self.lock().max_bytes = max;
        self
    }

    /// Entries currently held, in flight or completed (expired ones may linger until met).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the ledger holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of stored responses currently held.
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

    fn get(&self, hash: u64, key: &LedgerKey) -> Option<&Entry> {
        self.entries
            .find(hash, |slot| slot.key == *key)
            .map(|slot| &slot.entry)
    }

    fn remove(&mut self, hash: u64, key: &LedgerKey) {
        if let Ok(found) = self.entries.find_entry(hash, |slot| slot.key == *key) {
            self.bytes -= found.get().entry.weight();
            found.remove();
        }
    }

    /// Evicts until `new_entries` more entries and `weight` more bytes fit.
    fn make_room(&mut self, new_entries: usize, weight: usize, now: Instant) {
        while self.entries.len() + new_entries > self.max_entries
            || self.bytes + weight > self.max_bytes
        {
            if !self.evict_oldest() {
                // Only keys in flight are left; they are never evicted.
                self.drop_expired(now);
                return;
            }
        }
    }

    /// Evicts the oldest completed entry; `false` when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((seq, hash)) = self.completed.pop_front() {
            // Sequence numbers are unique: the record's own entry, or a stale record.
            if let Ok(found) = self
                .entries
                .find_entry(hash, |slot| slot.entry.is_done(seq))
            {
                self.bytes -= found.get().entry.weight();
                found.remove();
                return true;
            }
        }
        false
    }

    fn drop_expired(&mut self, now: Instant) {
        let mut freed = 0;
        self.entries.retain(|slot| {
            let live = slot.entry.until() > now;
            if !live {
                freed += slot.entry.weight();
            }
            live
        });
        self.bytes -= freed;
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
}

impl IdempotencyStore for MemoryStore {
    fn reserve(&self, key: &LedgerKey, lease: Duration) -> StoreFuture<Reservation> {
        let now = Instant::now();
        let mut inner = self.lock();
        let hash = inner.hash(key);
        let found = match inner.get(hash, key) {
            Some(entry) if entry.until() > now => match entry {
                Entry::InFlight { .. } => Some(Reservation::InFlight),
                Entry::Done { response, .. } => Some(Reservation::Completed(response.clone())),
            },
            Some(_) => {
                inner.remove(hash, key);
                None
            }
            None => None,
        };
        let found = found.unwrap_or_else(|| {
            inner.make_room(1, 0, now);
            let token = LeaseToken::new();
            let slot = Slot {
                hash,
                key: key.clone(),
                entry: Entry::InFlight {
                    token: token.clone(),
                    until: now + lease,
                },
            };
            inner.entries.insert_unique(hash, slot, |slot| slot.hash);
            Reservation::Reserved(token)
        });
        StoreFuture::ready(Ok(found))
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
        // A lease that ran out is not held; its entry goes when next met.
        let holds = matches!(
            inner.get(hash, key),
            Some(Entry::InFlight { token: held, until }) if held == token && *until > now
        );
        if holds {
            // A response larger than the whole ledger keeps its status and headers only.
            let response = if response.weight() > inner.max_bytes {
                response.without_body()
            } else {
                response
            };
            let weight = response.weight();
            // Never evicts the entry at hand: it is in flight until the line below.
            inner.make_room(0, weight, now);
            let seq = inner.next_seq;
            inner.next_seq += 1;
            inner.bytes += weight;
            inner.completed.push_back((seq, hash));
            if let Some(slot) = inner.entries.find_mut(hash, |slot| slot.key == *key) {
                slot.entry = Entry::Done {
                    response,
                    until: now + ttl,
                    seq,
                    weight,
                };
            }
            inner.compact();
        }
        StoreFuture::ready(Ok(holds))
    }

    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        let mut inner = self.lock();
        let hash = inner.hash(key);
        if matches!(inner.get(hash, key), Some(Entry::InFlight { token: held, .. }) if held == token)
        {
            inner.remove(hash, key);
        }
        StoreFuture::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::{Method, StatusCode};

    const MIN: Duration = Duration::from_secs(60);

    fn ok(body: &str) -> StoredResponse {
        StoredResponse::new(StatusCode::OK, &HeaderMap::new(), Some(body.as_bytes()))
    }

    fn key(name: &str) -> LedgerKey {
        let url = "http://127.0.0.1:9/invoices".parse().expect("valid url");
        LedgerKey::new(name, &Method::POST, &url)
    }

    async fn reserve(store: &MemoryStore, name: &str) -> Reservation {
        store
            .reserve(&key(name), MIN)
            .await
            .expect("memory never fails")
    }

    async fn complete(store: &MemoryStore, name: &str, body: &str) {
        let Reservation::Reserved(token) = reserve(store, name).await else {
            panic!("{name} not free");
        };
        assert!(
            store
                .complete(&key(name), &token, ok(body), MIN)
                .await
                .expect("ok")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reserve_complete_replay_release() {
        let store = MemoryStore::new();
        let Reservation::Reserved(token) = reserve(&store, "k").await else {
            panic!("fresh key");
        };
        assert_eq!(reserve(&store, "k").await, Reservation::InFlight);
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
        assert_eq!(
            reserve(&store, "k").await,
            Reservation::Completed(ok("done"))
        );

        let Reservation::Reserved(other) = reserve(&store, "j").await else {
            panic!("fresh key");
        };
        store.release(&key("j"), &other).await.expect("ok");
        assert!(matches!(
            reserve(&store, "j").await,
            Reservation::Reserved(_)
        ));
    }

    #[test]
    fn every_answer_is_ready_without_polling() {
        let store = MemoryStore::new();
        let Ok(Ok(Reservation::Reserved(token))) = store.reserve(&key("k"), MIN).now() else {
            panic!("a ready reservation");
        };
        assert!(matches!(
            store.complete(&key("k"), &token, ok("x"), MIN).now(),
            Ok(Ok(true))
        ));
        assert!(matches!(store.release(&key("k"), &token).now(), Ok(Ok(()))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_that_ran_out_cannot_complete() {
        let store = MemoryStore::new();
        let Reservation::Reserved(token) = reserve(&store, "k").await else {
            panic!("fresh key");
        };
        tokio::time::advance(MIN + Duration::from_millis(1)).await;
        assert!(
            !store
                .complete(&key("k"), &token, ok("late"), MIN)
                .await
                .expect("ok")
        );
        assert!(matches!(
            reserve(&store, "k").await,
            Reservation::Reserved(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_and_leases_expire() {
        let store = MemoryStore::new();
        complete(&store, "done", "x").await;
        let _ = reserve(&store, "held").await;
        tokio::time::advance(MIN + Duration::from_millis(1)).await;
        assert!(matches!(
            reserve(&store, "done").await,
            Reservation::Reserved(_)
        ));
        assert!(matches!(
            reserve(&store, "held").await,
            Reservation::Reserved(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_completed_entry_is_evicted_first() {
        let store = MemoryStore::new().max_entries(3);
        let _ = reserve(&store, "in-flight").await;
        complete(&store, "a", "1").await;
        complete(&store, "b", "2").await;
        complete(&store, "c", "3").await;
        assert_eq!(store.len(), 3);
        assert!(
            matches!(reserve(&store, "a").await, Reservation::Reserved(_)),
            "a was evicted"
        );
        assert_eq!(
            reserve(&store, "c").await,
            Reservation::Completed(ok("3")),
            "reserving a evicted b, the oldest completed entry left, not c"
        );
        assert_eq!(
            reserve(&store, "in-flight").await,
            Reservation::InFlight,
            "never evicted"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn memory_stays_bounded() {
        let store = MemoryStore::new().max_entries(100).max_bytes(4_096);
        for n in 0..10_000 {
            complete(&store, &format!("key-{n}"), "a response body of some size").await;
            assert!(store.len() <= 100);
            assert!(store.bytes() <= 4_096);
        }
        assert!(store.len() > 10, "the bound is used, not collapsed");
    }

    #[tokio::test(start_paused = true)]
    async fn records_of_entries_that_expired_when_met_do_not_pile_up() {
        let store = MemoryStore::new();
        for n in 0..1_000 {
            let name = format!("key-{n}");
            complete(&store, &name, "x").await;
            tokio::time::advance(MIN + Duration::from_millis(1)).await;
            // Meeting the expired entry drops it, and its eviction record goes stale.
            let Reservation::Reserved(token) = reserve(&store, &name).await else {
                panic!("{name} expired");
            };
            store.release(&key(&name), &token).await.expect("ok");
        }
        let inner = store.lock();
        assert_eq!(inner.entries.len(), 0);
        assert_eq!(inner.bytes, 0);
        assert!(inner.completed.len() <= 64 + 1, "{}", inner.completed.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_larger_than_the_ledger_keeps_its_head_only() {
        let store = MemoryStore::new().max_bytes(100);
        complete(&store, "big", &"0123456789".repeat(20)).await;
        let Reservation::Completed(stored) = reserve(&store, "big").await else {
            panic!("completed");
        };
        assert_eq!(stored.status(), StatusCode::OK);
        assert_eq!(stored.body(), None);
        assert!(store.bytes() <= 100);
    }
}

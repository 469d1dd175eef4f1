use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{IdempotencyStore, LeaseToken, Reservation, StoreFuture, StoredResponse};

/// An in-process ledger, bounded in entries and bytes, with per-entry expiry.
///
/// When a bound is reached the oldest completed entries are evicted first; keys in flight
/// are never evicted (that would let a duplicate through). Expired entries are dropped when
/// met and before anything is evicted.
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
    // foldhash, seeded per map, as hashbrown's default: SipHash was a tenth of a keyed call.
    entries: HashMap<Arc<str>, Entry, foldhash::fast::RandomState>,
    /// Insertion order of completed entries, for eviction: (sequence → key).
    completed: BTreeMap<u64, Arc<str>>,
    next_seq: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
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
                entries: HashMap::default(),
                completed: BTreeMap::new(),
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
    fn remove(&mut self, key: &str) {
        if let Some(Entry::Done { seq, weight, .. }) = self.entries.remove(key) {
            self.completed.remove(&seq);
            self.bytes -= weight;
        }
    }

    /// The live entry for `key`, dropping it first if it expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&Entry> {
        if self.entries.get(key).is_some_and(|e| e.until() <= now) {
            self.remove(key);
        }
        self.entries.get(key)
    }

    /// Evicts until one more entry of `weight` bytes fits.
    fn make_room(&mut self, weight: usize, now: Instant) {
        while self.entries.len() >= self.max_entries || self.bytes + weight > self.max_bytes {
            let Some((_, key)) = self.completed.pop_first() else {
                // Only keys in flight are left; they are never evicted.
                self.drop_expired_in_flight(now);
                return;
            };
            if let Some(Entry::Done { weight, .. }) = self.entries.remove(&key) {
                self.bytes -= weight;
            }
        }
    }

    fn drop_expired_in_flight(&mut self, now: Instant) {
        self.entries.retain(|_, e| e.until() > now);
    }
}

impl IdempotencyStore for MemoryStore {
    fn reserve<'a>(&'a self, key: &'a str, lease: Duration) -> StoreFuture<'a, Reservation> {
        let now = Instant::now();
        let mut inner = self.lock();
        let found = match inner.live(key, now) {
            Some(Entry::InFlight { .. }) => Reservation::InFlight,
            Some(Entry::Done { response, .. }) => Reservation::Completed(response.clone()),
            None => {
                inner.make_room(0, now);
                let token = LeaseToken::new();
                inner.entries.insert(
                    Arc::from(key),
                    Entry::InFlight {
                        token: token.clone(),
                        until: now + lease,
                    },
                );
                Reservation::Reserved(token)
            }
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a LeaseToken,
        response: &'a StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let now = Instant::now();
        let mut inner = self.lock();
        let holds = matches!(
            inner.live(key, now),
            Some(Entry::InFlight { token: held, .. }) if held == token
        );
        // The key's text is reused from the reservation's entry.
        if let Some((key, _reserved)) = holds.then(|| inner.entries.remove_entry(key)).flatten() {
            // A response larger than the whole ledger keeps its status and headers only.
            let response = if response.weight() > inner.max_bytes {
                response.without_body()
            } else {
                response.clone()
            };
            let weight = response.weight();
            inner.make_room(weight, now);
            let seq = inner.next_seq;
            inner.next_seq += 1;
            inner.completed.insert(seq, Arc::clone(&key));
            inner.bytes += weight;
            inner.entries.insert(
                key,
                Entry::Done {
                    response,
                    until: now + ttl,
                    seq,
                    weight,
                },
            );
        }
        Box::pin(std::future::ready(Ok(holds)))
    }

    fn release<'a>(&'a self, key: &'a str, token: &'a LeaseToken) -> StoreFuture<'a, ()> {
        let mut inner = self.lock();
        if matches!(inner.entries.get(key), Some(Entry::InFlight { token: held, .. }) if held == token)
        {
            inner.entries.remove(key);
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    const MIN: Duration = Duration::from_secs(60);

    fn ok(body: &'static str) -> StoredResponse {
        StoredResponse::new(StatusCode::OK, &HeaderMap::new(), Some(body.into()))
    }

    async fn reserve(store: &MemoryStore, key: &str) -> Reservation {
        store.reserve(key, MIN).await.expect("memory never fails")
    }

    async fn complete(store: &MemoryStore, key: &str, body: &'static str) {
        let Reservation::Reserved(token) = reserve(store, key).await else {
            panic!("{key} not free");
        };
        assert!(
            store
                .complete(key, &token, &ok(body), MIN)
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
                .complete("k", &LeaseToken::new(), &ok("x"), MIN)
                .await
                .expect("ok")
        );
        assert!(
            store
                .complete("k", &token, &ok("done"), MIN)
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
        store.release("j", &other).await.expect("ok");
        assert!(matches!(
            reserve(&store, "j").await,
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
}

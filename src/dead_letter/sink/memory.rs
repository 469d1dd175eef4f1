//! Letters in memory, bounded: for tests, and for a process that only needs to see them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::{Claim, DeadLetterSink, SinkFuture};
use crate::dead_letter::{DeadLetter, LetterFilter, LetterId, LetterState};

/// Keeps up to `capacity` letters in memory; the oldest goes first (with a WARN, counted in
/// [`dropped`](Self::dropped)). Lost when the process ends.
///
/// # Clone
///
/// Clones share the letters.
#[derive(Debug, Clone)]
pub struct MemorySink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    // Ids are UUID v7: the map is in creation order, the oldest first.
    letters: Mutex<BTreeMap<LetterId, DeadLetter>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl Default for MemorySink {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

/// The default number of letters a [`MemorySink`] keeps.
pub const DEFAULT_CAPACITY: usize = 10_000;

impl MemorySink {
    /// A sink keeping at most `capacity` letters (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                letters: Mutex::new(BTreeMap::new()),
                capacity: capacity.max(1),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// How many letters were dropped to make room.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// How many letters it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no letter.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<LetterId, DeadLetter>> {
        self.inner
            .letters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn store_now(&self, letter: &DeadLetter) {
        let mut letters = self.lock();
        letters.insert(letter.id, letter.clone());
        while letters.len() > self.inner.capacity {
            if let Some((id, _)) = letters.pop_first() {
                let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    target: "steadfast",
                    letter = %id,
                    dropped,
                    capacity = self.inner.capacity,
                    "dead-letter memory sink full: oldest letter dropped"
                );
            }
        }
    }
}

/// Claims `letter` for `claimant` when it is waiting: shared by the sinks that hold a lock.
pub(crate) fn claim_in_place(
    letter: &mut DeadLetter,
    claimant: &str,
    lease: Duration,
    now: SystemTime,
) -> Claim {
    match &letter.state {
        state if state.is_final() => Claim::Final(letter.clone()),
        // A claimant may renew its own claim (a worker replaying what it claimed).
        LetterState::Replaying { until, by } if *until > now && by != claimant => {
            Claim::Held(letter.clone())
        }
        _ => {
            letter.state = LetterState::Replaying {
                by: claimant.to_owned(),
                until: now + lease,
            };
            letter.updated = now;
            Claim::Claimed(letter.clone())
        }
    }
}

impl DeadLetterSink for MemorySink {
    fn store(&self, letter: &DeadLetter) -> SinkFuture<'_, ()> {
        self.store_now(letter);
        Box::pin(std::future::ready(Ok(())))
    }

    fn get(&self, id: LetterId) -> SinkFuture<'_, Option<DeadLetter>> {
        let found = self.lock().get(&id).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn list(&self, filter: &LetterFilter) -> SinkFuture<'_, Vec<DeadLetter>> {
        let found = filter.select_from(&self.lock());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn claim(&self, id: LetterId, claimant: &str, lease: Duration) -> SinkFuture<'_, Claim> {
        let claim = match self.lock().get_mut(&id) {
            Some(letter) => claim_in_place(letter, claimant, lease, SystemTime::now()),
            None => Claim::NotFound,
        };
        Box::pin(std::future::ready(Ok(claim)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letter::record::tests::letter;

    #[tokio::test]
    async fn the_oldest_letter_goes_when_full() {
        let sink = MemorySink::new(2);
        let (a, b, c) = (letter(), letter(), letter());
        for l in [&a, &b, &c] {
            sink.store(l).await.expect("stored");
        }
        assert_eq!(sink.len(), 2);
        assert_eq!(sink.dropped(), 1);
        assert!(sink.get(a.id).await.expect("read").is_none());
        assert!(sink.get(c.id).await.expect("read").is_some());
    }

    #[tokio::test]
    async fn one_claim_wins_until_its_lease_runs_out() {
        let sink = MemorySink::default();
        let l = letter();
        sink.store(&l).await.expect("stored");
        let lease = Duration::from_secs(60);
        assert!(matches!(
            sink.claim(l.id, "a", lease).await,
            Ok(Claim::Claimed(_))
        ));
        assert!(matches!(
            sink.claim(l.id, "b", lease).await,
            Ok(Claim::Held(_))
        ));
        // A crashed replayer's claim, run out, is taken over.
        assert!(matches!(
            sink.claim(l.id, "c", Duration::ZERO).await,
            Ok(Claim::Held(_))
        ));
        let mut expired = sink.get(l.id).await.expect("read").expect("there");
        expired.state = LetterState::Replaying {
            by: "a".into(),
            until: SystemTime::now() - Duration::from_secs(1),
        };
        sink.store(&expired).await.expect("stored");
        assert!(matches!(
            sink.claim(l.id, "b", lease).await,
            Ok(Claim::Claimed(_))
        ));
        let next = sink.claim_next("w", 10, lease).await.expect("listed");
        assert!(next.is_empty(), "the one letter is held");
    }
}

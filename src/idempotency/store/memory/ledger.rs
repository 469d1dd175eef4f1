//! What the in-process ledger answers: reserve, complete, release, mark unknown, resolve,
//! each at once under one short lock.

use std::time::Duration;

use tokio::time::Instant;

use super::{Entry, MemoryStore, Slot, base_weight};
use crate::idempotency::store::{
    Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, Reservation, Resolution, StoreError,
    StoreFuture, StoredResponse, Terms,
};

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
    use crate::idempotency::store::BodyOmitted;
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

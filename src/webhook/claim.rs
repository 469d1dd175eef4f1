//! Claiming a delivery id in the store: who handles it, and what duplicates get.

use std::time::Duration;

use reqwest::{Method, Url};
use tokio::time::Instant;

use crate::idempotency::store::{
    Fingerprint, LeaseToken, LedgerKey, Reservation, Resolution, SharedStore, StoreError,
    StoredResponse, Terms,
};

/// What a delivery gets from the store.
pub(crate) enum Claim {
    /// The first: run the handler, then settle with this guard.
    Run(Held),
    /// Handled already: replay its answer.
    Replay(StoredResponse),
    /// Being handled by another request, still after waiting.
    Busy,
    /// The store cannot say (unreachable, full, or it lost its data).
    Unavailable(&'static str),
}

/// The ids of one namespace: their ledger scope and the one fingerprint they all share (a
/// repeated id is a duplicate whatever its body, which the signature already vouched for).
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    url: Url,
    fingerprint: Fingerprint,
}

impl Namespace {
    pub(crate) fn new(name: &str) -> Option<Self> {
        let url = Url::parse(&format!("webhook://{name}/")).ok()?;
        let fingerprint = Fingerprint::new(&Method::POST, &url, None);
        Some(Self { url, fingerprint })
    }

    pub(crate) fn key(&self, id: &str) -> LedgerKey {
        LedgerKey::new(id, &Method::POST, &self.url)
    }
}

/// Claims `key`: waits up to `max_wait` while another request handles it. A key whose
/// lease ran out (its handler crashed or hung: the sender never got an answer and is
/// retrying) is freed once and claimed again.
pub(crate) async fn claim(
    store: &SharedStore,
    namespace: &Namespace,
    key: LedgerKey,
    terms: Terms,
    max_wait: Duration,
) -> Claim {
    let deadline = Instant::now() + max_wait;
    let mut pause = Duration::from_millis(20);
    let mut freed = false;
    loop {
        match store.reserve(&key, &namespace.fingerprint, terms).await {
            Ok(Reservation::Reserved(token)) => {
                return Claim::Run(Held {
                    store: SharedStore::clone(store),
                    key,
                    token: Some(token),
                });
            }
            Ok(Reservation::Completed(stored)) => return Claim::Replay(stored),
            Ok(Reservation::InFlight) => {
                let now = Instant::now();
                if now >= deadline {
                    return Claim::Busy;
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Ok(Reservation::Unknown) if !freed => {
                freed = true;
                if let Err(error) = store.resolve(&key, Resolution::NotApplied, terms.ttl).await {
                    return unavailable(&error);
                }
            }
            Ok(Reservation::Unknown | Reservation::KeyReused) => return Claim::Busy,
            Ok(Reservation::Unvouched) => return Claim::Unavailable("store_lost_data"),
            Err(error) => return unavailable(&error),
        }
    }
}

fn unavailable(error: &StoreError) -> Claim {
    Claim::Unavailable(match error {
        StoreError::Full => "store_full",
        StoreError::Unvouched => "store_lost_data",
        StoreError::Corrupt(_) => "store_corrupt",
        _ => "store_unavailable",
    })
}

/// A claimed id: completed with the handler's answer, or released so that the sender's
/// retry is handled. Dropped unsettled (the request was cancelled), it is released.
pub(crate) struct Held {
    store: SharedStore,
    key: LedgerKey,
    token: Option<LeaseToken>,
}

impl Held {
    pub(crate) async fn complete(
        mut self,
        answer: StoredResponse,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let Some(token) = self.token.take() else {
            return Ok(false);
        };
        self.store.complete(&self.key, &token, answer, ttl).await
    }

    pub(crate) async fn release(mut self) -> Result<(), StoreError> {
        let Some(token) = self.token.take() else {
            return Ok(());
        };
        self.store.release(&self.key, &token).await
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        let release = self.store.release(&self.key, &token);
        // Outside a runtime the lease runs out instead, and the next retry frees the id.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = release.await;
            });
        }
    }
}

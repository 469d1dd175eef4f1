//! The shared state: one circuit and one bulkhead per key, made on first use, the idle
//! ones evicted when the count reaches its bound.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dashmap::DashMap;
use reqwest::Request;

use super::bulkhead::{Bulkhead, BulkheadConfig};
use super::circuit::{Circuit, Settings};
use super::clock::Clock;
use super::{CircuitBreakerConfig, CircuitKey, CircuitState};
use crate::classify::SharedClassifier;
use crate::error::ConfigError;
use crate::key::{INLINE, MapKey, OriginCache, tagged_origin_inline};

type KeyFn = dyn Fn(&Request) -> CircuitKey + Send + Sync;

/// The circuits and bulkheads of every key, shared by every layer and client it is handed
/// to.
///
/// # Clone
///
/// Clones share everything: cloning never creates a new circuit. Clones of a
/// [`Client`](crate::Client) share one circuit per host.
///
/// # Example
///
/// ```
/// use steadfast::breaker::{BulkheadConfig, CircuitBreakerConfig, CircuitKey, Circuits};
///
/// let circuits = Circuits::builder()
///     .breaker(CircuitBreakerConfig::default())
///     .bulkhead(BulkheadConfig::default().max_concurrent(8))
///     .build()?;
/// let url: reqwest::Url = "https://api.example.com/".parse()?;
/// assert_eq!(circuits.state(&CircuitKey::origin(&url)), None, "no call went there yet");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Circuits {
    shared: Arc<Shared>,
}

struct Shared {
    entries: DashMap<MapKey, Arc<Entry>, foldhash::fast::RandomState>,
    /// The entries of the origins called last, in front of `entries`: found without a lock.
    recent: OriginCache<Entry>,
    key_fn: Option<Box<KeyFn>>,
    breaker: Option<Settings>,
    bulkhead: Option<BulkheadConfig>,
    /// `None`: the rules of the [`DefaultClassifier`](crate::classify::DefaultClassifier),
    /// called without a `dyn` call.
    classifier: Option<SharedClassifier>,
    max_keys: usize,
    warned_full: AtomicBool,
}

/// One key's circuit and bulkhead, and what a call needs to report to them.
pub(crate) struct Entry {
    pub(crate) key: CircuitKey,
    pub(crate) circuit: Option<Circuit>,
    pub(crate) bulkhead: Option<Bulkhead>,
    /// `None`: the [`DefaultClassifier`](crate::classify::DefaultClassifier)'s rules.
    pub(crate) classifier: Option<SharedClassifier>,
}

impl Entry {
    fn is_idle(&self) -> bool {
        self.circuit.as_ref().is_none_or(Circuit::is_idle)
            && self.bulkhead.as_ref().is_none_or(Bulkhead::is_idle)
    }
}

impl Circuits {
    /// Circuits keyed by origin with `config`, and no bulkhead.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn new(config: &CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Self::builder().breaker(config.clone()).build()
    }

    /// A builder: circuit breaker, bulkhead, key and classifier.
    pub fn builder() -> CircuitsBuilder {
        CircuitsBuilder::default()
    }

    /// The key `request` belongs to.
    #[must_use]
    pub fn key_of(&self, request: &Request) -> CircuitKey {
        match &self.shared.key_fn {
            Some(key_fn) => key_fn(request),
            None => CircuitKey::origin(request.url()),
        }
    }

    /// The state of `key`'s circuit, or `None` when no call has used it yet (or it was
    /// evicted as idle, which is as good as closed) or there is no circuit breaker.
    #[must_use]
    pub fn state(&self, key: &CircuitKey) -> Option<CircuitState> {
        let entry = self.shared.entries.get(key.tagged())?;
        entry.circuit.as_ref().map(Circuit::state)
    }

    /// The entry of `request`'s key, made on first use; `None` when nothing guards calls or
    /// there is no room for another key. A known origin is found in the cache of recent
    /// ones without a lock (or in the map without allocating), and a key found or made in
    /// the map is offered to that cache.
    #[inline(always)]
    pub(crate) fn lookup(&self, request: &Request) -> Option<Arc<Entry>> {
        // The home origin inline, in the caller's frame; the rest out of line.
        if self.shared.key_fn.is_none()
            && let Some(found) = self.shared.recent.home(request.url())
        {
            return Some(found);
        }
        self.lookup_slowly(request)
    }

    /// [`lookup`](Self::lookup) past the home origin.
    #[inline(never)]
    fn lookup_slowly(&self, request: &Request) -> Option<Arc<Entry>> {
        if self.shared.key_fn.is_some() {
            return self.entry(self.key_of(request));
        }
        let url = request.url();
        if let Some(found) = self.shared.recent.get(url) {
            return Some(found);
        }
        let mut buffer = [0; INLINE];
        let known = tagged_origin_inline(url, &mut buffer)
            .and_then(|text| self.shared.entries.get(text).map(|e| Arc::clone(e.value())));
        let entry = known.or_else(|| self.entry(CircuitKey::origin(url)))?;
        self.shared.recent.offer(url, &entry);
        Some(entry)
    }

    fn entry(&self, key: CircuitKey) -> Option<Arc<Entry>> {
        let shared = &self.shared;
        if let Some(found) = shared.entries.get(key.tagged()) {
            return Some(Arc::clone(&found));
        }
        if shared.entries.len() >= shared.max_keys {
            // Only entries no call holds and with nothing counted go; the cache holds
            // every entry it has, so it lets go first.
            shared.recent.clear();
            shared
                .entries
                .retain(|_, entry| Arc::strong_count(entry) > 1 || !entry.is_idle());
            if shared.entries.len() >= shared.max_keys {
                if !shared.warned_full.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max_keys = shared.max_keys,
                        "every circuit is busy: calls to a new key go unguarded"
                    );
                }
                return None;
            }
        }
        let entry = shared.entries.entry(key.map_key()).or_insert_with(|| {
            let name = key.as_public_str();
            Arc::new(Entry {
                circuit: shared.breaker.map(|s| Circuit::new(s, name)),
                bulkhead: shared.bulkhead.as_ref().map(Bulkhead::new),
                classifier: shared.classifier.clone(),
                key,
            })
        });
        Some(Arc::clone(&entry))
    }
}

impl fmt::Debug for Circuits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("Circuits")
            .field("breaker", &s.breaker.is_some())
            .field("bulkhead", &s.bulkhead)
            .field("keys", &s.entries.len())
            .field("max_keys", &s.max_keys)
            .field("custom_keys", &s.key_fn.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds [`Circuits`]. By default: a circuit breaker with
/// [`CircuitBreakerConfig::default`], no bulkhead, keyed by origin, read through the
/// [`DefaultClassifier`](crate::classify::DefaultClassifier).
#[must_use]
pub struct CircuitsBuilder {
    breaker: Option<CircuitBreakerConfig>,
    bulkhead: Option<BulkheadConfig>,
    key_fn: Option<Box<KeyFn>>,
    classifier: Option<SharedClassifier>,
}

impl Default for CircuitsBuilder {
    fn default() -> Self {
        Self {
            breaker: Some(CircuitBreakerConfig::default()),
            bulkhead: None,
            key_fn: None,
            classifier: None,
        }
    }
}

impl fmt::Debug for CircuitsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitsBuilder")
            .field("breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead)
            .finish_non_exhaustive()
    }
}

impl CircuitsBuilder {
    /// Sets the circuit breaker. Default [`CircuitBreakerConfig::default`].
    pub fn breaker(mut self, config: CircuitBreakerConfig) -> Self {
        self.breaker = Some(config);
        self
    }

    /// No circuit breaker, for a bulkhead alone. Default: a breaker.
    pub fn without_breaker(mut self) -> Self {
        self.breaker = None;
        self
    }

    /// Sets a bulkhead per key. Default: none.
    pub fn bulkhead(mut self, config: BulkheadConfig) -> Self {
        self.bulkhead = Some(config);
        self
    }

    /// Keys requests with `key` instead of by origin (a tenant, an endpoint group).
    pub fn keyed_by<F>(mut self, key: F) -> Self
    where
        F: Fn(&Request) -> CircuitKey + Send + Sync + 'static,
    {
        self.key_fn = Some(Box::new(key));
        self
    }

    /// Reads outcomes through `classifier`, shared with the other layers. Default
    /// [`DefaultClassifier`](crate::classify::DefaultClassifier).
    pub fn shared_classifier(mut self, classifier: SharedClassifier) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// Builds the circuits.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn build(self) -> Result<Circuits, ConfigError> {
        if let Some(breaker) = &self.breaker {
            breaker.validate()?;
        }
        if let Some(bulkhead) = &self.bulkhead {
            bulkhead.validate()?;
        }
        let clock = Clock::new();
        Ok(Circuits {
            shared: Arc::new(Shared {
                entries: DashMap::default(),
                recent: OriginCache::default(),
                key_fn: self.key_fn,
                max_keys: self
                    .breaker
                    .as_ref()
                    .map_or(CircuitBreakerConfig::default().max_keys, |b| b.max_keys),
                breaker: self.breaker.as_ref().map(|b| Settings::new(b, clock)),
                bulkhead: self.bulkhead,
                classifier: self.classifier,
                warned_full: AtomicBool::new(false),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> Request {
        Request::new(reqwest::Method::GET, url.parse().expect("url"))
    }

    #[tokio::test(start_paused = true)]
    async fn one_entry_per_origin_and_idle_ones_make_room() {
        let circuits = Circuits::new(&CircuitBreakerConfig::default().max_keys(2)).expect("valid");
        let a = circuits
            .lookup(&request("http://a.example/x"))
            .expect("room");
        let again = circuits
            .lookup(&request("http://a.example:80/y?q=1"))
            .expect("found");
        assert!(Arc::ptr_eq(&a, &again));
        let b = circuits
            .lookup(&request("http://b.example/"))
            .expect("room");
        assert!(
            circuits.lookup(&request("http://c.example/")).is_none(),
            "both held by calls"
        );
        drop((a, again, b));
        assert!(
            circuits.lookup(&request("http://c.example/")).is_some(),
            "idle ones evicted"
        );
        assert_eq!(
            circuits.state(&CircuitKey::origin(
                &"http://c.example/".parse().expect("url")
            )),
            Some(CircuitState::Closed)
        );
    }

    #[test]
    fn custom_keys() {
        let circuits = Circuits::builder()
            .keyed_by(|r: &Request| CircuitKey::custom(r.url().path()))
            .build()
            .expect("valid");
        let entry = circuits
            .lookup(&request("http://a.example/tenant-1"))
            .expect("room");
        assert_eq!(entry.key, CircuitKey::custom("/tenant-1"));
        assert!(!format!("{circuits:?}").contains("tenant"));
    }
}

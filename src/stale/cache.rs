//! The last good response per URL (and credentials), bounded in entries and bytes.

use std::collections::VecDeque;
use std::collections::hash_map::{Entry as Slot, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, COOKIE, HeaderMap};
use reqwest::{Method, Request, StatusCode, Url, Version};
use tokio::time::Instant;

use super::StaleConfig;

/// What a stored response is found by: method, URL, and a hash of the request's
/// credentials, so that one caller's response is never served to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    method: Method,
    pub(crate) url: Url,
    credentials: u64,
}

/// One kept response.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) stored_at: Instant,
    seq: u64,
}

/// The entries, and their order of arrival for eviction.
#[derive(Debug)]
pub(crate) struct Cache {
    inner: Mutex<Inner>,
    pub(crate) config: StaleConfig,
    hasher: std::hash::RandomState,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Kept>,
    /// Oldest first; an entry replaced since keeps a stale line here, skipped by `seq`.
    order: VecDeque<(Key, u64)>,
    bytes: usize,
    seq: u64,
}

impl Cache {
    pub(crate) fn new(config: &StaleConfig) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            config: config.clone(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// The key of `request`.
    pub(crate) fn key(&self, request: &Request) -> Key {
        let mut hasher = self.hasher.build_hasher();
        for name in [AUTHORIZATION, COOKIE] {
            for value in request.headers().get_all(name) {
                value.as_bytes().hash(&mut hasher);
            }
        }
        Key {
            method: request.method().clone(),
            url: request.url().clone(),
            credentials: hasher.finish(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change below leaves the maps consistent before anything can panic.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The response kept for `key`, with its age, if it is young enough.
    pub(crate) fn get(&self, key: &Key) -> Option<(Kept, Duration)> {
        let inner = self.lock();
        let kept = inner.entries.get(key)?;
        let age = kept.stored_at.elapsed();
        (age <= self.config.max_age).then(|| (kept.clone(), age))
    }

    /// Keeps a response, evicting the oldest ones beyond the bounds.
    pub(crate) fn put(
        &self,
        key: Key,
        status: StatusCode,
        version: Version,
        headers: HeaderMap,
        body: Bytes,
    ) {
        if body.len() > self.config.max_entry_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        let size = body.len();
        let kept = Kept {
            status,
            version,
            headers,
            body,
            stored_at: Instant::now(),
            seq,
        };
        let replaced = match inner.entries.entry(key.clone()) {
            Slot::Occupied(mut slot) => Some(slot.insert(kept).body.len()),
            Slot::Vacant(slot) => {
                slot.insert(kept);
                None
            }
        };
        inner.bytes = inner.bytes + size - replaced.unwrap_or(0);
        inner.order.push_back((key, seq));
        while inner.entries.len() > self.config.max_entries || inner.bytes > self.config.max_bytes {
            let Some((oldest, seq)) = inner.order.pop_front() else {
                break;
            };
            if inner.entries.get(&oldest).is_some_and(|k| k.seq == seq)
                && let Some(gone) = inner.entries.remove(&oldest)
            {
                inner.bytes -= gone.body.len();
            }
        }
        // Lines of replaced entries would otherwise pile up under a steady set of URLs.
        if inner.order.len() > 2 * self.config.max_entries {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(key, seq)| entries.get(key).is_some_and(|k| k.seq == *seq));
        }
    }

    /// Forgets `key` (the server said not to store it).
    pub(crate) fn forget(&self, key: &Key) {
        let mut inner = self.lock();
        if let Some(gone) = inner.entries.remove(key) {
            inner.bytes -= gone.body.len();
        }
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

/// Whether a response may be kept: a success, not `no-store` nor `private` (the cache is
/// shared by every caller of the client).
pub(crate) fn may_keep(status: StatusCode, headers: &HeaderMap) -> bool {
    status.is_success()
        && !headers.get_all(CACHE_CONTROL).iter().any(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',').any(|directive| {
                    let name = directive.trim().split('=').next().unwrap_or_default();
                    name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("private")
                })
            })
        })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn request(url: &str, token: Option<&'static str>) -> Request {
        let mut request = Request::new(Method::GET, url.parse().expect("url"));
        if let Some(token) = token {
            request
                .headers_mut()
                .insert(AUTHORIZATION, HeaderValue::from_static(token));
        }
        request
    }

    fn put(cache: &Cache, key: Key, body: &'static [u8]) {
        cache.put(
            key,
            StatusCode::OK,
            Version::HTTP_11,
            HeaderMap::new(),
            Bytes::from_static(body),
        );
    }

    #[test]
    fn cache_control_decides() {
        let cases = [
            ("", true),
            ("max-age=60", true),
            ("public, max-age=60", true),
            ("no-store", false),
            ("No-Store", false),
            ("max-age=0, no-store", false),
            ("private", false),
            ("private=\"set-cookie\"", false),
            ("no-cache", true),
        ];
        for (value, keep) in cases {
            let mut headers = HeaderMap::new();
            if !value.is_empty() {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
            }
            assert_eq!(may_keep(StatusCode::OK, &headers), keep, "{value:?}");
        }
        assert!(!may_keep(StatusCode::NOT_FOUND, &HeaderMap::new()));
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_in_entries_bytes_and_age() {
        let config = StaleConfig::default()
            .max_entries(2)
            .max_bytes(10)
            .max_entry_bytes(6)
            .max_age(Duration::from_secs(60));
        let cache = Cache::new(&config);
        let key = |n: u32| cache.key(&request(&format!("http://a.example/{n}"), None));
        put(&cache, key(1), b"aaaa");
        put(&cache, key(2), b"bbbb");
        put(&cache, key(3), b"cc");
        assert_eq!(cache.len(), (2, 6), "the oldest went");
        assert!(cache.get(&key(1)).is_none());
        put(&cache, key(4), b"dddddd");
        assert_eq!(cache.len(), (2, 8), "bytes: 2 + 6");
        put(&cache, key(5), b"too long");
        assert!(cache.get(&key(5)).is_none(), "larger than max_entry_bytes");
        put(&cache, key(4), b"e");
        assert_eq!(cache.len(), (2, 3), "replaced in place");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(cache.get(&key(4)).is_none(), "too old");
    }

    #[test]
    fn credentials_partition_the_entries() {
        let cache = Cache::new(&StaleConfig::default());
        let alice = cache.key(&request("http://a.example/me", Some("Bearer alice")));
        let bob = cache.key(&request("http://a.example/me", Some("Bearer bob")));
        assert_ne!(alice, bob);
        assert!(!format!("{alice:?}").contains("alice"));
    }
}

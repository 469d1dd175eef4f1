//! The limiter: one bucket per key, what the servers said about each key, and the
//! settings, shared by every layer and client it is handed to.

mod admission;
mod reconfigure;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use reqwest::Request;

use super::clock::TokioClock;
use super::key::{INLINE, MapKey, origin_inline};
use super::state::KeyState;
use super::{RateLimitConfig, RateLimitKey, RateLimitMode, RateLimitState};
use crate::error::ConfigError;

pub(crate) use self::admission::Admission;

type KeyFn = dyn Fn(&Request) -> RateLimitKey + Send + Sync;

/// The shared state of rate limiting: one GCRA bucket per key, what the servers said about
/// each key, and the settings.
///
/// Build one and hand it to several layers or clients
/// ([`RateLimitLayer::shared_limiter`](super::RateLimitLayer::shared_limiter),
/// [`ClientBuilder::shared_rate_limiter`](crate::ClientBuilder::shared_rate_limiter)) to
/// make them share one quota.
///
/// # Clone
///
/// Clones share everything: cloning never creates a new bucket.
///
/// # Example
///
/// ```
/// use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitKey, RateLimiter};
///
/// // One bucket per API token rather than per host.
/// let limiter = RateLimiter::keyed_by(
///     &RateLimitConfig::new(Quota::per_minute(100)),
///     |request: &reqwest::Request| {
///         let token = request.headers().get("x-api-token").map(|v| v.as_bytes().to_vec());
///         RateLimitKey::custom(String::from_utf8_lossy(&token.unwrap_or_default()))
///     },
/// )?;
/// let key = RateLimitKey::custom("token-of-tenant-a");
/// assert!(limiter.check(&key).is_ok());
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    /// One entry per key ever seen. A sharded map: looking a key up takes one shard's read
    /// lock for a moment; a new key takes its shard's write lock once.
    keys: DashMap<MapKey, Arc<KeyState>, foldhash::fast::RandomState>,
    key_fn: Option<Box<KeyFn>>,
    clock: TokioClock,
    /// Replaced as a whole by [`RateLimiter::reconfigure`].
    settings: arc_swap::ArcSwap<Settings>,
}

/// The settings of a limiter, from its [`RateLimitConfig`].
#[derive(Debug)]
struct Settings {
    quota: governor::Quota,
    hosts: HashMap<String, governor::Quota>,
    mode: RateLimitMode,
    max_wait: Duration,
    jitter: Duration,
    adaptive: bool,
    pause_without_hint: Duration,
    max_pause: Duration,
}

impl RateLimiter {
    /// A limiter keyed by origin (scheme, host and port).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a quota is invalid: zero rate, zero period or zero burst.
    pub fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        Self::build(config, None)
    }

    /// A limiter that keys requests with `key`, for instance by API token or endpoint
    /// group. Per-host quotas apply to [`RateLimitKey::origin`] keys only.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a quota is invalid.
    pub fn keyed_by<F>(config: &RateLimitConfig, key: F) -> Result<Self, ConfigError>
    where
        F: Fn(&Request) -> RateLimitKey + Send + Sync + 'static,
    {
        Self::build(config, Some(Box::new(key)))
    }

    fn build(config: &RateLimitConfig, key_fn: Option<Box<KeyFn>>) -> Result<Self, ConfigError> {
        Ok(Self {
            shared: Arc::new(Shared {
                keys: DashMap::default(),
                key_fn,
                clock: TokioClock::new(),
                settings: arc_swap::ArcSwap::from_pointee(Settings::new(config)?),
            }),
        })
    }

    /// The key `request` draws from.
    #[must_use]
    pub fn key_of(&self, request: &Request) -> RateLimitKey {
        match &self.shared.key_fn {
            Some(key_fn) => key_fn(request),
            None => RateLimitKey::origin(request.url()),
        }
    }

    /// Takes a permit for `key` now if one is free, without waiting; otherwise returns how
    /// long until one may be (at least). The permit counts like any call's.
    ///
    /// # Errors
    ///
    /// The wait, when no permit is free now: the bucket is empty, the server paused the
    /// key, or other calls are already waiting for it.
    pub fn check(&self, key: &RateLimitKey) -> Result<(), Duration> {
        match self.shared.keys.get(key.tagged()) {
            Some(found) => self.try_take(&found),
            None => self.try_take(&self.entry(key)),
        }
    }

    /// What the limiter knows about `key`, or `None` when no call has used it yet.
    #[must_use]
    pub fn state(&self, key: &RateLimitKey) -> Option<RateLimitState> {
        let entry = self.shared.keys.get(key.tagged())?;
        Some(entry.snapshot(&self.shared.clock))
    }

    /// The shared state of `key`, made on first use with the key's quota.
    pub(crate) fn entry(&self, key: &RateLimitKey) -> Arc<KeyState> {
        if let Some(found) = self.shared.keys.get(key.tagged()) {
            return Arc::clone(&found);
        }
        let quota = self.quota_of(key);
        let entry = self
            .shared
            .keys
            .entry(MapKey(key.clone()))
            .or_insert_with(|| {
                let state = KeyState::new(key.clone(), quota, self.shared.clock);
                let s = self.shared.settings.load();
                Arc::new(state.adapting(s.adaptive, s.pause_without_hint, s.max_pause))
            });
        Arc::clone(&entry)
    }

    /// The key `request` draws from and its shared state. An origin key already seen is
    /// found without allocating: its text is built on the stack and the key is cloned from
    /// the map.
    pub(crate) fn lookup(&self, request: &Request) -> Arc<KeyState> {
        if self.shared.key_fn.is_none() {
            let mut buffer = [0; INLINE];
            if let Some(text) = origin_inline(request.url(), &mut buffer)
                && let Some(found) = self.shared.keys.get(text)
            {
                return Arc::clone(found.value());
            }
        }
        self.entry(&self.key_of(request))
    }

    fn quota_of(&self, key: &RateLimitKey) -> governor::Quota {
        let settings = self.shared.settings.load();
        key.host_names()
            .and_then(|names| names.iter().find_map(|n| settings.hosts.get(*n)))
            .copied()
            .unwrap_or(settings.quota)
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.settings.load();
        f.debug_struct("RateLimiter")
            .field("quota", &s.quota)
            .field("hosts", &s.hosts)
            .field("mode", &s.mode)
            .field("max_wait", &s.max_wait)
            .field("keys", &self.shared.keys.len())
            .field("custom_keys", &self.shared.key_fn.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::Ordering;

    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};
    use tokio::time::Instant;

    use super::*;
    use crate::error::Error;
    use crate::rate_limit::Quota;

    fn origin(url: &str) -> RateLimitKey {
        RateLimitKey::origin(&url.parse().expect("valid url"))
    }

    fn limiter(config: RateLimitConfig) -> RateLimiter {
        RateLimiter::new(&config.jitter(Duration::ZERO)).expect("valid config")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces() {
        let limiter = limiter(RateLimitConfig::new(Quota::per_second(10).burst(3)));
        let key = origin("https://api.example.com/");
        for _ in 0..3 {
            assert_eq!(limiter.check(&key), Ok(()));
        }
        assert_eq!(limiter.check(&key), Err(Duration::from_millis(100)));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(limiter.check(&key), Ok(()));
        assert!(limiter.check(&key).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn keys_and_host_overrides_have_their_own_buckets() {
        let limiter = limiter(
            RateLimitConfig::new(Quota::per_second(1))
                .host("crm.example.com", Quota::per_second(5))
                .host("api.example.com:8443", Quota::per_second(2)),
        );
        let count = |url: &str| {
            let key = origin(url);
            (0..10).take_while(|_| limiter.check(&key).is_ok()).count()
        };
        assert_eq!(count("https://crm.example.com/"), 5);
        assert_eq!(
            count("http://crm.example.com/"),
            5,
            "another origin, same host"
        );
        assert_eq!(count("https://api.example.com:8443/"), 2);
        assert_eq!(count("https://api.example.com/"), 1);
        assert_eq!(count("https://other.example.com/"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_the_buckets() {
        let limiter = limiter(RateLimitConfig::new(Quota::per_second(2)));
        let clone = limiter.clone();
        let key = origin("https://api.example.com/");
        assert!(limiter.check(&key).is_ok());
        assert!(clone.check(&key).is_ok());
        assert!(limiter.check(&key).is_err());
        assert!(clone.check(&key).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn custom_keys() {
        let limiter = RateLimiter::keyed_by(&RateLimitConfig::new(Quota::per_second(1)), |r| {
            RateLimitKey::custom(r.url().path())
        })
        .expect("valid config");
        let request = |path: &str| {
            Request::new(
                reqwest::Method::GET,
                format!("https://api.example.com{path}")
                    .parse()
                    .expect("url"),
            )
        };
        assert_eq!(limiter.key_of(&request("/a")), RateLimitKey::custom("/a"));
        assert!(limiter.check(&RateLimitKey::custom("/a")).is_ok());
        assert!(limiter.check(&RateLimitKey::custom("/b")).is_ok());
        assert!(limiter.check(&RateLimitKey::custom("/a")).is_err());
        assert!(!format!("{limiter:?}").contains("/a"));
    }

    #[tokio::test(start_paused = true)]
    async fn lookups_find_the_key_of_the_request() {
        let limiter = limiter(RateLimitConfig::new(Quota::per_second(2)));
        let request = |url: &str| Request::new(reqwest::Method::GET, url.parse().expect("url"));
        // The first lookup of an origin makes its entry, the next ones find it.
        for _ in 0..2 {
            let key = limiter.lookup(&request("https://api.example.com/orders?page=2"));
            assert_eq!(key.name, origin("https://api.example.com/"));
            assert!(Arc::ptr_eq(&key, &limiter.entry(&key.name)));
        }
        let key = limiter.lookup(&request("http://api.example.com/"));
        assert_eq!(key.name.as_public_str(), Some("http://api.example.com:80"));
        assert!(!Arc::ptr_eq(
            &key,
            &limiter.entry(&origin("https://api.example.com/"))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_the_key_and_shows_in_its_state() {
        let limiter = limiter(RateLimitConfig::new(Quota::per_second(100)));
        let name = origin("https://api.example.com/");
        let key = limiter.entry(&name);
        key.observe(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "2"), ("x-ratelimit-remaining", "0")]),
        );
        let state = limiter.state(&name).expect("known key");
        assert_eq!(state.remaining, Some(0));
        assert_eq!(
            state.paused_until,
            Some(Instant::now() + Duration::from_secs(2))
        );
        assert_eq!(limiter.check(&name), Err(Duration::from_secs(2)));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(limiter.check(&name), Ok(()));
        assert_eq!(limiter.state(&name).expect("known").paused_until, None);
        assert_eq!(limiter.state(&origin("https://other.example.com/")), None);
    }

    #[tokio::test(start_paused = true)]
    async fn without_adaptation_responses_are_recorded_but_never_pause() {
        let limiter = limiter(RateLimitConfig::new(Quota::per_second(100)).adaptive(false));
        let name = origin("https://api.example.com/");
        let key = limiter.entry(&name);
        key.observe(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "2"), ("ratelimit", "\"q\";r=0;t=2")]),
        );
        assert_eq!(limiter.state(&name).expect("known").remaining, Some(0));
        assert_eq!(limiter.check(&name), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order_at_the_quota_rate() {
        let limiter = limiter(RateLimitConfig::new(Quota::per_second(10).burst(1)));
        let name = origin("https://api.example.com/");
        let key = limiter.entry(&name);
        assert!(matches!(limiter.admit(&key), Admission::Go));
        let served = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..5_u64 {
            let (limiter, key, served) = (limiter.clone(), Arc::clone(&key), Arc::clone(&served));
            tasks.push(tokio::spawn(async move {
                limiter
                    .wait_for_permit(&key)
                    .await
                    .expect("within max_wait");
                served
                    .lock()
                    .expect("not poisoned")
                    .push((i, Instant::now() - start));
            }));
            // Let each one line up before the next arrives.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.expect("no panic");
        }
        let served = served.lock().expect("not poisoned").clone();
        let expected: Vec<_> = (0..5)
            .map(|i| (i, Duration::from_millis(100 * (i + 1))))
            .collect();
        assert_eq!(served, expected);
        assert_eq!(key.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_max_wait_is_refused_at_once() {
        let limiter = limiter(
            RateLimitConfig::new(Quota::per_second(10).burst(1))
                .max_wait(Duration::from_millis(250)),
        );
        let name = origin("https://api.example.com/");
        let key = limiter.entry(&name);
        assert!(matches!(limiter.admit(&key), Admission::Go));
        // Two waiters fit in 250 ms (at 100 and 200 ms); the third would need 300 ms.
        let first = tokio::spawn({
            let (limiter, key) = (limiter.clone(), Arc::clone(&key));
            async move { limiter.wait_for_permit(&key).await }
        });
        tokio::task::yield_now().await;
        let second = tokio::spawn({
            let (limiter, key) = (limiter.clone(), Arc::clone(&key));
            async move { limiter.wait_for_permit(&key).await }
        });
        tokio::task::yield_now().await;
        let start = Instant::now();
        let third = limiter.wait_for_permit(&key).await;
        assert_eq!(Instant::now(), start, "refused without waiting");
        let Err(Error::RateLimited {
            retry_after,
            key: shown,
            ..
        }) = third
        else {
            panic!("expected RateLimited, got {third:?}");
        };
        assert!(retry_after > Duration::from_millis(250), "{retry_after:?}");
        assert_eq!(shown.as_deref(), Some("https://api.example.com:443"));
        assert!(first.await.expect("no panic").is_ok());
        assert!(second.await.expect("no panic").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_key_resumes_with_jitter() {
        const JITTER: Duration = Duration::from_millis(200);
        let mut resumed = Vec::new();
        for _ in 0..5 {
            let limiter =
                RateLimiter::new(&RateLimitConfig::new(Quota::per_second(100)).jitter(JITTER))
                    .expect("valid config");
            let name = origin("https://api.example.com/");
            let key = limiter.entry(&name);
            key.observe(
                StatusCode::TOO_MANY_REQUESTS,
                &headers(&[("retry-after", "1")]),
            );
            let start = Instant::now();
            limiter
                .wait_for_permit(&key)
                .await
                .expect("within max_wait");
            resumed.push(Instant::now() - start);
        }
        for wait in &resumed {
            assert!(
                (Duration::from_secs(1)..=Duration::from_secs(1) + JITTER).contains(wait),
                "{resumed:?}"
            );
        }
        assert!(
            resumed.iter().any(|w| *w != resumed[0]),
            "jitter varies: {resumed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fail_fast_never_waits() {
        let limiter = limiter(
            RateLimitConfig::new(Quota::per_second(10).burst(1)).mode(RateLimitMode::FailFast),
        );
        let name = origin("https://api.example.com/");
        let key = limiter.entry(&name);
        assert!(matches!(limiter.admit(&key), Admission::Go));
        assert!(
            matches!(limiter.admit(&key), Admission::Refuse(wait) if wait == Duration::from_millis(100))
        );
    }
}

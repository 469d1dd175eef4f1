//! The limiter: one bucket per key, what the servers said about each key, and the
//! settings, shared by every layer and client it is handed to.

mod admission;
mod evict;
mod reconfigure;
#[cfg(feature = "redis")]
mod remote;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use reqwest::Request;

use super::clock::TokioClock;
use super::config::{Field, Params};
use super::settings::Settings;
use super::state::KeyState;
use super::{RateLimitConfig, RateLimitKey, RateLimitState};
use crate::error::ConfigError;
use crate::key::{INLINE, MapKey, tagged_origin_inline};

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
    /// One entry per key in use. A sharded map: looking a key up takes one shard's read
    /// lock for a moment; a new key takes its shard's write lock once.
    keys: DashMap<MapKey, Arc<KeyState>, foldhash::fast::RandomState>,
    key_fn: Option<Box<KeyFn>>,
    /// Read when a key is made or the limiter reconfigured, never on a call's hot path.
    quotas: RwLock<Quotas>,
    settings: Arc<Settings>,
    /// When idle keys were last swept (clock nanoseconds).
    swept: AtomicU64,
    /// The quota in Redis every permit is taken from, when there is one.
    #[cfg(feature = "redis")]
    remote: Option<super::store::RedisQuota>,
    clock: TokioClock,
}

/// The configured quotas, validated.
#[derive(Debug, Clone)]
struct Quotas {
    default: Params,
    hosts: HashMap<String, Params>,
    idle_timeout: u64,
    max_keys: usize,
}

impl Quotas {
    fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let hosts = config
            .hosts
            .iter()
            .map(|(host, quota)| Ok((host.to_ascii_lowercase(), quota.to_params(Field::Hosts)?)))
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            default: config.quota.to_params(Field::Quota)?,
            hosts,
            idle_timeout: u64::try_from(config.idle_timeout.as_nanos()).unwrap_or(u64::MAX),
            max_keys: config.max_keys,
        })
    }

    fn of(&self, key: &RateLimitKey) -> Params {
        key.host_names()
            .and_then(|names| names.iter().find_map(|n| self.hosts.get(*n)))
            .copied()
            .unwrap_or(self.default)
    }
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
        Self::build_with(
            config,
            key_fn,
            #[cfg(feature = "redis")]
            None,
        )
    }

    fn build_with(
        config: &RateLimitConfig,
        key_fn: Option<Box<KeyFn>>,
        #[cfg(feature = "redis")] remote: Option<super::store::RedisQuota>,
    ) -> Result<Self, ConfigError> {
        let quotas = Quotas::new(config)?;
        Ok(Self {
            shared: Arc::new(Shared {
                keys: DashMap::default(),
                key_fn,
                quotas: RwLock::new(quotas),
                settings: Arc::new(Settings::new(config)),
                swept: AtomicU64::new(0),
                #[cfg(feature = "redis")]
                remote,
                clock: TokioClock::new(),
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
            Some(found) => found.take(),
            None => self.entry(key).take(),
        }
    }

    /// What the limiter knows about `key`, or `None` when no call has used it yet (or its
    /// state was dropped for being idle).
    #[must_use]
    pub fn state(&self, key: &RateLimitKey) -> Option<RateLimitState> {
        let entry = self.shared.keys.get(key.tagged())?;
        Some(entry.snapshot(&self.shared.clock))
    }

    /// How many keys the limiter holds state for.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.shared.keys.len()
    }

    /// The shared state of `key`, made on first use with the key's quota.
    pub(crate) fn entry(&self, key: &RateLimitKey) -> Arc<KeyState> {
        if let Some(found) = self.shared.keys.get(key.tagged()) {
            return Arc::clone(&found);
        }
        // Held while the key is made, so that a reconfiguration cannot slip in between
        // reading its quota and inserting it.
        let quotas = self.quotas();
        let quota = quotas.of(key);
        self.make_room(quotas.idle_timeout, quotas.max_keys);
        let entry = self.shared.keys.entry(key.map_key()).or_insert_with(|| {
            Arc::new(KeyState::new(
                key.clone(),
                quota,
                Arc::clone(&self.shared.settings),
                self.shared.clock,
            ))
        });
        Arc::clone(&entry)
    }

    /// The key `request` draws from and its shared state. An origin key already seen is
    /// found without allocating: its text is built on the stack and the key is cloned from
    /// the map.
    pub(crate) fn lookup(&self, request: &Request) -> Arc<KeyState> {
        if self.shared.key_fn.is_none() {
            let mut buffer = [0; INLINE];
            if let Some(text) = tagged_origin_inline(request.url(), &mut buffer)
                && let Some(found) = self.shared.keys.get(text)
            {
                return Arc::clone(found.value());
            }
        }
        self.entry(&self.key_of(request))
    }

    fn quotas(&self) -> std::sync::RwLockReadGuard<'_, Quotas> {
        self.shared
            .quotas
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    pub(crate) fn clock(&self) -> TokioClock {
        self.shared.clock
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("RateLimiter")
            .field("quotas", &*self.quotas())
            .field("settings", &s.settings)
            .field("keys", &s.keys.len())
            .field("custom_keys", &s.key_fn.is_some())
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
    use crate::rate_limit::{Quota, RateLimitMode};

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
                    .wait_for_permit(&key, None)
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
            async move { limiter.wait_for_permit(&key, None).await }
        });
        tokio::task::yield_now().await;
        let second = tokio::spawn({
            let (limiter, key) = (limiter.clone(), Arc::clone(&key));
            async move { limiter.wait_for_permit(&key, None).await }
        });
        tokio::task::yield_now().await;
        let start = Instant::now();
        let third = limiter.wait_for_permit(&key, None).await;
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
                .wait_for_permit(&key, None)
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

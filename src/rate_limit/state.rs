use std::sync::Arc;
#[cfg(feature = "redis")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::RateLimitKey;
use super::clock::TokioClock;
use super::config::Params;
use super::settings::Settings;
use super::store::Schedule;
use crate::hints::{self, RateLimitHeaders};

/// "Not known" in the atomics that hold what the server last said.
const UNKNOWN: u64 = u64::MAX;

/// What a rate limiter knows about one key, as read by
/// [`RateLimiter::state`](super::RateLimiter::state) or
/// [`Client::rate_limit_state`](crate::Client::rate_limit_state).
///
/// # Example
///
/// ```
/// # fn report(state: steadfast::rate_limit::RateLimitState) {
/// if let Some(until) = state.paused_until {
///     println!("paused by the server for {:?}", until - tokio::time::Instant::now());
/// }
/// println!("{:?} of {:?} left, {} calls waiting", state.remaining, state.limit, state.waiting);
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitState {
    /// What the server last said is left of its quota, when it said so.
    pub remaining: Option<u64>,
    /// The size of the quota the server last reported, when it did.
    pub limit: Option<u64>,
    /// Until when every call on the key waits because the server asked it to; `None` when
    /// the key is not paused.
    pub paused_until: Option<Instant>,
    /// Calls waiting for a permit on the key right now.
    pub waiting: usize,
}

/// One key's bucket and what the server said about it; shared by every call on the key.
///
/// Lock-free: every field is an atomic.
pub(crate) struct KeyState {
    /// The key this state belongs to, for logs and errors.
    pub(crate) name: RateLimitKey,
    pub(crate) schedule: Schedule,
    /// The quota configured for this key (the schedule runs a server-stated one instead
    /// when the server stated one and `server_limits` is on).
    pub(crate) configured: ConfiguredQuota,
    /// The limit the server stated and the schedule follows; 0 when none.
    pub(crate) stated: AtomicU64,
    /// Nanoseconds since the clock's base until which the server asked us to hold off;
    /// 0 when it never did.
    paused_until: AtomicU64,
    /// Clock nanoseconds until which a pause cut to `max_pause` has been logged: a capped
    /// hint arriving before then belongs to the same pause and is not logged again.
    capped_logged_until: AtomicU64,
    remaining: AtomicU64,
    limit: AtomicU64,
    /// Calls waiting for their slot.
    pub(crate) waiting: AtomicUsize,
    /// The local schedule at this process's share of the quota, used while a shared quota
    /// cannot be reached; made on first need.
    #[cfg(feature = "redis")]
    pub(crate) fallback: OnceLock<Schedule>,
    /// The limiter's settings, shared so that a reconfiguration reaches calls in flight.
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: TokioClock,
}

/// A key's configured quota, in atomics so that a reconfiguration can change it.
#[derive(Debug)]
pub(crate) struct ConfiguredQuota {
    interval: AtomicU64,
    burst: AtomicU64,
    per: AtomicU64,
}

impl ConfiguredQuota {
    fn new(params: Params) -> Self {
        Self {
            interval: AtomicU64::new(params.interval),
            burst: AtomicU64::new(u64::from(params.burst)),
            per: AtomicU64::new(params.per),
        }
    }

    pub(crate) fn set(&self, params: Params) {
        self.interval.store(params.interval, Ordering::Relaxed);
        self.burst.store(u64::from(params.burst), Ordering::Relaxed);
        self.per.store(params.per, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Params {
        Params {
            interval: self.interval.load(Ordering::Relaxed),
            burst: u32::try_from(self.burst.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            per: self.per.load(Ordering::Relaxed),
        }
    }
}

impl KeyState {
    pub(crate) fn new(
        name: RateLimitKey,
        quota: Params,
        settings: Arc<Settings>,
        clock: TokioClock,
    ) -> Self {
        Self {
            name,
            schedule: Schedule::new(quota.interval, quota.burst),
            configured: ConfiguredQuota::new(quota),
            stated: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            capped_logged_until: AtomicU64::new(0),
            remaining: AtomicU64::new(UNKNOWN),
            limit: AtomicU64::new(UNKNOWN),
            waiting: AtomicUsize::new(0),
            #[cfg(feature = "redis")]
            fallback: OnceLock::new(),
            settings,
            clock,
        }
    }

    /// Reads what a response says about the key's quota: records it, and pauses every
    /// call on the key when the server says the quota is spent.
    pub(crate) fn observe(&self, status: StatusCode, headers: &HeaderMap) {
        // Without a rate-limit field there is nothing to record, and no wall clock to read.
        let seen = if hints::any_present(headers) {
            RateLimitHeaders::parse(headers, SystemTime::now())
        } else {
            RateLimitHeaders::default()
        };
        self.record(seen.remaining, seen.limit);
        let settings = &*self.settings;
        if settings.server_limits() {
            self.follow_stated_limit(&seen);
        }
        if settings.pacing() {
            self.pace(&seen);
        }
        if !settings.adaptive() {
            return;
        }
        let max_pause = settings.max_pause();
        let Some(hint) =
            super::pause::server_pause(&seen, status, settings.pause_without_hint(), max_pause)
        else {
            return;
        };
        let pause = hint.capped(max_pause);
        let now = self.clock.now_nanos();
        let until = now.saturating_add(u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX));
        let extended = self.pause_until(until);
        crate::metrics::rate_limit_paused(status);
        if hint.is_too_long() {
            if self.first_capped_in_pause(now, until) {
                tracing::warn!(
                    rate_limit.key = %self.name,
                    http.response.status_code = status.as_u16(),
                    requested_ms = hint.requested().map(millis),
                    pause_ms = millis(pause),
                    "the server asked for a pause longer than max_pause: every call on this \
                     key waits for max_pause only"
                );
            }
        } else if extended {
            self.extend_capped_log(now, until);
            tracing::info!(
                rate_limit.key = %self.name,
                http.response.status_code = status.as_u16(),
                pause_ms = millis(pause),
                "the server asked to slow down: every call on this key waits"
            );
        }
    }

    /// Whether a pause cut to `max_pause`, from `now` to `until`, starts a pause not yet
    /// logged; it extends the logged one either way.
    fn first_capped_in_pause(&self, now: u64, until: u64) -> bool {
        self.capped_logged_until.fetch_max(until, Ordering::AcqRel) <= now
    }

    /// Keeps a logged capped pause logged while a shorter hint extends the same pause.
    fn extend_capped_log(&self, now: u64, until: u64) {
        if self.capped_logged_until.load(Ordering::Acquire) > now {
            self.capped_logged_until.fetch_max(until, Ordering::AcqRel);
        }
    }

    /// How long the server's pause still lasts at `now` (clock nanoseconds), if it does.
    pub(crate) fn pause_left(&self, now: u64) -> Option<Duration> {
        let until = self.paused_until.load(Ordering::Acquire);
        (until > now).then(|| Duration::from_nanos(until - now))
    }

    /// Extends the pause to `until` (clock nanoseconds); never shortens it. Returns whether
    /// it was extended.
    pub(crate) fn pause_until(&self, until: u64) -> bool {
        self.paused_until.fetch_max(until, Ordering::AcqRel) < until
    }

    pub(crate) fn record(&self, remaining: Option<u64>, limit: Option<u64>) {
        // u64::MAX itself is taken for "unknown": no quota is that large.
        if let Some(remaining) = remaining {
            self.remaining.store(remaining, Ordering::Relaxed);
        }
        if let Some(limit) = limit {
            self.limit.store(limit, Ordering::Relaxed);
        }
    }

    /// Whether the server ever paused this key.
    pub(crate) fn was_paused(&self) -> bool {
        self.paused_until.load(Ordering::Relaxed) != 0
    }

    /// Takes a permit now or says how long until one is free: the server's pause first,
    /// then the schedule.
    #[inline]
    pub(crate) fn take(&self) -> Result<(), Duration> {
        let now = self.clock.now_nanos();
        // Reading the pause costs one load; only a key the server ever paused has one.
        if self.was_paused()
            && let Some(left) = self.pause_left(now)
        {
            return Err(left);
        }
        self.schedule.try_take(now).map_err(Duration::from_nanos)
    }

    /// The pause's end (clock nanoseconds), 0 when none was ever set.
    pub(crate) fn paused_until(&self) -> u64 {
        self.paused_until.load(Ordering::Acquire)
    }

    /// Whether nothing has used the key since `idle_since` (clock nanoseconds) and no
    /// pause is still running: its state says nothing a fresh one would not.
    pub(crate) fn idle_since(&self, idle_since: u64) -> bool {
        self.schedule.full_at() <= idle_since
            && self.paused_until() <= idle_since
            && self.waiting.load(Ordering::Acquire) == 0
    }

    pub(crate) fn snapshot(&self, clock: &TokioClock) -> RateLimitState {
        let known = |v: u64| (v != UNKNOWN).then_some(v);
        let now = clock.now_nanos();
        RateLimitState {
            remaining: known(self.remaining.load(Ordering::Relaxed)),
            limit: known(self.limit.load(Ordering::Relaxed)),
            paused_until: self.pause_left(now).map(|left| clock.instant(now) + left),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Decrements a counter when dropped, so that a cancelled wait is never counted.
pub(crate) struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    /// Counts one more, returning the guard and how many were counted before.
    pub(crate) fn enter(counter: &'a AtomicUsize) -> (Self, usize) {
        let before = counter.fetch_add(1, Ordering::AcqRel);
        (Self(counter), before)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::config::Field;
    use crate::rate_limit::{Quota, RateLimitConfig};

    fn state(per_second: u32, burst: u32) -> KeyState {
        let quota = Quota::per_second(per_second)
            .burst(burst)
            .to_params(Field::Quota)
            .expect("valid");
        let settings = Arc::new(Settings::new(&RateLimitConfig::new(Quota::per_second(1))));
        KeyState::new(
            RateLimitKey::custom("test"),
            quota,
            settings,
            TokioClock::new(),
        )
    }

    #[test]
    fn pauses_only_grow() {
        let key = state(10, 1);
        assert_eq!(key.pause_left(0), None);
        assert!(key.pause_until(5_000));
        assert!(
            !key.pause_until(4_000),
            "a shorter pause does not shorten it"
        );
        assert_eq!(key.pause_left(1_000), Some(Duration::from_micros(4)));
        assert_eq!(key.pause_left(5_000), None);
    }

    #[test]
    fn a_capped_pause_is_logged_once_while_it_lasts() {
        const S: u64 = 1_000_000_000;
        let key = state(10, 1);
        assert!(key.first_capped_in_pause(0, 60 * S));
        assert!(!key.first_capped_in_pause(30 * S, 90 * S), "the same pause");
        // A shorter hint extends the same pause: still logged.
        key.extend_capped_log(80 * S, 110 * S);
        assert!(!key.first_capped_in_pause(100 * S, 160 * S));
        assert!(
            key.first_capped_in_pause(160 * S, 220 * S),
            "the pause had ended"
        );
        // A hint after the logged pause ended starts nothing logged.
        key.extend_capped_log(300 * S, 400 * S);
        assert!(key.first_capped_in_pause(350 * S, 410 * S));
    }

    #[tokio::test(start_paused = true)]
    async fn snapshots_say_what_is_known() {
        let key = state(1, 1);
        let clock = key.clock;
        assert_eq!(
            key.snapshot(&clock),
            RateLimitState {
                remaining: None,
                limit: None,
                paused_until: None,
                waiting: 0
            }
        );
        key.record(Some(0), Some(60));
        key.pause_until(clock.now_nanos() + 2_000_000_000);
        let (_guard, before) = Counted::enter(&key.waiting);
        assert_eq!(before, 0);
        let seen = key.snapshot(&clock);
        assert_eq!(seen.remaining, Some(0));
        assert_eq!(seen.limit, Some(60));
        assert_eq!(
            seen.paused_until,
            Some(Instant::now() + Duration::from_secs(2))
        );
        assert_eq!(seen.waiting, 1);
    }
}

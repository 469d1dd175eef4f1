use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use tokio::time::Instant;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::RateLimitKey;
use super::clock::TokioClock;
use crate::hints::{self, RateLimitHeaders};

/// A direct (single-key) governor limiter on the tokio clock.
pub(crate) type Gcra =
    governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

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
/// Lock-free except for `queue`, which only waiting calls take.
pub(crate) struct KeyState {
    /// The key this state belongs to, for logs and errors.
    pub(crate) name: RateLimitKey,
    pub(crate) gcra: Gcra,
    pub(crate) interval: Duration,
    pub(crate) burst: u32,
    /// Nanoseconds since the clock's base until which the server asked us to hold off;
    /// 0 when it never did.
    paused_until: AtomicU64,
    /// Clock nanoseconds before which the bucket is known to be empty: the latest
    /// "not until" governor answered. Lets a newcomer see how long the line ahead needs.
    empty_until: AtomicU64,
    /// Clock nanoseconds until which a pause cut to `max_pause` has been logged: a capped
    /// hint arriving before then belongs to the same pause and is not logged again.
    capped_logged_until: AtomicU64,
    remaining: AtomicU64,
    limit: AtomicU64,
    /// Calls in the slow path (queued or waiting as the queue's head).
    pub(crate) waiting: AtomicUsize,
    /// Waiting calls line up here, first come first served, so that only the head sleeps
    /// on a timer and every other waiter wakes once, when its turn comes.
    pub(crate) queue: tokio::sync::Mutex<()>,
    /// The limiter's settings for reading responses, copied here so that a call in flight
    /// holds the key's state alone.
    adaptive: bool,
    pause_without_hint: Duration,
    max_pause: Duration,
    clock: TokioClock,
}

impl KeyState {
    pub(crate) fn new(name: RateLimitKey, quota: governor::Quota, clock: TokioClock) -> Self {
        Self {
            name,
            gcra: governor::RateLimiter::direct_with_clock(quota, clock),
            interval: quota.replenish_interval(),
            burst: quota.burst_size().get(),
            paused_until: AtomicU64::new(0),
            empty_until: AtomicU64::new(0),
            capped_logged_until: AtomicU64::new(0),
            remaining: AtomicU64::new(UNKNOWN),
            limit: AtomicU64::new(UNKNOWN),
            waiting: AtomicUsize::new(0),
            queue: tokio::sync::Mutex::new(()),
            adaptive: false,
            pause_without_hint: Duration::ZERO,
            max_pause: Duration::ZERO,
            clock,
        }
    }

    /// Pauses the key when a response says its quota is spent (`adaptive`), for
    /// `pause_without_hint` when a 429 says not for how long, and never longer than
    /// `max_pause`.
    pub(crate) fn adapting(
        mut self,
        adaptive: bool,
        pause_without_hint: Duration,
        max_pause: Duration,
    ) -> Self {
        self.adaptive = adaptive;
        self.pause_without_hint = pause_without_hint;
        self.max_pause = max_pause;
        self
    }

    /// Whether the key reads responses with these settings.
    pub(crate) fn adapts_as(
        &self,
        adaptive: bool,
        pause_without_hint: Duration,
        max_pause: Duration,
    ) -> bool {
        self.adaptive == adaptive
            && self.pause_without_hint == pause_without_hint
            && self.max_pause == max_pause
    }

    /// Takes over what `old` (the same key under earlier settings) knows from the server:
    /// its pause and the last remaining and limit it reported. The bucket stays new.
    pub(crate) fn carrying(self, old: &KeyState) -> Self {
        for (to, from) in [
            (&self.paused_until, &old.paused_until),
            (&self.capped_logged_until, &old.capped_logged_until),
            (&self.remaining, &old.remaining),
            (&self.limit, &old.limit),
        ] {
            to.store(from.load(Ordering::Acquire), Ordering::Release);
        }
        self
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
        if !self.adaptive {
            return;
        }
        let Some(hint) =
            super::pause::server_pause(&seen, status, self.pause_without_hint, self.max_pause)
        else {
            return;
        };
        let pause = hint.capped(self.max_pause);
        let now = self.clock.now_nanos();
        let until = now.saturating_add(u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX));
        let extended = self.pause_until(until);
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

    /// Takes a permit now or says how long until one is free, noting until when the
    /// bucket is empty.
    pub(crate) fn take(&self, clock: &TokioClock) -> Result<(), Duration> {
        self.gcra.check().map_err(|refused| {
            let now = clock.now_nanos();
            let wait = refused.wait_time_from(Nanos::from(now));
            self.empty_until(
                now.saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX)),
            );
            wait
        })
    }

    /// Notes that no permit is free before `until` (clock nanoseconds).
    fn empty_until(&self, until: u64) {
        self.empty_until.fetch_max(until, Ordering::AcqRel);
    }

    /// The least a call arriving at `now` behind `ahead` waiters must wait: each waiter
    /// ahead takes a permit first, none comes before the pause ends, and none while the
    /// bucket is known to be empty; after that one per interval, or up to `burst` at once
    /// when the bucket may have refilled during a pause.
    pub(crate) fn wait_at_least(&self, now: u64, ahead: usize) -> Duration {
        let left = |until: u64| Duration::from_nanos(until.saturating_sub(now));
        let pause = left(self.paused_until.load(Ordering::Acquire));
        let empty = left(self.empty_until.load(Ordering::Acquire));
        let ahead = u32::try_from(ahead).unwrap_or(u32::MAX);
        if empty > pause {
            empty + self.interval.saturating_mul(ahead)
        } else {
            let beyond_burst = ahead.saturating_add(1).saturating_sub(self.burst);
            pause + self.interval.saturating_mul(beyond_burst)
        }
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
    use std::num::NonZeroU32;

    use super::*;

    fn state(per_second: u32, burst: u32) -> KeyState {
        let quota = governor::Quota::per_second(NonZeroU32::new(per_second).expect("non-zero"))
            .allow_burst(NonZeroU32::new(burst).expect("non-zero"));
        KeyState::new(RateLimitKey::custom("test"), quota, TokioClock::new())
    }

    #[test]
    fn queue_estimates_are_lower_bounds() {
        const MS: u64 = 1_000_000;
        let key = state(10, 3);
        // Nothing known: up to a burst may be free.
        assert_eq!(key.wait_at_least(0, 0), Duration::ZERO);
        assert_eq!(key.wait_at_least(0, 2), Duration::ZERO);
        assert_eq!(key.wait_at_least(0, 3), Duration::from_millis(100));
        assert_eq!(key.wait_at_least(0, 12), Duration::from_secs(1));
        // Known empty for 50 ms: then one per interval.
        key.empty_until(50 * MS);
        assert_eq!(key.wait_at_least(0, 0), Duration::from_millis(50));
        assert_eq!(key.wait_at_least(0, 2), Duration::from_millis(250));
        assert_eq!(key.wait_at_least(50 * MS, 3), Duration::from_millis(100));
        // A longer pause: the bucket may refill meanwhile.
        key.pause_until(1_000 * MS);
        assert_eq!(key.wait_at_least(0, 2), Duration::from_secs(1));
        assert_eq!(key.wait_at_least(0, 3), Duration::from_millis(1_100));
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
        let clock = TokioClock::new();
        let key = KeyState::new(
            RateLimitKey::custom("test"),
            governor::Quota::per_second(NonZeroU32::new(1).expect("non-zero")),
            clock,
        );
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

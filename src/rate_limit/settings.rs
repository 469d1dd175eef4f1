//! The limiter's settings in atomics, shared by the limiter and every key, so that
//! [`RateLimiter::reconfigure`](super::RateLimiter::reconfigure) changes them for calls in
//! flight without a lock on the hot path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::{RateLimitConfig, RateLimitMode};

#[derive(Debug)]
pub(crate) struct Settings {
    fail_fast: AtomicBool,
    max_wait: AtomicU64,
    jitter: AtomicU64,
    adaptive: AtomicBool,
    pause_without_hint: AtomicU64,
    max_pause: AtomicU64,
    pacing: AtomicBool,
    server_limits: AtomicBool,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Settings {
    pub(crate) fn new(config: &RateLimitConfig) -> Self {
        let settings = Self {
            fail_fast: AtomicBool::new(false),
            max_wait: AtomicU64::new(0),
            jitter: AtomicU64::new(0),
            adaptive: AtomicBool::new(false),
            pause_without_hint: AtomicU64::new(0),
            max_pause: AtomicU64::new(0),
            pacing: AtomicBool::new(false),
            server_limits: AtomicBool::new(false),
        };
        settings.set(config);
        settings
    }

    pub(crate) fn set(&self, config: &RateLimitConfig) {
        let r = Ordering::Relaxed;
        self.fail_fast
            .store(config.mode == RateLimitMode::FailFast, r);
        self.max_wait.store(nanos(config.max_wait), r);
        self.jitter.store(nanos(config.jitter), r);
        self.adaptive.store(config.adaptive, r);
        self.pause_without_hint
            .store(nanos(config.pause_without_hint), r);
        self.max_pause.store(nanos(config.max_pause), r);
        self.pacing.store(config.pacing, r);
        self.server_limits.store(config.server_limits, r);
    }

    pub(crate) fn fail_fast(&self) -> bool {
        self.fail_fast.load(Ordering::Relaxed)
    }

    pub(crate) fn max_wait(&self) -> Duration {
        Duration::from_nanos(self.max_wait_nanos())
    }

    pub(crate) fn max_wait_nanos(&self) -> u64 {
        self.max_wait.load(Ordering::Relaxed)
    }

    pub(crate) fn jitter(&self) -> u64 {
        self.jitter.load(Ordering::Relaxed)
    }

    pub(crate) fn adaptive(&self) -> bool {
        self.adaptive.load(Ordering::Relaxed)
    }

    pub(crate) fn pause_without_hint(&self) -> Duration {
        Duration::from_nanos(self.pause_without_hint.load(Ordering::Relaxed))
    }

    pub(crate) fn max_pause(&self) -> Duration {
        Duration::from_nanos(self.max_pause.load(Ordering::Relaxed))
    }

    pub(crate) fn pacing(&self) -> bool {
        self.pacing.load(Ordering::Relaxed)
    }

    pub(crate) fn server_limits(&self) -> bool {
        self.server_limits.load(Ordering::Relaxed)
    }
}

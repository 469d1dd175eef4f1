//! Without the `metrics` feature: the recording functions' twins, which do nothing and
//! compile to nothing. Their signatures follow `record.rs` and `attempt.rs`.

use std::time::Duration;

use reqwest::{Method, Request, StatusCode, Url};

use crate::classify::Classification;
use crate::verify::Verification;

#[inline(always)]
pub(crate) fn enabled() -> bool {
    false
}

#[inline(always)]
pub(crate) fn call_ended(
    _: &Method,
    _: &Url,
    _: &'static str,
    _: Classification,
    _: Option<u32>,
    _: Duration,
) {
}

#[inline(always)]
pub(crate) fn retry_scheduled(_: &Method, _: Classification) {}

#[inline(always)]
pub(crate) fn budget_refused() {}

#[inline(always)]
pub(crate) fn rate_limit_waited(_: Duration, _: bool) {}

#[inline(always)]
pub(crate) fn rate_limit_refused() {}

#[inline(always)]
pub(crate) fn rate_limit_paused(_: StatusCode) {}

#[inline(always)]
pub(crate) fn circuit_changed(_: Option<&str>, _: &'static str) {}

#[inline(always)]
pub(crate) fn circuit_refused(_: Option<&str>) {}

#[inline(always)]
pub(crate) fn ledger_replayed(_: StatusCode) {}

#[inline(always)]
pub(crate) fn verified<E>(_: &Result<Verification, E>) {}

#[inline(always)]
pub(crate) fn dead_letter_recorded(_: &'static str) {}

#[inline(always)]
pub(crate) fn dead_letter_replayed(_: &'static str) {}

#[inline(always)]
pub(crate) fn drift_seen(_: &str) {}

/// Nothing to remember of an attempt's start.
pub(crate) struct AttemptStart;

impl AttemptStart {
    #[inline(always)]
    pub(crate) fn of(_: &Request) -> Self {
        Self
    }

    #[inline(always)]
    #[allow(clippy::unused_self)]
    pub(crate) fn take(&mut self) -> Self {
        Self
    }

    #[inline(always)]
    #[allow(clippy::unused_self)]
    pub(crate) fn end(self, _: Option<StatusCode>, _: Classification, _: bool) {}
}

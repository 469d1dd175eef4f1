//! Which letters a listing returns.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{DeadLetter, LetterId, LetterOutcome};

/// Which letters to list: every set field must match. The default lists the newest 100 of
/// every letter.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use steadfast::dead_letter::{LetterFilter, LetterOutcome};
///
/// let filter = LetterFilter::default()
///     .host("billing.example.com")
///     .state("pending")
///     .outcome(LetterOutcome::Unknown)
///     .since(SystemTime::now() - Duration::from_secs(24 * 3600))
///     .limit(50);
/// # let _ = filter;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LetterFilter {
    /// The host the call went to. Default: any.
    pub host: Option<String>,
    /// The last response's status. Default: any.
    pub status: Option<u16>,
    /// The state's name (`pending`, `replaying`, `resolved`, `failed_again`, `discarded`).
    /// Default: any.
    pub state: Option<String>,
    /// The outcome. Default: any.
    pub outcome: Option<LetterOutcome>,
    /// The idempotency key the call carried. Default: any.
    pub idempotency_key: Option<String>,
    /// Letters created at or after this time. Default: any.
    #[serde(with = "humantime_serde")]
    pub since: Option<SystemTime>,
    /// Letters created before this time. Default: any.
    #[serde(with = "humantime_serde")]
    pub until: Option<SystemTime>,
    /// Only letters older than this one (ids are UUID v7, ordered by time): the last id of
    /// the previous page, to read a long list page by page without reading the pages
    /// before again. Default: from the newest.
    pub before: Option<LetterId>,
    /// The most letters returned, newest first. Default 100.
    pub limit: usize,
}

impl Default for LetterFilter {
    fn default() -> Self {
        Self {
            host: None,
            status: None,
            state: None,
            outcome: None,
            idempotency_key: None,
            since: None,
            until: None,
            before: None,
            limit: 100,
        }
    }
}

impl LetterFilter {
    /// Only letters of calls to `host`. Default: any.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Only letters whose last response had `status`. Default: any.
    #[must_use]
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Only letters in the state named `state` (`pending`, `failed_again`…). Default: any.
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Only letters with `outcome`. Default: any.
    #[must_use]
    pub fn outcome(mut self, outcome: LetterOutcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Only letters created at or after `time`. Default: any.
    #[must_use]
    pub fn since(mut self, time: SystemTime) -> Self {
        self.since = Some(time);
        self
    }

    /// Only letters created before `time`. Default: any.
    #[must_use]
    pub fn until(mut self, time: SystemTime) -> Self {
        self.until = Some(time);
        self
    }

    /// Only letters older than `id`, the last letter of the previous page. Default: from
    /// the newest.
    #[must_use]
    pub fn before(mut self, id: LetterId) -> Self {
        self.before = Some(id);
        self
    }

    /// At most `limit` letters, newest first. Default 100.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Only letters of calls that carried idempotency key `key`. Default: any.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Whether `letter` passes every set field (the limit aside).
    #[must_use]
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        self.host
            .as_deref()
            .is_none_or(|host| letter.host().as_deref() == Some(host))
            && self.status.is_none_or(|s| letter.status() == Some(s))
            && self
                .state
                .as_deref()
                .is_none_or(|s| letter.state.as_str() == s)
            && self.outcome.is_none_or(|o| letter.outcome == o)
            && self
                .idempotency_key
                .as_deref()
                .is_none_or(|key| letter.idempotency_key.as_deref() == Some(key))
            && self.since.is_none_or(|t| letter.created >= t)
            && self.until.is_none_or(|t| letter.created < t)
            && self.before.is_none_or(|id| letter.id < id)
    }

    /// The letters of `newest_first` that match, at most `limit`: stops reading at the
    /// limit, and clones only the letters it returns.
    pub(crate) fn select<'a>(
        &self,
        newest_first: impl Iterator<Item = &'a DeadLetter>,
    ) -> Vec<DeadLetter> {
        newest_first
            .filter(|l| self.matches(l))
            .take(self.limit)
            .cloned()
            .collect()
    }

    /// [`select`](Self::select) over letters kept by id, which UUID v7 orders by time.
    pub(crate) fn select_from(&self, letters: &BTreeMap<LetterId, DeadLetter>) -> Vec<DeadLetter> {
        match self.before {
            Some(before) => self.select(letters.range(..before).rev().map(|(_, l)| l)),
            None => self.select(letters.values().rev()),
        }
    }
}

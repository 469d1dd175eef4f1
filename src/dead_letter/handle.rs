//! The handle people and jobs use: list, look, replay, discard, confirm.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::recorder::Recorder;
use super::replay::{self, Resend};
use super::{
    DeadLetter, LetterFilter, LetterId, LetterState, ReplayError, Replayed, SharedSink, SinkError,
};
use crate::redact::Redactor;

/// The dead letters of a client: list and read them, replay, discard, confirm.
///
/// Got from [`Client::dead_letters`](crate::Client::dead_letters).
///
/// # Clone
///
/// Clones (and the handles of the client's clones) share the sink and the counters.
#[derive(Clone)]
pub struct DeadLetters {
    recorder: Arc<Recorder>,
    client: Arc<dyn Resend>,
}

impl fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetters")
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

/// How many letters are in each state and with each outcome.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LetterCounts {
    /// Letters per state name (`pending`, `failed_again`…).
    pub by_state: BTreeMap<String, usize>,
    /// Letters per outcome name (`not_applied`, `unknown`).
    pub by_outcome: BTreeMap<String, usize>,
    /// Every letter counted.
    pub total: usize,
}

impl DeadLetters {
    pub(crate) fn new(recorder: Arc<Recorder>, client: Arc<dyn Resend>) -> Self {
        Self { recorder, client }
    }

    /// Stores a letter for one record a server rejected inside a successful bulk response;
    /// `request` is the bulk call with that record alone. Bounded by the record timeout; a
    /// sink that fails is logged and counted, as for any letter.
    pub(crate) async fn record_rejected(
        &self,
        request: &reqwest::Request,
        reason: &str,
        status: reqwest::StatusCode,
    ) {
        let letter = super::capture::rejected_record(request, reason, status, &self.recorder);
        self.recorder.store(&letter).await;
    }

    /// The letters that match `filter`, newest first.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when the sink cannot be read.
    pub async fn list(&self, filter: &LetterFilter) -> Result<Vec<DeadLetter>, SinkError> {
        self.recorder.sink.list(filter).await
    }

    /// The letter with `id`.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when the sink cannot be read.
    pub async fn get(&self, id: LetterId) -> Result<Option<DeadLetter>, SinkError> {
        self.recorder.sink.get(id).await
    }

    /// How many letters match `filter` (its limit aside), per state and per outcome.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when the sink cannot be read.
    pub async fn counts(&self, filter: &LetterFilter) -> Result<LetterCounts, SinkError> {
        let all = filter.clone().limit(usize::MAX);
        let mut counts = LetterCounts::default();
        for letter in self.recorder.sink.list(&all).await? {
            *counts
                .by_state
                .entry(letter.state.as_str().to_owned())
                .or_default() += 1;
            *counts
                .by_outcome
                .entry(letter.outcome.as_str().to_owned())
                .or_default() += 1;
            counts.total += 1;
        }
        Ok(counts)
    }

    /// Sends the letter with `id` again through the client's stack, with its original
    /// idempotency key, and records the result on it: resolved, or failed again with the
    /// new attempts appended.
    ///
    /// A resolved letter is not sent ([`Replayed::AlreadyResolved`]). A letter whose outcome
    /// is unknown is sent only once the client's verifier says the call was not applied or
    /// someone [confirmed](Self::confirm_not_applied) it; a verifier that finds it applied
    /// resolves it without sending. Of two replays of one letter at once, one sends and
    /// the other gets [`ReplayError::Held`].
    ///
    /// # Errors
    ///
    /// [`ReplayError`]: in every case nothing was sent.
    pub async fn replay(&self, id: LetterId) -> Result<Replayed, ReplayError> {
        replay::replay(&self.recorder, self.client.as_ref(), id).await
    }

    /// Marks the letter as needing no replay, with `reason`.
    ///
    /// # Errors
    ///
    /// [`ReplayError::NotFound`], [`ReplayError::Held`] while a replay runs,
    /// [`ReplayError::Sink`].
    pub async fn discard(
        &self,
        id: LetterId,
        reason: impl Into<String>,
    ) -> Result<DeadLetter, ReplayError> {
        let mut letter = self.waiting(id).await?;
        letter.state = LetterState::Discarded {
            reason: reason.into(),
        };
        letter.updated = SystemTime::now();
        self.recorder.sink.store(&letter).await?;
        Ok(letter)
    }

    /// Marks as resolved the letters still waiting for a replay (pending, or failed again)
    /// whose call carried `idempotency_key`, because a later call with that key was applied:
    /// a queue's redelivery, or the caller's own retry, did what the letter would have. A
    /// letter a replayer holds is left to it (its replay finds the key completed). Returns
    /// how many were resolved.
    ///
    /// Lists the letters with that key (a scan of the sink, up to 1,000 letters), so it
    /// belongs on a rare path, such as an event that succeeded on a later delivery.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when the sink cannot be read or written; letters already marked stay
    /// marked.
    pub async fn resolve_applied(&self, idempotency_key: &str) -> Result<usize, SinkError> {
        let filter = LetterFilter::default()
            .idempotency_key(idempotency_key)
            .limit(1_000);
        let mut resolved = 0;
        for mut letter in self.recorder.sink.list(&filter).await? {
            if !matches!(
                letter.state,
                LetterState::Pending | LetterState::FailedAgain
            ) {
                continue;
            }
            letter.state = LetterState::Resolved;
            letter.updated = SystemTime::now();
            self.recorder.sink.store(&letter).await?;
            tracing::info!(
                target: "steadfast",
                letter = %letter,
                "dead letter resolved: a later call with its idempotency key was applied"
            );
            resolved += 1;
        }
        Ok(resolved)
    }

    /// Records that a person checked with the server and the call was not applied: the
    /// letter may be replayed, and its idempotency key is freed in the client's ledger
    /// (see [`Client::resolve_idempotency_key`](crate::Client::resolve_idempotency_key)).
    ///
    /// # Errors
    ///
    /// [`ReplayError::NotFound`], [`ReplayError::Held`] while a replay runs,
    /// [`ReplayError::Ledger`] when the key cannot be freed, [`ReplayError::Sink`].
    pub async fn confirm_not_applied(&self, id: LetterId) -> Result<DeadLetter, ReplayError> {
        let mut letter = self.waiting(id).await?;
        let (method, url) = replay::target(&letter)?;
        replay::resolve_key(
            self.client.as_ref(),
            id,
            &method,
            &url,
            letter.idempotency_key.as_deref(),
        )
        .await?;
        letter.confirmed_not_applied = true;
        letter.updated = SystemTime::now();
        self.recorder.sink.store(&letter).await?;
        Ok(letter)
    }

    /// Claims up to `count` letters waiting for a replay, for a worker that then calls
    /// [`replay`](Self::replay) on each. Two workers (processes or clients) get disjoint
    /// letters; letters a crashed worker claimed come back once its lease
    /// ([`DeadLetterConfig::replay_lease`](super::DeadLetterConfig::replay_lease)) ran out.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when the sink fails.
    pub async fn claim_next(&self, count: usize) -> Result<Vec<DeadLetter>, SinkError> {
        let recorder = &self.recorder;
        recorder
            .sink
            .claim_next(&recorder.claimant, count, recorder.config.replay_lease)
            .await
    }

    /// How many letters this client's layer stored.
    #[must_use]
    pub fn recorded(&self) -> u64 {
        self.recorder.recorded.load(Ordering::Relaxed)
    }

    /// How many times the sink failed to store a letter (each logged at WARN).
    #[must_use]
    pub fn sink_errors(&self) -> u64 {
        self.recorder.sink_errors.load(Ordering::Relaxed)
    }

    /// The sink the letters are kept in.
    #[must_use]
    pub fn sink(&self) -> &SharedSink {
        &self.recorder.sink
    }

    /// The redactor for what people see: `letter.redacted(handle.redactor())`.
    #[must_use]
    pub fn redactor(&self) -> &Redactor {
        &self.recorder.redactor
    }

    /// The name this handle claims letters under.
    #[must_use]
    pub fn claimant(&self) -> &str {
        &self.recorder.claimant
    }

    /// The letter, unless it is final or another replayer holds it.
    async fn waiting(&self, id: LetterId) -> Result<DeadLetter, ReplayError> {
        let letter = self
            .recorder
            .sink
            .get(id)
            .await?
            .ok_or(ReplayError::NotFound(id))?;
        if let LetterState::Replaying { by, until } = &letter.state
            && *until > SystemTime::now()
            && *by != self.recorder.claimant
        {
            return Err(ReplayError::Held { id, by: by.clone() });
        }
        Ok(letter)
    }
}

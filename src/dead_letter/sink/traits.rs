//! The sink trait: where letters are kept.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::super::{DeadLetter, LetterFilter, LetterId};
use crate::error::BoxError;

/// The future a sink returns.
pub type SinkFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SinkError>> + Send + 'a>>;

/// A sink shared by every clone of a layer or client.
pub type SharedSink = Arc<dyn DeadLetterSink>;

/// A sink that could not do what it was asked.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Reading or writing a file failed.
    #[error("dead-letter sink i/o failed")]
    Io(#[from] std::io::Error),
    /// A letter could not be encoded or decoded.
    #[error("dead letter could not be encoded or decoded")]
    Codec(#[from] serde_json::Error),
    /// The backend (Redis, say) failed.
    #[error("dead-letter sink backend failed")]
    Backend(#[source] BoxError),
    /// The sink did not answer within the configured time.
    #[error("dead-letter sink did not answer within {0:?}")]
    TimedOut(Duration),
}

/// What a claim on a letter found.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Claim {
    /// The letter is now [`Replaying`](super::super::LetterState::Replaying) by the claimant:
    /// this is it, as stored.
    Claimed(DeadLetter),
    /// Another replayer holds it and its claim has not run out.
    Held(DeadLetter),
    /// The letter is resolved or discarded: nothing to replay.
    Final(DeadLetter),
    /// No letter has this id.
    NotFound,
}

/// Where dead letters are kept: in memory, a JSONL file, Redis Streams, or your own store.
///
/// Every method is async and may fail with a [`SinkError`]; the dead-letter layer never lets
/// that fail the call it records (it logs, counts and returns the call's own result).
///
/// # Implementing
///
/// `store` inserts or replaces a letter by id. `claim` must be atomic: of two replayers
/// claiming one letter, one gets [`Claim::Claimed`], the other [`Claim::Held`]. A claim
/// whose `until` has passed may be taken over (its replayer crashed).
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Keeps `letter`, replacing an older version with its id.
    fn store(&self, letter: &DeadLetter) -> SinkFuture<'_, ()>;

    /// The letter with `id`, in its latest version.
    fn get(&self, id: LetterId) -> SinkFuture<'_, Option<DeadLetter>>;

    /// The letters that match `filter`, newest first, at most `filter.limit`.
    fn list(&self, filter: &LetterFilter) -> SinkFuture<'_, Vec<DeadLetter>>;

    /// Marks the letter with `id` as being replayed by `claimant` for `lease`, unless it is
    /// final or another claim holds it.
    fn claim(&self, id: LetterId, claimant: &str, lease: Duration) -> SinkFuture<'_, Claim>;

    /// Claims up to `count` letters waiting for a replay (pending, or left by a replayer
    /// whose claim ran out), for a worker named `claimant`. Two workers get disjoint
    /// letters.
    ///
    /// The default lists pending letters and claims them one by one.
    fn claim_next(
        &self,
        claimant: &str,
        count: usize,
        lease: Duration,
    ) -> SinkFuture<'_, Vec<DeadLetter>> {
        let claimant = claimant.to_owned();
        Box::pin(async move {
            let mut claimed = Vec::new();
            let filter = LetterFilter::default().limit(usize::MAX);
            for letter in self.list(&filter).await? {
                if claimed.len() >= count {
                    break;
                }
                let waiting = match &letter.state {
                    super::super::LetterState::Pending => true,
                    super::super::LetterState::Replaying { until, .. } => {
                        *until <= std::time::SystemTime::now()
                    }
                    _ => false,
                };
                if !waiting {
                    continue;
                }
                if let Claim::Claimed(letter) = self.claim(letter.id, &claimant, lease).await? {
                    claimed.push(letter);
                }
            }
            Ok(claimed)
        })
    }
}

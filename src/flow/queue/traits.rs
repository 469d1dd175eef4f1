//! The queue trait a [`Worker`](super::Worker) consumes, and its error.

use std::future::Future;
use std::time::Duration;

use super::{DeadMessage, DeadNote, Message};
use crate::error::BoxError;

/// A broker call failed: the message stays in the broker, nothing is lost.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker could not be reached, or answered with an error.
    #[error("queue broker unavailable")]
    Unavailable(#[source] BoxError),
    /// The broker did not answer within the limit.
    #[error("queue broker did not answer within {0:?}")]
    TimedOut(Duration),
    /// The broker answered something unexpected.
    #[error("queue broker answered unexpectedly: {0}")]
    Corrupt(&'static str),
}

/// A work queue on a broker: messages handed out to one consumer at a time, acknowledged
/// once processed, handed out again otherwise.
///
/// Implemented by [`RedisQueue`](super::RedisQueue) (Redis Streams, feature `redis`) and
/// [`NatsQueue`](super::NatsQueue) (NATS `JetStream`, feature `nats`).
///
/// # Implementing
///
/// - `receive` returns up to `max` messages, waiting a bounded time for them (empty when
///   none came). It also returns messages a crashed consumer took and never settled, once
///   their lease ran out, and messages left by [`retry_later`](Self::retry_later) once
///   their delay passed; each with its delivery count.
/// - A message is settled once: [`ack`](Self::ack), [`retry_later`](Self::retry_later) or
///   [`dead_letter`](Self::dead_letter). A message never settled is handed out again
///   after the lease.
/// - `dead_letter` keeps the message and its note where a person or a job can find it,
///   then acknowledges it, so it never blocks the queue.
pub trait Queue: Send + Sync + 'static {
    /// What the broker needs to settle one delivery.
    type Receipt: Send + Sync + 'static;

    /// Adds a message; returns its id.
    fn publish(&self, payload: &[u8]) -> impl Future<Output = Result<String, QueueError>> + Send;

    /// Up to `max` messages: abandoned or delayed ones due now, else new ones.
    fn receive(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Message<Self::Receipt>>, QueueError>> + Send;

    /// Acknowledges `message` as processed: it is never handed out again.
    fn ack(
        &self,
        message: &Message<Self::Receipt>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Leaves `message` to be handed out again after `delay` (to this consumer or another).
    fn retry_later(
        &self,
        message: &Message<Self::Receipt>,
        delay: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Moves `message` with `note` to the dead letters, then acknowledges it.
    fn dead_letter(
        &self,
        message: &Message<Self::Receipt>,
        note: &DeadNote,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Up to `max` dead-lettered messages, oldest first.
    fn dead_messages(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<DeadMessage>, QueueError>> + Send;
}

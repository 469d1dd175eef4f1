//! What a queue hands out: a message, and the event a handler sees of it.

use std::fmt;

use bytes::Bytes;

/// A message taken from a [`Queue`](super::Queue), with the broker's receipt to settle it.
#[non_exhaustive]
pub struct Message<R> {
    /// The message's id in the broker, stable across redeliveries (a Redis stream entry
    /// id, a `JetStream` stream sequence).
    pub id: String,
    /// The payload, as published.
    pub payload: Bytes,
    /// How many times the broker has handed this message out, this time included (1 on
    /// the first delivery).
    pub deliveries: u32,
    /// What the broker needs to acknowledge, delay or terminate this delivery.
    pub receipt: R,
}

impl<R> Message<R> {
    /// A message: its id, payload, delivery count and receipt.
    #[must_use]
    pub fn new(id: String, payload: Bytes, deliveries: u32, receipt: R) -> Self {
        Self {
            id,
            payload,
            deliveries,
            receipt,
        }
    }
}

impl<R> fmt::Debug for Message<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload may carry personal data: its size only.
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("payload_bytes", &self.payload.len())
            .field("deliveries", &self.deliveries)
            .finish_non_exhaustive()
    }
}

/// One event for a [`Handle`](super::Handle)r: a message's payload and the idempotency key
/// its calls use.
#[non_exhaustive]
#[derive(Clone)]
pub struct Event {
    /// The message's id in the broker.
    pub id: String,
    /// The payload, as published.
    pub payload: Bytes,
    /// How many times the broker has handed this message out, this time included.
    pub deliveries: u32,
    /// The idempotency key for the event's call: the worker's key prefix and the message
    /// id, so every redelivery of the message sends the same key.
    pub idempotency_key: String,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("payload_bytes", &self.payload.len())
            .field("deliveries", &self.deliveries)
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

/// Why a message was moved to the queue's dead letters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    /// The handler found the payload unusable (undecodable, invalid): it never will be.
    Poison,
    /// The message was handed out more than `max_deliveries` times.
    MaxDeliveries,
    /// The call failed permanently (a 4xx other than 408/429, say): not applied.
    Permanent,
    /// The call's outcome is unknown (a 500, a timeout after the request was written): the
    /// server may have acted. The client's dead letter with the same idempotency key holds
    /// the call, for verification and replay.
    OutcomeUnknown,
}

impl DeadReason {
    /// The reason as stored with the message: `poison`, `max_deliveries`, `permanent`,
    /// `outcome_unknown`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Poison => "poison",
            Self::MaxDeliveries => "max_deliveries",
            Self::Permanent => "permanent",
            Self::OutcomeUnknown => "outcome_unknown",
        }
    }

    /// The reason named by [`as_str`](Self::as_str), if any.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "poison" => Self::Poison,
            "max_deliveries" => Self::MaxDeliveries,
            "permanent" => Self::Permanent,
            "outcome_unknown" => Self::OutcomeUnknown,
            _ => return None,
        })
    }
}

impl fmt::Display for DeadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the worker stores with a dead-lettered message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadNote {
    /// Why it was dead-lettered.
    pub reason: DeadReason,
    /// The idempotency key its calls used: the client's dead letter (when it keeps them)
    /// has the same key.
    pub idempotency_key: String,
    /// What went wrong, redacted.
    pub error: String,
}

impl DeadNote {
    /// A note: why, the key, and the (already redacted) error text.
    #[must_use]
    pub fn new(reason: DeadReason, idempotency_key: String, error: String) -> Self {
        Self {
            reason,
            idempotency_key,
            error,
        }
    }
}

/// A message in the queue's dead letters.
#[non_exhaustive]
#[derive(Clone)]
pub struct DeadMessage {
    /// The original message's id.
    pub id: String,
    /// The original payload.
    pub payload: Bytes,
    /// How many times it had been handed out.
    pub deliveries: u32,
    /// Why, the key, the error.
    pub note: DeadNote,
}

impl fmt::Debug for DeadMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadMessage")
            .field("id", &self.id)
            .field("payload_bytes", &self.payload.len())
            .field("deliveries", &self.deliveries)
            .field("note", &self.note)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::DeadReason;

    #[test]
    fn reasons_round_trip() {
        for reason in [
            DeadReason::Poison,
            DeadReason::MaxDeliveries,
            DeadReason::Permanent,
            DeadReason::OutcomeUnknown,
        ] {
            assert_eq!(DeadReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(DeadReason::parse("other"), None);
    }
}

//! The queue on NATS `JetStream` with a durable pull consumer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::{self, Config as ConsumerConfig};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::Config as StreamConfig;
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;

use super::{DeadMessage, DeadNote, DeadReason, Message, NatsQueueConfig, Queue, QueueError};

const ID: &str = "Steadfast-Message-Id";
const REASON: &str = "Steadfast-Reason";
const KEY: &str = "Steadfast-Idempotency-Key";
const DELIVERIES: &str = "Steadfast-Deliveries";
const ERROR: &str = "Steadfast-Error";

/// A [`Queue`] on NATS `JetStream` (feature `nats`): a durable pull consumer shared by the
/// workers.
///
/// - `receive` fetches up to `max` messages, waiting up to `block`. The server hands a
///   message out again when its consumer did not settle it within the lease (the ack
///   wait): a crashed consumer's messages come back to the others with their delivery
///   count. The consumer's `max_deliver` is unlimited: the worker, not the server, decides
///   when a message has been handed out too often, and dead-letters it (the server would
///   drop it silently).
/// - `ack` is a double ack: it returns once the server confirmed it.
/// - `retry_later(delay)` naks with the delay: the server hands it out again after it.
/// - `dead_letter` publishes the payload and the note (in headers) on `dead_subject`,
///   waits for the stream to confirm it, then terminates the delivery (`term`).
///
/// Every request is bounded by `timeout`, and a receive by `block` plus 250 ms; while the
/// connection is down (async-nats reconnects by itself) a receive is
/// [`QueueError::Unavailable`] at once.
///
/// # nats-server 2.9
///
/// nats-server 2.9.10 (Debian 12's package) sometimes mishandles a delayed redelivery that
/// falls due within a few milliseconds of a pull request's expiry: it answers neither with
/// the message nor with the expiry, delivers nothing until the next request, and then hands
/// the message out with a delivery count one lower than it should be. `receive` gives such a
/// request up 250 ms after `block` and returns empty, so the message comes with the next
/// receive rather than at the end of its lease; the lower count can make the worker's
/// `max_deliveries` rule dead-letter a poison message one delivery later, never earlier, and
/// loses nothing. A `block` much longer than the retry delays makes the race rare.
///
/// # Clone
///
/// Clones share the connection.
#[derive(Clone)]
pub struct NatsQueue {
    client: async_nats::Client,
    context: jetstream::Context,
    consumer: PullConsumer,
    config: Arc<NatsQueueConfig>,
}

impl fmt::Debug for NatsQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsQueue")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> QueueError {
    QueueError::Unavailable(Box::new(error))
}

impl NatsQueue {
    /// Connects, and creates the stream and the durable consumer if they do not exist.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the server cannot be reached within the timeout or
    /// refuses the stream or consumer.
    pub async fn connect(config: &NatsQueueConfig) -> Result<Self, QueueError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(config.timeout)
            .request_timeout(Some(config.timeout))
            .connect(config.url.as_str())
            .await
            .map_err(unavailable)?;
        let mut context = jetstream::new(client.clone());
        context.set_timeout(config.timeout);
        let stream = context
            .get_or_create_stream(StreamConfig {
                name: config.stream.clone(),
                subjects: vec![config.subject.clone(), config.dead_subject.clone()],
                ..StreamConfig::default()
            })
            .await
            .map_err(unavailable)?;
        let consumer = stream
            .get_or_create_consumer(
                &config.consumer,
                ConsumerConfig {
                    durable_name: Some(config.consumer.clone()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: config.lease,
                    max_deliver: -1,
                    filter_subject: config.subject.clone(),
                    ..ConsumerConfig::default()
                },
            )
            .await
            .map_err(unavailable)?;
        Ok(Self {
            client,
            context,
            consumer,
            config: Arc::new(config.clone()),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &NatsQueueConfig {
        &self.config
    }

    /// [`QueueError::Unavailable`] unless the connection is up (async-nats reconnects by
    /// itself).
    fn connected(&self) -> Result<(), QueueError> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            _ => Err(unavailable(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "not connected to the NATS server (reconnecting)",
            ))),
        }
    }
}

/// How long after a pull request's expiry its answer is awaited before it is given up.
const EXPIRY_GRACE: Duration = Duration::from_millis(250);

/// Reads one pull request's messages to its end: its count, the server's "no messages" or
/// "request timeout" status.
async fn drain(mut batch: pull::Batch) -> Result<Vec<Message<jetstream::Message>>, QueueError> {
    let mut out = Vec::new();
    while let Some(next) = batch.next().await {
        let received = next.map_err(QueueError::Unavailable)?;
        let (id, deliveries) = {
            let info = received
                .info()
                .map_err(|_| QueueError::Corrupt("JetStream message without ack info"))?;
            (
                info.stream_sequence.to_string(),
                u32::try_from(info.delivered).unwrap_or(u32::MAX),
            )
        };
        let payload = received.message.payload.clone();
        out.push(Message::new(id, payload, deliveries, received));
    }
    Ok(out)
}

/// A header value: one line, bounded.
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1024)
        .collect()
}

fn header(headers: Option<&HeaderMap>, name: &str) -> String {
    headers
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

impl Queue for NatsQueue {
    type Receipt = jetstream::Message;

    async fn publish(&self, payload: &[u8]) -> Result<String, QueueError> {
        let ack = self
            .context
            .publish(self.config.subject.clone(), payload.to_vec().into())
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        Ok(ack.sequence.to_string())
    }

    async fn receive(&self, max: usize) -> Result<Vec<Message<Self::Receipt>>, QueueError> {
        // While the connection is down async-nats keeps the request to send it later: say
        // so now, as a broker that is down, not as an empty queue.
        self.connected()?;
        let batch = self
            .consumer
            .fetch()
            .max_messages(max.max(1))
            .expires(self.config.block)
            .messages()
            .await
            .map_err(unavailable)?;
        // The server ends the request at `block` (its "request timeout" status). When it
        // does not, the request is given up shortly after and the receive returns empty:
        // nats-server 2.9 sometimes leaves a request unanswered when a delayed redelivery
        // falls due just as the request expires, and delivers nothing to anyone until the
        // next request comes (async-nats itself gives up only 5 s after `block`).
        let limit = self.config.block.saturating_add(EXPIRY_GRACE);
        let Ok(received) = tokio::time::timeout(limit, drain(batch)).await else {
            self.connected()?;
            tracing::debug!(
                messaging.system = "nats",
                "a pull request was not answered at its expiry; giving it up"
            );
            return Ok(Vec::new());
        };
        received
    }

    async fn ack(&self, message: &Message<Self::Receipt>) -> Result<(), QueueError> {
        message
            .receipt
            .double_ack()
            .await
            .map_err(QueueError::Unavailable)
    }

    async fn retry_later(
        &self,
        message: &Message<Self::Receipt>,
        delay: Duration,
    ) -> Result<(), QueueError> {
        message
            .receipt
            .double_ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(QueueError::Unavailable)
    }

    async fn dead_letter(
        &self,
        message: &Message<Self::Receipt>,
        note: &DeadNote,
    ) -> Result<(), QueueError> {
        let mut headers = HeaderMap::new();
        headers.insert(ID, message.id.as_str());
        headers.insert(REASON, note.reason.as_str());
        headers.insert(KEY, header_value(&note.idempotency_key).as_str());
        headers.insert(DELIVERIES, message.deliveries.to_string().as_str());
        headers.insert(ERROR, header_value(&note.error).as_str());
        self.context
            .publish_with_headers(
                self.config.dead_subject.clone(),
                headers,
                message.payload.clone(),
            )
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        message
            .receipt
            .double_ack_with(AckKind::Term)
            .await
            .map_err(QueueError::Unavailable)
    }

    async fn dead_messages(&self, max: usize) -> Result<Vec<DeadMessage>, QueueError> {
        let stream = self
            .context
            .get_stream(&self.config.stream)
            .await
            .map_err(unavailable)?;
        let reader = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                filter_subject: self.config.dead_subject.clone(),
                inactive_threshold: Duration::from_secs(60),
                ..pull::Config::default()
            })
            .await
            .map_err(unavailable)?;
        let mut out = Vec::new();
        while out.len() < max {
            let mut batch = reader
                .fetch()
                .max_messages(max - out.len())
                .expires(self.config.block.min(Duration::from_millis(200)))
                .messages()
                .await
                .map_err(unavailable)?;
            let before = out.len();
            while let Some(next) = batch.next().await {
                let received = next.map_err(QueueError::Unavailable)?;
                let headers = received.message.headers.as_ref();
                out.push(DeadMessage {
                    id: header(headers, ID),
                    payload: received.message.payload.clone(),
                    deliveries: header(headers, DELIVERIES).parse().unwrap_or(0),
                    note: DeadNote::new(
                        DeadReason::parse(&header(headers, REASON)).unwrap_or(DeadReason::Poison),
                        header(headers, KEY),
                        header(headers, ERROR),
                    ),
                });
            }
            if out.len() == before {
                break;
            }
        }
        Ok(out)
    }
}

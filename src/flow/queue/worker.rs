//! The worker: receives messages, runs the handler, settles each message by its outcome.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures_util::future::{Either, select};

use tokio::task::JoinSet;

use super::handle::{Disposition, decide};
use super::{
    DeadNote, DeadReason, Event, Handle, HandleError, Message, Queue, QueueError, WorkerConfig,
};
use crate::dead_letter::DeadLetters;
use crate::error::ConfigError;
use crate::redact::Redactor;
use crate::retry::Backoff;

/// Consumes a [`Queue`]: runs a [`Handle`]r on each message, at most `concurrency` at
/// once, and settles each message by the handler's result.
///
/// | handler result | message |
/// |---|---|
/// | `Ok` (applied) | acknowledged |
/// | call not applied and transient (503, 429, connect error, open circuit), [`HandleError::Later`] | left for redelivery after a backoff (the server's `Retry-After` if longer) |
/// | call permanent (400, 404, 422…) or outcome unknown (500, timeout after sending) | moved to the queue's dead letters with the key, then acknowledged |
/// | [`HandleError::Poison`], or handed out more than `max_deliveries` times | moved to the queue's dead letters, then acknowledged |
///
/// A message is never settled before its handler returns, so a consumer that crashes
/// leaves its messages to another one; the event's idempotency key (from the message id)
/// makes the repeated call safe (see the [module docs](super)).
///
/// A delivery whose call failed transiently may leave a letter in the client's dead
/// letters; when a later delivery of the event succeeds, that letter is stale. Give the
/// worker the client's [`DeadLetters`] ([`resolve_client_letters`](Self::resolve_client_letters))
/// and it marks them resolved.
///
/// # Errors
///
/// Broker failures are logged (`WARN`), counted in [`WorkerStats::broker_errors`] and tried
/// again with backoff: a message not settled stays in the broker and is handed out again.
pub struct Worker<Q, H> {
    inner: Arc<Inner<Q, H>>,
}

struct Inner<Q, H> {
    queue: Q,
    handler: H,
    config: WorkerConfig,
    backoff: Backoff,
    acked: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    broker_errors: AtomicU64,
    /// The client's dead letters, whose letters left by earlier deliveries of an event that
    /// later succeeded are resolved.
    letters: ArcSwapOption<DeadLetters>,
}

impl<Q, H> fmt::Debug for Worker<Q, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<Q, H> Clone for Worker<Q, H> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// What a worker did so far.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Messages acknowledged after their handler succeeded.
    pub acked: u64,
    /// Messages left for redelivery.
    pub retried: u64,
    /// Messages moved to the dead letters.
    pub dead_lettered: u64,
    /// Broker calls that failed or timed out.
    pub broker_errors: u64,
}

impl<Q, H> Worker<Q, H> {
    /// The queue.
    #[must_use]
    pub fn queue(&self) -> &Q {
        &self.inner.queue
    }

    /// What the worker did so far (all clones together).
    #[must_use]
    pub fn stats(&self) -> WorkerStats {
        let inner = &self.inner;
        WorkerStats {
            acked: inner.acked.load(Ordering::Relaxed),
            retried: inner.retried.load(Ordering::Relaxed),
            dead_lettered: inner.dead_lettered.load(Ordering::Relaxed),
            broker_errors: inner.broker_errors.load(Ordering::Relaxed),
        }
    }
}

impl<Q: Queue, H: Handle> Worker<Q, H> {
    /// A worker of `queue` running `handler`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid (zero concurrency, `backoff_base >
    /// backoff_max`, a key prefix that is not a token).
    pub fn new(queue: Q, handler: H, config: WorkerConfig) -> Result<Self, ConfigError> {
        let backoff = config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                queue,
                handler,
                config,
                backoff,
                acked: AtomicU64::new(0),
                retried: AtomicU64::new(0),
                dead_lettered: AtomicU64::new(0),
                broker_errors: AtomicU64::new(0),
                letters: ArcSwapOption::empty(),
            }),
        })
    }

    /// Resolves the letters an event's earlier deliveries left in `letters` (the handler's
    /// client's, from [`Client::dead_letters`](crate::Client::dead_letters)) once a later
    /// delivery succeeds: a call that failed transiently records a letter, and the worker
    /// then leaves the event for redelivery, whose success makes the letter stale (see
    /// [`DeadLetters::resolve_applied`]). Applies to every clone of this worker.
    #[must_use]
    pub fn resolve_client_letters(self, letters: DeadLetters) -> Self {
        self.inner.letters.store(Some(Arc::new(letters)));
        self
    }

    /// Receives and handles messages until `shutdown` completes, then stops receiving and
    /// waits for the events being handled to be settled. Returns the stats.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> WorkerStats {
        let inner = &self.inner;
        let concurrency = inner.config.concurrency;
        let mut tasks = JoinSet::new();
        let mut pause = Duration::from_millis(100);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            while tasks.len() >= concurrency {
                reap(tasks.join_next().await);
            }
            let room = inner.config.batch.min(concurrency - tasks.len());
            // Shutdown first; `select!` would need tokio's `macros` feature in the library.
            let receiving = std::pin::pin!(inner.bounded(inner.queue.receive(room)));
            let received = match select(shutdown.as_mut(), receiving).await {
                Either::Left(((), _)) => break,
                Either::Right((received, _)) => received,
            };
            match received {
                Ok(messages) => {
                    pause = Duration::from_millis(100);
                    for message in messages {
                        let inner = Arc::clone(inner);
                        tasks.spawn(async move { inner.process(message).await });
                    }
                }
                Err(error) => {
                    inner.broker_failed("receive", &error);
                    let sleeping = std::pin::pin!(tokio::time::sleep(pause));
                    if let Either::Left(_) = select(shutdown.as_mut(), sleeping).await {
                        break;
                    }
                    pause = (pause * 2).min(inner.config.broker_backoff_max);
                }
            }
            while let Some(done) = tasks.try_join_next() {
                reap(Some(done));
            }
        }
        while let Some(done) = tasks.join_next().await {
            reap(Some(done));
        }
        self.stats()
    }

    /// Receives one batch (up to `batch` messages, waiting a bounded time for them), handles
    /// every message in it, at most `concurrency` at once, and returns how many it received.
    ///
    /// # Errors
    ///
    /// [`QueueError`] when the receive failed; failures to settle a message are logged and
    /// counted, and the message is handed out again later.
    pub async fn run_once(&self) -> Result<usize, QueueError> {
        let inner = &self.inner;
        let messages = match inner.bounded(inner.queue.receive(inner.config.batch)).await {
            Ok(messages) => messages,
            Err(error) => {
                inner.broker_failed("receive", &error);
                return Err(error);
            }
        };
        let count = messages.len();
        let mut tasks = JoinSet::new();
        for message in messages {
            while tasks.len() >= inner.config.concurrency {
                reap(tasks.join_next().await);
            }
            let inner = Arc::clone(inner);
            tasks.spawn(async move { inner.process(message).await });
        }
        while let Some(done) = tasks.join_next().await {
            reap(Some(done));
        }
        Ok(count)
    }
}

/// A handler task that panicked leaves its message unsettled: it is handed out again.
fn reap(done: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(error)) = done
        && error.is_panic()
    {
        tracing::error!("queue event handler panicked; its message will be handed out again");
    }
}

impl<Q: Queue, H: Handle> Inner<Q, H> {
    async fn process(&self, message: Message<Q::Receipt>) {
        let key = format!("{}-{}", self.config.key_prefix, message.id);
        if message.deliveries > self.config.max_deliveries {
            let error = format!("handed out {} times", message.deliveries);
            self.dead(&message, DeadReason::MaxDeliveries, key, error)
                .await;
            return;
        }
        let event = Event {
            id: message.id.clone(),
            payload: message.payload.clone(),
            deliveries: message.deliveries,
            idempotency_key: key.clone(),
        };
        let result = self.handler.handle(event).await;
        match decide(&result) {
            Disposition::Ack => {
                // Before the ack: a crash between the two leaves the event to be delivered
                // again, not a stale letter behind an acknowledged event.
                if message.deliveries > 1 {
                    self.resolve_letters(&message, &key).await;
                }
                if self.settle("ack", || self.queue.ack(&message)).await {
                    self.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            Disposition::Retry if message.deliveries >= self.config.max_deliveries => {
                let error = describe(&result);
                self.dead(&message, DeadReason::MaxDeliveries, key, error)
                    .await;
            }
            Disposition::Retry => {
                let delay = self.redelivery_delay(&message, &result);
                tracing::info!(
                    messaging.message.id = %message.id,
                    messaging.delivery_count = message.deliveries,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %describe(&result),
                    "queue event not processed now; redelivered later"
                );
                if self
                    .settle("retry_later", || self.queue.retry_later(&message, delay))
                    .await
                {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                }
            }
            Disposition::Dead(reason) => {
                let error = describe(&result);
                self.dead(&message, reason, key, error).await;
            }
        }
    }

    /// Resolves the client's letters left by the event's earlier deliveries; a failure is
    /// logged (the letters stay pending, and a replay finds the key completed).
    async fn resolve_letters(&self, message: &Message<Q::Receipt>, key: &str) {
        let Some(letters) = self.letters.load_full() else {
            return;
        };
        if let Err(error) = self.bounded_sink(letters.resolve_applied(key)).await {
            tracing::warn!(
                messaging.message.id = %message.id,
                idempotency_key = %key,
                error = %chain(&error),
                "the client's dead letters of an event applied on a later delivery were not resolved"
            );
        }
    }

    async fn bounded_sink<T>(
        &self,
        call: impl Future<Output = Result<T, crate::dead_letter::SinkError>>,
    ) -> Result<T, crate::dead_letter::SinkError> {
        let limit = self.config.broker_timeout;
        tokio::time::timeout(limit, call)
            .await
            .unwrap_or(Err(crate::dead_letter::SinkError::TimedOut(limit)))
    }

    async fn dead(
        &self,
        message: &Message<Q::Receipt>,
        reason: DeadReason,
        key: String,
        error: String,
    ) {
        tracing::warn!(
            messaging.message.id = %message.id,
            messaging.delivery_count = message.deliveries,
            idempotency_key = %key,
            reason = reason.as_str(),
            error = %error,
            "queue event dead-lettered"
        );
        let note = DeadNote::new(reason, key, error);
        if self
            .settle("dead_letter", || self.queue.dead_letter(message, &note))
            .await
        {
            self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The backoff for this delivery, or the server's hint when later (both capped).
    fn redelivery_delay(
        &self,
        message: &Message<Q::Receipt>,
        result: &Result<(), HandleError>,
    ) -> Duration {
        let backoff = self
            .backoff
            .delay(message.deliveries.saturating_sub(1), Duration::ZERO);
        let hint = match result {
            Err(HandleError::Call(error)) => error
                .retry_at()
                .map(|at| at.saturating_duration_since(tokio::time::Instant::now())),
            _ => None,
        };
        backoff
            .max(hint.unwrap_or_default())
            .min(self.config.backoff_max)
    }

    /// Runs a settling call, tried up to three times; false when it never succeeded (the
    /// message stays unsettled and is handed out again after its lease).
    async fn settle<'a, F, Fut>(&'a self, what: &'static str, call: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), QueueError>> + 'a,
    {
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=3 {
            match self.bounded(call()).await {
                Ok(()) => return true,
                Err(error) => {
                    self.broker_failed(what, &error);
                    if attempt < 3 {
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
            }
        }
        false
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, QueueError>>,
    ) -> Result<T, QueueError> {
        let limit = self.config.broker_timeout;
        tokio::time::timeout(limit, call)
            .await
            .unwrap_or(Err(QueueError::TimedOut(limit)))
    }

    fn broker_failed(&self, what: &'static str, error: &QueueError) {
        let errors = self.broker_errors.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            messaging.operation = what,
            error = %chain(error),
            broker_errors = errors,
            "queue broker call failed; nothing is lost, it is tried again"
        );
    }
}

/// A handler's failure and its causes, redacted.
fn describe(result: &Result<(), HandleError>) -> String {
    match result {
        Ok(()) => String::new(),
        Err(error) => chain(error),
    }
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    Redactor::shared_default().text(&text).into_owned()
}

//! How a call's end settles its reservation: completed, released or unknown — also when
//! the call is dropped half-way.

use std::sync::Arc;

use reqwest::Response;
use tokio::time::Instant;

use super::body::buffer;
use super::layer::Settings;
use super::replay::with_key;
use super::store::{
    IdempotencyStore, LeaseToken, LedgerKey, StoreError, StoreFuture, StoredResponse,
};
use super::{CompleteOn, IdempotencyKey};
use crate::boxed::BoxResponseFuture;
use crate::classify::{Classify as _, DefaultClassifier, Outcome, Verdict};
use crate::error::Error;

/// A keyed call in flight.
pub(crate) struct Keyed {
    key: IdempotencyKey,
    /// The reservation the call holds, when a ledger records it.
    lease: Option<Lease>,
}

impl Keyed {
    pub(crate) fn new(key: IdempotencyKey, lease: Option<Lease>) -> Self {
        Self { key, lease }
    }

    /// The request is about to be sent: from now on it may reach the server.
    #[inline(always)]
    pub(crate) fn sending(&mut self) {
        if let Some(lease) = &mut self.lease {
            lease.sent = true;
        }
    }

    pub(crate) fn into_parts(self) -> (IdempotencyKey, Option<Lease>) {
        (self.key, self.lease)
    }
}

/// A reservation: what settling the key after the call needs.
///
/// Dropped unsettled (the call was cancelled), it settles itself: released if nothing was
/// sent yet, marked unknown otherwise.
pub(crate) struct Lease {
    store: Arc<dyn IdempotencyStore>,
    settings: Arc<Settings>,
    entry: LedgerKey,
    token: LeaseToken,
    /// When the call started: a recorded body is read within the call's deadline.
    started: Instant,
    sent: bool,
    settled: bool,
}

/// A call's end: known now, or after the boxed rest (reading the body, a ledger's I/O).
pub(crate) enum Settled {
    Now(Result<Response, Error>),
    Later(BoxResponseFuture),
}

impl Settled {
    pub(crate) async fn finish(self) -> Result<Response, Error> {
        match self {
            Self::Now(result) => result,
            Self::Later(future) => future.await,
        }
    }
}

/// Whether a call that did not succeed may have been acted on by the server, so that its
/// key must stay held as unknown rather than be freed: the one classification of DESIGN §2
/// (`Error::outcome`), or for a failure passed through as a response (a stack without a
/// retry layer), its status as the default classifier reads it.
fn ended_unknown(result: &Result<Response, Error>) -> bool {
    match result {
        Ok(response) => DefaultClassifier::new()
            .classify(Outcome::Response(response))
            .applied()
            .is_maybe_applied(),
        Err(error) => error.outcome().is_maybe_applied(),
    }
}

impl Lease {
    pub(crate) fn new(
        store: Arc<dyn IdempotencyStore>,
        settings: Arc<Settings>,
        entry: LedgerKey,
        token: LeaseToken,
    ) -> Self {
        Self {
            store,
            settings,
            entry,
            token,
            started: Instant::now(),
            sent: false,
            settled: false,
        }
    }

    /// The latest a recorded body is read until: `max_body_wait` from now, and no later
    /// than the call's deadline.
    fn body_deadline(&self) -> Instant {
        let wait = Instant::now() + self.settings.max_body_wait;
        self.settings
            .call_deadline
            .map_or(wait, |deadline| wait.min(self.started + deadline))
    }

    /// Records the outcome: completes the key after a success (or a permanent failure, when
    /// so configured), marks it unknown after a failure that may have reached the server,
    /// and frees it after one that did not.
    pub(crate) fn settle(self, key: IdempotencyKey, result: Result<Response, Error>) -> Settled {
        match result {
            Ok(response) => {
                let verdict = self
                    .settings
                    .classifier
                    .classify(Outcome::Response(&response))
                    .verdict();
                if verdict == Verdict::Success {
                    return Settled::Later(Box::pin(self.record(key, response)));
                }
                // A stack without a retry layer can pass failures through as responses.
                self.end_failed(key, Ok(response))
            }
            Err(error) => {
                let permanent = self.settings.complete_on == CompleteOn::SuccessOrPermanent
                    && error
                        .failure()
                        .is_some_and(|f| f.verdict() == Verdict::Permanent);
                match permanent.then(|| error.take_response()).flatten() {
                    Some(response) => {
                        Settled::Later(Box::pin(self.record_failure(key, error, response)))
                    }
                    None => self.end_failed(key, Err(error)),
                }
            }
        }
    }

    fn end_failed(self, key: IdempotencyKey, result: Result<Response, Error>) -> Settled {
        if ended_unknown(&result) {
            self.mark_unknown(key, result)
        } else {
            self.release(key, result)
        }
    }

    async fn record(mut self, key: IdempotencyKey, response: Response) -> Result<Response, Error> {
        let read = buffer(response, self.settings.max_body_bytes, self.body_deadline()).await;
        self.complete(read.stored, &key).await;
        // A body that broke is handed on as it is: the caller meets its error on reading,
        // the server acted (2xx) and the key stays completed.
        with_key(Ok(read.response), key)
    }

    async fn record_failure(
        mut self,
        key: IdempotencyKey,
        error: Error,
        response: Response,
    ) -> Result<Response, Error> {
        let read = buffer(response, self.settings.max_body_bytes, self.body_deadline()).await;
        self.complete(read.stored, &key).await;
        if let Some(failure) = error.failure() {
            failure.put_response(read.response);
        }
        with_key(Err(error), key)
    }

    /// Completes the key. A ledger that fails here leaves the reservation in place: once
    /// its lease ends it reads as unknown, never as free, so no second send follows.
    async fn complete(&mut self, stored: StoredResponse, key: &IdempotencyKey) {
        let done = self
            .store
            .complete(&self.entry, &self.token, stored, self.settings.ttl);
        let done = done.await;
        self.settled = true;
        match done {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                steadfast.idempotency_key = %key,
                "idempotency key was resolved by someone else before the call finished; \
                 its outcome was not recorded"
            ),
            Err(e) => tracing::warn!(
                steadfast.idempotency_key = %key,
                error = %e,
                "could not record a completed idempotency key; it stays held and reads as \
                 unknown once its lease ends"
            ),
        }
    }

    /// Frees the key: the call provably did not reach the server.
    pub(crate) fn release(
        mut self,
        key: IdempotencyKey,
        result: Result<Response, Error>,
    ) -> Settled {
        self.settled = true;
        let op = self.store.release(&self.entry, &self.token);
        Self::after(
            op,
            key,
            result,
            "could not free an idempotency key; it stays held",
        )
    }

    /// Keeps the key held as unknown: the call may have reached the server.
    fn mark_unknown(mut self, key: IdempotencyKey, result: Result<Response, Error>) -> Settled {
        self.settled = true;
        let op = self
            .store
            .mark_unknown(&self.entry, &self.token, self.settings.ttl);
        Self::after(
            op,
            key,
            result,
            "could not mark an idempotency key unknown; it stays held until its lease ends, \
             then reads as unknown",
        )
    }

    /// The call's end once `op` is done; at once when the ledger answers at once.
    fn after(
        op: StoreFuture<()>,
        key: IdempotencyKey,
        result: Result<Response, Error>,
        failed: &'static str,
    ) -> Settled {
        match op.now() {
            Ok(done) => {
                warn_failed(done, &key, failed);
                Settled::Now(with_key(result, key))
            }
            Err(pending) => Settled::Later(Box::pin(async move {
                warn_failed(pending.await, &key, failed);
                with_key(result, key)
            })),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // The call was cancelled: its reservation must not wait for the lease to end.
        let op = if self.sent {
            self.store
                .mark_unknown(&self.entry, &self.token, self.settings.ttl)
        } else {
            self.store.release(&self.entry, &self.token)
        };
        let entry = self.entry.key().to_owned();
        let warn = move |done: Result<(), StoreError>| {
            if let Err(e) = done {
                tracing::warn!(
                    steadfast.idempotency_key = %entry,
                    error = %e,
                    "could not settle the idempotency key of a cancelled call; it stays \
                     held, and reads as unknown once its lease ends"
                );
            }
        };
        match op.now() {
            Ok(done) => warn(done),
            // A store doing I/O finishes the write on the runtime, if there is one; without
            // one the lease's end settles the key as unknown.
            Err(pending) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move { warn(pending.await) });
                }
            }
        }
    }
}

fn warn_failed(done: Result<(), StoreError>, key: &IdempotencyKey, message: &'static str) {
    if let Err(e) = done {
        tracing::warn!(steadfast.idempotency_key = %key, error = %e, "{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Reason;
    use crate::error::{Failure, NotRetried};
    use reqwest::StatusCode;

    #[allow(clippy::unnecessary_wraps)] // a row of the table, like the failures
    fn response(status: u16) -> Result<Response, Error> {
        let response = http::Response::builder()
            .status(status)
            .body("")
            .expect("valid");
        Ok(Response::from(response))
    }

    fn failed(
        status: Option<u16>,
        classification: crate::classify::Classification,
    ) -> Result<Response, Error> {
        Err(Error::NotRetried {
            why: NotRetried::Permanent,
            failure: Box::new({
                let mut failure =
                    Failure::new(reqwest::Method::POST, None, 1, classification, None);
                failure.status = status.map(|s| StatusCode::from_u16(s).expect("valid"));
                failure
            }),
            source: None,
        })
    }

    #[test]
    fn failures_the_server_may_have_acted_on_are_unknown() {
        use crate::classify::Classification as C;
        let status = |s: u16| Reason::Status(StatusCode::from_u16(s).expect("valid"));
        let cases = [
            (response(500), true),
            (response(502), true),
            (response(504), true),
            (response(503), false),
            (response(429), false),
            (response(408), false),
            (response(422), false),
            (response(409), false),
            (failed(Some(500), C::transient(status(500))), true),
            (failed(Some(504), C::transient(status(504))), true),
            (failed(Some(503), C::transient(status(503))), false),
            (failed(Some(429), C::throttled(None, status(429))), false),
            (failed(Some(403), C::throttled(None, status(403))), false),
            (failed(Some(400), C::permanent(status(400))), false),
            (failed(None, C::transient(Reason::Timeout)), true),
            (failed(None, C::transient(Reason::ConnectionReset)), true),
            (failed(None, C::transient(Reason::Body)), true),
            (
                failed(
                    None,
                    C::transient(Reason::Connect)
                        .with_applied(crate::classify::Applied::NotApplied),
                ),
                false,
            ),
            (
                Err(Error::Timeout {
                    elapsed: std::time::Duration::from_secs(1),
                    idempotency_key: None,
                }),
                true,
            ),
            (
                Err(Error::RateLimited {
                    retry_after: std::time::Duration::from_secs(1),
                    key: None,
                    idempotency_key: None,
                }),
                false,
            ),
            (Err(Error::InvalidRequest("bad".into())), false),
            (Err(Error::transport("reset".into())), true),
        ];
        for (result, unknown) in cases {
            let shown = match &result {
                Ok(r) => format!("{}", r.status()),
                Err(e) => format!("{e:?}"),
            };
            assert_eq!(ended_unknown(&result), unknown, "{shown}");
        }
    }
}

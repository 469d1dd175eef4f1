use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::circuit::Admission;
use super::future::Guard;
use super::registry::Entry;
use super::{Circuits, ResponseFuture};
use crate::error::{BoxError, Error};

/// Fails calls at once, without sending them, while their key's circuit is open, and
/// bounds the attempts in flight per key when a bulkhead is configured.
///
/// See the [module docs](super) for the rules.
#[derive(Debug, Clone)]
pub struct CircuitBreaker<S> {
    inner: S,
    // `None` only in the client's stack when neither breaker nor bulkhead is configured.
    circuits: Option<Circuits>,
}

impl<S> CircuitBreaker<S> {
    /// Wraps `inner`, guarding calls with `circuits`.
    #[must_use]
    pub fn new(inner: S, circuits: Circuits) -> Self {
        Self {
            inner,
            circuits: Some(circuits),
        }
    }

    /// A pass-through, for a stack whose type has the layer but whose config has neither
    /// breaker nor bulkhead.
    pub(crate) fn disabled(inner: S) -> Self {
        Self {
            inner,
            circuits: None,
        }
    }

    /// The circuits calls are guarded by.
    #[must_use]
    pub fn circuits(&self) -> Option<&Circuits> {
        self.circuits.as_ref()
    }

    /// The inner service.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    #[must_use]
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the circuit breaker, returning the inner service.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for CircuitBreaker<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::from_inner(e.into()))
    }

    #[inline(always)]
    fn call(&mut self, request: Request) -> Self::Future {
        let Some(entry) = self.circuits.as_ref().and_then(|c| c.lookup(&request)) else {
            return ResponseFuture::sending(self.inner.call(request), None);
        };
        let ticket = match entry.circuit.as_ref().map(super::circuit::Circuit::admit) {
            None => None,
            Some(Admission::Go(ticket)) => Some(ticket),
            Some(Admission::Refuse(until)) => return ResponseFuture::refused(open(&entry, until)),
        };
        let mut guard = Guard {
            entry,
            ticket,
            slot: false,
        };
        let Some(bulkhead) = &guard.entry.bulkhead else {
            return ResponseFuture::sending(self.inner.call(request), Some(guard));
        };
        if bulkhead.try_take() {
            guard.slot = true;
            return ResponseFuture::sending(self.inner.call(request), Some(guard));
        }
        if bulkhead.queue().is_none() {
            return ResponseFuture::refused(full(&guard.entry));
        }
        // The ready service goes into the future; this one keeps a fresh clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::waiting(Box::pin(async move {
            let entry = Arc::clone(&guard.entry);
            let taken = match (
                &entry.bulkhead,
                entry
                    .bulkhead
                    .as_ref()
                    .and_then(super::bulkhead::Bulkhead::queue),
            ) {
                (Some(bulkhead), Some(queued)) => bulkhead.wait(&queued).await,
                _ => false,
            };
            if !taken {
                return Err(full(&entry));
            }
            guard.slot = true;
            let outcome = inner
                .call(request)
                .await
                .map_err(|e| Error::from_inner(e.into()));
            guard.finish(&outcome);
            outcome
        }))
    }
}

/// The error of a call refused by an open circuit.
fn open(entry: &Entry, until: u64) -> Error {
    crate::metrics::circuit_refused(entry.key.as_public_str());
    let clock = entry
        .circuit
        .as_ref()
        .map_or_else(super::clock::Clock::new, |c| c.settings().clock);
    let until = clock.instant(until);
    Error::CircuitOpen {
        until,
        retry_after: until.saturating_duration_since(tokio::time::Instant::now()),
        key: entry.key.as_public_str().map(str::to_owned),
        idempotency_key: None,
    }
}

/// The error of a call refused by a full bulkhead.
fn full(entry: &Entry) -> Error {
    Error::BulkheadFull {
        max_concurrent: entry
            .bulkhead
            .as_ref()
            .map_or(0, |b| b.config.max_concurrent),
        key: entry.key.as_public_str().map(str::to_owned),
        idempotency_key: None,
    }
}

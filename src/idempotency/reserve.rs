//! What a reservation's answer leaves to do: send, replay, refuse, verify, or wait for the
//! holder.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Request, Response};
use tokio::time::Instant;
use tower_service::Service;

use super::layer::Settings;
use super::replay::{replay, with_key};
use super::settle::{Keyed, Lease};
use super::store::{
    Fingerprint, IdempotencyStore, LedgerKey, Reservation, StoreError, StoreFuture, Terms,
};
use super::verify::Lookups;
use super::{IdempotencyKey, InFlight, LedgerDown};
use crate::error::{BoxError, Error};
use crate::verify::Sender;

/// A keyed call with a ledger, before its key is reserved.
pub(crate) struct Reserving {
    pub(crate) store: Arc<dyn IdempotencyStore>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) key: IdempotencyKey,
    pub(crate) entry: LedgerKey,
    pub(crate) fingerprint: Fingerprint,
    /// A verifier already answered for this call: another unknown is refused.
    pub(crate) verified: bool,
}

/// What a reservation's answer leaves to do.
pub(crate) enum Next {
    /// Send the request; settle the lease, if one is held, with the outcome.
    Send(Keyed),
    /// The call's end, without sending: a replay, or an error.
    Done(Result<Response, Error>),
    /// Another call holds the key: wait for it.
    Wait(Reserving),
    /// An earlier call with the key may have been applied: ask the verifier.
    Verify(Reserving, Unsure),
}

/// Why the ledger cannot tell whether an earlier call with a key was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsure {
    /// That call ended maybe-applied, or its holder vanished with the lease.
    Outcome,
    /// The ledger lost its data.
    Unvouched,
}

impl Reserving {
    /// What the configuration does with a reservation's answer.
    pub(crate) fn next(self, answer: Result<Reservation, StoreError>, request: &Request) -> Next {
        let lease = match answer {
            Ok(Reservation::Reserved(token)) => Some(Lease::new(
                Arc::clone(&self.store),
                Arc::clone(&self.settings),
                self.entry,
                token,
            )),
            Ok(Reservation::Completed(stored)) => {
                return Next::Done(replay(&self.settings, &stored, request, &self.key));
            }
            Ok(Reservation::InFlight) if self.settings.in_flight == InFlight::Fail => {
                return Next::Done(Err(Error::IdempotencyKeyInFlight {
                    key: self.key.clone(),
                    waited: Duration::ZERO,
                }));
            }
            Ok(Reservation::InFlight) => return Next::Wait(self),
            Ok(Reservation::KeyReused) => {
                return Next::Done(Err(Error::IdempotencyKeyReused {
                    key: self.key.clone(),
                }));
            }
            Ok(Reservation::Unknown) => return self.unsure(Unsure::Outcome, request),
            Ok(Reservation::Unvouched) => return self.unsure(Unsure::Unvouched, request),
            // Only an unreachable ledger may be passed by: a full or unvouched one is an
            // answer about the key.
            Err(source @ StoreError::Unavailable(_))
                if self.settings.ledger_down == LedgerDown::FailOpen =>
            {
                tracing::warn!(
                    steadfast.idempotency_key = %self.key,
                    error = %source,
                    "idempotency ledger unavailable; sending without its protection"
                );
                None
            }
            Err(source) => {
                return Next::Done(Err(Error::Ledger {
                    key: self.key.clone(),
                    source,
                }));
            }
        };
        Next::Send(Keyed::new(self.key, lease))
    }

    /// The one place that decides what a call does with a key whose earlier call may have
    /// been applied: a configured verifier asks the server (once per call, see
    /// [`Reserving::verify`]); without one, or after its answer, the call is refused and
    /// nothing is sent.
    fn unsure(self, why: Unsure, _request: &Request) -> Next {
        if self.settings.verifier.is_some() && !self.verified {
            return Next::Verify(self, why);
        }
        self.refuse(why)
    }

    /// Refuses a call whose key's earlier call may have been applied.
    pub(crate) fn refuse(self, why: Unsure) -> Next {
        tracing::warn!(
            steadfast.idempotency_key = %self.key,
            reason = ?why,
            "idempotency key of unknown outcome; not sent"
        );
        let key = self.key.clone();
        Next::Done(Err(match why {
            Unsure::Outcome => Error::IdempotencyOutcomeUnknown { key },
            Unsure::Unvouched => Error::Ledger {
                key,
                source: StoreError::Unvouched,
            },
        }))
    }

    pub(crate) fn terms(&self) -> Terms {
        Terms::new(self.settings.lease, self.settings.ttl)
    }

    /// The call after a reservation the ledger answers later.
    pub(crate) async fn run<S>(
        self,
        inner: S,
        request: Request,
        first: StoreFuture<Reservation>,
    ) -> Result<Response, Error>
    where
        S: Service<Request, Response = Response> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send,
    {
        let answer = first.await;
        let next = self.next(answer, &request);
        drive(inner, request, next).await
    }

    /// Waits, with backoff, until the other holder of the key finishes or the wait ends;
    /// then says what the ledger's last answer leaves to do.
    async fn wait(mut self, request: &Request) -> Next {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        let max = match self.settings.in_flight {
            InFlight::Wait { max } => max,
            InFlight::Fail => Duration::ZERO,
        };
        loop {
            let waited = started.elapsed();
            if waited >= max {
                return Next::Done(Err(Error::IdempotencyKeyInFlight {
                    key: self.key.clone(),
                    waited,
                }));
            }
            tokio::time::sleep(pause.min(max.saturating_sub(waited))).await;
            pause = (pause * 2).min(Duration::from_millis(250));
            let answer = self
                .store
                .reserve(&self.entry, &self.fingerprint, self.terms())
                .await;
            match self.next(answer, request) {
                Next::Wait(call) => self = call,
                next => return next,
            }
        }
    }
}

/// Carries a keyed call through what the ledger answers (waits, a verification) until it is
/// sent or ends without sending.
pub(crate) async fn drive<S>(inner: S, request: Request, mut next: Next) -> Result<Response, Error>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    loop {
        next = match next {
            Next::Send(keyed) => return send(inner, request, keyed).await,
            Next::Done(result) => return result,
            Next::Wait(call) => call.wait(&request).await,
            Next::Verify(call, why) => {
                // Only now: the sender's allocation is for this rare path alone.
                let sender = Sender::new(Lookups(inner.clone()));
                call.verify(sender, &request, why).await
            }
        };
    }
}

/// Sends a keyed call on a service that is not known to be ready, then settles its lease.
async fn send<S>(mut inner: S, request: Request, mut keyed: Keyed) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    let ready = poll_fn(|cx| inner.poll_ready(cx))
        .await
        .map_err(|e| Error::from_inner(e.into()));
    if let Err(error) = ready {
        // Nothing went out: the reservation is released as the call ends.
        let (key, lease) = keyed.into_parts();
        let result = Err(error);
        return match lease {
            Some(lease) => lease.release(key, result).finish().await,
            None => with_key(result, key),
        };
    }
    keyed.sending();
    let result = inner
        .call(request)
        .await
        .map_err(|e| Error::from_inner(e.into()));
    let (key, lease) = keyed.into_parts();
    let Some(lease) = lease else {
        return with_key(result, key);
    };
    lease.settle(key, result).finish().await
}

//! Asking a verifier about a key the ledger holds as unknown (or cannot vouch for), and
//! settling the key by its answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use reqwest::{Request, Response};
use tokio::time::{Instant, timeout_at};
use tower_service::Service;

use super::body::buffer;
use super::replay::with_key;
use super::reserve::{Next, Reserving, Unsure};
use super::store::{Resolution, StoreError};
use crate::error::{BoxError, Error};
use crate::verify::{Sender, Verification, Verified, VerifyRequest};

impl Reserving {
    /// Asks the verifier whether the earlier call with this key was applied, within
    /// `verify_timeout` (and the call's deadline):
    ///
    /// - applied: the key is completed with the verifier's response, which ends the call;
    /// - not applied: the key is freed and reserved again for this call, which is sent
    ///   (another unknown answer is refused: a call is verified once);
    /// - unknown, or no answer in time: refused, nothing sent.
    ///
    /// The lookups go through `sender`, the layers below the ledger.
    pub(crate) async fn verify(mut self, sender: Sender, request: &Request, why: Unsure) -> Next {
        let Some(verifier) = self.settings.verifier.clone() else {
            return self.refuse(why);
        };
        self.verified = true;
        let asked = VerifyRequest::new(
            request.method().clone(),
            request.url().clone(),
            Some(self.key.to_string()),
            request
                .body()
                .and_then(reqwest::Body::as_bytes)
                .map(Bytes::copy_from_slice),
        );
        let started = Instant::now();
        let limit = self
            .settings
            .call_deadline
            .map_or(self.settings.verify_timeout, |d| {
                d.min(self.settings.verify_timeout)
            });
        let answer = timeout_at(started + limit, verifier.verify(asked, sender)).await;
        tracing::info!(
            steadfast.idempotency_key = %self.key,
            reason = ?why,
            verification = match &answer {
                Ok(Verification::Applied(_)) => "applied",
                Ok(Verification::NotApplied) => "not_applied",
                Ok(_) => "unknown",
                Err(_) => "timed_out",
            },
            "verified an idempotency key of unknown outcome"
        );
        crate::metrics::verified(&answer);
        match answer {
            Ok(Verification::Applied(response)) => Next::Done(self.applied(response).await),
            Ok(Verification::NotApplied) => {
                let freed = self
                    .store
                    .resolve(&self.entry, Resolution::NotApplied, self.settings.ttl)
                    .await;
                warn_unresolved(&self, freed);
                // Another call may take the key first: then this one waits for it, or is
                // refused if that one ends unknown too.
                let answer = self
                    .store
                    .reserve(&self.entry, &self.fingerprint, self.terms())
                    .await;
                self.next(answer, request)
            }
            _ => self.refuse(why),
        }
    }

    /// The verifier's find ends the call: its body is read (bounded, as a recorded call's
    /// is) and the key completed with it, so later calls replay it.
    async fn applied(self, response: Response) -> Result<Response, Error> {
        let until = Instant::now() + self.settings.max_body_wait;
        let read = buffer(response, self.settings.max_body_bytes, until).await;
        let settled = self
            .store
            .resolve(
                &self.entry,
                Resolution::Applied(read.stored),
                self.settings.ttl,
            )
            .await;
        warn_unresolved(&self, settled);
        let mut response = read.response;
        response.extensions_mut().insert(Verified);
        with_key(Ok(response), self.key)
    }
}

/// A key the verifier answered for that the ledger did not settle stays as it was: unknown
/// (or unvouched), never free, so no second send follows from it.
fn warn_unresolved(call: &Reserving, settled: Result<bool, StoreError>) {
    match settled {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            steadfast.idempotency_key = %call.key,
            "the idempotency key was settled by another call meanwhile"
        ),
        Err(e) => tracing::warn!(
            steadfast.idempotency_key = %call.key,
            error = %e,
            "could not settle a verified idempotency key; it stays as it was"
        ),
    }
}

/// The layers below the ledger as a verifier's [`Sender`] sees them. In the
/// [`Client`](crate::Client) the retry layer is among them and turns a failed lookup into
/// an error; a sender hands back the response whatever its status (a 404 is an answer), so
/// the response an error carries is handed back instead.
#[derive(Clone)]
pub(crate) struct Lookups<S>(pub(crate) S);

type LookupFuture = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send>>;

impl<S> Service<Request> for Lookups<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = BoxError;
    type Future = LookupFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let call = self.0.call(request);
        Box::pin(async move {
            let error = match call.await {
                Ok(response) => return Ok(response),
                Err(e) => Error::from_inner(e.into()),
            };
            match error.take_response() {
                Some(response) => Ok(response),
                None => Err(Box::new(error) as BoxError),
            }
        })
    }
}

//! The client's side of dead letters: the handle, and what a replay needs of the client.

use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::header::HeaderName;
use reqwest::{Method, Request, Response, Url};
use tower_service::Service;

use super::Client;
use crate::dead_letter::{BoxFuture, DeadLetter, DeadLetters, ReplayError, Replayed, Resend};
use crate::error::Error;
use crate::idempotency::KeyFormat;
use crate::idempotency::store::Resolution;
use crate::verify::{Sender, Verification, VerifyRequest};

impl Client {
    /// The client's dead letters (shared by its clones): list, replay, discard, confirm.
    /// `None` when the client keeps none (see
    /// [`ClientBuilder::dead_letter_sink`](crate::ClientBuilder::dead_letter_sink)).
    #[must_use]
    pub fn dead_letters(&self) -> Option<DeadLetters> {
        let recorder = self.inner_dead_letters()?;
        Some(DeadLetters::new(recorder, Arc::new(self.clone())))
    }

    /// Sends `letter` again through this client's stack with its original idempotency key
    /// and records the result on it; see [`DeadLetters::replay`].
    ///
    /// # Errors
    ///
    /// [`ReplayError`] (nothing was sent); [`ReplayError::Disabled`] when the client keeps
    /// no dead letters.
    pub async fn replay(&self, letter: &DeadLetter) -> Result<Replayed, ReplayError> {
        let letters = self.dead_letters().ok_or(ReplayError::Disabled)?;
        letters.replay(letter.id).await
    }
}

impl Resend for Client {
    fn send(&self, request: Request) -> BoxFuture<Result<Response, Error>> {
        let client = self.clone();
        Box::pin(async move { client.execute(request).await })
    }

    fn resolve_not_applied(
        &self,
        method: Method,
        url: Url,
        key: String,
    ) -> BoxFuture<Result<bool, Error>> {
        let client = self.clone();
        Box::pin(async move {
            client
                .resolve_idempotency_key(method, url, &key, Resolution::NotApplied)
                .await
        })
    }

    fn key_header(&self) -> (HeaderName, KeyFormat) {
        Client::key_header(self)
    }

    fn verify(&self, request: VerifyRequest) -> Option<BoxFuture<Verification>> {
        let (verifier, limit) = self.inner_verify()?;
        let sender = Sender::new(Whole(self.clone()));
        Some(Box::pin(async move {
            tokio::time::timeout(limit, verifier.verify(request, sender))
                .await
                .unwrap_or(Verification::Unknown)
        }))
    }
}

/// The whole stack as a service, for a verifier's lookups.
#[derive(Clone)]
struct Whole(Client);

impl Service<Request> for Whole {
    type Response = Response;
    type Error = Error;
    type Future = BoxFuture<Result<Response, Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Resend::send(&self.0, request)
    }
}

use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::policy::Policy;
use crate::error::{BoxError, Error, without_url};

/// Retries failed attempts of a request, following the crate's retry rules.
///
/// See the [module docs](super) for when a request is retried and how long it waits.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> Retry<S> {
    pub(crate) fn from_policy(inner: S, policy: Arc<Policy>) -> Self {
        Self { inner, policy }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the retry service, returning the inner one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Retry<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = Response;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::Transport(without_url(e.into())))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The ready service goes into the future; this one keeps a fresh clone.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(inner, Arc::clone(&self.policy), request)
    }
}

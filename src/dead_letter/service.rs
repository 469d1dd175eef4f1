use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::capture::Captured;
use super::recorder::Recorder;
use crate::error::{BoxError, Error};

/// Records every call that ends not applied after its retries, or with its outcome unknown,
/// as a [`DeadLetter`](super::DeadLetter) in a sink, then returns the call's own result.
///
/// A call that succeeds is never recorded; a sink that fails never fails the call.
#[derive(Debug, Clone)]
pub struct DeadLetterService<S> {
    inner: S,
    recorder: Option<Arc<Recorder>>,
}

impl<S> DeadLetterService<S> {
    /// Wraps `inner`, recording as `layer` says; the same as `layer.layer(inner)`.
    #[must_use]
    pub fn new(inner: S, layer: &super::DeadLetterLayer) -> Self {
        Self::optional(inner, layer.recorder().cloned())
    }

    pub(crate) fn optional(inner: S, recorder: Option<Arc<Recorder>>) -> Self {
        Self { inner, recorder }
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

    /// Consumes the service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for DeadLetterService<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
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
        match &self.recorder {
            // A replay updates its own letter: no second one for the same call.
            Some(recorder) if !super::replay::in_replay() => {
                let captured = Captured::of(&request, recorder.config.max_body_bytes);
                ResponseFuture::recording(self.inner.call(request), captured, Arc::clone(recorder))
            }
            _ => ResponseFuture::passing(self.inner.call(request)),
        }
    }
}

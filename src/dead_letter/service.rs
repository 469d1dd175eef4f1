use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::capture::Captured;
use super::future::Call;
use super::recorder::Recorder;
use crate::error::{BoxError, Error};

/// Records every call that ends not applied after its retries, or with its outcome unknown,
/// as a [`DeadLetter`](super::DeadLetter) in a sink, then returns the call's own result.
///
/// A call that succeeds is never recorded; a sink that fails never fails the call.
///
/// # Cost
///
/// The layer asks the layers below for the request back: a [`Retry`](crate::retry::Retry)
/// layer (with steadfast's call-scope layers between) hands its spare copy back when a call
/// fails, so that a call that succeeds pays for no copy. Until a call has shown that the
/// stack below does (the first one), and over a stack that does not, the layer copies each
/// request up front instead.
#[derive(Debug, Clone)]
pub struct DeadLetterService<S> {
    inner: S,
    shared: Option<Arc<Shared>>,
}

/// The recorder, and what this service learned of the stack below it.
#[derive(Debug)]
struct Shared {
    recorder: Arc<Recorder>,
    /// The last call showed that a layer below hands the request back.
    handed_back: AtomicBool,
}

impl<S> DeadLetterService<S> {
    /// Wraps `inner`, recording as `layer` says; the same as `layer.layer(inner)`.
    #[must_use]
    pub fn new(inner: S, layer: &super::DeadLetterLayer) -> Self {
        Self::optional(inner, layer.recorder().cloned())
    }

    pub(crate) fn optional(inner: S, recorder: Option<Arc<Recorder>>) -> Self {
        let shared = recorder.map(|recorder| {
            Arc::new(Shared {
                recorder,
                handed_back: AtomicBool::new(false),
            })
        });
        Self { inner, shared }
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
        let shared = match &self.shared {
            // A replay updates its own letter: no second one for the same call.
            Some(shared) if !super::replay::in_replay() => shared,
            _ => return ResponseFuture::passing(self.inner.call(request)),
        };
        let copied = !shared.handed_back.load(Ordering::Relaxed);
        let call = Call {
            method: request.method().clone(),
            copy: copied.then(|| {
                Box::new(Captured::of(
                    &request,
                    shared.recorder.config.max_body_bytes,
                ))
            }),
            handed: None,
            recorder: Arc::clone(&shared.recorder),
        };
        let asking = crate::telemetry::Asking::start();
        // The inner future goes straight into this one's state; what the layers below said
        // is read once their `call` returned, the next argument.
        ResponseFuture::recording(self.inner.call(request), asking, call, &shared.handed_back)
    }
}

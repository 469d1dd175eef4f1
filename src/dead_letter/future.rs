use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use reqwest::{Method, Request, Response};

use super::capture::{self, Captured};
use super::recorder::Recorder;
use crate::error::{BoxError, Error};
use crate::telemetry::WithAttemptLog;

pin_project! {
    /// The future returned by [`DeadLetterService`](super::DeadLetterService).
    ///
    /// While the call runs it only polls the inner future (inside the call log's scope);
    /// a call that fails and is recorded moves on to a boxed future that makes the letter
    /// and stores it, bounded by `response_read_timeout` and `record_timeout`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Passing {
            #[pin]
            inner: F,
        },
        Calling {
            #[pin]
            inner: WithAttemptLog<F>,
            call: Option<Call>,
        },
        Recording {
            future: Pin<Box<dyn Future<Output = Error> + Send>>,
        },
        Done,
    }
}

/// What a letter is made of, besides the error.
pub(crate) struct Call {
    pub(crate) method: Method,
    /// The request as the caller handed it, copied up front when no layer below was known
    /// to hand it back; boxed, as the future of a call that pays for no copy is moved
    /// several times on its way to the runtime.
    pub(crate) copy: Option<Box<Captured>>,
    /// A copy a layer below handed back during `call` (the idempotency layer, when it does
    /// not pass the request on at once).
    pub(crate) handed: Option<Box<Request>>,
    pub(crate) recorder: Arc<Recorder>,
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn passing(inner: F) -> Self {
        Self {
            state: State::Passing { inner },
        }
    }

    /// Records the call of `inner`, started under `asking`; `handed_back` is what the
    /// service learned of the layers below, updated from their answer.
    #[inline(always)]
    pub(crate) fn recording(
        inner: F,
        asking: crate::telemetry::Asking,
        mut call: Call,
        handed_back: &AtomicBool,
    ) -> Self
    where
        F: Future,
    {
        let answer = asking.answer();
        let handed = answer.promised || answer.handed.is_some();
        if handed == call.copy.is_some() {
            // The stack below changed its answer: copy up front again, or stop copying.
            handed_back.store(handed, Ordering::Relaxed);
        }
        call.handed = answer.handed;
        Self {
            state: State::Calling {
                inner: crate::telemetry::with_attempt_log(inner),
                call: Some(call),
            },
        }
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (error, log, call) = match self.as_mut().project().state.project() {
            StateProj::Passing { inner } => {
                return inner.poll(cx).map_err(|e| Error::from_inner(e.into()));
            }
            StateProj::Calling { mut inner, call } => {
                let error = match ready!(inner.as_mut().poll(cx)) {
                    Ok(response) => {
                        self.project().state.set(State::Done);
                        return Poll::Ready(Ok(response));
                    }
                    Err(e) => Error::from_inner(e.into()),
                };
                let Some(call) = call.take() else {
                    return Poll::Ready(Err(error));
                };
                if !call.recorder.wants(&call.method, &error) {
                    self.project().state.set(State::Done);
                    return Poll::Ready(Err(error));
                }
                let log = inner.take_log();
                (error, log, call)
            }
            StateProj::Recording { future } => {
                let error = ready!(future.as_mut().poll(cx));
                self.project().state.set(State::Done);
                return Poll::Ready(Err(error));
            }
            StateProj::Done => panic!("dead-letter future polled after completion"),
        };
        let record = async move {
            let Call {
                method,
                copy,
                handed,
                recorder,
            } = call;
            let max_body = recorder.config.max_body_bytes;
            // The request as a layer below handed it back, else as copied up front.
            let captured = match (log.request.or(handed), copy) {
                (_, Some(copy)) => *copy,
                (Some(request), None) => Captured::of(&request, max_body),
                (None, None) => Captured::lost(method),
            };
            let letter = capture::letter(captured, &error, log.attempts, &recorder).await;
            recorder.store(&letter).await;
            error
        };
        let future = off_the_callers_path(record);
        self.as_mut()
            .project()
            .state
            .set(State::Recording { future });
        self.poll(cx)
    }
}

/// Runs `record` as a task of its own when there is a runtime, so that a caller who drops
/// the call's future while its letter is stored does not drop the letter (the task is
/// bounded by `response_read_timeout` and `record_timeout`); the caller still gets the
/// error once it is stored. Without a runtime it runs in the caller's future.
fn off_the_callers_path(
    record: impl Future<Output = Error> + Send + 'static,
) -> Pin<Box<dyn Future<Output = Error> + Send>> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Box::pin(record);
    };
    let task = runtime.spawn(record);
    Box::pin(async move {
        match task.await {
            Ok(error) => error,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            // The runtime is shutting down, and took the task and its error with it.
            Err(cancelled) => Error::transport(Box::new(cancelled)),
        }
    })
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Passing { .. } => "passing",
            State::Calling { .. } => "calling",
            State::Recording { .. } => "recording",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

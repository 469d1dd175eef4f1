use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use reqwest::Response;
use tokio::task::futures::TaskLocalFuture;

use super::capture::{self, Captured};
use super::recorder::Recorder;
use crate::error::{BoxError, Error};
use crate::telemetry::AttemptEntry;

pin_project! {
    /// The future returned by [`DeadLetterService`](super::DeadLetterService).
    ///
    /// While the call runs it only polls the inner future (inside the attempt log's scope);
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
            inner: TaskLocalFuture<RefCell<Vec<AttemptEntry>>, F>,
            call: Option<Call>,
        },
        Recording {
            future: Pin<Box<dyn Future<Output = Error> + Send>>,
        },
        Done,
    }
}

/// What a letter is made of, besides the error.
struct Call {
    captured: Captured,
    recorder: Arc<Recorder>,
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn passing(inner: F) -> Self {
        Self {
            state: State::Passing { inner },
        }
    }

    #[inline(always)]
    pub(crate) fn recording(inner: F, captured: Captured, recorder: Arc<Recorder>) -> Self
    where
        F: Future,
    {
        Self {
            state: State::Calling {
                inner: crate::telemetry::with_attempt_log(inner),
                call: Some(Call { captured, recorder }),
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
                if !call.recorder.wants(&call.captured.method, &error) {
                    self.project().state.set(State::Done);
                    return Poll::Ready(Err(error));
                }
                let log = inner
                    .take_value()
                    .map(RefCell::into_inner)
                    .unwrap_or_default();
                (error, log, call)
            }
            StateProj::Recording { future } => {
                let error = ready!(future.as_mut().poll(cx));
                self.project().state.set(State::Done);
                return Poll::Ready(Err(error));
            }
            StateProj::Done => panic!("dead-letter future polled after completion"),
        };
        let future = Box::pin(async move {
            let Call { captured, recorder } = call;
            let letter = capture::letter(captured, &error, log, &recorder).await;
            recorder.store(&letter).await;
            error
        });
        self.as_mut()
            .project()
            .state
            .set(State::Recording { future });
        self.poll(cx)
    }
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

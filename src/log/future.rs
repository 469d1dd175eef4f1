use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use reqwest::Response;

use crate::error::{BoxError, Error};

use crate::boxed::BoxResponseFuture as Boxed;

pin_project! {
    /// The future returned by [`Log`](super::Log).
    ///
    /// When nothing listens (no subscriber enables the call span or the `gave up` event)
    /// and no hook is set, it is the inner future and nothing more. Otherwise it is boxed:
    /// a logged call formats fields anyway, so one allocation more does not show.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Quiet {
            #[pin]
            inner: F,
        },
        Logged {
            inner: Boxed,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn quiet(inner: F) -> Self {
        Self {
            state: State::Quiet { inner },
        }
    }

    pub(crate) fn logged(inner: Boxed) -> Self {
        Self {
            state: State::Logged { inner },
        }
    }

    #[cfg(test)]
    pub(crate) fn is_quiet(&self) -> bool {
        matches!(self.state, State::Quiet { .. })
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let logged = matches!(self.state, State::Logged { .. });
        f.debug_struct("ResponseFuture")
            .field("logged", &logged)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Quiet { inner } => inner
                .poll(cx)
                .map(|result| result.map_err(|e| Error::from_inner(e.into()))),
            StateProj::Logged { inner } => inner.as_mut().poll(cx),
        }
    }
}

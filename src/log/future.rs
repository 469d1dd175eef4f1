use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use reqwest::Response;

use crate::boxed::{BoxResponseFuture, InlineOrBoxed};
use crate::error::{BoxError, Error};

pin_project! {
    /// The future returned by [`Log`](super::Log).
    ///
    /// When nothing listens (no subscriber enables the call span or the `gave up` event)
    /// and no hook is set, it is the inner future and nothing more. Otherwise it is boxed:
    /// a logged call formats fields anyway, so one allocation more does not show.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: InlineOrBoxed<F>,
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn quiet(inner: F) -> Self {
        Self {
            state: InlineOrBoxed::Inline { inner },
        }
    }

    pub(crate) fn logged(inner: BoxResponseFuture) -> Self {
        Self {
            state: InlineOrBoxed::Boxed { inner },
        }
    }

    #[cfg(test)]
    pub(crate) fn is_quiet(&self) -> bool {
        self.state.is_inline()
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("logged", &!self.state.is_inline())
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
        self.project().state.poll(cx)
    }
}

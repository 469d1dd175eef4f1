use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use reqwest::Response;

use crate::boxed::{BoxResponseFuture, InlineOrBoxed};
use crate::error::{BoxError, Error};

pin_project! {
    /// The future returned by [`StaleIfError`](super::StaleIfError).
    ///
    /// A call the layer does not keep (not a GET or HEAD, or the layer off) is the inner
    /// future and nothing more; a GET or HEAD is boxed, as it may read the body to keep.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: InlineOrBoxed<F>,
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn inner(inner: F) -> Self {
        Self {
            state: InlineOrBoxed::Inline { inner },
        }
    }

    pub(crate) fn boxed(inner: BoxResponseFuture) -> Self {
        Self {
            state: InlineOrBoxed::Boxed { inner },
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("kept", &!self.state.is_inline())
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

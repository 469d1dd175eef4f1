//! The boxed slow path shared by layers whose fast path runs the inner future in place
//! (idempotency, log, rate limit, retry): a layer boxes only the calls that need an
//! `async` state machine too large to write by hand.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::error::{BoxError, Error};

/// A boxed `Future<Output = Result<reqwest::Response, Error>>`.
pub(crate) type BoxResponseFuture = ::std::pin::Pin<
    Box<dyn ::std::future::Future<Output = Result<::reqwest::Response, crate::Error>> + Send>,
>;

pin_project! {
    /// A layer's call: the inner future run in place (the fast path, errors converted with
    /// [`Error::from_inner`]), or a boxed state machine (the slow path).
    #[project = InlineOrBoxedProj]
    pub(crate) enum InlineOrBoxed<F> {
        Inline {
            #[pin]
            inner: F,
        },
        Boxed {
            inner: BoxResponseFuture,
        },
    }
}

impl<F> InlineOrBoxed<F> {
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self, Self::Inline { .. })
    }
}

impl<F, E> Future for InlineOrBoxed<F>
where
    F: Future<Output = Result<reqwest::Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<reqwest::Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            InlineOrBoxedProj::Inline { inner } => inner
                .poll(cx)
                .map(|result| result.map_err(|e| Error::from_inner(e.into()))),
            InlineOrBoxedProj::Boxed { inner } => inner.as_mut().poll(cx),
        }
    }
}

use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;

use super::ResponseFuture;
use crate::error::{BoxError, Error};

/// Fails a call that takes longer than its limit with [`Error::Timeout`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Option<Duration>,
}

impl<S> Timeout<S> {
    /// Wraps `inner`, limiting each call to `limit`.
    #[must_use]
    pub fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit: Some(limit),
        }
    }

    /// A pass-through, for a stack whose type has the layer but whose config has no limit.
    pub(crate) fn optional(inner: S, limit: Option<Duration>) -> Self {
        Self { inner, limit }
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

    /// Consumes the timeout service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R> Service<R> for Timeout<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::from_inner(e.into()))
    }

    #[inline(always)]
    fn call(&mut self, request: R) -> Self::Future {
        ResponseFuture::new(self.inner.call(request), self.limit)
    }
}

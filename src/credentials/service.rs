use std::fmt;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::future::resend_after_unauthorized;
use super::{Lookup, ResponseFuture, SharedCredentials};
use crate::error::{BoxError, Error};

/// Applies a provider's credential to each attempt; on a `401`, tells the provider and,
/// when it has a fresher credential, sends the attempt once more with it.
///
/// See the [module docs](super) for the rules.
#[derive(Clone)]
pub struct ApplyCredentials<S> {
    inner: S,
    // `None` only in the client's stack when no credentials are configured.
    credentials: Option<SharedCredentials>,
}

impl<S: fmt::Debug> fmt::Debug for ApplyCredentials<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyCredentials")
            .field("inner", &self.inner)
            .field("credentials", &self.credentials.as_ref().map(|_| ".."))
            .finish()
    }
}

impl<S> ApplyCredentials<S> {
    /// Wraps `inner`, applying credentials from `credentials` to each call.
    #[must_use]
    pub fn new(inner: S, credentials: SharedCredentials) -> Self {
        Self {
            inner,
            credentials: Some(credentials),
        }
    }

    /// A pass-through, for a stack whose type has the layer but whose config has none.
    pub(crate) fn none(inner: S) -> Self {
        Self {
            inner,
            credentials: None,
        }
    }

    /// The provider credentials come from.
    #[must_use]
    pub fn credentials(&self) -> Option<&SharedCredentials> {
        self.credentials.as_ref()
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

    /// Consumes the credentials service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for ApplyCredentials<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
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
    fn call(&mut self, mut request: Request) -> Self::Future {
        let Some(credentials) = &self.credentials else {
            return ResponseFuture::sending(self.inner.call(request));
        };
        let refreshes = credentials.can_refresh();
        match credentials.credential() {
            Lookup::Ready(Ok(credential)) if !refreshes => {
                credential.apply(&mut request);
                ResponseFuture::sending(self.inner.call(request))
            }
            Lookup::Ready(Err(source)) => ResponseFuture::refused(source),
            lookup => {
                // The ready service goes into the future; this one keeps a fresh clone.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::boxed(Box::pin(resend_after_unauthorized(
                    inner,
                    credentials.clone(),
                    lookup,
                    request,
                )))
            }
        }
    }
}

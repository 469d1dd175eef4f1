use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::future::Observer;
use super::limiter::Admission;
use super::{RateLimiter, ResponseFuture};
use crate::error::{BoxError, Error};

/// Takes a permit from the request's key before each call, waiting or failing when none
/// is free, and slows the key down when a response says its quota is spent.
///
/// See the [module docs](super) for the rules.
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    // `None` only in the client's stack when no rate limit is configured.
    limiter: Option<RateLimiter>,
}

impl<S> RateLimit<S> {
    /// Wraps `inner`, taking permits from `limiter`.
    #[must_use]
    pub fn new(inner: S, limiter: RateLimiter) -> Self {
        Self {
            inner,
            limiter: Some(limiter),
        }
    }

    /// A pass-through, for a stack whose type has the layer but whose config has no limit.
    pub(crate) fn unlimited(inner: S) -> Self {
        Self {
            inner,
            limiter: None,
        }
    }

    /// The limiter permits are taken from.
    #[must_use]
    pub fn limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
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

    /// Consumes the rate-limit service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for RateLimit<S>
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
    fn call(&mut self, request: Request) -> Self::Future {
        let Some(limiter) = &self.limiter else {
            return ResponseFuture::sending(self.inner.call(request), None);
        };
        let key = limiter.lookup(&request);
        #[cfg(feature = "redis")]
        if limiter.remote().is_some() {
            // Every permit of a shared quota is a round trip: always the boxed path.
            let clone = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, clone);
            let limiter = limiter.clone();
            return ResponseFuture::waiting(Box::pin(async move {
                limiter.remote_permit(&key).await?;
                let response = inner
                    .call(request)
                    .await
                    .map_err(|e| Error::from_inner(e.into()))?;
                limiter.remote_observe(&key, &response).await;
                Ok(response)
            }));
        }
        match limiter.admit(&key) {
            Admission::Go => {
                let observer = Observer { key };
                ResponseFuture::sending(self.inner.call(request), Some(observer))
            }
            Admission::Refuse(retry_after) => {
                limiter.log_refusal(&key.name, retry_after);
                ResponseFuture::refused(retry_after, &key.name)
            }
            Admission::Wait(slot) => {
                // The ready service goes into the future; this one keeps a fresh clone.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let limiter = limiter.clone();
                ResponseFuture::waiting(Box::pin(async move {
                    limiter.wait_for_permit(&key, Some(slot)).await?;
                    let response = inner
                        .call(request)
                        .await
                        .map_err(|e| Error::from_inner(e.into()))?;
                    key.observe(response.status(), response.headers());
                    Ok(response)
                }))
            }
        }
    }
}

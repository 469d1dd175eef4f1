use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::{Body, Method, Request, Response};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use super::body::DeadlineBody;
use crate::body::map_body;
use crate::classify::{Applied, Classification, Reason};
use crate::error::{BoxError, Error, Failure};

/// Bounds a whole call with one limit: the response must arrive within it and, unless
/// [`covers_body`](DeadlineLayer::covers_body) is off, the caller must have read the body
/// by then too, as reqwest's own `timeout` does.
///
/// A body read past the deadline fails with a `reqwest::Error` whose
/// [`is_timeout`](reqwest::Error::is_timeout) is `true`; in its `source()` chain is an
/// [`io::Error`](std::io::Error) of kind `TimedOut` whose
/// [`get_ref`](std::io::Error::get_ref) is the [`Error::Timeout`] with the limit.
///
/// Use it only for [`reqwest::Response`]s; [`Timeout`](super::Timeout) bounds any service.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    limit: Option<Duration>,
    covers_body: bool,
}

impl<S> Deadline<S> {
    /// Wraps `inner`, limiting each call and the read of its body to `limit`.
    #[must_use]
    pub fn new(inner: S, limit: Duration) -> Self {
        DeadlineLayer::new(limit).layer(inner)
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

    /// Consumes the deadline service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::from_inner(e.into()))
    }

    #[inline(always)]
    fn call(&mut self, request: Request) -> Self::Future {
        DeadlineFuture {
            method: request.method().clone(),
            inner: ResponseFuture::new(self.inner.call(request), self.limit),
            covers_body: self.covers_body,
        }
    }
}

/// Applies [`Deadline`] to a service.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    limit: Option<Duration>,
    covers_body: bool,
}

impl DeadlineLayer {
    /// A layer that limits each call, and the read of its body, to `limit`.
    #[must_use]
    pub fn new(limit: Duration) -> Self {
        Self::optional(Some(limit))
    }

    /// A layer that limits each call to `limit`, or passes calls through with `None`.
    pub(crate) fn optional(limit: Option<Duration>) -> Self {
        Self {
            limit,
            covers_body: true,
        }
    }

    /// Whether the deadline also bounds the caller's read of a successful response's body.
    /// Default `true`.
    ///
    /// It costs a few allocations per call (the response is rebuilt around a wrapped
    /// body); turned off, a caller reading a slow body is bounded only by reqwest's own
    /// timeouts.
    #[must_use]
    pub fn covers_body(mut self, covers_body: bool) -> Self {
        self.covers_body = covers_body;
        self
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limit: self.limit,
            covers_body: self.covers_body,
        }
    }
}

pin_project! {
    /// The future returned by [`Deadline`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: ResponseFuture<F>,
        covers_body: bool,
        // For the error when the deadline cuts the call (a standard method copies no heap).
        method: Method,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let response = match ready!(this.inner.as_mut().poll(cx)) {
            Ok(response) => response,
            Err(Error::Timeout { .. })
                if this
                    .inner
                    .expires_at()
                    .is_some_and(|at| at <= Instant::now()) =>
            {
                return Poll::Ready(Err(cut(this.method, this.inner.limit())));
            }
            Err(error) => return Poll::Ready(Err(error)),
        };
        if !*this.covers_body {
            return Poll::Ready(Ok(response));
        }
        let Some(limit) = this.inner.limit() else {
            return Poll::Ready(Ok(response));
        };
        // A response ready at the first poll started no timer: the call took no time.
        let Some(deadline) = this
            .inner
            .expires_at()
            .or_else(|| Instant::now().checked_add(limit))
        else {
            return Poll::Ready(Ok(response));
        };
        Poll::Ready(Ok(map_body(response, |body| {
            Body::wrap(DeadlineBody::new(body, deadline, limit))
        })))
    }
}

/// The error of a call the deadline cut. A retry layer below reports a call it cut after
/// later attempts itself, with their history; what reaches here is the first attempt, still
/// in flight, so the server may have acted.
fn cut(method: &Method, limit: Option<Duration>) -> Error {
    let classification =
        Classification::transient(Reason::Timeout).with_applied(Applied::MaybeApplied);
    let mut failure = Failure::new(method.clone(), None, 1, classification, None);
    failure.deadline = limit;
    Error::DeadlineExceeded {
        failure: Box::new(failure),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use bytes::Bytes;
    use tower::ServiceExt as _;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    fn request() -> Request {
        let url = "http://127.0.0.1:9/orders".parse().expect("valid url");
        Request::new(reqwest::Method::GET, url)
    }

    /// Answers after `delay` with headers and a body that never comes.
    fn stalled(delay: Duration) -> impl Service<Request, Response = Response, Error = Infallible> {
        tower::service_fn(move |_: Request| async move {
            tokio::time::sleep(delay).await;
            let body =
                Body::wrap_stream(futures_util::stream::pending::<Result<Bytes, Infallible>>());
            Ok::<_, Infallible>(Response::from(http::Response::new(body)))
        })
    }

    #[tokio::test(start_paused = true)]
    async fn the_body_has_what_is_left_of_the_deadline() {
        let service = DeadlineLayer::new(LIMIT).layer(stalled(Duration::from_secs(2)));
        let start = Instant::now();
        let response = service.oneshot(request()).await.expect("headers in time");
        assert_eq!(start.elapsed(), Duration::from_secs(2));

        let error = response.bytes().await.expect_err("the body never comes");
        assert_eq!(start.elapsed(), LIMIT);
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_left_out_is_not_bounded() {
        let layer = DeadlineLayer::new(LIMIT).covers_body(false);
        let response = layer
            .layer(stalled(Duration::ZERO))
            .oneshot(request())
            .await
            .expect("headers in time");
        let read = tokio::time::timeout(LIMIT * 10, response.bytes()).await;
        assert!(read.is_err(), "still waiting for the body");
    }

    #[test]
    fn a_body_already_whole_is_read_without_a_timer() {
        use futures_util::FutureExt as _;
        // Outside any runtime: making a tokio timer here would panic.
        let whole = tower::service_fn(|_: Request| {
            std::future::ready(Ok::<_, Infallible>(Response::from(http::Response::new(
                "done",
            ))))
        });
        let response = DeadlineLayer::new(LIMIT)
            .layer(whole)
            .oneshot(request())
            .now_or_never()
            .expect("ready at once")
            .expect("a response");
        let text = response.text().now_or_never().expect("whole at once");
        assert_eq!(text.expect("whole"), "done");
    }
}

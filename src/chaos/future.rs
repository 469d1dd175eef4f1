use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::Response;
use tokio::time::{Instant, Sleep, sleep};

use super::FaultKind;
use super::service::reset;
use crate::error::{BoxError, Error};

pin_project! {
    /// The future returned by [`Chaos`](super::Chaos).
    ///
    /// A call left alone polls the inner future and nothing else; a timer exists only for an
    /// injected latency.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        #[pin]
        sleep: Option<Sleep>,
        delay: Option<Duration>,
        // An answer decided without the inner service.
        answer: Option<Result<Response, Error>>,
        // A fault that replaces the inner call's result, and when that call started.
        after: Option<(FaultKind, Instant)>,
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(super) fn pass(inner: F) -> Self {
        Self {
            inner: Some(inner),
            sleep: None,
            delay: None,
            answer: None,
            after: None,
        }
    }

    pub(super) fn delayed(inner: F, delay: Duration) -> Self {
        Self {
            delay: Some(delay),
            ..Self::pass(inner)
        }
    }

    pub(super) fn ready(answer: Result<Response, Error>) -> Self {
        Self {
            inner: None,
            sleep: None,
            delay: None,
            answer: Some(answer),
            after: None,
        }
    }

    pub(super) fn after(inner: F, fault: FaultKind) -> Self {
        Self {
            after: Some((fault, Instant::now())),
            ..Self::pass(inner)
        }
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(answer) = this.answer.take() {
            return Poll::Ready(answer);
        }
        // The inner future is first polled after the delay: reqwest sends nothing before.
        if let Some(delay) = *this.delay {
            if this.sleep.is_none() {
                this.sleep.set(Some(sleep(delay)));
            }
            if let Some(timer) = this.sleep.as_mut().as_pin_mut() {
                ready!(timer.poll(cx));
            }
            *this.delay = None;
            this.sleep.set(None);
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Error::from_inner(
                "chaos future polled after it completed".into(),
            )));
        };
        let result = ready!(inner.poll(cx));
        this.inner.set(None);
        Poll::Ready(match this.after.take() {
            // The server acted; the caller hears of a timeout or a reset instead.
            Some((FaultKind::TimeoutAfter, started)) => Err(Error::Timeout {
                elapsed: started.elapsed(),
                idempotency_key: None,
            }),
            Some((fault, _)) => Err(reset(fault)),
            None => result.map_err(|e| Error::from_inner(e.into())),
        })
    }
}

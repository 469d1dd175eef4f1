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
    /// A call left alone polls the inner future and nothing else; what an injected fault
    /// needs (a timer, an answer) is boxed, so that calls left alone carry no room for it.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        fault: Injected,
    }
}

/// What the layer does to this call.
#[derive(Debug)]
enum Injected {
    Nothing,
    /// Wait this long before the inner future is first polled.
    Delay(Duration),
    Sleeping(Pin<Box<Sleep>>),
    /// An answer decided without the inner service.
    Answer(Box<Result<Response, Error>>),
    /// Replace the inner call's result; the call started at this instant.
    After(FaultKind, Instant),
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(super) fn pass(inner: F) -> Self {
        Self {
            inner: Some(inner),
            fault: Injected::Nothing,
        }
    }

    pub(super) fn delayed(inner: F, delay: Duration) -> Self {
        Self {
            inner: Some(inner),
            fault: Injected::Delay(delay),
        }
    }

    pub(super) fn ready(answer: Result<Response, Error>) -> Self {
        Self {
            inner: None,
            fault: Injected::Answer(Box::new(answer)),
        }
    }

    pub(super) fn after(inner: F, fault: FaultKind) -> Self {
        Self {
            inner: Some(inner),
            fault: Injected::After(fault, Instant::now()),
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
        if let (Injected::Nothing, Some(inner)) = (&this.fault, this.inner.as_mut().as_pin_mut()) {
            return inner.poll(cx).map_err(|e| Error::from_inner(e.into()));
        }
        // The inner future is first polled after the delay: reqwest sends nothing before.
        if let Injected::Delay(delay) = *this.fault {
            *this.fault = Injected::Sleeping(Box::pin(sleep(delay)));
        }
        if let Injected::Sleeping(timer) = this.fault {
            ready!(timer.as_mut().poll(cx));
            *this.fault = Injected::Nothing;
        }
        if matches!(this.fault, Injected::Answer(_))
            && let Injected::Answer(answer) = std::mem::replace(this.fault, Injected::Nothing)
        {
            return Poll::Ready(*answer);
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Error::from_inner(
                "chaos future polled after it completed".into(),
            )));
        };
        let result = ready!(inner.poll(cx));
        Poll::Ready(match std::mem::replace(this.fault, Injected::Nothing) {
            // The server acted; the caller hears of a timeout or a reset instead.
            Injected::After(FaultKind::TimeoutAfter, started) => Err(Error::Timeout {
                elapsed: started.elapsed(),
                idempotency_key: None,
            }),
            Injected::After(fault, _) => Err(reset(fault)),
            _ => result.map_err(|e| Error::from_inner(e.into())),
        })
    }
}

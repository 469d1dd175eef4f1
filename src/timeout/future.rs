use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep};

use crate::error::{BoxError, Error};

pin_project! {
    /// The future returned by [`Timeout`](super::Timeout).
    ///
    /// The timer starts the first time the inner future is polled and not ready, which for
    /// a call that is awaited is at once; a call that completes in its first poll never
    /// touches the runtime's timer.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        limit: Option<Duration>,
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn new(inner: F, limit: Option<Duration>) -> Self {
        Self {
            inner,
            sleep: None,
            limit,
        }
    }
}

impl<F> ResponseFuture<F> {
    /// The limit this future applies.
    pub(crate) fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// When the limit runs out, once the timer has started.
    pub(crate) fn expires_at(&self) -> Option<Instant> {
        self.sleep.as_ref().map(Sleep::deadline)
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(|e| Error::from_inner(e.into())));
        }
        let Some(limit) = *this.limit else {
            return Poll::Pending;
        };
        if this.sleep.is_none() {
            this.sleep.set(Some(sleep(limit)));
        }
        match this.sleep.as_pin_mut().map(|s| s.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(Error::Timeout {
                elapsed: limit,
                idempotency_key: None,
            })),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::FutureExt as _;
    use tower_service::Service as _;

    use super::*;
    use crate::timeout::Timeout;

    fn ok(_: ()) -> std::future::Ready<Result<&'static str, Infallible>> {
        std::future::ready(Ok("done"))
    }

    #[test]
    fn a_call_ready_at_once_never_starts_a_timer() {
        // Outside any runtime: making a tokio timer here would panic.
        let mut service = Timeout::new(tower::service_fn(ok), Duration::from_secs(1));
        let future = service.call(());
        assert!(format!("{future:?}").contains("sleep: None"), "{future:?}");
        assert_eq!(future.now_or_never().map(Result::ok), Some(Some("done")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_runs_from_the_first_poll() {
        let pending = tower::service_fn(|()| std::future::pending::<Result<(), Infallible>>());
        let mut service = Timeout::new(pending, Duration::from_secs(5));
        let started = tokio::time::Instant::now();
        let error = service.call(()).await.expect_err("times out");
        assert!(
            matches!(error, Error::Timeout { elapsed, .. } if elapsed == Duration::from_secs(5))
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::Response;

use super::RateLimitKey;
use super::state::KeyState;
use crate::error::{BoxError, Error};

use crate::boxed::BoxResponseFuture as Boxed;

pin_project! {
    /// The future returned by [`RateLimit`](super::RateLimit).
    ///
    /// A call that got its permit at once runs the inner future in place; only a call
    /// that must wait is boxed.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Sending {
            #[pin]
            future: F,
            observer: Option<Observer>,
        },
        Waiting {
            future: Boxed,
        },
        Refused {
            retry_after: Duration,
            key: Option<String>,
        },
    }
}

/// Hands a response's headers to the limiter, for the key the request drew from.
pub(crate) struct Observer {
    pub(crate) key: Arc<KeyState>,
}

impl Observer {
    pub(crate) fn observe(&self, response: &Response) {
        self.key.observe(response.status(), response.headers());
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn sending(future: F, observer: Option<Observer>) -> Self {
        Self {
            state: State::Sending { future, observer },
        }
    }

    pub(crate) fn waiting(future: Boxed) -> Self {
        Self {
            state: State::Waiting { future },
        }
    }

    pub(crate) fn refused(retry_after: Duration, key: &RateLimitKey) -> Self {
        Self {
            state: State::Refused {
                retry_after,
                key: key.as_public_str().map(str::to_owned),
            },
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
        match self.project().state.project() {
            StateProj::Sending { future, observer } => {
                let response = ready!(future.poll(cx)).map_err(|e| Error::from_inner(e.into()))?;
                if let Some(observer) = observer.take() {
                    observer.observe(&response);
                }
                Poll::Ready(Ok(response))
            }
            StateProj::Waiting { future } => future.as_mut().poll(cx),
            StateProj::Refused { retry_after, key } => Poll::Ready(Err(Error::RateLimited {
                retry_after: *retry_after,
                key: key.clone(),
                idempotency_key: None,
            })),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Sending { .. } => "sending",
            State::Waiting { .. } => "waiting",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

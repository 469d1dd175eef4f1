use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use reqwest::Response;

use super::replay::put_key;
use super::settle::{Keyed, Settled};
use crate::boxed::BoxResponseFuture;
use crate::error::{BoxError, Error};

pin_project! {
    /// The future returned by [`Idempotency`](super::Idempotency).
    ///
    /// The inner call runs in place: for a request that needs no key, for a keyed call
    /// without a ledger, and for a keyed call whose ledger answered at once (the memory
    /// ledger always does). Reading a recorded call's body, and waiting on a ledger that
    /// does I/O or on a key in flight elsewhere, is boxed.
    ///
    /// Dropping it before the call ends settles a reservation it holds at once: released if
    /// nothing was sent yet, marked unknown otherwise.
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
            inner: F,
            // `None` for a request that needs no key.
            keyed: Option<Keyed>,
        },
        Boxed {
            future: BoxResponseFuture,
        },
        Ready {
            result: Option<Result<Response, Error>>,
        },
    }
}

impl<F> ResponseFuture<F> {
    /// The inner call, with nothing to do after it.
    #[inline(always)]
    pub(crate) fn passthrough(inner: F) -> Self {
        Self::sending(inner, None)
    }

    #[inline(always)]
    pub(crate) fn sending(inner: F, keyed: Option<Keyed>) -> Self {
        Self {
            state: State::Sending { inner, keyed },
        }
    }

    pub(crate) fn boxed(future: BoxResponseFuture) -> Self {
        Self {
            state: State::Boxed { future },
        }
    }

    pub(crate) fn ready(result: Result<Response, Error>) -> Self {
        Self {
            state: State::Ready {
                result: Some(result),
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn is_passthrough(&self) -> bool {
        matches!(self.state, State::Sending { keyed: None, .. })
    }

    #[cfg(test)]
    pub(crate) fn is_boxed(&self) -> bool {
        matches!(self.state, State::Boxed { .. })
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Sending { keyed: None, .. } => "passthrough",
            State::Sending { keyed: Some(_), .. } => "sending",
            State::Boxed { .. } => "boxed",
            State::Ready { .. } => "ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut future = match self.as_mut().project().state.project() {
            StateProj::Sending { inner, keyed } => {
                if let Some(keyed) = keyed {
                    // From the first poll on, the request may be on the wire.
                    keyed.sending();
                }
                let mut result = ready!(inner.poll(cx)).map_err(|e| Error::from_inner(e.into()));
                let Some(keyed) = keyed.take() else {
                    return Poll::Ready(result);
                };
                let (key, lease) = keyed.into_parts();
                let Some(lease) = lease else {
                    // The key goes on the outcome where it lies.
                    put_key(&mut result, key);
                    return Poll::Ready(result);
                };
                match lease.settle(key, result) {
                    Settled::Now(result) => return Poll::Ready(result),
                    Settled::Later(future) => future,
                }
            }
            StateProj::Boxed { future } => return future.as_mut().poll(cx),
            StateProj::Ready { result } => {
                return Poll::Ready(
                    result
                        .take()
                        .expect("idempotency future polled after completion"),
                );
            }
        };
        let polled = future.as_mut().poll(cx);
        // The inner future is done: its space goes to the rest of the call.
        self.project().state.set(State::Boxed { future });
        polled
    }
}

//! A response body that fails with a timeout once the call's deadline has passed.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use reqwest::Body;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::error::{BoxError, Error};

pin_project! {
    /// `inner`, until `deadline`: then one timeout error and the end.
    ///
    /// Like the deadline's future, the timer starts only when the body is not ready: a body
    /// already received whole never touches the runtime's timer.
    pub(crate) struct DeadlineBody {
        #[pin]
        inner: Body,
        #[pin]
        sleep: Option<Sleep>,
        deadline: Instant,
        limit: Duration,
        expired: bool,
    }
}

impl DeadlineBody {
    pub(crate) fn new(inner: Body, deadline: Instant, limit: Duration) -> Self {
        Self {
            inner,
            sleep: None,
            deadline,
            limit,
            expired: false,
        }
    }
}

/// The body error of a read past the deadline: an `io::Error` of kind `TimedOut`, which
/// `reqwest::Error::is_timeout` recognizes, around the steadfast timeout.
fn timed_out(limit: Duration) -> BoxError {
    let timeout = Error::Timeout {
        elapsed: limit,
        idempotency_key: None,
    };
    Box::new(io::Error::new(io::ErrorKind::TimedOut, timeout))
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if *this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(sleep_until(*this.deadline)));
        }
        match this.sleep.as_pin_mut().map(|s| s.poll(cx)) {
            Some(Poll::Ready(())) => {
                *this.expired = true;
                Poll::Ready(Some(Err(timed_out(*this.limit))))
            }
            _ => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

//! The response body of [`Deduplicate`](super::Deduplicate): a replayed answer, or the
//! handler's own body after what was read of it.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

/// The body of an answer from [`Deduplicate`](super::Deduplicate): bytes it holds (a
/// replayed answer, one of its own, or a handler's answer read whole to be kept), or the
/// handler's body after the bytes already read from it.
///
/// axum turns it into a response like any body; it is built from [`Bytes`] too, so that
/// [`VerifySignature`](super::VerifySignature) can wrap a deduplicated handler.
pub struct WebhookBody<B: HttpBody> {
    head: Option<Bytes>,
    /// The error the handler's body met while being read, given where it happened.
    error: Option<B::Error>,
    rest: Option<Pin<Box<B>>>,
}

impl<B: HttpBody> WebhookBody<B> {
    /// A body of `bytes` only.
    pub(crate) fn full(bytes: Bytes) -> Self {
        Self {
            head: (!bytes.is_empty()).then_some(bytes),
            error: None,
            rest: None,
        }
    }

    /// `head`, then what is left of `rest`.
    pub(crate) fn prefixed(head: Bytes, rest: Pin<Box<B>>) -> Self {
        Self {
            head: (!head.is_empty()).then_some(head),
            error: None,
            rest: Some(rest),
        }
    }

    /// `head`, then `error`, where reading the handler's body broke.
    pub(crate) fn failed(head: Bytes, error: B::Error) -> Self {
        Self {
            head: (!head.is_empty()).then_some(head),
            error: Some(error),
            rest: None,
        }
    }
}

impl<B: HttpBody> From<Bytes> for WebhookBody<B> {
    fn from(bytes: Bytes) -> Self {
        Self::full(bytes)
    }
}

impl<B: HttpBody> fmt::Debug for WebhookBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookBody")
            .field("head_bytes", &self.head.as_ref().map(Bytes::len))
            .field("failed", &self.error.is_some())
            .field("streaming", &self.rest.is_some())
            .finish()
    }
}

impl<B> HttpBody for WebhookBody<B>
where
    B: HttpBody<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        // Nothing here is pinned in place: the inner body is pinned on the heap.
        let this = self.get_mut();
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if let Some(error) = this.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match &mut this.rest {
            Some(rest) => rest.as_mut().poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none()
            && self.error.is_none()
            && self.rest.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        let rest = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint);
        let mut hint = SizeHint::new();
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(head));
        }
        hint.set_lower(rest.lower().saturating_add(head));
        hint
    }
}

impl<B: HttpBody> Unpin for WebhookBody<B> {}

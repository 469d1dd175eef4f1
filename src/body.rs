//! Replacing the body of a `reqwest::Response` while keeping the rest of it: the log layer
//! and the idempotency ledger put back what they read, the deadline layer bounds what the
//! caller reads.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use reqwest::{Body, Response, ResponseBuilderExt as _};

/// Splits `response` into its parts (the URL moved into their extensions) and its body.
pub(crate) fn split(response: Response) -> (http::response::Parts, Body) {
    // reqwest keeps the URL beside the `http` response, and only its builder extension can
    // put it back in.
    // The URL goes into the response's own extension map (which reqwest's responses have
    // already): no second map to build and merge.
    let url = response.url().clone();
    let (mut parts, body) = http::Response::from(response).into_parts();
    let mut carrier = http::Response::builder();
    if let Some(extensions) = carrier.extensions_mut() {
        *extensions = std::mem::take(&mut parts.extensions);
    }
    if let Ok(carrier) = carrier.url(url).body(()) {
        parts.extensions = carrier.into_parts().0.extensions;
    }
    (parts, body)
}

/// The response made of `parts` from [`split`] and `body`.
pub(crate) fn join(parts: http::response::Parts, body: Body) -> Response {
    Response::from(http::Response::from_parts(parts, body))
}

/// Rebuilds `response` around `f(body)`: same status, version, headers, extensions and URL.
pub(crate) fn map_body(response: Response, f: impl FnOnce(Body) -> Body) -> Response {
    let (parts, body) = split(response);
    join(parts, f(body))
}

/// What follows the bytes already read from a body.
pub(crate) enum Tail {
    /// The body, not read further.
    Rest(Body),
    /// The error the read met, for the caller to meet too, where it broke.
    Error(reqwest::Error),
}

/// A body made of the chunks already read, then its tail.
pub(crate) struct Prefixed {
    head: std::vec::IntoIter<Bytes>,
    tail: Option<Tail>,
}

impl Prefixed {
    /// The chunks in `head`, then `tail`.
    pub(crate) fn new(head: Vec<Bytes>, tail: Tail) -> Self {
        Self {
            head: head.into_iter(),
            tail: Some(tail),
        }
    }
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        let this = self.get_mut();
        if let Some(chunk) = this.head.next() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(Tail::Rest(body)) = &mut this.tail {
            return Pin::new(body).poll_frame(cx);
        }
        Poll::Ready(match this.tail.take() {
            Some(Tail::Error(e)) => Some(Err(e)),
            _ => None,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.head.len() == 0
            && match &self.tail {
                None => true,
                Some(Tail::Rest(body)) => body.is_end_stream(),
                Some(Tail::Error(_)) => false,
            }
    }

    fn size_hint(&self) -> SizeHint {
        let head: u64 = self.head.as_slice().iter().map(|c| c.len() as u64).sum();
        let rest = match &self.tail {
            Some(Tail::Rest(body)) => body.size_hint(),
            _ => SizeHint::with_exact(0),
        };
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(head));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(head));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;
    #[tokio::test]
    async fn a_prefixed_body_yields_the_head_then_the_rest() {
        let body = Prefixed::new(
            vec![Bytes::from("ab"), Bytes::from("c")],
            Tail::Rest(Body::from("def")),
        );
        assert_eq!(body.size_hint().exact(), Some(6));
        let bytes = body.collect().await.expect("body").to_bytes();
        assert_eq!(bytes, "abcdef");
    }

    #[tokio::test]
    async fn everything_but_the_body_is_kept() {
        let url: reqwest::Url = "http://127.0.0.1:9/orders?page=2".parse().expect("url");
        let mut original = http::Response::builder()
            .status(418)
            .version(http::Version::HTTP_10)
            .header("x-request-id", "req-1")
            .url(url.clone())
            .body("old")
            .expect("response");
        original.extensions_mut().insert(7_u8);
        let rebuilt = map_body(Response::from(original), |_| Body::from("new"));
        assert_eq!(rebuilt.status(), 418);
        assert_eq!(rebuilt.version(), http::Version::HTTP_10);
        assert_eq!(rebuilt.headers()["x-request-id"], "req-1");
        assert_eq!(rebuilt.url(), &url);
        assert_eq!(rebuilt.extensions().get::<u8>(), Some(&7));
        assert_eq!(rebuilt.text().await.expect("body"), "new");
    }
}

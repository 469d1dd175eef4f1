//! Reading a recorded call's body: up to a byte cap and a time bound, never more.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use reqwest::{Response, ResponseBuilderExt, Url};
use tokio::time::Instant;

use super::store::{BodyOmitted, StoredResponse};
use crate::body::{Prefixed, Tail};

/// A response whose body was read for the ledger.
pub(crate) struct Buffered {
    /// A response equal to the original: its body whole, or what was read followed by the
    /// rest of the stream.
    pub(crate) response: Response,
    /// What the ledger keeps: the body when it was read whole within the cap.
    pub(crate) stored: StoredResponse,
}

/// Reads the body up to `max_bytes`, until `deadline` at the latest. A body that is larger or slower
/// is not kept: the caller gets what was read followed by the rest of the stream, and the
/// snapshot says why the body is missing. What is held meanwhile is at most `max_bytes`,
/// copied, plus the one chunk that crossed the cap, as it came.
pub(crate) async fn buffer(
    mut response: Response,
    max_bytes: usize,
    deadline: Instant,
) -> Buffered {
    let (status, version) = (response.status(), response.version());
    let headers = std::mem::take(response.headers_mut());
    let extensions = std::mem::take(response.extensions_mut());
    let url = response.url().clone();
    let mut read = Read::default();
    let mut tail = None;
    let mut sleep = pin!(tokio::time::sleep_until(deadline));
    let cut = loop {
        let mut chunk = pin!(response.chunk());
        // The timer is polled only when the body is not ready at once.
        let next = poll_fn(|cx| match chunk.as_mut().poll(cx) {
            Poll::Ready(chunk) => Poll::Ready(Some(chunk)),
            Poll::Pending => sleep.as_mut().poll(cx).map(|()| None),
        })
        .await;
        match next {
            None => break Some(BodyOmitted::TooSlow),
            Some(Err(e)) => {
                // The caller meets the same error where the body broke, as it would without
                // the ledger: the read prefix, then the error.
                let stored = StoredResponse::omitting(status, &headers, BodyOmitted::Unreadable);
                let head = Some(read.freeze()).filter(|b| !b.is_empty());
                let body =
                    reqwest::Body::wrap(Prefixed::new(head.into_iter().collect(), Tail::Error(e)));
                return Buffered {
                    response: rebuild(status, version, headers, extensions, body, url),
                    stored,
                };
            }
            Some(Ok(None)) => break None,
            Some(Ok(Some(chunk))) if read.len + chunk.len() > max_bytes => {
                // The chunk that crosses the cap is handed on as it is, never copied.
                tail = Some(chunk);
                break Some(BodyOmitted::TooLarge);
            }
            Some(Ok(Some(chunk))) => read.push(chunk),
        }
    };
    let (stored, body) = match cut {
        None => {
            let body = read.freeze();
            // The snapshot copies what it keeps (see `StoredResponse::new`).
            let stored = StoredResponse::new(status, &headers, Some(&body));
            (stored, reqwest::Body::from(body))
        }
        Some(why) => {
            tracing::warn!(
                http.response.status_code = status.as_u16(),
                reason = ?why,
                "response body not kept in the idempotency ledger; a replay will have none"
            );
            let rest = http::Response::<reqwest::Body>::from(response).into_body();
            let head = [Some(read.freeze()).filter(|b| !b.is_empty()), tail];
            let body = reqwest::Body::wrap(Prefixed::new(
                head.into_iter().flatten().collect(),
                Tail::Rest(rest),
            ));
            (StoredResponse::omitting(status, &headers, why), body)
        }
    };
    Buffered {
        response: rebuild(status, version, headers, extensions, body, url),
        stored,
    }
}

/// The chunks read so far: one chunk (the common case) is kept as it came.
#[derive(Default)]
struct Read {
    first: Bytes,
    more: BytesMut,
    len: usize,
}

impl Read {
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if self.first.is_empty() && self.more.is_empty() {
            self.first = chunk;
            return;
        }
        if self.more.is_empty() {
            self.more
                .extend_from_slice(&std::mem::take(&mut self.first));
        }
        self.more.extend_from_slice(&chunk);
    }

    fn freeze(self) -> Bytes {
        if self.more.is_empty() {
            self.first
        } else {
            self.more.freeze()
        }
    }
}

/// A response with `body`, as reqwest builds one: the URL travels in the extensions, which
/// are the response's own (so that adding the idempotency key later allocates no map).
pub(crate) fn rebuild(
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
    extensions: http::Extensions,
    body: reqwest::Body,
    url: Url,
) -> Response {
    let mut builder = http::Response::builder().status(status).version(version);
    if let Some(own) = builder.extensions_mut() {
        *own = extensions;
    }
    let mut response = builder
        .url(url)
        .body(body)
        // Only an invalid status or version can fail, and both come from a real response.
        .unwrap_or_else(|_| http::Response::new(reqwest::Body::from(Bytes::new())));
    *response.headers_mut() = headers;
    Response::from(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::Replayed;

    fn minute() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    #[tokio::test]
    async fn the_ledger_keeps_a_copy_of_the_body_and_the_caller_gets_it_whole() {
        let read = Bytes::from(br#"{"id":"inv_1"} and the rest of a read buffer"#.to_vec());
        let response = Response::from(http::Response::new(read.slice(..14)));
        let Buffered { response, stored } = buffer(response, 1024, minute()).await;
        let kept = stored.body().expect("under the cap");
        assert_eq!(&kept[..], br#"{"id":"inv_1"}"#);
        assert!(
            !read.as_ptr_range().contains(&kept.as_ptr()),
            "a copy, not a view"
        );
        assert_eq!(
            &response.bytes().await.expect("body")[..],
            br#"{"id":"inv_1"}"#
        );
    }

    #[tokio::test]
    async fn a_body_in_many_chunks_is_read_whole_and_the_rest_kept() {
        let chunks = ["{\"id\":", "\"inv_1\"", "}"].map(Ok::<_, std::io::Error>);
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let mut original = http::Response::builder()
            .status(201)
            .url("http://127.0.0.1:9/invoices".parse().expect("valid url"))
            .header("x-invoice", "inv_1")
            .body(body)
            .expect("valid response");
        original.extensions_mut().insert(Replayed);
        let read = buffer(Response::from(original), 1024, minute()).await;
        assert_eq!(
            read.stored.body().as_deref(),
            Some(&br#"{"id":"inv_1"}"#[..])
        );
        assert_eq!(read.stored.to_headers()["x-invoice"], "inv_1");
        let response = read.response;
        assert_eq!(response.status(), 201);
        assert_eq!(response.url().as_str(), "http://127.0.0.1:9/invoices");
        assert_eq!(response.headers()["x-invoice"], "inv_1");
        assert!(Replayed::is(&response), "extensions are kept");
        assert_eq!(response.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    }

    #[tokio::test]
    async fn a_body_that_fails_half_way_reaches_the_caller_broken_and_is_kept_as_none() {
        let chunks = [
            Ok("{\"id\":"),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            )),
        ];
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let read = buffer(Response::from(http::Response::new(body)), 1024, minute()).await;
        assert_eq!(read.stored.body(), None);
        assert_eq!(read.stored.omitted(), Some(BodyOmitted::Unreadable));
        // The caller gets what arrived, then the error, as without the ledger.
        let mut response = read.response;
        let first = response.chunk().await.expect("the read prefix");
        assert_eq!(first.as_deref(), Some(&b"{\"id\":"[..]));
        let error = response.chunk().await.expect_err("then the break");
        assert!(error.is_body() || error.is_decode(), "{error:?}");
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_cap_is_kept() {
        let chunks = ["01234", "5678"].map(Ok::<_, std::io::Error>);
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let read = buffer(Response::from(http::Response::new(body)), 9, minute()).await;
        assert_eq!(read.stored.body().as_deref(), Some(&b"012345678"[..]));
        assert_eq!(read.stored.omitted(), None);
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_returned_whole_but_read_only_past_the_cap() {
        let chunks = ["01234", "56789", "abcde", "fghij"].map(Ok::<_, std::io::Error>);
        let polled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&polled);
        let stream =
            futures_util::StreamExt::inspect(futures_util::stream::iter(chunks), move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        let body = reqwest::Body::wrap_stream(stream);
        let read = buffer(Response::from(http::Response::new(body)), 9, minute()).await;
        assert_eq!(read.stored.body(), None);
        assert_eq!(read.stored.omitted(), Some(BodyOmitted::TooLarge));
        assert_eq!(
            polled.load(std::sync::atomic::Ordering::Relaxed),
            2,
            "reading stopped at the first byte past the cap"
        );
        assert_eq!(
            read.response.text().await.expect("body"),
            "0123456789abcdefghij"
        );
    }
}

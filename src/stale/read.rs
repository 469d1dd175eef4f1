//! Reading a body to keep: whole, up to a byte cap and a time bound, or not at all.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Response;

use crate::body::{Prefixed, Tail, map_body};

/// Reads `response`'s body when it announces at most `max_bytes` and arrives within
/// `limit`. Returns the response (equal to the original for its caller: the body whole, or
/// what was read followed by the rest or the error) and the body when read whole.
///
/// The timer starts only when the body is not ready at once.
pub(crate) async fn read_whole(
    mut response: Response,
    max_bytes: usize,
    limit: Duration,
) -> (Response, Option<Bytes>) {
    let announced = response.content_length();
    if announced.is_none_or(|len| len > max_bytes as u64) {
        return (response, None);
    }
    let mut read: Vec<Bytes> = Vec::new();
    let mut len = 0;
    let mut sleep = None;
    let tail = loop {
        let next = {
            let mut chunk = pin!(response.chunk());
            poll_fn(|cx| match chunk.as_mut().poll(cx) {
                Poll::Ready(chunk) => Poll::Ready(Some(chunk)),
                Poll::Pending => {
                    let sleep = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                    sleep.as_mut().poll(cx).map(|()| None)
                }
            })
            .await
        };
        match next {
            Some(Ok(Some(chunk))) if len + chunk.len() <= max_bytes => {
                len += chunk.len();
                read.push(chunk);
            }
            // Longer than it said: handed on as it came, not kept.
            Some(Ok(Some(chunk))) => {
                read.push(chunk);
                break None;
            }
            Some(Ok(None)) => {
                let whole = concat(read);
                let body = whole.clone();
                return (
                    map_body(response, |_| reqwest::Body::from(body)),
                    Some(whole),
                );
            }
            Some(Err(error)) => break Some(Tail::Error(error)),
            // Too slow.
            None => break None,
        }
    };
    let response = map_body(response, |rest| {
        reqwest::Body::wrap(Prefixed::new(read, tail.unwrap_or(Tail::Rest(rest))))
    });
    (response, None)
}

/// The chunks as one buffer; one chunk (the common case) is not copied.
fn concat(mut chunks: Vec<Bytes>) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut whole = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for chunk in chunks {
        whole.extend_from_slice(&chunk);
    }
    whole.freeze()
}

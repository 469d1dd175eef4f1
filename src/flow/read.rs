//! Reading a page or bulk response body whole, up to a byte cap.

use bytes::{Bytes, BytesMut};
use reqwest::Response;

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum Unread {
    /// Longer than the cap (announced, or found while reading).
    TooLarge,
    /// The connection failed mid-body (reqwest's URL stripped).
    Broken(reqwest::Error),
}

/// The whole body of `response` if it is at most `max` bytes. A `Content-Length` over the
/// cap is refused before anything is read; what is held is never more than `max` bytes.
/// Time is bounded by the client's deadline, which covers the body by default
/// ([`ClientConfig::deadline_covers_body`](crate::ClientConfig::deadline_covers_body)).
pub(crate) async fn read_capped(mut response: Response, max: usize) -> Result<Bytes, Unread> {
    let announced = response.content_length();
    if announced.is_some_and(|len| len > max as u64) {
        return Err(Unread::TooLarge);
    }
    let capacity = announced.map_or(0, |len| usize::try_from(len).unwrap_or(max).min(max));
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Unread::Broken(e.without_url()))?
    {
        if body.len() + chunk.len() > max {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

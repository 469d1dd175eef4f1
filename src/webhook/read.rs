//! Reading a request body whole, bounded in bytes and in time.

use std::time::Duration;

use bytes::{Buf as _, Bytes, BytesMut};
use http::{HeaderMap, StatusCode, header::CONTENT_LENGTH};
use http_body::Body as HttpBody;
use http_body_util::BodyExt as _;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unread {
    /// Longer than the cap (said so up front, or found while reading).
    TooLarge,
    /// Not finished within the time bound.
    TooSlow,
    /// The connection failed or the body was malformed.
    Broken,
}

impl Unread {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Self::Broken => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::TooLarge => "body_too_large",
            Self::TooSlow => "body_too_slow",
            Self::Broken => "body_unreadable",
        }
    }
}

/// The whole body, if it is at most `max` bytes and arrives within `within`. A
/// `Content-Length` above `max` is refused before anything is read.
pub(crate) async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    max: usize,
    within: Duration,
) -> Result<Bytes, Unread>
where
    B: HttpBody,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Unread::TooLarge);
    }
    match tokio::time::timeout(within, collect(body, max)).await {
        Ok(result) => result,
        Err(_) => Err(Unread::TooSlow),
    }
}

async fn collect<B: HttpBody>(body: B, max: usize) -> Result<Bytes, Unread> {
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Unread::Broken)?;
        if let Ok(mut data) = frame.into_data() {
            let chunk = data.copy_to_bytes(data.remaining());
            if out.len() + chunk.len() > max {
                return Err(Unread::TooLarge);
            }
            out.extend_from_slice(&chunk);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn bounded_in_bytes_and_time() {
        let none = HeaderMap::new();
        let full = |text: &'static str| Full::new(Bytes::from_static(text.as_bytes()));
        assert_eq!(
            read_body(&none, full("hello"), 5, Duration::from_secs(1)).await,
            Ok(Bytes::from_static(b"hello"))
        );
        assert_eq!(
            read_body(&none, full("hello!"), 5, Duration::from_secs(1)).await,
            Err(Unread::TooLarge)
        );
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "999999".parse().expect("valid"));
        assert_eq!(
            read_body(&declared, full(""), 5, Duration::from_secs(1)).await,
            Err(Unread::TooLarge)
        );
        let stalled = StreamBody::new(futures_util::stream::pending::<
            Result<http_body::Frame<Bytes>, std::convert::Infallible>,
        >());
        assert_eq!(
            read_body(&none, stalled, 5, Duration::from_secs(10)).await,
            Err(Unread::TooSlow)
        );
    }
}

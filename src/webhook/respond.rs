//! The short plain-text answers the webhook services give of their own.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};

/// A response with `status` and a fixed body that says no more than the status does.
pub(crate) fn plain<B: From<Bytes>>(status: StatusCode) -> Response<B> {
    let text: &'static str = match status {
        StatusCode::UNAUTHORIZED => "invalid signature\n",
        StatusCode::PAYLOAD_TOO_LARGE => "payload too large\n",
        StatusCode::REQUEST_TIMEOUT => "request timeout\n",
        StatusCode::CONFLICT => "delivery in progress\n",
        StatusCode::SERVICE_UNAVAILABLE => "try again later\n",
        StatusCode::ACCEPTED => "accepted\n",
        _ => "bad request\n",
    };
    let mut response = Response::new(B::from(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if matches!(
        status,
        StatusCode::CONFLICT | StatusCode::SERVICE_UNAVAILABLE
    ) {
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

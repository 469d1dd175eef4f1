//! Spare copies of a request, for the attempts after the first.

use bytes::Bytes;
use reqwest::Request;

/// A copy of `request` for another attempt; `None` when its body is a stream, which can be
/// sent once only.
///
/// A request without a body (a GET), or with a small one (an API call's JSON), is copied
/// here, without the two allocations `Request::try_clone` spends on an extension map it
/// then replaces: reqwest 0.13 keeps only the per-request timeout in a request's extensions
/// (they are not public, and it reads no others when it sends), so the timeout is copied,
/// and only when there is one. A small body is copied; a larger one is shared by
/// `Request::try_clone`, the only way to share a body's bytes.
pub(crate) fn try_clone(request: &Request) -> Option<Request> {
    let body = match request.body().map(reqwest::Body::as_bytes) {
        None => None,
        Some(Some(small)) if small.len() <= COPIED_BODY => {
            Some(reqwest::Body::from(Bytes::copy_from_slice(small)))
        }
        Some(_) => return request.try_clone(),
    };
    let mut copy = Request::new(request.method().clone(), request.url().clone());
    // A request without headers (reqwest adds a client's defaults when it sends) keeps the
    // new request's empty map.
    if !request.headers().is_empty() {
        *copy.headers_mut() = request.headers().clone();
    }
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    *copy.body_mut() = body;
    Some(copy)
}

/// The largest body copied rather than shared: copying it costs less than the allocations
/// `Request::try_clone` makes.
const COPIED_BODY: usize = 1024;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::{Method, Version};

    use super::*;

    fn same(a: &Request, b: &Request) {
        assert_eq!(a.method(), b.method());
        assert_eq!(a.url(), b.url());
        assert_eq!(a.headers(), b.headers());
        assert_eq!(a.version(), b.version());
        assert_eq!(a.timeout(), b.timeout());
        assert_eq!(
            a.body().and_then(reqwest::Body::as_bytes),
            b.body().and_then(reqwest::Body::as_bytes)
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn copies_what_reqwest_copies() {
        let client = reqwest::Client::new();
        let requests = [
            client.get("http://127.0.0.1:9/orders?status=open").build(),
            client
                .get("http://127.0.0.1:9/orders/42")
                .header("x-api-key", "fake-key")
                .timeout(Duration::from_secs(2))
                .version(Version::HTTP_10)
                .build(),
            client
                .post("http://user:pass@127.0.0.1:9/invoices")
                .header("idempotency-key", "invoice-42")
                .bearer_auth("fake-token")
                .timeout(Duration::from_secs(3))
                .version(Version::HTTP_2)
                .body(r#"{"total_cents":1999}"#)
                .build(),
            client
                .request(Method::PATCH, "https://api.example.com/invoices/1")
                .body(Vec::new())
                .build(),
            client
                .put("https://api.example.com/files/1")
                .body(vec![7; COPIED_BODY + 1])
                .build(),
        ];
        for request in requests {
            let request = request.expect("valid request");
            let ours = try_clone(&request).expect("replayable");
            let theirs = request.try_clone().expect("replayable");
            same(&ours, &theirs);
            same(&ours, &request);
        }
    }

    #[test]
    fn a_stream_cannot_be_copied() {
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>("chunk")]);
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:9/uploads")
            .body(reqwest::Body::wrap_stream(stream))
            .build()
            .expect("valid request");
        assert!(try_clone(&request).is_none());
        assert!(request.try_clone().is_none(), "as reqwest says");
    }
}

//! Replacing the body of a `reqwest::Response` while keeping the rest of it: the log layer
//! puts back what it read, the deadline layer bounds what the caller reads.

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

#[cfg(test)]
mod tests {
    use super::*;

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

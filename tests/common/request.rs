//! Requests and servers' scripts shared by the suites.

use tower::{Service, ServiceExt};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub fn request(method: reqwest::Method, url: &str) -> reqwest::Request {
    reqwest::Request::new(method, url.parse().expect("valid url"))
}

pub fn get(url: &str) -> reqwest::Request {
    request(reqwest::Method::GET, url)
}

/// A bodiless POST carrying `Idempotency-Key: key`.
pub fn keyed_post(url: &str, key: &'static str) -> reqwest::Request {
    let mut post = request(reqwest::Method::POST, url);
    post.headers_mut().insert(
        "idempotency-key",
        reqwest::header::HeaderValue::from_static(key),
    );
    post
}

/// Waits for `service` to be ready, then calls it.
pub async fn call<S>(service: &mut S, request: reqwest::Request) -> Result<S::Response, S::Error>
where
    S: Service<reqwest::Request>,
{
    service.ready().await?.call(request).await
}

/// Answers `/orders` with `first` for the first `times` requests, then with `then`.
pub async fn respond(
    server: &MockServer,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    respond_at(server, "/orders", first, times, then).await;
}

/// Answers `at` with `first` for the first `times` requests, then with `then`.
pub async fn respond_at(
    server: &MockServer,
    at: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(path(at))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(path(at))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}

/// A server whose `/orders` answers `first` for the first `times` requests, then `then`.
pub async fn orders_server(first: u16, times: u64, then: u16) -> MockServer {
    let server = MockServer::start().await;
    let (first, then) = (ResponseTemplate::new(first), ResponseTemplate::new(then));
    respond(&server, first, times, then).await;
    server
}

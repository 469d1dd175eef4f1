use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::IdempotencyLayer;
use super::ResponseFuture;
use super::call;
use super::layer::Settings;
use crate::error::{BoxError, Error};

/// Gives POST and PATCH requests an idempotency key and answers repeated keys from the
/// ledger. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct Idempotency<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> Idempotency<S> {
    /// Wraps `inner`, keying calls as `layer` says; the same as `layer.layer(inner)`.
    #[must_use]
    pub fn new(inner: S, layer: &IdempotencyLayer) -> Self {
        Self {
            inner,
            settings: Arc::clone(layer.settings()),
        }
    }

    /// The inner service.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    #[must_use]
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Settles a key whose outcome is unknown: see [`IdempotencyLayer::resolve`](super::IdempotencyLayer::resolve).
    ///
    /// # Errors
    ///
    /// The future fails with a [`StoreError`](super::store::StoreError) when the ledger
    /// cannot be reached.
    pub fn resolve(
        &self,
        method: &reqwest::Method,
        url: &reqwest::Url,
        key: &str,
        resolution: super::store::Resolution,
    ) -> super::store::StoreFuture<bool> {
        self.settings.resolve(method, url, key, resolution)
    }

    /// Consumes the idempotency service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Idempotency<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::from_inner(e.into()))
    }

    #[inline(always)]
    fn call(&mut self, request: Request) -> Self::Future {
        call::call(&mut self.inner, &self.settings, request)
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt as _;
    use tower_layer::Layer as _;
    use tower_test::mock;

    use super::*;
    use crate::idempotency::{IdempotencyConfig, IdempotencyKey, IdempotencyLayer};

    fn request(method: reqwest::Method) -> Request {
        Request::new(
            method,
            "http://127.0.0.1:9/orders".parse().expect("valid url"),
        )
    }

    /// Answers the next request the inner service sees with an empty 200 and returns it; a
    /// request that never comes fails the test (after 5 s) rather than hanging it.
    async fn answer_ok(handle: &mut mock::Handle<Request, Response>) -> Request {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), handle.next_request());
        let (sent, answer) = next
            .await
            .expect("the request went on")
            .expect("the service is alive");
        answer.send_response(Response::from(http::Response::new("")));
        sent
    }

    fn key_sent(request: &Request) -> Option<&str> {
        request
            .headers()
            .get("idempotency-key")
            .map(|key| key.to_str().expect("visible ASCII"))
    }

    #[tokio::test]
    async fn only_keyed_calls_leave_the_fast_path() {
        let (inner, mut handle) = mock::pair::<Request, Response>();
        let layer = IdempotencyLayer::new(&IdempotencyConfig::default()).expect("valid");
        let mut service = layer.layer(inner);

        let get = service
            .ready()
            .await
            .expect("ready")
            .call(request(reqwest::Method::GET));
        assert!(get.is_passthrough(), "{get:?}");
        let (response, sent) = tokio::join!(get, answer_ok(&mut handle));
        assert_eq!(key_sent(&sent), None);
        assert_eq!(IdempotencyKey::of(&response.expect("ok")), None);

        let post = service
            .ready()
            .await
            .expect("ready")
            .call(request(reqwest::Method::POST));
        assert!(!post.is_passthrough());
        assert!(
            !post.is_boxed(),
            "the memory ledger answers in place: {post:?}"
        );
        let (response, sent) = tokio::join!(post, answer_ok(&mut handle));
        let response = response.expect("ok");
        let generated = IdempotencyKey::of(&response).expect("a generated key");
        assert_eq!(
            key_sent(&sent),
            Some(generated),
            "the key sent is the key told"
        );

        let mut keyed = request(reqwest::Method::GET);
        keyed
            .headers_mut()
            .insert("idempotency-key", "order-42".parse().expect("valid"));
        let keyed = service.ready().await.expect("ready").call(keyed);
        assert!(!keyed.is_passthrough());
        let (response, sent) = tokio::join!(keyed, answer_ok(&mut handle));
        assert_eq!(key_sent(&sent), Some("order-42"));
        assert_eq!(IdempotencyKey::of(&response.expect("ok")), Some("order-42"));
        drop(service);
        assert!(
            handle.next_request().await.is_none(),
            "one request per call"
        );
    }
}

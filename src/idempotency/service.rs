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
    use std::convert::Infallible;

    use tower_layer::Layer as _;

    use super::*;
    use crate::idempotency::{IdempotencyConfig, IdempotencyKey, IdempotencyLayer};

    fn ok(_: Request) -> std::future::Ready<Result<Response, Infallible>> {
        std::future::ready(Ok(Response::from(http::Response::new(""))))
    }

    fn request(method: reqwest::Method) -> Request {
        Request::new(
            method,
            "http://127.0.0.1:9/orders".parse().expect("valid url"),
        )
    }

    #[tokio::test]
    async fn only_keyed_calls_leave_the_fast_path() {
        let layer = IdempotencyLayer::new(&IdempotencyConfig::default()).expect("valid");
        let mut service = layer.layer(tower::service_fn(ok));

        let get = service.call(request(reqwest::Method::GET));
        assert!(get.is_passthrough(), "{get:?}");
        let response = get.await.expect("ok");
        assert_eq!(IdempotencyKey::of(&response), None);

        let post = service.call(request(reqwest::Method::POST));
        assert!(!post.is_passthrough());
        assert!(
            !post.is_boxed(),
            "the memory ledger answers in place: {post:?}"
        );
        assert!(IdempotencyKey::of(&post.await.expect("ok")).is_some());

        let mut keyed = request(reqwest::Method::GET);
        keyed
            .headers_mut()
            .insert("idempotency-key", "order-42".parse().expect("valid"));
        let keyed = service.call(keyed);
        assert!(!keyed.is_passthrough());
        let response = keyed.await.expect("ok");
        assert_eq!(IdempotencyKey::of(&response), Some("order-42"));
    }
}

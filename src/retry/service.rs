use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;

use super::policy::Policy;
use super::{ResponseFuture, RetryLayer};
use crate::error::{BoxError, Error, without_url};

/// Retries failed attempts of a request, following the crate's retry rules.
///
/// See the [module docs](super) for when a request is retried and how long it waits.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> Retry<S> {
    /// Wraps `inner`, retrying as `layer` says; the same as `layer.layer(inner)`.
    #[must_use]
    pub fn new(inner: S, layer: &RetryLayer) -> Self {
        Self {
            inner,
            policy: Arc::clone(layer.policy()),
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

    /// Consumes the retry service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Retry<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = Response;
    type Error = Error;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::transport(without_url(e.into())))
    }

    #[inline(always)]
    fn call(&mut self, request: Request) -> Self::Future {
        // The first attempt goes out on this ready service; the future keeps a clone for
        // any retry, and makes it ready first.
        let inner = self.inner.clone();
        ResponseFuture::new(&mut self.inner, inner, Arc::clone(&self.policy), request)
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt as _;
    use tower_layer::Layer as _;
    use tower_test::mock;

    use super::*;
    use crate::retry::{RetryConfig, RetryLayer, RetryStats};

    fn request() -> Request {
        Request::new(
            reqwest::Method::GET,
            "http://127.0.0.1:9/orders".parse().expect("valid url"),
        )
    }

    /// The next attempt the inner service sees; a missing attempt fails instead of hanging
    /// (the paused clock jumps the hour at once).
    async fn next_attempt(
        handle: &mut mock::Handle<Request, Response>,
    ) -> (Request, mock::SendResponse<Response>) {
        tokio::time::timeout(std::time::Duration::from_secs(3600), handle.next_request())
            .await
            .expect("an attempt")
            .expect("the service is alive")
    }

    fn status(code: u16) -> Response {
        let mut response = http::Response::new("");
        *response.status_mut() = http::StatusCode::from_u16(code).expect("valid");
        Response::from(response)
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_attempt_runs_in_place_and_a_failure_moves_on() {
        let (inner, mut handle) = mock::pair::<Request, Response>();
        let layer = RetryLayer::new(&RetryConfig::default()).expect("valid");
        let mut service = layer.layer(inner);

        let future = service.ready().await.expect("ready").call(request());
        assert!(
            format!("{future:?}").contains("first attempt"),
            "{future:?}"
        );
        let call = tokio::spawn(future);
        let (first, answer) = next_attempt(&mut handle).await;
        assert_eq!(first.url().path(), "/orders");
        answer.send_response(status(503));
        let (retry, answer) = next_attempt(&mut handle).await;
        assert_eq!(retry.url().path(), "/orders");
        answer.send_response(status(200));
        let response = call.await.expect("joined").expect("the retry succeeds");
        assert_eq!(response.status(), 200);
        assert_eq!(RetryStats::of(&response).attempts, 2);

        let call = tokio::spawn(service.ready().await.expect("ready").call(request()));
        let (_, answer) = next_attempt(&mut handle).await;
        answer.send_response(status(200));
        let response = call.await.expect("joined").expect("ok");
        assert_eq!(RetryStats::of(&response).attempts, 1);
        drop(service);
        assert!(handle.next_request().await.is_none(), "no other attempt");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_after_an_attempt_that_may_have_been_applied_keeps_the_outcome_unknown() {
        let (inner, mut handle) = mock::pair::<Request, Response>();
        let layer = RetryLayer::new(&RetryConfig::default()).expect("valid");
        let mut service = layer.layer(inner);

        let call = tokio::spawn(service.ready().await.expect("ready").call(request()));
        // 500 first, then a rate limiter's refusal with a long wait.
        let (_, answer) = next_attempt(&mut handle).await;
        answer.send_response(status(500));
        let (_, answer) = next_attempt(&mut handle).await;
        answer.send_error(Error::RateLimited {
            retry_after: std::time::Duration::from_secs(600),
            key: None,
            idempotency_key: None,
        });
        let error = call.await.expect("joined").expect_err("refused");
        drop(service);
        assert!(handle.next_request().await.is_none(), "no third attempt");

        assert!(
            matches!(
                error,
                Error::NotRetried {
                    why: crate::NotRetried::RetryAfterTooLong,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.outcome(), crate::classify::Applied::MaybeApplied);
    }
}

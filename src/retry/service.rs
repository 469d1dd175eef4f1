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
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tower::ServiceExt as _;
    use tower_layer::Layer as _;

    use super::*;
    use crate::retry::{RetryConfig, RetryLayer, RetryStats};

    fn request() -> Request {
        Request::new(
            reqwest::Method::GET,
            "http://127.0.0.1:9/orders".parse().expect("valid url"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_attempt_runs_in_place_and_a_failure_moves_on() {
        let calls = Arc::new(AtomicU32::new(0));
        let flaky = tower::service_fn({
            let calls = Arc::clone(&calls);
            move |_: Request| {
                // 503 first, then 200.
                let status = if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    503
                } else {
                    200
                };
                let mut response = http::Response::new("");
                *response.status_mut() = http::StatusCode::from_u16(status).expect("valid");
                std::future::ready(Ok::<_, Infallible>(Response::from(response)))
            }
        });
        let layer = RetryLayer::new(&RetryConfig::default()).expect("valid");
        let mut service = layer.layer(flaky);

        let future = service.ready().await.expect("ready").call(request());
        assert!(
            format!("{future:?}").contains("first attempt"),
            "{future:?}"
        );
        let response = future.await.expect("the retry succeeds");
        assert_eq!(response.status(), 200);
        assert_eq!(RetryStats::of(&response).attempts, 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let response = service.ready().await.expect("ready").call(request()).await;
        assert_eq!(RetryStats::of(&response.expect("ok")).attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_after_an_attempt_that_may_have_been_applied_keeps_the_outcome_unknown() {
        let calls = Arc::new(AtomicU32::new(0));
        // 500 first, then a rate limiter's refusal with a long wait.
        let flaky = tower::service_fn({
            let calls = Arc::clone(&calls);
            move |_: Request| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                std::future::ready(if first {
                    let mut response = http::Response::new("");
                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    Ok(Response::from(response))
                } else {
                    Err(Error::RateLimited {
                        retry_after: std::time::Duration::from_secs(600),
                        key: None,
                        idempotency_key: None,
                    })
                })
            }
        });
        let layer = RetryLayer::new(&RetryConfig::default()).expect("valid");
        let mut service = layer.layer(flaky);

        let error = service
            .ready()
            .await
            .expect("ready")
            .call(request())
            .await
            .expect_err("refused");

        assert_eq!(calls.load(Ordering::SeqCst), 2);
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

use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response};
use tower_service::Service;
use tracing::field::Empty;
use tracing::subscriber::NoSubscriber;
use tracing::{Instrument as _, Level, Span};

use super::ResponseFuture;
use super::call::Call;
use super::layer::{LogLayer, Shared};
use crate::error::{BoxError, Error};
use crate::telemetry::{TARGET, idempotency_key};

/// Logs each call: a span with OpenTelemetry fields, events for its outcome, hooks on
/// failure, every URL, header and body redacted.
///
/// See the [module docs](super) for the spans, events and fields.
#[derive(Debug, Clone)]
pub struct Log<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Log<S> {
    /// Wraps `inner`, logging as `layer` says; the same as `layer.layer(inner)`.
    #[must_use]
    pub fn new(inner: S, layer: &LogLayer) -> Self {
        Self {
            inner,
            shared: Arc::clone(layer.shared()),
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

    /// Consumes the log service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Log<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
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
    fn call(&mut self, mut request: Request) -> Self::Future {
        let span = call_span(&request, &self.shared);
        // Nothing listens and nobody is to be called back: no allocation, no formatting.
        if !is_listened(&span)
            && self.shared.hooks.is_empty()
            && !tracing::enabled!(target: TARGET, Level::ERROR)
            && !crate::metrics::enabled()
        {
            strip_userinfo(&mut request);
            return ResponseFuture::quiet(self.inner.call(request));
        }
        let call = Call::start(Arc::clone(&self.shared), &request, span.clone());
        strip_userinfo(&mut request);
        // Inner layers that act in `call` (the idempotency layer records its key) see the
        // call span as the current one.
        let inner = span.in_scope(|| {
            tracing::trace!(
                target: TARGET,
                {
                    "http.request.headers" = %self.shared.redactor.headers(request.headers()),
                },
                "request"
            );
            self.inner.call(request)
        });
        ResponseFuture::logged(Box::pin(call.run(inner).instrument(span)))
    }
}

/// Removes URL userinfo, which reqwest never sends from a request built without its
/// `RequestBuilder` (the builder turns it into a sensitive `Authorization` header), but which
/// hyper-util's connection pool writes into its own DEBUG and TRACE events.
fn strip_userinfo(request: &mut Request) {
    let url = request.url_mut();
    if !url.username().is_empty() || url.password().is_some() {
        // Only URLs with a host have userinfo, and those accept an empty one.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
}

/// Whether a subscriber will see `span`. A span is only "disabled" when filtered out; in a
/// process where another thread has a scoped subscriber, a span made on a thread without
/// one is enabled yet goes nowhere.
fn is_listened(span: &Span) -> bool {
    !span.is_disabled() && !tracing::dispatcher::get_default(tracing::Dispatch::is::<NoSubscriber>)
}

/// The span of one logical call. Fields known at the end are declared `Empty` and
/// recorded then.
fn call_span(request: &Request, shared: &Shared) -> Span {
    let url = request.url();
    tracing::info_span!(
        target: TARGET,
        "steadfast.call",
        "otel.name" = request.method().as_str(),
        "http.request.method" = request.method().as_str(),
        "server.address" = url.host_str(),
        "server.port" = url.port_or_known_default(),
        "url.full" = %shared.redactor.url(url),
        "steadfast.idempotency_key" = idempotency_key(request, &shared.idempotency_header),
        "http.response.status_code" = Empty,
        "error.type" = Empty,
        "http.request.resend_count" = Empty,
        "steadfast.verdict" = Empty,
        "steadfast.reason" = Empty,
        "steadfast.outcome" = Empty,
        "steadfast.duration_ms" = Empty,
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt as _;
    use tower_layer::Layer as _;

    use super::*;
    use crate::log::LogLayer;

    fn request() -> Request {
        let url = "http://127.0.0.1:9/orders?token=t"
            .parse()
            .expect("valid url");
        Request::new(reqwest::Method::GET, url)
    }

    fn ok(_: Request) -> std::future::Ready<Result<Response, Infallible>> {
        std::future::ready(Ok(Response::from(http::Response::new(""))))
    }

    #[tokio::test]
    async fn nothing_is_boxed_when_nothing_listens() {
        let mut service = LogLayer::default().layer(tower::service_fn(ok));
        let future = service.call(request());
        assert!(future.is_quiet(), "{future:?}");
        assert_eq!(future.await.expect("ok").status(), 200);
    }

    #[tokio::test]
    async fn a_hook_needs_the_logged_path_even_without_a_subscriber() {
        let layer = LogLayer::default().on_give_up(|_| {});
        let mut service = layer.layer(tower::service_fn(ok));
        let future = service.ready().await.expect("ready").call(request());
        assert!(!future.is_quiet());
        future.await.expect("ok");
    }

    #[tokio::test]
    async fn a_subscriber_gets_the_logged_path() {
        let subscriber = tracing::subscriber::NoSubscriber::new();
        // NoSubscriber enables nothing: still quiet. A subscriber at INFO is not.
        let quiet = tracing::subscriber::with_default(subscriber, || {
            LogLayer::default()
                .layer(tower::service_fn(ok))
                .call(request())
                .is_quiet()
        });
        assert!(quiet);
        let subscriber = tracing_subscriber::registry();
        let quiet = tracing::subscriber::with_default(subscriber, || {
            LogLayer::default()
                .layer(tower::service_fn(ok))
                .call(request())
                .is_quiet()
        });
        assert!(!quiet);
    }
}

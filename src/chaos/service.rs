use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Request, Response, ResponseBuilderExt as _};
use tower_service::Service;

use super::layer::Shared;
use super::plan::Injection;
use super::{ChaosLayer, FaultKind, InjectedFault, ResponseFuture};
use crate::error::{BoxError, Error};

/// Injects faults into the calls it passes to the inner service: latency, a status, a
/// connection reset before the request is sent, or a timeout or reset after the inner call
/// completed.
#[derive(Debug, Clone)]
pub struct Chaos<S> {
    inner: S,
    shared: Option<Arc<Shared>>,
}

impl<S> Chaos<S> {
    /// Wraps `inner`, injecting what `layer` was configured with.
    #[must_use]
    pub fn new(inner: S, layer: ChaosLayer) -> Self {
        Self {
            inner,
            shared: layer.shared,
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

    /// Consumes the chaos service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Chaos<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
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
        let Some(shared) = &self.shared else {
            return ResponseFuture::pass(self.inner.call(request));
        };
        let Some(injection) = shared.plan.pick(request.method(), request.url().path()) else {
            return ResponseFuture::pass(self.inner.call(request));
        };
        shared.stats.record(injection.kind());
        match injection {
            Injection::Pass => ResponseFuture::pass(self.inner.call(request)),
            Injection::Latency(delay) => ResponseFuture::delayed(self.inner.call(request), *delay),
            Injection::Status(status, headers) => {
                ResponseFuture::ready(Ok(synthesized(&request, *status, headers)))
            }
            Injection::ResetBefore => ResponseFuture::ready(Err(reset(FaultKind::ResetBefore))),
            Injection::TimeoutAfter => {
                ResponseFuture::after(self.inner.call(request), FaultKind::TimeoutAfter)
            }
            Injection::ResetAfter => {
                ResponseFuture::after(self.inner.call(request), FaultKind::ResetAfter)
            }
        }
    }
}

/// The response a server would have sent: the status, the headers, an empty body and the
/// request's URL.
fn synthesized(
    request: &Request,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Response {
    // The builder fails only on invalid parts, and these are typed already.
    let mut response = http::Response::builder()
        .url(request.url().clone())
        .body(reqwest::Body::from(""))
        .unwrap_or_else(|_| http::Response::new(reqwest::Body::from("")));
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    Response::from(response)
}

/// A reset as the transport reports one, marked as injected: before the request is sent it
/// is a connection that could not be opened (`ConnectionRefused`, not applied); after, a
/// connection reset (`ConnectionReset`, maybe applied).
pub(super) fn reset(kind: FaultKind) -> Error {
    let io_kind = if kind == FaultKind::ResetBefore {
        io::ErrorKind::ConnectionRefused
    } else {
        io::ErrorKind::ConnectionReset
    };
    Error::from_inner(Box::new(io::Error::new(io_kind, InjectedFault::new(kind))))
}

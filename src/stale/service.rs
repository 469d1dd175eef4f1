use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{Method, Request, Response, ResponseBuilderExt as _};
use tower_service::Service;

use super::ResponseFuture;
use super::Stale;
use super::cache::{Cache, Kept, Key, may_keep};
use super::read::read_whole;
use crate::boxed::BoxResponseFuture;
use crate::classify::{DefaultClassifier, Verdict};
use crate::error::{BoxError, Error};
use crate::redact::Redactor;

/// Keeps the last good response of each GET and HEAD, and serves it, marked [`Stale`],
/// when a later call to the same URL fails transiently or finds its circuit open.
///
/// See the [module docs](super) for the rules.
#[derive(Debug, Clone)]
pub struct StaleIfError<S> {
    inner: S,
    // `None` only in the client's stack when stale-if-error is off.
    cache: Option<Arc<Cache>>,
}

impl<S> StaleIfError<S> {
    pub(crate) fn with_cache(inner: S, cache: Option<Arc<Cache>>) -> Self {
        Self { inner, cache }
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

    /// Consumes the service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for StaleIfError<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
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
    fn call(&mut self, request: Request) -> Self::Future {
        let cache = match &self.cache {
            Some(cache) if matches!(*request.method(), Method::GET | Method::HEAD) => cache,
            _ => return ResponseFuture::inner(self.inner.call(request)),
        };
        let cache = Arc::clone(cache);
        let key = cache.key(&request);
        let sent = self.inner.call(request);
        ResponseFuture::boxed(Box::pin(async move {
            match sent.await.map_err(|e| Error::from_inner(e.into())) {
                Ok(response) => Ok(keep(&cache, key, response).await),
                Err(error) if serves(&error) => match cache.get(&key) {
                    Some((kept, age)) => Ok(stale(kept, age, key, error)),
                    None => Err(error),
                },
                Err(error) => Err(error),
            }
        }) as BoxResponseFuture)
    }
}

/// Keeps a good response whose body is small and quick enough; forgets the URL's response
/// when the server says not to store this one.
async fn keep(cache: &Cache, key: super::cache::Key, response: Response) -> Response {
    if !response.status().is_success() {
        return response;
    }
    if !may_keep(response.status(), response.headers()) {
        cache.forget(&key);
        return response;
    }
    let (status, version, headers) = (
        response.status(),
        response.version(),
        response.headers().clone(),
    );
    let config = &cache.config;
    let (response, body) = read_whole(response, config.max_entry_bytes, config.max_read).await;
    if let Some(body) = body {
        cache.put(key, status, version, headers, body);
    }
    response
}

/// Whether a failed call may be answered from the store: a transient failure (an open
/// circuit and a full bulkhead among them), not a throttle or a permanent one.
fn serves(error: &Error) -> bool {
    let classification = error
        .classification()
        .unwrap_or_else(|| DefaultClassifier::classify_error(error));
    classification.verdict() == Verdict::Transient
}

/// The kept response, marked, with the error it stands in for.
fn stale(kept: Kept, age: std::time::Duration, key: Key, error: Error) -> Response {
    tracing::warn!(
        "url.full" = %Redactor::default().url(&key.url),
        age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        error = %error,
        "served a stale response: the call failed"
    );
    let mut builder = http::Response::builder()
        .status(kept.status)
        .version(kept.version)
        .url(key.url);
    if let Some(headers) = builder.headers_mut() {
        *headers = kept.headers;
    }
    if let Some(extensions) = builder.extensions_mut() {
        extensions.insert(Stale {
            age,
            error: Arc::new(error),
        });
    }
    match builder.body(reqwest::Body::from(kept.body)) {
        Ok(response) => Response::from(response),
        // Every part came from a valid response.
        Err(_) => Response::from(http::Response::new(reqwest::Body::from(""))),
    }
}

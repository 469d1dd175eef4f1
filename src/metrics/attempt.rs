//! Each attempt's OpenTelemetry metrics: `http.client.request.duration` and
//! `http.client.active_requests`, recorded around the future that sends it; a failed
//! attempt's duration once the retry layer has classified its error.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::metrics::{Label, gauge, histogram};
use pin_project_lite::pin_project;
use reqwest::{Request, Response};
use tokio::time::Instant;

use super::names::{
    ERROR_TYPE, HTTP_CLIENT_ACTIVE_REQUESTS, HTTP_CLIENT_REQUEST_DURATION, STATUS_CODE,
};
use super::record::{enabled, endpoint};
use crate::classify::{Classification, Outcome, SharedClassifier};
use crate::error::{BoxError, Error};
use crate::telemetry::ErrorType;

/// What an attempt's metrics need from its start: `None` when no recorder is installed.
pub(crate) struct AttemptStart(Option<Box<Active>>);

/// An attempt in flight, counted in `http.client.active_requests` until dropped.
struct Active {
    labels: Vec<Label>,
    classifier: SharedClassifier,
    started: Instant,
}

impl Drop for Active {
    fn drop(&mut self) {
        gauge!(HTTP_CLIENT_ACTIVE_REQUESTS, self.labels.clone()).decrement(1.0);
    }
}

impl AttemptStart {
    /// Counts `request` as in flight when a recorder is installed; call it just before
    /// sending, then [`watch`](Self::watch) the sending future.
    #[inline]
    pub(crate) fn of(request: &Request, classifier: &SharedClassifier) -> Self {
        if !enabled() {
            return Self(None);
        }
        Self(Some(Box::new(Active::start(request, classifier))))
    }

    /// The sending future, recording its duration when it ends.
    #[inline]
    pub(crate) fn watch<F>(self, inner: F) -> Attempt<F> {
        Attempt {
            inner,
            active: self.0,
        }
    }
}

impl Active {
    #[cold]
    fn start(request: &Request, classifier: &SharedClassifier) -> Self {
        let labels = endpoint(request.method(), request.url());
        gauge!(HTTP_CLIENT_ACTIVE_REQUESTS, labels.clone()).increment(1.0);
        Self {
            labels,
            classifier: SharedClassifier::clone(classifier),
            started: Instant::now(),
        }
    }

    /// A response came: timed here, with the classifier's `error.type` for a failure.
    #[cold]
    fn answered(self, response: &Response) {
        let classification = self.classifier.classify(Outcome::Response(response));
        let mut labels = self.labels.clone();
        labels.push(Label::new(
            STATUS_CODE,
            response.status().as_str().to_owned(),
        ));
        self.record(labels, classification);
    }

    fn record(&self, mut labels: Vec<Label>, classification: Classification) {
        if let Some(error_type) = ErrorType::of(classification) {
            labels.push(Label::new(ERROR_TYPE, error_type.to_string()));
        }
        histogram!(HTTP_CLIENT_REQUEST_DURATION, labels)
            .record(self.started.elapsed().as_secs_f64());
    }
}

thread_local! {
    /// An attempt that ended in an error, until the retry layer, in the same poll, has
    /// classified it (the error type is the inner service's, which only it can box).
    static FAILED: Cell<Option<Box<Active>>> = const { Cell::new(None) };
}

/// The attempt that just ended in an error was classified `classification`: records it,
/// unless it was refused below without being sent. Called by the retry layer right after
/// the attempt's future returned, in the same poll and so on the same thread.
pub(crate) fn attempt_failed(error: &BoxError, classification: Classification) {
    if let Some(active) = FAILED.take() {
        // Refused by a layer below (open circuit, full bulkhead, rate limiter): nothing
        // went over the wire, so it is no HTTP request; the call's metrics count it.
        if !refused_locally(error) {
            active.record(active.labels.clone(), classification);
        }
    }
}

fn refused_locally(error: &BoxError) -> bool {
    matches!(
        error.downcast_ref(),
        Some(Error::CircuitOpen { .. } | Error::BulkheadFull { .. } | Error::RateLimited { .. })
    )
}

pin_project! {
    /// An attempt's sending future, timed when a recorder is installed.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Attempt<F> {
        #[pin]
        inner: F,
        active: Option<Box<Active>>,
    }
}

impl<F> fmt::Debug for Attempt<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("recorded", &self.active.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for Attempt<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.inner.poll(cx));
        if let Some(active) = this.active.take() {
            match &outcome {
                Ok(response) => active.answered(response),
                Err(_) => FAILED.set(Some(active)),
            }
        }
        Poll::Ready(outcome)
    }
}

//! Each attempt's OpenTelemetry metrics: `http.client.request.duration` and
//! `http.client.active_requests`, recorded around the future that sends it.

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
use crate::classify::{Outcome, SharedClassifier};
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

    #[cold]
    fn end(self, outcome: &Result<Response, BoxError>) {
        let mut labels = self.labels.clone();
        let classification = match outcome {
            Ok(response) => {
                labels.push(Label::new(
                    STATUS_CODE,
                    response.status().as_str().to_owned(),
                ));
                self.classifier.classify(Outcome::Response(response))
            }
            // Refused by a layer below (open circuit, full bulkhead, rate limiter): nothing
            // went over the wire, so it is no HTTP request; the call's metrics count it.
            Err(error) if refused_locally(error) => return,
            Err(error) => self.classifier.classify(Outcome::Error(error.as_ref())),
        };
        if let Some(error_type) = ErrorType::of(classification) {
            labels.push(Label::new(ERROR_TYPE, error_type.to_string()));
        }
        histogram!(HTTP_CLIENT_REQUEST_DURATION, labels)
            .record(self.started.elapsed().as_secs_f64());
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
    E: Into<BoxError>,
{
    type Output = Result<Response, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.inner.poll(cx)).map_err(Into::into);
        if let Some(active) = this.active.take() {
            active.end(&outcome);
        }
        Poll::Ready(outcome)
    }
}

//! Each attempt's OpenTelemetry metrics: `http.client.request.duration` and
//! `http.client.active_requests`. The retry layer keeps an [`AttemptStart`] beside the
//! attempt it sends and ends it with the classification it makes anyway, so the sending
//! future is not wrapped and nothing is classified twice.

use ::metrics::{Label, gauge, histogram};
use reqwest::{Request, StatusCode};
use tokio::time::Instant;

use super::names::{
    ERROR_TYPE, HTTP_CLIENT_ACTIVE_REQUESTS, HTTP_CLIENT_REQUEST_DURATION, STATUS_CODE,
};
use super::record::{enabled, endpoint};
use crate::classify::Classification;
use crate::telemetry::ErrorType;

/// What an attempt's metrics need from its start: `None` when no recorder is installed.
pub(crate) struct AttemptStart(Option<Box<Active>>);

/// An attempt in flight, counted in `http.client.active_requests` until dropped.
struct Active {
    labels: Vec<Label>,
    started: Instant,
}

impl Drop for Active {
    fn drop(&mut self) {
        gauge!(HTTP_CLIENT_ACTIVE_REQUESTS, self.labels.clone()).decrement(1.0);
    }
}

impl AttemptStart {
    /// Counts `request` as in flight when a recorder is installed; call it just before
    /// sending.
    #[inline]
    pub(crate) fn of(request: &Request) -> Self {
        if !enabled() {
            return Self(None);
        }
        Self(Some(Box::new(Active::start(request))))
    }

    /// This start, leaving one that records nothing in its place.
    #[inline]
    pub(crate) fn take(&mut self) -> Self {
        Self(self.0.take())
    }

    /// Records the attempt's duration: `status` when it got a response, and its
    /// `classification`. A call `refused` below (open circuit, full bulkhead, rate limiter,
    /// credentials) sent nothing: it is no HTTP request, the call's metrics count it.
    #[inline]
    pub(crate) fn end(
        self,
        status: Option<StatusCode>,
        classification: Classification,
        refused: bool,
    ) {
        if let Some(active) = self.0
            && !refused
        {
            active.end(status, classification);
        }
    }
}

impl Active {
    #[cold]
    fn start(request: &Request) -> Self {
        let labels = endpoint(request.method(), request.url());
        gauge!(HTTP_CLIENT_ACTIVE_REQUESTS, labels.clone()).increment(1.0);
        Self {
            labels,
            started: Instant::now(),
        }
    }

    #[cold]
    fn end(&self, status: Option<StatusCode>, classification: Classification) {
        let mut labels = self.labels.clone();
        if let Some(status) = status {
            labels.push(Label::new(STATUS_CODE, status.as_str().to_owned()));
        }
        if let Some(error_type) = ErrorType::of(classification) {
            labels.push(Label::new(ERROR_TYPE, error_type.to_string()));
        }
        histogram!(HTTP_CLIENT_REQUEST_DURATION, labels)
            .record(self.started.elapsed().as_secs_f64());
    }
}

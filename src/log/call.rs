//! One logged call, from its start to the events and hooks at its end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Request, Response, StatusCode, Url};
use tokio::time::Instant;
use tracing::{Level, Span};

use super::body::{Captured, Shown, read_back};
use super::hook::FailedCall;
use super::layer::Shared;
use crate::classify::{Applied, Classification, Outcome, Verdict};
use crate::error::{BoxError, Error, Failure};
use crate::telemetry::RetryStats;
use crate::telemetry::{ErrorType, TARGET, idempotency_key, record_outcome};

/// What the `gave up` event says when a human must act.
const NEEDS_ATTENTION: &str =
    "credentials or permissions were refused (401/403): a human must act, retrying will not help";

/// What the end of a call needs to know about its start.
pub(crate) struct Call {
    shared: Arc<Shared>,
    span: Span,
    method: Method,
    url: Url,
    idempotency_key: Option<String>,
    request_body: Option<Captured>,
    start: Instant,
}

/// How a call ended, as its events report it.
struct Ending<'a> {
    classification: Classification,
    /// Whether the server may have acted on the call.
    outcome: Applied,
    status: Option<StatusCode>,
    attempts: Option<u32>,
    error: Option<&'a Error>,
    response_body: Option<Shown>,
}

impl Call {
    pub(crate) fn start(shared: Arc<Shared>, request: &Request, span: Span) -> Self {
        // Copy the body only if an event could show it.
        let request_body =
            if shared.bodies.request && tracing::enabled!(target: TARGET, Level::ERROR) {
                Captured::request(request, shared.bodies.max_bytes)
            } else {
                None
            };
        Self {
            idempotency_key: idempotency_key(request, &shared.idempotency_header)
                .map(str::to_owned),
            method: request.method().clone(),
            url: request.url().clone(),
            request_body,
            start: Instant::now(),
            span,
            shared,
        }
    }

    /// Awaits the inner future, then logs and runs hooks. Runs inside the call span.
    pub(crate) async fn run<F, E>(self, inner: F) -> Result<Response, Error>
    where
        F: Future<Output = Result<Response, E>>,
        E: Into<BoxError>,
    {
        let result = inner.await.map_err(|e| Error::from_inner(e.into()));
        match result {
            Ok(response) => self.responded(response).await,
            Err(error) => Err(self.failed(error).await),
        }
    }

    async fn responded(self, response: Response) -> Result<Response, Error> {
        let classification = self
            .shared
            .classifier
            .classify(Outcome::Response(&response));
        let status = response.status();
        let attempts = RetryStats::of(&response).attempts;
        let success = classification.verdict() == Verdict::Success;
        // A success was applied; a failure returned as a response (no retry layer below)
        // is what its classification says.
        let outcome = if success {
            "applied"
        } else {
            classification.applied().as_str()
        };
        self.record(Some(status), classification, Some(attempts), outcome);
        let level_enabled = if success {
            tracing::enabled!(target: TARGET, Level::DEBUG)
        } else {
            tracing::enabled!(target: TARGET, Level::ERROR)
        };
        let bodies = &self.shared.bodies;
        let capture = level_enabled && (!success || bodies.on_success);
        let (response, response_body) = if capture && bodies.response {
            let until = self.body_deadline();
            let (response, shown) =
                read_back(response, &self.shared.redactor, bodies.max_bytes, until).await;
            (response, Some(shown))
        } else {
            (response, None)
        };
        tracing::trace!(
            target: TARGET,
            {
                "http.response.headers" = %self.shared.redactor.headers(response.headers()),
            },
            "response"
        );
        if success {
            let request_body = capture.then(|| self.request_body()).flatten();
            tracing::debug!(
                target: TARGET,
                {
                    "http.response.status_code" = status.as_u16(),
                    "http.request.resend_count" = attempts - 1,
                    "steadfast.duration_ms" = self.duration_ms(),
                    "http.request.body" = request_body.as_ref().map(|b| b.text.as_str()),
                    "http.request.body.size" = request_body.as_ref().and_then(|b| b.len),
                    "http.response.body" = response_body.as_ref().map(|b| b.text.as_str()),
                    "http.response.body.size" = response_body.as_ref().and_then(|b| b.len),
                },
                "call succeeded"
            );
        } else {
            self.gave_up(&Ending {
                classification,
                outcome: classification.applied(),
                status: Some(status),
                attempts: Some(attempts),
                error: None,
                response_body,
            });
        }
        Ok(response)
    }

    async fn failed(self, error: Error) -> Error {
        let failure = error.failure();
        let classification = failure.map_or_else(
            || self.shared.classifier.classify(Outcome::Error(&error)),
            Failure::classification,
        );
        let attempts = failure.map(Failure::attempts);
        let status = error.status();
        let outcome = error.outcome();
        self.record(status, classification, attempts, outcome.as_str());
        let bodies = &self.shared.bodies;
        let mut response_body = None;
        if bodies.response
            && tracing::enabled!(target: TARGET, Level::ERROR)
            && let Some(failure) = failure
            && let Some(response) = failure.take_response()
        {
            let until = self.body_deadline();
            let (response, shown) =
                read_back(response, &self.shared.redactor, bodies.max_bytes, until).await;
            failure.put_response(response);
            response_body = Some(shown);
        }
        if tracing::enabled!(target: TARGET, Level::TRACE)
            && let Some(headers) = failure.and_then(Failure::headers)
        {
            tracing::trace!(
                target: TARGET,
                {
                    "http.response.headers" = %self.shared.redactor.headers(&headers),
                },
                "response"
            );
        }
        self.gave_up(&Ending {
            classification,
            outcome,
            status,
            attempts,
            error: Some(&error),
            response_body,
        });
        error
    }

    fn record(
        &self,
        status: Option<StatusCode>,
        classification: Classification,
        attempts: Option<u32>,
        outcome: &'static str,
    ) {
        let elapsed = self.start.elapsed();
        crate::metrics::call_ended(
            &self.method,
            &self.url,
            outcome,
            classification,
            attempts,
            elapsed,
        );
        if self.span.is_disabled() {
            return;
        }
        record_outcome(&self.span, status, classification);
        self.span.record("steadfast.outcome", outcome);
        if let Some(attempts) = attempts {
            self.span
                .record("http.request.resend_count", attempts.saturating_sub(1));
        }
        self.span
            .record("steadfast.duration_ms", self.duration_ms());
    }

    /// The `gave up` event and the hooks.
    fn gave_up(&self, ending: &Ending<'_>) {
        let c = ending.classification;
        let attention = c.needs_attention();
        let redactor = &self.shared.redactor;
        if tracing::enabled!(target: TARGET, Level::ERROR) {
            let request_body = self.request_body();
            let not_retried = ending.error.and_then(|error| match error {
                Error::NotRetried { why, .. } => Some(*why),
                _ => None,
            });
            tracing::error!(
                target: TARGET,
                {
                    "http.request.method" = self.method.as_str(),
                    "server.address" = self.url.host_str(),
                    "url.full" = %redactor.url(&self.url),
                    "http.response.status_code" = ending.status.map(|s| s.as_u16()),
                    "error.type" = ErrorType::of(c).map(display),
                    "steadfast.verdict" = c.verdict().as_str(),
                    "steadfast.reason" = %c.reason(),
                    "steadfast.outcome" = ending.outcome.as_str(),
                    attempts = ending.attempts,
                    not_retried = not_retried.map(display),
                    "steadfast.idempotency_key" = self.idempotency_key.as_deref(),
                    "steadfast.duration_ms" = self.duration_ms(),
                    "steadfast.needs_attention" = attention,
                    hint = attention.then_some(NEEDS_ATTENTION),
                    error = ending.error.map(display),
                    "http.request.body" = request_body.as_ref().map(|b| b.text.as_str()),
                    "http.request.body.size" = request_body.as_ref().and_then(|b| b.len),
                    "http.response.body" = ending.response_body.as_ref().map(|b| b.text.as_str()),
                    "http.response.body.size" = ending.response_body.as_ref().and_then(|b| b.len),
                },
                "gave up"
            );
        }
        if !self.shared.hooks.is_empty() {
            let url = redactor.url(&self.url).to_string();
            self.shared.hooks.run(&FailedCall {
                method: &self.method,
                url: &url,
                classification: c,
                status: ending.status,
                attempts: ending.attempts,
                elapsed: self.start.elapsed(),
                idempotency_key: self.idempotency_key.as_deref(),
                error: ending.error,
            });
        }
    }

    fn request_body(&self) -> Option<Shown> {
        let captured = self.request_body.as_ref()?;
        Some(captured.show(&self.shared.redactor, self.shared.bodies.max_bytes))
    }

    /// Until when a response body is read for the log: `read_timeout` from now, and never
    /// past the call's deadline.
    fn body_deadline(&self) -> Instant {
        // Far enough to mean "never", near enough not to overflow an `Instant`.
        const NEVER: Duration = Duration::from_secs(60 * 60 * 24 * 365);
        let read = Instant::now() + self.shared.bodies.read_timeout.min(NEVER);
        match self.shared.call_deadline {
            Some(deadline) => read.min(self.start + deadline.min(NEVER)),
            None => read,
        }
    }

    fn duration_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }
}

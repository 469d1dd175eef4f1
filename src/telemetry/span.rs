//! The attempt span and the outcome fields that retry and log both write.

use reqwest::header::HeaderName;
use reqwest::{Request, StatusCode};
use tracing::Span;
use tracing::field::{Empty, display};

use super::ErrorType;
use crate::classify::Classification;

/// The target of the log layer's spans and events.
pub(crate) const TARGET: &str = "steadfast::log";

/// The span of one attempt, a child of the call span; `resend_count` is 0 for the first.
///
/// Disabled spans cost nothing: the key is looked up only when the span is enabled.
pub(crate) fn attempt_span(request: &Request, key_header: &HeaderName, resend_count: u32) -> Span {
    tracing::debug_span!(
        target: TARGET,
        "steadfast.attempt",
        "otel.kind" = "client",
        "otel.name" = request.method().as_str(),
        "http.request.method" = request.method().as_str(),
        "http.request.resend_count" = resend_count,
        "steadfast.idempotency_key" = idempotency_key(request, key_header),
        "http.response.status_code" = Empty,
        "error.type" = Empty,
        "steadfast.verdict" = Empty,
        "steadfast.reason" = Empty,
    )
}

/// Records the status, `error.type`, verdict and reason of an outcome on a call or attempt
/// span.
pub(crate) fn record_outcome(
    span: &Span,
    status: Option<StatusCode>,
    classification: Classification,
) {
    if span.is_disabled() {
        return;
    }
    if let Some(status) = status {
        span.record("http.response.status_code", status.as_u16());
    }
    if let Some(error_type) = ErrorType::of(classification) {
        span.record("error.type", display(error_type));
    }
    span.record("steadfast.verdict", classification.verdict().as_str());
    span.record("steadfast.reason", display(classification.reason()));
}

/// The request's idempotency key, when it has a readable one. Keys are not secrets.
pub(crate) fn idempotency_key<'r>(
    request: &'r Request,
    key_header: &HeaderName,
) -> Option<&'r str> {
    request
        .headers()
        .get(key_header)
        .and_then(|value| value.to_str().ok())
}

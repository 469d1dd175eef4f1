//! The span and field names of the crate's logs, kept in one place so that every layer
//! writes them alike (the conventions are documented in the module docs).

use std::fmt;

use reqwest::header::HeaderName;
use reqwest::{Request, StatusCode};
use tracing::Span;
use tracing::field::{Empty, display};

use crate::classify::{Classification, Reason, Verdict};

/// The target of the log layer's spans and events.
pub(crate) const TARGET: &str = "steadfast::log";

/// OpenTelemetry's `error.type`: the status code for an HTTP failure, a short,
/// low-cardinality name otherwise.
#[derive(Clone, Copy)]
pub(crate) enum ErrorType {
    Status(StatusCode),
    Name(&'static str),
}

impl ErrorType {
    pub(crate) fn of(classification: Classification) -> Option<Self> {
        if classification.verdict() == Verdict::Success {
            return None;
        }
        Some(match classification.reason() {
            Reason::Status(status) => Self::Status(status),
            Reason::Connect => Self::Name("connect"),
            Reason::Timeout => Self::Name("timeout"),
            Reason::ConnectionReset => Self::Name("connection_reset"),
            Reason::ConnectionClosed => Self::Name("connection_closed"),
            Reason::Body => Self::Name("body"),
            Reason::Decode => Self::Name("decode"),
            Reason::InvalidRequest => Self::Name("invalid_request"),
            Reason::InvalidResponse => Self::Name("invalid_response"),
            Reason::Redirect => Self::Name("redirect"),
            Reason::RateLimited => Self::Name("rate_limited"),
            Reason::Custom(name) => Self::Name(name),
            // OpenTelemetry's value for "none of the known ones".
            _ => Self::Name("_OTHER"),
        })
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => f.write_str(status.as_str()),
            Self::Name(name) => f.write_str(name),
        }
    }
}

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

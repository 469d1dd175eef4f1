//! OpenTelemetry's `error.type` for a classified outcome.

use std::fmt;

use reqwest::StatusCode;

use crate::classify::{Classification, Reason, Verdict};

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

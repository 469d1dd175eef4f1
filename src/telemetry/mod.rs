//! The vocabulary the layers share to say what happened, on the ground floor so that no
//! layer imports another for it: the `tracing` target, the attempt span and its
//! OpenTelemetry fields (`http.request.method`, `http.response.status_code`, `error.type`,
//! `http.request.resend_count`) and `steadfast.*` fields, written by retry and log alike,
//! and the [`RetryStats`] the retry layer leaves on a response for log and callers. The
//! names themselves are documented in [`log`](crate::log).

mod attempt_log;
mod error_type;
mod hand_back;
mod retry_stats;
mod span;

pub(crate) use attempt_log::{AttemptEntry, WithAttemptLog, record_attempt, with_attempt_log};
pub(crate) use error_type::ErrorType;
pub(crate) use hand_back::{Asking, copy_of, hand_back, is_asked};
pub use retry_stats::RetryStats;
pub(crate) use span::{TARGET, attempt_span, idempotency_key, record_outcome};

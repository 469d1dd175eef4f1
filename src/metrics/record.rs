//! The recording functions the layers call (feature `metrics`). Each one first asks whether
//! a recorder is installed, so that without one it costs a few instructions and allocates
//! nothing; `noop.rs` is its twin without the feature.

use std::time::Duration;

use ::metrics::{Label, SharedString, counter, gauge, histogram};
use reqwest::{Method, StatusCode, Url};

use super::names::{
    CALL_ATTEMPTS, CALL_DURATION, CIRCUIT, CIRCUIT_REJECTIONS, CIRCUIT_STATE,
    CIRCUIT_STATE_ATTRIBUTE, CIRCUIT_TRANSITIONS, DEAD_LETTERS_RECORDED, DEAD_LETTERS_REPLAYED,
    ERROR_TYPE, LEDGER_REPLAYS, MAPPER_DRIFT, MAPPER_TYPE, METHOD, OUTCOME, RATE_LIMIT_CAUSE,
    RATE_LIMIT_PAUSES, RATE_LIMIT_REFUSALS, RATE_LIMIT_WAIT_DURATION, REPLAY_RESULT, RETRIES,
    RETRY_BUDGET_EXHAUSTED, SERVER_ADDRESS, SERVER_PORT, STATUS_CODE, VERIFICATION, VERIFICATIONS,
};
use crate::classify::Classification;
use crate::telemetry::ErrorType;
use crate::verify::Verification;

/// Whether a recorder would keep what is recorded: a local or global one is installed.
///
/// The facade's no-op recorder, used when none is, is a zero-sized type, and so is no real
/// recorder (each keeps its registry somewhere): one thread-local read, one atomic load and
/// one read of a vtable, with no key built and nothing allocated.
#[inline]
pub(crate) fn enabled() -> bool {
    ::metrics::with_recorder(|recorder| size_of_val(recorder) != 0)
}

/// A logical call ended: its duration, outcome and attempts.
pub(crate) fn call_ended(
    method: &Method,
    url: &Url,
    outcome: &'static str,
    classification: Classification,
    attempts: Option<u32>,
    elapsed: Duration,
) {
    if !enabled() {
        return;
    }
    let mut labels = endpoint(method, url);
    labels.push(Label::from_static_parts(OUTCOME, outcome));
    let short = vec![labels[0].clone(), labels[1].clone(), labels[3].clone()];
    if let Some(error_type) = ErrorType::of(classification) {
        labels.push(Label::new(ERROR_TYPE, error_type.to_string()));
    }
    histogram!(CALL_DURATION, labels).record(elapsed.as_secs_f64());
    histogram!(CALL_ATTEMPTS, short).record(f64::from(attempts.unwrap_or(1)));
}

/// A retry was scheduled after the failure `classification`.
pub(crate) fn retry_scheduled(method: &Method, classification: Classification) {
    if !enabled() {
        return;
    }
    let error_type = ErrorType::of(classification).map_or_else(String::new, |e| e.to_string());
    counter!(RETRIES, METHOD => method_label(method), ERROR_TYPE => error_type).increment(1);
}

/// The retry budget refused a retry.
pub(crate) fn budget_refused() {
    if enabled() {
        counter!(RETRY_BUDGET_EXHAUSTED).increment(1);
    }
}

/// An attempt waits `wait` for a rate-limit permit; `paused` when the server asked for it.
pub(crate) fn rate_limit_waited(wait: Duration, paused: bool) {
    if enabled() {
        let cause = if paused { "server_pause" } else { "quota" };
        histogram!(RATE_LIMIT_WAIT_DURATION, RATE_LIMIT_CAUSE => cause).record(wait.as_secs_f64());
    }
}

/// The rate limiter refused a call.
pub(crate) fn rate_limit_refused() {
    if enabled() {
        counter!(RATE_LIMIT_REFUSALS).increment(1);
    }
}

/// A response with `status` paused its key.
pub(crate) fn rate_limit_paused(status: StatusCode) {
    if enabled() {
        counter!(RATE_LIMIT_PAUSES, STATUS_CODE => status.as_str().to_owned()).increment(1);
    }
}

/// The circuit `name` entered `state` (`closed`, `half_open` or `open`).
pub(crate) fn circuit_changed(name: Option<&str>, state: &'static str) {
    if !enabled() {
        return;
    }
    let value = match state {
        "closed" => 0.0,
        "half_open" => 1.0,
        _ => 2.0,
    };
    let name = circuit_label(name);
    gauge!(CIRCUIT_STATE, CIRCUIT => name.clone()).set(value);
    counter!(CIRCUIT_TRANSITIONS, CIRCUIT => name, CIRCUIT_STATE_ATTRIBUTE => state).increment(1);
}

/// The open circuit `name` failed a call fast.
pub(crate) fn circuit_refused(name: Option<&str>) {
    if enabled() {
        counter!(CIRCUIT_REJECTIONS, CIRCUIT => circuit_label(name)).increment(1);
    }
}

/// The ledger answered a call with a stored response with `status`.
pub(crate) fn ledger_replayed(status: StatusCode) {
    if enabled() {
        counter!(LEDGER_REPLAYS, STATUS_CODE => status.as_str().to_owned()).increment(1);
    }
}

/// A verifier answered (or ran out of time: `Err`).
pub(crate) fn verified<E>(answer: &Result<Verification, E>) {
    if enabled() {
        let answer = match answer {
            Ok(Verification::Applied(_)) => "applied",
            Ok(Verification::NotApplied) => "not_applied",
            Ok(_) => "unknown",
            Err(_) => "timed_out",
        };
        counter!(VERIFICATIONS, VERIFICATION => answer).increment(1);
    }
}

/// A dead letter with `outcome` (`not_applied`, `unknown`) was stored.
pub(crate) fn dead_letter_recorded(outcome: &'static str) {
    if enabled() {
        counter!(DEAD_LETTERS_RECORDED, OUTCOME => outcome).increment(1);
    }
}

/// A dead letter was replayed, with `result` (`resolved`, `failed_again`).
pub(crate) fn dead_letter_replayed(result: &'static str) {
    if enabled() {
        counter!(DEAD_LETTERS_REPLAYED, REPLAY_RESULT => result).increment(1);
    }
}

/// A body decoded into `type_name` drifted from it.
pub(crate) fn drift_seen(type_name: &str) {
    if enabled() {
        counter!(MAPPER_DRIFT, MAPPER_TYPE => type_name.to_owned()).increment(1);
    }
}

/// `http.request.method`, `server.address` and `server.port`: OpenTelemetry's attributes
/// of the endpoint. The path never is one: it would make a series per order id.
pub(super) fn endpoint(method: &Method, url: &Url) -> Vec<Label> {
    let mut labels = Vec::with_capacity(5);
    labels.push(Label::new(METHOD, method_label(method)));
    labels.push(Label::new(
        SERVER_ADDRESS,
        url.host_str().unwrap_or_default().to_owned(),
    ));
    labels.push(Label::new(
        SERVER_PORT,
        url.port_or_known_default()
            .map_or_else(String::new, |p| p.to_string()),
    ));
    labels
}

/// The method as OpenTelemetry names it: the standard ones as they are, any other
/// `_OTHER`, so that a hostile or buggy caller cannot make a series per method.
pub(super) fn method_label(method: &Method) -> SharedString {
    SharedString::const_str(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    })
}

fn circuit_label(name: Option<&str>) -> String {
    name.unwrap_or("_custom").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_bounded() {
        assert_eq!(method_label(&Method::GET).as_ref(), "GET");
        let odd = Method::from_bytes(b"PURGE").expect("a method");
        assert_eq!(method_label(&odd).as_ref(), "_OTHER");
    }

    #[test]
    fn without_a_recorder_nothing_is_enabled() {
        assert!(!enabled());
        let recorder = ::metrics_util::debugging::DebuggingRecorder::new();
        ::metrics::with_local_recorder(&recorder, || assert!(enabled()));
    }
}

//! Assertions on what a call returned and on what the server saw.

use steadfast::{Error, NotRetried};
use wiremock::MockServer;

/// Whether the retry budget refused a retry.
pub fn budget_exhausted(error: &Error) -> bool {
    matches!(
        error,
        Error::NotRetried {
            why: NotRetried::BudgetExhausted,
            ..
        }
    )
}

/// Why the call was not retried, if that is the error.
pub fn not_retried(error: &Error) -> Option<NotRetried> {
    match error {
        Error::NotRetried { why, .. } => Some(*why),
        _ => None,
    }
}

/// How many requests the server saw.
pub async fn received(server: &MockServer) -> usize {
    server.received_requests().await.expect("recording").len()
}

/// Each request's `header`, `<none>` where it had none.
pub fn keys(requests: &[wiremock::Request], header: &str) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            r.headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("<none>")
                .to_owned()
        })
        .collect()
}

/// Asserts that there were `attempts` requests, all with the same `header`, and returns it.
pub fn assert_one_key(requests: &[wiremock::Request], header: &str, attempts: usize) -> String {
    let seen = keys(requests, header);
    assert_eq!(seen.len(), attempts, "{seen:?}");
    assert_ne!(seen[0], "<none>", "{seen:?}");
    assert!(seen.iter().all(|key| *key == seen[0]), "{seen:?}");
    seen[0].clone()
}

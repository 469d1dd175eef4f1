//! A failed call's history, carried by the errors that end a retried call.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use crate::classify::{Applied, Classification, Verdict};
use crate::key::IdempotencyKey;

/// A failed call's history: what was asked, how many attempts went out, how the last one
/// ended, what the server said, and whether the server may have acted.
pub struct Failure {
    pub(crate) method: Method,
    pub(crate) host: Option<String>,
    /// The URL's path with secret segments masked, set where the URL is at hand.
    pub(crate) path: Option<String>,
    pub(crate) attempts: u32,
    pub(crate) classification: Classification,
    pub(crate) status: Option<StatusCode>,
    pub(crate) retry_at: Option<Instant>,
    // A mutex so the error stays `Sync` and the response can be taken out through `&self`.
    pub(crate) response: Mutex<Option<reqwest::Response>>,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    /// The whole call's: `MaybeApplied` when any attempt may have been applied.
    pub(crate) outcome: Applied,
    /// Set when the call's deadline ended it.
    pub(crate) deadline: Option<Duration>,
    /// The attempt limit, when the last attempt was cut by it.
    pub(crate) timed_out_after: Option<Duration>,
}

impl Failure {
    /// A failure whose outcome is its last attempt's, without `retry_at` or key yet.
    pub(crate) fn new(
        method: Method,
        host: Option<String>,
        attempts: u32,
        classification: Classification,
        response: Option<reqwest::Response>,
    ) -> Self {
        Self {
            method,
            host,
            path: None,
            attempts,
            classification,
            status: response.as_ref().map(reqwest::Response::status),
            retry_at: None,
            response: Mutex::new(response),
            idempotency_key: None,
            outcome: classification.applied(),
            deadline: None,
            timed_out_after: None,
        }
    }

    /// Whether the server may have acted on any attempt of the call.
    #[must_use]
    pub fn outcome(&self) -> Applied {
        self.outcome
    }

    /// The call's deadline, when it is what ended the call.
    #[must_use]
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The request's method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The host the request was sent to.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The path the request was sent to, with secret segments masked (path templates,
    /// see [`RedactConfig::path`](crate::redact::RedactConfig::path)); never the query.
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// How many attempts were made, the first included.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last attempt's classification.
    #[must_use]
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// The last attempt's verdict.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        self.classification.verdict()
    }

    /// The status of the last response, when the last attempt got one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// When the server said a new attempt may be made, if it said so.
    #[must_use]
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The headers of the last response, when it has not been taken yet.
    #[must_use]
    pub fn headers(&self) -> Option<HeaderMap> {
        self.lock().as_ref().map(|r| r.headers().clone())
    }

    /// Takes the last response, to read its body. Returns `None` the second time.
    ///
    /// The response is the server's, unredacted: its headers may carry cookies or tokens,
    /// and `reqwest::Response`'s own `Debug` prints the full URL (query and userinfo
    /// included) and every header value. Log it through [`Redactor`](crate::redact::Redactor) (`url`, `headers`,
    /// `body`), never with `{:?}`.
    #[must_use]
    pub fn take_response(&self) -> Option<reqwest::Response> {
        self.lock().take()
    }

    /// The idempotency key of the call, when it had one.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_ref().map(IdempotencyKey::as_str)
    }

    /// Puts a response (back) in, after the log layer read its body for a log line.
    pub(crate) fn put_response(&self, response: reqwest::Response) {
        *self.lock() = Some(response);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<reqwest::Response>> {
        // A poisoned lock only means a reader panicked; the response itself is intact.
        self.response
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Failure {
    /// What was asked: the method, host and path (secret segments masked; never the query).
    fn write_target(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.method)?;
        if let Some(host) = &self.host {
            write!(f, " {host}")?;
            if let Some(path) = &self.path {
                f.write_str(path)?;
            }
        }
        Ok(())
    }

    /// Names the endpoint from `url`: its host, and its path with secret segments masked by
    /// the default and every configured template.
    pub(crate) fn at(mut self, url: &reqwest::Url) -> Self {
        self.host = url.host_str().map(str::to_owned);
        self.path = Some(crate::redact::Redactor::shown_path(url.path()));
        self
    }

    /// The last attempt's ending: the attempt limit when it cut it, else the classification.
    fn write_last(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timed_out_after {
            Some(limit) => write!(
                f,
                "attempt timed out after {limit:?} ({})",
                self.classification.verdict()
            ),
            None => write!(f, "{}", self.classification),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_target(f)?;
        let plural = if self.attempts == 1 { "" } else { "s" };
        if let Some(deadline) = self.deadline {
            write!(
                f,
                ": deadline of {deadline:?} exceeded after {} attempt{plural}; last completed attempt: ",
                self.attempts
            )?;
        } else if self.attempts == 0 {
            // Only the idempotency ledger answers without an attempt.
            f.write_str(
                " failed earlier with the same idempotency key (replayed from the ledger): ",
            )?;
        } else {
            write!(f, " failed after {} attempt{plural}: ", self.attempts)?;
        }
        self.write_last(f)?;
        if let Some(key) = &self.idempotency_key {
            write!(f, "; idempotency key {}", key.as_str())?;
        }
        if let Some(at) = self.retry_at {
            let wait = at.saturating_duration_since(Instant::now());
            write!(f, "; the server asked to wait {wait:?}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No URL, headers or body: they may hold secrets.
        f.debug_struct("Failure")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("attempts", &self.attempts)
            .field("classification", &self.classification)
            .field("status", &self.status)
            .field("retry_at", &self.retry_at)
            .field("idempotency_key", &self.idempotency_key)
            .field("outcome", &self.outcome)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Reason;
    use crate::error::Error;

    fn failure(classification: Classification) -> Failure {
        Failure::new(
            Method::POST,
            Some("api.example.com".to_owned()),
            2,
            classification,
            None,
        )
    }

    #[test]
    fn the_deadline_names_itself_apart_from_an_attempt_limit() {
        let mut cut = failure(Classification::transient(Reason::Status(
            StatusCode::SERVICE_UNAVAILABLE,
        )));
        cut.deadline = Some(Duration::from_millis(3_500));
        cut.attempts = 4;
        cut.status = Some(StatusCode::SERVICE_UNAVAILABLE);
        cut.outcome = Applied::MaybeApplied;
        cut.idempotency_key = Some(IdempotencyKey::new("inv-42"));
        let error = Error::DeadlineExceeded {
            failure: Box::new(cut),
            source: None,
        };
        assert_eq!(
            error.to_string(),
            "POST api.example.com: deadline of 3.5s exceeded after 4 attempts; last completed \
             attempt: transient (status 503 Service Unavailable); idempotency key inv-42; \
             outcome unknown: the server may have acted"
        );

        let mut timed_out = failure(Classification::transient(Reason::Timeout));
        timed_out.timed_out_after = Some(Duration::from_secs(2));
        assert_eq!(
            timed_out.to_string(),
            "POST api.example.com failed after 2 attempts: attempt timed out after 2s (transient)"
        );
    }
}

//! The slow path of a call whose first attempt failed: waits, verifications and further
//! attempts, each bounded by the call's deadline.

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::{Request, Response, StatusCode, Url};
use tokio::time::{Instant, timeout_at};
use tower_service::Service;

use super::future::{Progress, Settled, finish_attempt, settle, spare, start_attempt};
use super::give_up::{Ending, fail};
use super::policy::Policy;
use super::rules::{Attempted, Decision, decide, server_hint};
use crate::classify::{Applied, Classification};
use crate::error::{BoxError, Error, NotRetried, Unverified, without_url};
use crate::telemetry::RetryStats;
use crate::verify::{Sender, Verification, Verified, VerifyRequest};

/// What is left of the request after an attempt: a copy for the next one, or, for a body
/// that cannot be copied, what the error and the verifier need of it.
///
/// When a dead-letter layer above asked for the request (`armed`), a call that does not
/// succeed hands the copy back to it as this is dropped: at the call's end, when a deadline
/// above cuts it, or when the caller drops it.
pub(super) struct Leftover {
    pub(super) spare: Option<Request>,
    /// Boxed: rare, and the first attempt's future stays small.
    pub(super) streamed: Option<Box<Streamed>>,
    pub(super) armed: bool,
}

/// A sent request whose body was a stream: its URL and idempotency key, and its head for a
/// dead-letter layer that asked for it.
pub(super) struct Streamed {
    pub(super) url: Url,
    pub(super) key: Option<String>,
    pub(super) head: Option<Request>,
}

impl Drop for Leftover {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let request = self
            .spare
            .take()
            .or_else(|| self.streamed.as_mut().and_then(|s| s.head.take()));
        if let Some(request) = request {
            crate::telemetry::hand_back(request);
        }
    }
}

impl Leftover {
    /// The call succeeded: the copy is dropped, not handed back.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }

    /// The request's URL, for naming the endpoint in an error.
    fn url(&self) -> Option<&Url> {
        self.spare
            .as_ref()
            .map(Request::url)
            .or(self.streamed.as_ref().map(|s| &s.url))
    }
}

/// How a call ends when the deadline cut an attempt that may have been written; the cut
/// attempt goes into the attempt log as a transient timeout.
fn cut_by_deadline(policy: &Policy, last_status: Option<StatusCode>, started: Instant) -> Ending {
    let cut_by = Classification::transient(crate::classify::Reason::Timeout);
    crate::telemetry::record_attempt(cut_by, None, started);
    Ending::Deadline {
        deadline: policy.deadline.unwrap_or_default(),
        status: last_status,
    }
}

/// The rest of a call whose attempt failed: retries while the rules allow, else the error.
pub(super) async fn after_failure<S>(
    mut inner: S,
    policy: Arc<Policy>,
    mut progress: Progress,
    mut left: Leftover,
    mut outcome: Result<Response, BoxError>,
    mut classification: Classification,
) -> Result<Response, Error>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    let deadline_at = policy.deadline.map(|d| progress.start + d);
    loop {
        let attempted = Attempted {
            classification,
            hint: server_hint(classification, &outcome),
            attempts: progress.attempts,
            safe: progress.safe,
            replayable: left.spare.is_some(),
            previous_delay: progress.previous_delay,
            start: progress.start,
            now: Instant::now(),
        };
        let decision = decide(&policy, &attempted);
        if !matches!(decision, Decision::Verify) {
            progress.outcome = progress.outcome.or(classification.applied());
        }
        let ending = match (decision, left.spare.take()) {
            (Decision::Retry(delay), Some(request)) => Ok((request, delay)),
            (Decision::Verify, spare) => {
                left.spare = spare;
                let sender = Sender::new(inner.clone());
                match verify(sender, &policy, &mut progress, &left, deadline_at).await {
                    Ok(Verification::Applied(response)) => {
                        left.disarm();
                        return Ok(verified(&policy, &progress, response));
                    }
                    Ok(Verification::NotApplied) => {
                        classification = classification.with_applied(Applied::NotApplied);
                        continue;
                    }
                    unknown => {
                        progress.outcome = Applied::MaybeApplied;
                        let why = unknown.err().unwrap_or(Unverified::Unknown);
                        Err(Ending::Rules {
                            why: Some(NotRetried::OutcomeUnknown(why)),
                            retry_at: None,
                        })
                    }
                }
            }
            (Decision::GiveUp { why, retry_at }, spare) => {
                left.spare = spare;
                Err(Ending::Rules { why, retry_at })
            }
            // `decide` only retries replayable requests.
            (Decision::Retry(_), None) => Err(Ending::Rules {
                why: Some(NotRetried::BodyNotReplayable),
                retry_at: None,
            }),
        };
        let (next, delay) = match ending {
            Ok(next) => next,
            Err(ending) => {
                let refused = refused_locally(&progress, &outcome);
                return Err(match outcome {
                    Err(error) if refused => Error::from_inner(error),
                    outcome => fail(ending, classification, outcome, &progress, left.url()),
                });
            }
        };
        scheduled(&progress, delay, classification);
        // The status outlives its response, let go before the wait to free the connection.
        let last_status = outcome.as_ref().ok().map(Response::status);
        drop(outcome);
        let next = wait(&mut left, next, delay, &mut progress, &policy).await?;
        progress.attempts += 1;
        let started = Instant::now();
        let attempt = send(&mut inner, &policy, next, progress.attempts - 1, started);
        let finished = match deadline_at {
            Some(at) => timeout_at(at, attempt).await.ok(),
            None => Some(attempt.await),
        };
        let Some(finished) = finished else {
            progress.outcome = Applied::MaybeApplied;
            let ending = cut_by_deadline(&policy, last_status, started);
            let cut = Err(Box::new(Error::Timeout {
                elapsed: policy.deadline.unwrap_or_default(),
                idempotency_key: None,
            }) as BoxError);
            return Err(fail(ending, classification, cut, &progress, left.url()));
        };
        let (next_outcome, next_classification) = match finished {
            Ok(finished) => finished,
            Err(e) => return Err(e),
        };
        match settle(&policy, &mut progress, next_outcome, next_classification) {
            Settled::Done(result) => {
                if result.is_ok() {
                    left.disarm();
                }
                return result;
            }
            Settled::Failed(failed) => {
                outcome = failed;
                classification = next_classification;
            }
        }
    }
}

/// Waits `delay` before the next attempt with `next` in `left`, so that a deadline above
/// cutting the wait still hands the request back to a dead-letter layer; then takes it out,
/// leaving a copy in `left`.
async fn wait(
    left: &mut Leftover,
    next: Request,
    delay: std::time::Duration,
    progress: &mut Progress,
    policy: &Policy,
) -> Result<Request, Error> {
    left.spare = Some(next);
    tokio::time::sleep(delay).await;
    progress.previous_delay = delay;
    progress.waited += delay;
    let Some(next) = left.spare.take() else {
        return Err(Error::InvalidRequest(
            "retry lost the request it waited with".into(),
        ));
    };
    *left = spare(&next, policy, left.armed);
    Ok(next)
}

/// Whether the call ends on a refusal below (an open circuit, a full bulkhead, the shared
/// quota, credentials, a rate limiter: [`Error::refused_before_sending`]), none of its
/// attempts having maybe been applied: the caller then gets that typed error as it is, which
/// says what refused and until when.
fn refused_locally(progress: &Progress, outcome: &Result<Response, BoxError>) -> bool {
    progress.outcome == Applied::NotApplied
        && outcome
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<Error>())
            .is_some_and(Error::refused_before_sending)
}

/// The `retry scheduled` event.
fn scheduled(progress: &Progress, delay: std::time::Duration, classification: Classification) {
    crate::metrics::retry_scheduled(&progress.method, classification);
    tracing::warn!(
        {
            "http.request.method" = progress.method.as_str(),
            attempt = progress.attempts,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "steadfast.verdict" = classification.verdict().as_str(),
            "steadfast.reason" = %classification.reason(),
            "error.type" = crate::telemetry::ErrorType::of(classification)
                .map(tracing::field::display),
        },
        "retry scheduled"
    );
}

/// A verifier's find, as the call's response: a success for the budget, marked.
fn verified(policy: &Policy, progress: &Progress, mut response: Response) -> Response {
    if let Some(budget) = &policy.budget {
        budget.deposit();
    }
    response.extensions_mut().insert(Verified);
    response.extensions_mut().insert(RetryStats {
        attempts: progress.attempts,
        waited: progress.waited,
    });
    response
}

/// One more attempt: waits for the service to be ready, sends, classifies.
async fn send<S>(
    inner: &mut S,
    policy: &Policy,
    request: Request,
    resend_count: u32,
    started: Instant,
) -> Result<(Result<Response, BoxError>, Classification), Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    if let Err(e) = poll_fn(|cx| inner.poll_ready(cx)).await {
        return Err(Error::transport(without_url(e.into())));
    }
    let (span, attempt, metrics) = start_attempt(inner, policy, request, resend_count);
    Ok(finish_attempt(
        policy,
        &span,
        attempt.await,
        None,
        started,
        metrics,
    ))
}

/// Asks the verifier about the last attempt, within `verify_timeout` and the deadline.
async fn verify(
    sender: Sender,
    policy: &Policy,
    progress: &mut Progress,
    left: &Leftover,
    deadline_at: Option<Instant>,
) -> Result<Verification, Unverified> {
    let Some(verifier) = &policy.verifier else {
        return Ok(Verification::Unknown);
    };
    if progress.verifications >= policy.max_verifications {
        return Err(Unverified::OutOfTries);
    }
    let Some(request) = verify_request(policy, progress, left) else {
        return Ok(Verification::Unknown);
    };
    progress.verifications += 1;
    let limit = Instant::now() + policy.verify_timeout;
    let until = deadline_at.map_or(limit, |d| d.min(limit));
    let asked = verifier.verify(request, sender);
    let answer = timeout_at(until, asked)
        .await
        .map_err(|_| Unverified::TimedOut);
    tracing::info!(
        {
            "http.request.method" = progress.method.as_str(),
            attempt = progress.attempts,
            verification = match &answer {
                Ok(Verification::Applied(_)) => "applied",
                Ok(Verification::NotApplied) => "not_applied",
                Ok(_) => "unknown",
                Err(_) => "timed_out",
            },
        },
        "verified"
    );
    crate::metrics::verified(&answer);
    answer
}

/// The request's idempotency key, when it has a readable one.
pub(super) fn key_of(request: &Request, policy: &Policy) -> Option<String> {
    request
        .headers()
        .get(&policy.idempotency_header)
        .and_then(|v| v.to_str().ok())
        .map(|text| policy.key_format.decode(text).into_owned())
}

/// What the verifier is told about the request: from its spare copy, or its URL alone.
fn verify_request(policy: &Policy, progress: &Progress, left: &Leftover) -> Option<VerifyRequest> {
    let Some(spare) = &left.spare else {
        let streamed = left.streamed.as_ref()?;
        let (url, key) = (streamed.url.clone(), streamed.key.clone());
        return Some(VerifyRequest::new(progress.method.clone(), url, key, None));
    };
    let key = key_of(spare, policy);
    let body = spare
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map(Bytes::copy_from_slice);
    Some(VerifyRequest::new(
        progress.method.clone(),
        spare.url().clone(),
        key,
        body,
    ))
}

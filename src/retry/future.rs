use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::{Method, Request, Response};
use tokio::time::Instant;
use tower_service::Service;
use tracing::Span;
use tracing::instrument::Instrumented;

use super::policy::{Policy, is_idempotent};
use crate::boxed::BoxResponseFuture;
use crate::classify::{Classification, Outcome, Verdict};
use crate::error::{BoxError, Error, Failure, NotRetried, without_url};
use crate::hints::{self, Hint};

pin_project! {
    /// The future returned by [`Retry`](super::Retry): all attempts of one logical call.
    ///
    /// The first attempt runs in place; only a call that failed and may be retried moves
    /// on to a boxed future for the waits and further attempts.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S>
    where
        S: Service<Request>,
    {
        #[pin]
        state: State<S>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S>
    where
        S: Service<Request>,
    {
        First {
            #[pin]
            attempt: Instrumented<S::Future>,
            call: Option<FirstAttempt<S>>,
        },
        Retrying {
            future: BoxResponseFuture,
        },
        Done,
    }
}

/// What the rest of the call needs if the first attempt fails.
struct FirstAttempt<S> {
    /// A clone of the service for the next attempts (made ready before each).
    inner: S,
    policy: Arc<Policy>,
    progress: Progress,
    spare: Option<Request>,
    host: Option<String>,
    span: Span,
}

/// The call so far, as the retry rules read it.
struct Progress {
    method: Method,
    safe: bool,
    start: Instant,
    attempts: u32,
    previous_delay: Duration,
    waited: Duration,
}

impl<S> ResponseFuture<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    /// Sends the first attempt on `ready`, a service that is ready; `inner` is a clone for
    /// the attempts that may follow.
    #[inline(always)]
    pub(crate) fn new(ready: &mut S, inner: S, policy: Arc<Policy>, request: Request) -> Self {
        let start = Instant::now();
        let method = request.method().clone();
        let safe =
            is_idempotent(&method) || request.headers().contains_key(&policy.idempotency_header);
        let (spare, host) = spare(&request);
        let (span, attempt) = start_attempt(ready, &policy, request, 0);
        Self {
            state: State::First {
                attempt,
                call: Some(FirstAttempt {
                    inner,
                    policy,
                    progress: Progress {
                        method,
                        safe,
                        start,
                        attempts: 1,
                        previous_delay: Duration::ZERO,
                        waited: Duration::ZERO,
                    },
                    spare,
                    host,
                    span,
                }),
            },
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (outcome, classification) = match self.as_mut().project().state.project() {
            StateProj::First { attempt, call } => {
                let outcome = ready!(attempt.poll(cx));
                let call = call.as_mut().expect("polled after completion");
                // A response is classified once, here. The common end, a first attempt
                // that succeeded, hands its response on where it lies instead of moving it
                // through the general path's steps.
                let known = match &outcome {
                    Ok(response) => {
                        Some(call.policy.classifier.classify(Outcome::Response(response)))
                    }
                    Err(_) => None,
                };
                if let (Some(classification), Ok(response)) = (known, &outcome)
                    && classification.verdict() == Verdict::Success
                {
                    let status = Some(response.status());
                    crate::log::fields::record_outcome(&call.span, status, classification);
                    if let Some(budget) = &call.policy.budget {
                        budget.deposit();
                    }
                    // Dropping the state ends the attempt's future and span now.
                    self.project().state.set(State::Done);
                    // `Ok`, converted without a copy of the response on its way.
                    return Poll::Ready(outcome.map_err(|e| Error::from_inner(e.into())));
                }
                let (outcome, classification) =
                    finish_attempt(&call.policy, &call.span, outcome, known);
                match settle(&call.policy, &mut call.progress, outcome, classification) {
                    Settled::Done(result) => {
                        // Dropping the state ends the attempt's future and span now.
                        self.project().state.set(State::Done);
                        return Poll::Ready(result);
                    }
                    Settled::Failed(outcome) => (outcome, classification),
                }
            }
            StateProj::Retrying { future } => return future.as_mut().poll(cx),
            StateProj::Done => panic!("retry future polled after completion"),
        };
        let StateProj::First { call, .. } = self.as_mut().project().state.project() else {
            unreachable!("only a first attempt fails here");
        };
        let FirstAttempt {
            inner,
            policy,
            progress,
            spare,
            host,
            span,
        } = call.take().expect("taken once");
        // The attempt is over: its future and span go before any backoff sleep.
        drop(span);
        self.as_mut().project().state.set(State::Done);
        let mut rest: BoxResponseFuture = Box::pin(after_failure(
            inner,
            policy,
            progress,
            spare,
            host,
            outcome,
            classification,
        ));
        let polled = rest.as_mut().poll(cx);
        if polled.is_pending() {
            self.project().state.set(State::Retrying { future: rest });
        }
        polled
    }
}

impl<S> fmt::Debug for ResponseFuture<S>
where
    S: Service<Request>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::First { .. } => "first attempt",
            State::Retrying { .. } => "retrying",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// How much retrying a successful call took.
///
/// Read it with [`RetryStats::of`]. The retry layer stores it in the response's extensions
/// only when the call needed more than one attempt, so the happy path allocates nothing.
///
/// # Example
///
/// ```
/// use steadfast::retry::RetryStats;
///
/// # fn report(response: &reqwest::Response) {
/// let stats = RetryStats::of(response);
/// println!("{} attempts, {:?} waiting", stats.attempts, stats.waited);
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryStats {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// Time spent waiting between attempts (backoff and `Retry-After`).
    pub waited: Duration,
}

impl RetryStats {
    /// The stats of a response: one attempt and no waiting unless the retry layer recorded
    /// more.
    #[must_use]
    pub fn of(response: &Response) -> Self {
        response
            .extensions()
            .get::<Self>()
            .copied()
            .unwrap_or(Self {
                attempts: 1,
                waited: Duration::ZERO,
            })
    }
}

/// What to do after a failed attempt.
enum Decision {
    Retry(Duration),
    GiveUp {
        why: Option<NotRetried>,
        retry_at: Option<Instant>,
    },
}

/// What the rules need to know about the call so far.
struct Attempted {
    classification: Classification,
    /// How long the server asked to wait, if it did ([`server_hint`]).
    hint: Option<Hint>,
    attempts: u32,
    safe: bool,
    replayable: bool,
    previous_delay: Duration,
    start: Instant,
    now: Instant,
}

/// The retry rules, in the order the crate documents them.
fn decide(policy: &Policy, a: &Attempted) -> Decision {
    let verdict = a.classification.verdict();
    let hint = a.hint.map(|h| h.bounded(policy.max_retry_after));
    let retry_at = hint
        .and_then(Hint::requested)
        .and_then(|h| a.now.checked_add(h));
    let give_up = |why| Decision::GiveUp { why, retry_at };
    if !verdict.is_retryable() {
        return give_up(Some(NotRetried::Permanent));
    }
    if a.attempts > policy.max_retries {
        return give_up(None);
    }
    if !a.safe && !a.classification.is_pre_processing() {
        return give_up(Some(NotRetried::UnsafeMethod));
    }
    if !a.replayable {
        return give_up(Some(NotRetried::BodyNotReplayable));
    }
    if hint.is_some_and(Hint::is_too_long) {
        return give_up(Some(NotRetried::RetryAfterTooLong));
    }
    let backoff = policy.backoff.delay(a.attempts - 1, a.previous_delay);
    let delay = hint
        .and_then(Hint::delay)
        .map_or(backoff, |h| h.max(backoff));
    if policy.deadline.is_some_and(|d| a.now + delay > a.start + d) {
        return Decision::GiveUp {
            why: Some(NotRetried::Deadline),
            retry_at: Some(a.now + delay),
        };
    }
    // Last, so that a retry refused for another reason costs no token.
    if policy.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
        return give_up(Some(NotRetried::BudgetExhausted));
    }
    Decision::Retry(delay)
}

/// How long the server asked to wait after a retryable failure: the throttled verdict's own
/// wait, else the response's `Retry-After` on any status (a 500, 502 or 504 may name one
/// too). Read only here, after a failure: a success is never parsed.
fn server_hint(
    classification: Classification,
    outcome: &Result<Response, BoxError>,
) -> Option<Hint> {
    match classification.verdict() {
        Verdict::Throttled {
            retry_after: Some(wait),
        } => Some(Hint::new(wait)),
        verdict if verdict.is_retryable() => hints::retry_after(outcome.as_ref().ok()?.headers()),
        _ => None,
    }
}

/// A copy of `request` for the next attempt, and, when it cannot be copied, its host for
/// the error (the URL is gone once sent).
fn spare(request: &Request) -> (Option<Request>, Option<String>) {
    let spare = super::spare::try_clone(request);
    let host = spare
        .is_none()
        .then(|| request.url().host_str().map(str::to_owned))
        .flatten();
    (spare, host)
}

/// How an attempt's outcome ends the call, or that it failed.
enum Settled {
    Done(Result<Response, Error>),
    Failed(Result<Response, BoxError>),
}

/// Ends the call on a success (depositing in the budget) or on a rate limiter's refusal;
/// any other outcome is a failure for the retry rules.
fn settle(
    policy: &Policy,
    progress: &mut Progress,
    outcome: Result<Response, BoxError>,
    classification: Classification,
) -> Settled {
    match outcome {
        // A rate limiter below already waited as long as allowed and sent nothing: the
        // caller gets its typed error as it is, neither retried nor wrapped.
        Err(e) if matches!(e.downcast_ref(), Some(Error::RateLimited { .. })) => {
            Settled::Done(Err(Error::from_inner(e)))
        }
        Ok(mut response) if classification.verdict() == Verdict::Success => {
            if let Some(budget) = &policy.budget {
                budget.deposit();
            }
            // Only retried calls pay for the extension map.
            if progress.attempts > 1 {
                response.extensions_mut().insert(RetryStats {
                    attempts: progress.attempts,
                    waited: progress.waited,
                });
            }
            Settled::Done(Ok(response))
        }
        other => Settled::Failed(other),
    }
}

/// The rest of a call whose attempt failed: retries while the rules allow, else the error.
async fn after_failure<S>(
    mut inner: S,
    policy: Arc<Policy>,
    mut progress: Progress,
    mut spare: Option<Request>,
    mut host: Option<String>,
    mut outcome: Result<Response, BoxError>,
    mut classification: Classification,
) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    loop {
        let attempted = Attempted {
            classification,
            hint: server_hint(classification, &outcome),
            attempts: progress.attempts,
            safe: progress.safe,
            replayable: spare.is_some(),
            previous_delay: progress.previous_delay,
            start: progress.start,
            now: Instant::now(),
        };
        let next = match (decide(&policy, &attempted), spare) {
            (Decision::Retry(delay), Some(request)) => {
                tracing::warn!(
                    {
                        "http.request.method" = progress.method.as_str(),
                        attempt = progress.attempts,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "steadfast.verdict" = classification.verdict().as_str(),
                        "steadfast.reason" = %classification.reason(),
                        "error.type" = crate::log::fields::ErrorType::of(classification)
                            .map(tracing::field::display),
                    },
                    "retry scheduled"
                );
                drop(outcome);
                tokio::time::sleep(delay).await;
                progress.previous_delay = delay;
                progress.waited += delay;
                request
            }
            (Decision::GiveUp { why, retry_at }, spare) => {
                let host = host.or_else(|| spare?.url().host_str().map(str::to_owned));
                return Err(fail(
                    why,
                    classification,
                    outcome,
                    &progress.method,
                    host,
                    progress.attempts,
                    retry_at,
                ));
            }
            // `decide` only retries replayable requests.
            (Decision::Retry(_), None) => {
                let why = Some(NotRetried::BodyNotReplayable);
                return Err(fail(
                    why,
                    classification,
                    outcome,
                    &progress.method,
                    host,
                    progress.attempts,
                    None,
                ));
            }
        };
        (spare, host) = self::spare(&next);
        progress.attempts += 1;
        if let Err(e) = poll_fn(|cx| inner.poll_ready(cx)).await {
            return Err(Error::transport(without_url(e.into())));
        }
        let (span, attempt) = start_attempt(&mut inner, &policy, next, progress.attempts - 1);
        let (next_outcome, next_classification) =
            finish_attempt(&policy, &span, attempt.await, None);
        match settle(&policy, &mut progress, next_outcome, next_classification) {
            Settled::Done(result) => return result,
            Settled::Failed(failed) => {
                outcome = failed;
                classification = next_classification;
            }
        }
    }
}

/// Sends one attempt in its own span, a child of the log layer's call span.
#[inline(always)]
fn start_attempt<S>(
    inner: &mut S,
    policy: &Policy,
    request: Request,
    resend_count: u32,
) -> (Span, Instrumented<S::Future>)
where
    S: Service<Request>,
{
    let span = crate::log::fields::attempt_span(&request, &policy.idempotency_header, resend_count);
    // Entered for the call alone, as `in_scope` does, without moving the request into a
    // closure first.
    let sent = {
        let _entered = span.enter();
        inner.call(request)
    };
    let attempt = tracing::Instrument::instrument(sent, span.clone());
    (span, attempt)
}

/// Classifies an attempt's outcome, unless its classification is `known`, and records it on
/// the attempt's span, which the caller drops before any backoff sleep: its duration is the
/// attempt's.
fn finish_attempt<E>(
    policy: &Policy,
    span: &Span,
    outcome: Result<Response, E>,
    known: Option<Classification>,
) -> (Result<Response, BoxError>, Classification)
where
    E: Into<BoxError>,
{
    let outcome = outcome.map_err(|e| without_url(e.into()));
    let classification = known.unwrap_or_else(|| match &outcome {
        Ok(response) => policy.classifier.classify(Outcome::Response(response)),
        Err(error) => policy.classifier.classify(Outcome::Error(error.as_ref())),
    });
    let status = outcome.as_ref().ok().map(Response::status);
    crate::log::fields::record_outcome(span, status, classification);
    (outcome, classification)
}

fn fail(
    why: Option<NotRetried>,
    classification: Classification,
    outcome: Result<Response, BoxError>,
    method: &Method,
    host: Option<String>,
    attempts: u32,
    retry_at: Option<Instant>,
) -> Error {
    let (response, source) = match outcome {
        Ok(response) => (Some(response), None),
        Err(error) => (None, Some(error)),
    };
    let failure = Box::new(Failure {
        method: method.clone(),
        host,
        attempts,
        classification,
        status: response.as_ref().map(Response::status),
        retry_at,
        response: Mutex::new(response),
        idempotency_key: None,
    });
    tracing::debug!(
        {
            "http.request.method" = method.as_str(),
            attempts,
            "steadfast.verdict" = classification.verdict().as_str(),
            "steadfast.reason" = %classification.reason(),
            not_retried = why.map(tracing::field::display),
        },
        "call failed"
    );
    match why {
        None => Error::RetriesExhausted { failure, source },
        Some(why) => Error::NotRetried {
            why,
            failure,
            source,
        },
    }
}

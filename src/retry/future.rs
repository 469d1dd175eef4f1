use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::{Method, Request, Response};
use tokio::time::Instant;
use tower_service::Service;
use tracing::Span;
use tracing::instrument::Instrumented;

use super::attempts::{Leftover, Streamed, after_failure, key_of};
use super::policy::{Policy, is_idempotent};
use crate::boxed::BoxResponseFuture;
use crate::classify::{Applied, Classification, Outcome, Verdict};
use crate::error::{BoxError, Error, without_url};
use crate::telemetry::RetryStats;

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
            metrics: crate::metrics::AttemptStart,
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
    left: Leftover,
    span: Span,
}

/// The call so far, as the retry rules read it.
pub(super) struct Progress {
    pub(super) method: Method,
    /// Safe to repeat after any failure: an idempotent method, or a key the server
    /// deduplicates by.
    pub(super) safe: bool,
    pub(super) start: Instant,
    pub(super) attempts: u32,
    pub(super) previous_delay: Duration,
    pub(super) waited: Duration,
    /// `MaybeApplied` once an attempt may have been applied and no verifier said otherwise.
    pub(super) outcome: Applied,
    pub(super) verifications: u32,
}

impl<S> ResponseFuture<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    /// Sends the first attempt on `ready`, a service that is ready; `inner` is a clone for
    /// the attempts that may follow.
    #[inline(always)]
    pub(crate) fn new(ready: &mut S, inner: S, policy: Arc<Policy>, request: Request) -> Self {
        let start = Instant::now();
        let method = request.method().clone();
        // The host is read only for a request that is not idempotent.
        let safe = is_idempotent(&method) || policy.server_dedupes(&request);
        // A dead-letter layer above takes the spare copy back if the call fails.
        let left = spare(&request, &policy, crate::telemetry::is_asked());
        let (span, attempt, metrics) = start_attempt(ready, &policy, request, 0);
        Self {
            state: State::First {
                attempt,
                metrics,
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
                        outcome: Applied::NotApplied,
                        verifications: 0,
                    },
                    left,
                    span,
                }),
            },
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (outcome, classification, first) = match self.as_mut().project().state.project() {
            StateProj::First {
                attempt,
                metrics,
                call: kept,
            } => {
                let outcome = ready!(attempt.poll(cx));
                let call = kept.as_mut().expect("polled after completion");
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
                    crate::telemetry::record_outcome(&call.span, status, classification);
                    metrics.take().end(status, classification, false);
                    if let Some(budget) = &call.policy.budget {
                        budget.deposit();
                    }
                    call.left.disarm();
                    // Dropping the state ends the attempt's future and span now.
                    self.project().state.set(State::Done);
                    // `Ok`, converted without a copy of the response on its way.
                    return Poll::Ready(outcome.map_err(|e| Error::from_inner(e.into())));
                }
                let (outcome, classification) = finish_attempt(
                    &call.policy,
                    &call.span,
                    outcome,
                    known,
                    call.progress.start,
                    metrics.take(),
                );
                match settle(&call.policy, &mut call.progress, outcome, classification) {
                    Settled::Done(result) => {
                        if result.is_ok() {
                            call.left.disarm();
                        }
                        // Dropping the state ends the attempt's future and span now.
                        self.project().state.set(State::Done);
                        return Poll::Ready(result);
                    }
                    // The rest of the call takes what the first attempt kept for it.
                    Settled::Failed(outcome) => (outcome, classification, kept.take()),
                }
            }
            StateProj::Retrying { future } => return future.as_mut().poll(cx),
            StateProj::Done => panic!("retry future polled after completion"),
        };
        let Some(FirstAttempt {
            inner,
            policy,
            progress,
            left,
            span,
        }) = first
        else {
            panic!("retry future polled after completion");
        };
        // The attempt is over: its future and span go before any backoff sleep.
        drop(span);
        self.as_mut().project().state.set(State::Done);
        let mut rest: BoxResponseFuture = Box::pin(after_failure(
            inner,
            policy,
            progress,
            left,
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

/// A copy of `request` for the next attempt, and, when it cannot be copied, its URL and key
/// for the error and the verifier (both are gone once sent).
///
/// `armed`: a dead-letter layer above asked for the request back if the call fails.
pub(super) fn spare(request: &Request, policy: &Policy, armed: bool) -> Leftover {
    match super::spare::try_clone(request) {
        Some(spare) => Leftover {
            spare: Some(spare),
            streamed: None,
            armed,
        },
        None => Leftover {
            spare: None,
            streamed: Some(Box::new(Streamed {
                url: request.url().clone(),
                key: key_of(request, policy),
                head: armed.then(|| crate::telemetry::copy_of(request)),
            })),
            armed,
        },
    }
}

/// How an attempt's outcome ends the call, or that it failed.
pub(super) enum Settled {
    Done(Result<Response, Error>),
    Failed(Result<Response, BoxError>),
}

/// Ends the call on a success (depositing in the budget) or on a rate limiter's refusal;
/// any other outcome is a failure for the retry rules.
pub(super) fn settle(
    policy: &Policy,
    progress: &mut Progress,
    outcome: Result<Response, BoxError>,
    classification: Classification,
) -> Settled {
    match outcome {
        // A rate limiter below already waited as long as allowed and sent nothing: the
        // caller gets its typed error as it is, neither retried nor wrapped; unless an
        // earlier attempt may have been applied, which only the rules' error can say.
        Err(e)
            if progress.outcome == Applied::NotApplied
                && matches!(e.downcast_ref(), Some(Error::RateLimited { .. })) =>
        {
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

/// Sends one attempt in its own span, a child of the log layer's call span.
#[inline(always)]
pub(super) fn start_attempt<S>(
    inner: &mut S,
    policy: &Policy,
    request: Request,
    resend_count: u32,
) -> (Span, Instrumented<S::Future>, crate::metrics::AttemptStart)
where
    S: Service<Request>,
{
    let span = crate::telemetry::attempt_span(&request, &policy.idempotency_header, resend_count);
    // Entered for the call alone, as `in_scope` does, without moving the request into a
    // closure first.
    let metrics = crate::metrics::AttemptStart::of(&request);
    let sent = {
        let _entered = span.enter();
        inner.call(request)
    };
    let attempt = tracing::Instrument::instrument(sent, span.clone());
    (span, attempt, metrics)
}

/// Classifies an attempt's outcome (started at `started`), unless its classification is
/// `known`, and records it on the attempt's span and in the call's attempt log, which the caller drops before any backoff sleep: its duration is the
/// attempt's.
pub(super) fn finish_attempt<E>(
    policy: &Policy,
    span: &Span,
    outcome: Result<Response, E>,
    known: Option<Classification>,
    started: Instant,
    metrics: crate::metrics::AttemptStart,
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
    crate::telemetry::record_outcome(span, status, classification);
    let refused = outcome
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<Error>());
    metrics.end(
        status,
        classification,
        refused.is_some_and(Error::refused_before_sending),
    );
    // For a dead-letter layer above, if there is one; a first attempt that succeeded
    // never comes here.
    crate::telemetry::record_attempt(classification, status, started);
    (outcome, classification)
}

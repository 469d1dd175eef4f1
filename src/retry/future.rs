use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, Request, Response};
use tokio::time::Instant;
use tower_service::Service;

use super::policy::{Policy, is_idempotent};
use crate::classify::{Classification, Outcome, Verdict};
use crate::error::{BoxError, Error, Failure, NotRetried, without_url};

crate::boxed::boxed_response_future! {
    /// The future returned by [`Retry`](super::Retry): all attempts of one logical call.
}

impl ResponseFuture {
    pub(crate) fn new<S>(inner: S, policy: Arc<Policy>, request: Request) -> Self
    where
        S: Service<Request, Response = Response> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send,
    {
        Self::boxed(run(inner, policy, request))
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
    let hint = match verdict {
        Verdict::Throttled { retry_after } => retry_after,
        _ => None,
    };
    let give_up = |why| Decision::GiveUp {
        why,
        retry_at: hint.map(|h| a.now + h),
    };
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
    if hint.is_some_and(|h| h > policy.max_retry_after) {
        return give_up(Some(NotRetried::RetryAfterTooLong));
    }
    let backoff = policy.backoff.delay(a.attempts - 1, a.previous_delay);
    let delay = hint.map_or(backoff, |h| h.max(backoff));
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

async fn run<S>(mut inner: S, policy: Arc<Policy>, request: Request) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    let start = Instant::now();
    let method = request.method().clone();
    let safe = is_idempotent(&method) || request.headers().contains_key(&policy.idempotency_header);
    let mut next = request;
    let mut attempts: u32 = 0;
    let mut previous_delay = Duration::ZERO;
    let mut waited = Duration::ZERO;

    loop {
        let spare = next.try_clone();
        // Without a spare copy the URL is gone once sent; keep the host for the error.
        let host = spare
            .is_none()
            .then(|| next.url().host_str().map(str::to_owned))
            .flatten();
        attempts += 1;
        if attempts > 1
            && let Err(e) = poll_fn(|cx| inner.poll_ready(cx)).await
        {
            return Err(Error::Transport(without_url(e.into())));
        }
        let (outcome, classification) = attempt(&mut inner, &policy, next, attempts - 1).await;
        // A rate limiter below already waited as long as allowed and sent nothing: the caller
        // gets its typed error as it is, neither retried nor wrapped.
        let outcome = match outcome {
            Err(e) if matches!(e.downcast_ref(), Some(Error::RateLimited { .. })) => {
                return Err(Error::from_inner(e));
            }
            other => other,
        };
        let outcome = match outcome {
            Ok(mut response) if classification.verdict() == Verdict::Success => {
                if let Some(budget) = &policy.budget {
                    budget.deposit();
                }
                // Only retried calls pay for the extension map.
                if attempts > 1 {
                    response
                        .extensions_mut()
                        .insert(RetryStats { attempts, waited });
                }
                return Ok(response);
            }
            other => other,
        };
        let attempted = Attempted {
            classification,
            attempts,
            safe,
            replayable: spare.is_some(),
            previous_delay,
            start,
            now: Instant::now(),
        };
        match (decide(&policy, &attempted), spare) {
            (Decision::Retry(delay), Some(request)) => {
                tracing::warn!(
                    {
                        "http.request.method" = method.as_str(),
                        attempt = attempts,
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
                previous_delay = delay;
                waited += delay;
                next = request;
            }
            (Decision::GiveUp { why, retry_at }, spare) => {
                let host = host.or_else(|| spare?.url().host_str().map(str::to_owned));
                return Err(fail(
                    why,
                    classification,
                    outcome,
                    &method,
                    host,
                    attempts,
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
                    &method,
                    host,
                    attempts,
                    None,
                ));
            }
        }
    }
}

/// Sends one attempt in its own span, a child of the log layer's call span, and classifies
/// the outcome.
async fn attempt<S>(
    inner: &mut S,
    policy: &Policy,
    request: Request,
    resend_count: u32,
) -> (Result<Response, BoxError>, Classification)
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    let span = crate::log::fields::attempt_span(&request, &policy.idempotency_header, resend_count);
    let sent = span.in_scope(|| inner.call(request));
    let outcome = tracing::Instrument::instrument(sent, span.clone())
        .await
        .map_err(|e| without_url(e.into()));
    let classification = match &outcome {
        Ok(response) => policy.classifier.classify(Outcome::Response(response)),
        Err(error) => policy.classifier.classify(Outcome::Error(error.as_ref())),
    };
    let status = outcome.as_ref().ok().map(Response::status);
    crate::log::fields::record_outcome(&span, status, classification);
    // The span closes on return, before any backoff sleep: its duration is the attempt's.
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

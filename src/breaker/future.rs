use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use reqwest::Response;

use super::circuit::{Counted, Ticket};
use super::registry::Entry;
use crate::boxed::BoxResponseFuture;
use crate::classify::{Classification, DefaultClassifier, Outcome, Reason, Verdict};
use crate::error::{BoxError, Error};
use crate::hints::Hint;

pin_project! {
    /// The future returned by [`CircuitBreaker`](super::CircuitBreaker).
    ///
    /// An admitted call runs the inner future in place; only a call that waits in the
    /// bulkhead's queue is boxed, and a refused one never touches the inner service.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Sending {
            #[pin]
            future: F,
            guard: Option<Guard>,
        },
        Waiting {
            future: BoxResponseFuture,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

/// A call's hold on its key: the circuit's ticket until the outcome is counted, and a
/// bulkhead slot until the call ends. Dropped without an outcome (the call was cancelled),
/// it gives both back.
pub(crate) struct Guard {
    pub(crate) entry: Arc<Entry>,
    pub(crate) ticket: Option<Ticket>,
    pub(crate) slot: bool,
}

impl Guard {
    /// Counts `outcome` on the circuit. A refusal below (a rate limiter, the shared quota,
    /// credentials that could not be had) never reached the host: it says nothing of it and
    /// is not counted, as a dropped call is not.
    #[inline(always)]
    pub(crate) fn finish(&mut self, outcome: &Result<Response, Error>) {
        let (Some(ticket), Some(circuit)) = (self.ticket, &self.entry.circuit) else {
            return;
        };
        // The built-in rules call every status below 400 a success: no classification to
        // build, and no call, on the path most calls take.
        if let (None, Ok(response)) = (&self.entry.classifier, outcome)
            && response.status().as_u16() < 400
            && circuit.record_success_quickly(ticket)
        {
            self.ticket = None;
            return;
        }
        self.finish_slowly(outcome);
    }

    /// [`finish`](Self::finish) past its shortcut.
    #[inline(never)]
    fn finish_slowly(&mut self, outcome: &Result<Response, Error>) {
        let (Some(ticket), Some(circuit)) = (self.ticket.take(), &self.entry.circuit) else {
            return;
        };
        if let (None, Ok(response)) = (&self.entry.classifier, outcome)
            && response.status().as_u16() < 400
        {
            circuit.record(ticket, Counted::Success);
            return;
        }
        if let Err(error) = outcome
            && error.refused_before_sending()
        {
            circuit.release(ticket);
            return;
        }
        let classification = match (&self.entry.classifier, outcome) {
            (None, Ok(response)) => {
                DefaultClassifier::classify_status(response.status(), response.headers())
            }
            (None, Err(error)) => DefaultClassifier::classify_error(error),
            (Some(classifier), Ok(response)) => classifier.classify(Outcome::Response(response)),
            (Some(classifier), Err(error)) => classifier.classify(Outcome::Error(error)),
        };
        circuit.record(
            ticket,
            counted(classification, circuit.settings().max_break()),
        );
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let (Some(ticket), Some(circuit)) = (self.ticket.take(), &self.entry.circuit) {
            circuit.release(ticket);
        }
        if self.slot
            && let Some(bulkhead) = &self.entry.bulkhead
        {
            bulkhead.give_back();
        }
    }
}

/// What the shared classification means for a circuit: transient failures count against
/// it, throttles and permanent failures do not, and a 503 with `Retry-After` opens it for
/// that long (at most `max_break`).
pub(crate) fn counted(classification: Classification, max_break: std::time::Duration) -> Counted {
    match classification.verdict() {
        Verdict::Success => Counted::Success,
        Verdict::Transient => Counted::Failure,
        Verdict::Throttled {
            retry_after: Some(wait),
        } if classification.reason()
            == Reason::Status(reqwest::StatusCode::SERVICE_UNAVAILABLE) =>
        {
            Counted::OpenFor(Hint::new(wait).capped(max_break))
        }
        _ => Counted::Neutral,
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn sending(future: F, guard: Option<Guard>) -> Self {
        Self {
            state: State::Sending { future, guard },
        }
    }

    pub(crate) fn waiting(future: BoxResponseFuture) -> Self {
        Self {
            state: State::Waiting { future },
        }
    }

    pub(crate) fn refused(error: Error) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Sending { future, guard } => {
                let outcome = ready!(future.poll(cx)).map_err(|e| Error::from_inner(e.into()));
                if let Some(mut guard) = guard.take() {
                    guard.finish(&outcome);
                }
                Poll::Ready(outcome)
            }
            StateProj::Waiting { future } => future.as_mut().poll(cx),
            StateProj::Refused { error } => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => panic!("circuit breaker future polled after completion"),
            },
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Sending { .. } => "sending",
            State::Waiting { .. } => "waiting",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::StatusCode;

    use super::*;

    #[test]
    fn the_shortcut_agrees_with_the_default_rules() {
        let headers = reqwest::header::HeaderMap::new();
        for code in 100..=999 {
            let status = StatusCode::from_u16(code).expect("valid");
            let verdict = DefaultClassifier::classify_status(status, &headers).verdict();
            assert_eq!(code < 400, verdict == Verdict::Success, "{code}");
        }
    }

    #[test]
    fn what_counts() {
        let max = Duration::from_secs(60);
        let status = |code: u16| Reason::Status(StatusCode::from_u16(code).expect("valid"));
        let cases = [
            (Classification::success(status(200)), Counted::Success),
            (Classification::transient(status(500)), Counted::Failure),
            (Classification::transient(status(503)), Counted::Failure),
            (Classification::transient(Reason::Timeout), Counted::Failure),
            (Classification::transient(Reason::Connect), Counted::Failure),
            (Classification::permanent(status(404)), Counted::Neutral),
            (Classification::permanent(status(401)), Counted::Neutral),
            (
                Classification::throttled(Some(Duration::from_secs(2)), status(429)),
                Counted::Neutral,
            ),
            (
                Classification::throttled(None, status(503)),
                Counted::Neutral,
            ),
            (
                Classification::throttled(None, Reason::RateLimited),
                Counted::Neutral,
            ),
            (
                Classification::throttled(Some(Duration::from_secs(7)), status(503)),
                Counted::OpenFor(Duration::from_secs(7)),
            ),
            (
                Classification::throttled(Some(Duration::from_secs(3600)), status(503)),
                Counted::OpenFor(max),
            ),
        ];
        for (classification, expected) in cases {
            assert_eq!(counted(classification, max), expected, "{classification}");
        }
    }
}

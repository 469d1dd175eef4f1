//! Every attempt of a call, for the dead-letter layer: the retry layer classifies each
//! attempt and appends it here, when a layer above asked for the log; and the request,
//! handed back by the layer that held it when the call failed ([`super::hand_back`]).
//!
//! The log lives in the dead-letter layer's future, [`WithAttemptLog`], which marks the
//! thread as polling a logged call around each poll of the call it wraps and puts the mark
//! back after (`reqwest::Request` has no public extensions to carry the log in): a
//! task-local scope, written out so that a call that records nothing moves only a byte.
//! What the layers below record during a poll goes into a thread-local pending log that
//! the scope moves into its own when the poll ends; a scope entered while another's
//! pending entries wait (a call polled inside another's poll) keeps them aside and puts
//! them back after, so nested or interleaved calls on one thread never see each other's
//! log. Without a dead-letter layer no mark is set and [`record_attempt`] finds nothing: it
//! is called only for attempts that did not succeed at once, so a call that succeeds at its
//! first attempt never reaches it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::{Request, StatusCode};
use tokio::time::Instant;

use crate::classify::Classification;

thread_local! {
    /// [`OUTSIDE`], or [`INSIDE`] while a logged call is polled, plus [`WRITTEN`] once
    /// something waits in [`PENDING`].
    static MARK: Cell<u8> = const { Cell::new(OUTSIDE) };
    /// What the call being polled recorded during this poll; read only when [`WRITTEN`]
    /// says so, so that a call that records nothing never touches it.
    static PENDING: RefCell<CallLog> = const {
        RefCell::new(CallLog {
            attempts: Vec::new(),
            request: None,
        })
    };
}

const OUTSIDE: u8 = 0;
const INSIDE: u8 = 1;
const WRITTEN: u8 = 2;

/// What the dead-letter layer learns of the call it wraps while the call runs.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    pub(crate) attempts: Vec<AttemptEntry>,
    /// The request, handed back when the call failed.
    pub(crate) request: Option<Box<Request>>,
}

/// One attempt as the retry layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptEntry {
    pub(crate) classification: Classification,
    pub(crate) status: Option<StatusCode>,
    pub(crate) started: Instant,
    pub(crate) elapsed: Duration,
}

pin_project! {
    /// A future polled, and dropped, with its own attempt log; the inner future is dropped
    /// as soon as it is done, inside the scope, because the layers below (retry) hand the
    /// request back as their futures go.
    pub(crate) struct WithAttemptLog<F> {
        // Boxed when something is first recorded: the future stays small for a call that
        // records nothing, which is moved several times on its way to the runtime.
        log: Option<Box<CallLog>>,
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for WithAttemptLog<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.inner.is_some() {
                let _scope = Scope::enter(this.log);
                let mut inner = this.inner;
                inner.set(None);
            }
        }
    }
}

/// Runs `future` with an empty attempt log; take it back with [`WithAttemptLog::take_log`].
#[inline(always)]
pub(crate) fn with_attempt_log<F>(future: F) -> WithAttemptLog<F> {
    WithAttemptLog {
        log: None,
        inner: Some(future),
    }
}

impl<F> WithAttemptLog<F> {
    /// The log as the call left it; empty if taken before.
    pub(crate) fn take_log(self: Pin<&mut Self>) -> CallLog {
        self.project()
            .log
            .take()
            .map(|log| *log)
            .unwrap_or_default()
    }
}

impl<F: Future> Future for WithAttemptLog<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let Some(future) = inner.as_mut().as_pin_mut() else {
            panic!("dead-letter future polled after completion");
        };
        let _scope = Scope::enter(this.log);
        let output = ready!(future.poll(cx));
        inner.set(None);
        Poll::Ready(output)
    }
}

/// Marks the thread as polling a logged call until dropped (also when the inner future
/// panics), then moves what was recorded into `log` and puts the mark back as it was.
struct Scope<'a> {
    log: &'a mut Option<Box<CallLog>>,
    outer: u8,
    /// Another call's pending entries, kept aside while this one is polled inside its poll
    /// (boxed: rare, and the guard of every poll stays small).
    aside: Option<Box<CallLog>>,
}

impl<'a> Scope<'a> {
    #[inline]
    fn enter(log: &'a mut Option<Box<CallLog>>) -> Self {
        let outer = MARK.replace(INSIDE);
        let aside = (outer & WRITTEN != 0).then(|| Box::new(take_pending()));
        Self { log, outer, aside }
    }
}

impl Drop for Scope<'_> {
    #[inline]
    fn drop(&mut self) {
        if MARK.get() & WRITTEN != 0 {
            let pending = take_pending();
            let log = self.log.get_or_insert_with(Box::default);
            let room = MAX_ATTEMPTS.saturating_sub(log.attempts.len());
            log.attempts.extend(pending.attempts.into_iter().take(room));
            if pending.request.is_some() {
                log.request = pending.request;
            }
        }
        if let Some(aside) = self.aside.take() {
            let _ = PENDING.try_with(|slot| {
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = *aside;
                }
            });
        }
        MARK.set(self.outer);
    }
}

/// Empties the pending log.
#[cold]
fn take_pending() -> CallLog {
    PENDING
        .try_with(|slot| {
            slot.try_borrow_mut()
                .map(|mut slot| std::mem::take(&mut *slot))
        })
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// Whether a call being polled on this thread keeps a log.
#[inline]
pub(super) fn in_scope() -> bool {
    MARK.get() != OUTSIDE
}

/// Runs `f` on the pending log of the call being polled, if any.
#[inline]
pub(super) fn with_log(f: impl FnOnce(&mut CallLog)) {
    let mark = MARK.get();
    if mark == OUTSIDE {
        return;
    }
    let _ = PENDING.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            f(&mut slot);
        }
    });
    MARK.set(mark | WRITTEN);
}

/// Appends an attempt to the log of the call being polled, when a layer above keeps one.
pub(crate) fn record_attempt(
    classification: Classification,
    status: Option<StatusCode>,
    started: Instant,
) {
    with_log(|log| {
        // Bounded: a runaway retry configuration cannot grow a letter without end.
        if log.attempts.len() < MAX_ATTEMPTS {
            log.attempts.push(AttemptEntry {
                classification,
                status,
                started,
                elapsed: started.elapsed(),
            });
        }
    });
}

/// The most attempts one log keeps.
const MAX_ATTEMPTS: usize = 1_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Reason;

    #[tokio::test]
    async fn attempts_reach_the_log_of_the_call_only() {
        // Outside a scope: nothing to record into, and no panic.
        record_attempt(
            Classification::transient(Reason::Timeout),
            None,
            Instant::now(),
        );
        let mut scoped = std::pin::pin!(with_attempt_log(async {
            record_attempt(
                Classification::transient(Reason::Status(StatusCode::BAD_GATEWAY)),
                Some(StatusCode::BAD_GATEWAY),
                Instant::now(),
            );
        }));
        scoped.as_mut().await;
        let log = scoped.as_mut().take_log();
        assert_eq!(log.attempts.len(), 1);
        assert_eq!(log.attempts[0].status, Some(StatusCode::BAD_GATEWAY));
    }

    #[tokio::test]
    async fn a_call_polled_inside_another_keeps_its_own_log() {
        let timeout = || {
            record_attempt(
                Classification::transient(Reason::Timeout),
                None,
                Instant::now(),
            );
        };
        let mut outer = std::pin::pin!(with_attempt_log(async move {
            timeout();
            let mut inner = std::pin::pin!(with_attempt_log(async {
                tokio::task::yield_now().await;
                record_attempt(
                    Classification::transient(Reason::Status(StatusCode::BAD_GATEWAY)),
                    Some(StatusCode::BAD_GATEWAY),
                    Instant::now(),
                );
            }));
            inner.as_mut().await;
            let log = inner.as_mut().take_log();
            assert_eq!(log.attempts.len(), 1, "only its own attempt");
            assert_eq!(log.attempts[0].status, Some(StatusCode::BAD_GATEWAY));
            tokio::task::yield_now().await;
            timeout();
        }));
        outer.as_mut().await;
        assert!(!in_scope(), "the mark is put back");
        let log = outer.as_mut().take_log();
        assert_eq!(log.attempts.len(), 2, "its own attempts, before and after");
        assert!(log.attempts.iter().all(|a| a.status.is_none()));
    }
}

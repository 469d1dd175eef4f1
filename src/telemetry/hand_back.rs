//! The request of a failed call, handed back to the dead-letter layer by the layer that held
//! it, so that a call that succeeds never pays for a copy kept for its letter.
//!
//! The retry layer keeps a spare copy of every request for its next attempt; when the call
//! fails (or is cut by a deadline, or dropped) it gives that copy back instead of dropping
//! it. A layer between them that answers without calling retry (the idempotency layer on
//! its ledger's paths) hands back a copy of its own. Layers learn that a dead-letter layer
//! above wants the request from [`is_asked`]: its `call` runs theirs inside an [`Asking`]
//! (a thread-local flag: a `call` is synchronous), and its future polls theirs inside the
//! call log's scope.

use std::cell::{Cell, RefCell};

use bytes::Bytes;
use reqwest::Request;

use super::attempt_log::{in_scope, with_log};

thread_local! {
    /// While a dead-letter layer's `call` runs the inner service's: what the layers below
    /// said ([`NOT_ASKING`], [`ASKING`], or that plus [`PROMISED`] and [`HANDED`] bits).
    static STATE: Cell<u8> = const { Cell::new(NOT_ASKING) };
    /// What a layer handed back during that `call`; read only when [`HANDED`] says so, so
    /// that a call that succeeds never touches it.
    static REQUEST: RefCell<Option<Box<Request>>> = const { RefCell::new(None) };
}

const NOT_ASKING: u8 = 0;
const ASKING: u8 = 1;
const PROMISED: u8 = 2;
const HANDED: u8 = 4;

/// What the layers below said during an [`Asking`].
#[derive(Debug, Default)]
pub(crate) struct Answer {
    /// A request handed back at once.
    pub(crate) handed: Option<Box<Request>>,
    /// A layer below keeps the request and hands it back if the call fails.
    pub(crate) promised: bool,
}

/// Asks the layers below for the request back while an inner service's `call` runs:
/// [`start`](Self::start) it before, [`answer`](Self::answer) after. A guard rather than a
/// closure, so that the inner future is built where it stays; dropped without an answer
/// (a panicking `call`) it puts the state back all the same.
#[derive(Debug)]
pub(crate) struct Asking {
    outer: u8,
}

impl Asking {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            outer: STATE.replace(ASKING),
        }
    }

    /// What the layers below said, and the state as it was before.
    #[inline]
    pub(crate) fn answer(self) -> Answer {
        let said = STATE.get();
        drop(self);
        let handed = if said & HANDED == 0 {
            None
        } else {
            REQUEST.with_borrow_mut(Option::take)
        };
        Answer {
            handed,
            promised: said & PROMISED != 0,
        }
    }
}

impl Drop for Asking {
    fn drop(&mut self) {
        STATE.set(self.outer);
    }
}

/// Whether a dead-letter layer above wants the request back if the call fails; a layer
/// that answers `true` and keeps the request must [`hand_back`] it then.
#[inline]
pub(crate) fn is_asked() -> bool {
    let state = STATE.get();
    if state != NOT_ASKING {
        STATE.set(state | PROMISED);
        return true;
    }
    in_scope()
}

/// Gives `request` back to the dead-letter layer above, for its letter; nothing when none
/// asked.
pub(crate) fn hand_back(request: Request) {
    let state = STATE.get();
    if state != NOT_ASKING {
        REQUEST.with_borrow_mut(|slot| *slot = Some(Box::new(request)));
        STATE.set(state | HANDED);
        return;
    }
    with_log(|log| log.request = Some(Box::new(request)));
}

/// A copy of `request` to hand back: whole, or, when its body is a stream that cannot be
/// copied, its head with a body that says so (not replayable).
pub(crate) fn copy_of(request: &Request) -> Request {
    if let Some(copy) = request.try_clone() {
        return copy;
    }
    let mut head = Request::new(request.method().clone(), request.url().clone());
    *head.headers_mut() = request.headers().clone();
    *head.version_mut() = request.version();
    *head.body_mut() = Some(reqwest::Body::wrap(http_body_util::Empty::<Bytes>::new()));
    head
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use reqwest::Method;

    use super::*;
    use crate::telemetry::with_attempt_log;

    fn request() -> Request {
        Request::new(
            Method::POST,
            "https://api.example.com/invoices".parse().expect("a URL"),
        )
    }

    #[tokio::test]
    async fn a_request_reaches_the_layer_that_asked_and_no_other() {
        // Nobody asked: nothing kept, no panic.
        assert!(!is_asked());
        hand_back(request());
        let asking = Asking::start();
        assert!(is_asked());
        hand_back(request());
        let answer = asking.answer();
        assert!(answer.promised, "asking is promising");
        assert_eq!(answer.handed.expect("handed back").method(), Method::POST);
        assert!(!is_asked(), "the flag is put back");
        let nothing = Asking::start().answer();
        assert!(nothing.handed.is_none() && !nothing.promised);

        // While the call is polled, the request goes into its log.
        let mut scoped = pin!(with_attempt_log(async {
            assert!(is_asked());
            hand_back(request());
        }));
        scoped.as_mut().await;
        let log = scoped.as_mut().take_log();
        assert!(log.request.is_some());
    }

    #[test]
    fn a_streamed_body_is_handed_back_as_a_head_that_cannot_be_replayed() {
        let mut streamed = request();
        streamed
            .headers_mut()
            .insert("content-type", "application/json".parse().expect("a value"));
        *streamed.body_mut() = Some(reqwest::Body::wrap(http_body_util::Empty::<Bytes>::new()));
        let copy = copy_of(&streamed);
        assert_eq!(copy.headers(), streamed.headers());
        assert!(copy.body().is_some_and(|b| b.as_bytes().is_none()));
        let mut small = request();
        *small.body_mut() = Some(reqwest::Body::from("{}"));
        assert_eq!(
            copy_of(&small).body().and_then(reqwest::Body::as_bytes),
            Some(&b"{}"[..])
        );
    }
}

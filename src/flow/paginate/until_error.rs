//! Records without the `Result`: the error that ends the walk is kept aside, not dropped.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use super::{Items, PaginateError, Position};

/// What an [`Items::until_error`] walk got to: the position to resume from, and the error
/// that ended it, if one did. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    position: Position,
    error: Option<PaginateError>,
}

impl Checkpoint {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A panic elsewhere leaves the state as whole as it was: keep using it.
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Where to resume so that no record is lost (see [`Items::position`]).
    #[must_use]
    pub fn position(&self) -> Position {
        self.with(|s| s.position.clone())
    }

    /// The error that ended the walk, taken out; `None` when it ended after its last page
    /// (or has not ended yet).
    #[must_use]
    pub fn take_error(&self) -> Option<PaginateError> {
        self.with(|s| s.error.take())
    }
}

/// The records of a walk as plain `T`, made by [`Items::until_error`]: it ends at the last
/// record, or at the first error, which goes to its [`Checkpoint`].
#[derive(Debug)]
#[must_use = "a stream does nothing until polled"]
pub struct UntilError<T> {
    items: Items<T>,
    checkpoint: Checkpoint,
    /// Pages of the last position written to the checkpoint, to write once per page.
    written: Option<u64>,
}

impl<T> UntilError<T> {
    pub(super) fn new(items: Items<T>) -> (Self, Checkpoint) {
        let checkpoint = Checkpoint::default();
        let stream = Self {
            items,
            checkpoint: checkpoint.clone(),
            written: None,
        };
        stream.sync_position();
        (stream, checkpoint)
    }

    fn sync_position(&self) {
        let position = self.items.position().clone();
        self.checkpoint.with(|s| s.position = position);
    }
}

impl<T: DeserializeOwned> Stream for UntilError<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        let next = std::task::ready!(this.items.poll_next_unpin(cx));
        let pages = this.items.position().pages();
        if this.written != Some(pages) || next.is_none() {
            this.written = Some(pages);
            this.sync_position();
        }
        Poll::Ready(match next {
            Some(Ok(item)) => Some(item),
            Some(Err(error)) => {
                this.sync_position();
                this.checkpoint.with(|s| s.error = Some(error));
                None
            }
            None => None,
        })
    }
}

// The records are moved out of a `Vec`, never pinned.
impl<T> Unpin for UntilError<T> {}

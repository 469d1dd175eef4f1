//! The stream of pages.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;

use super::walk::Walk;
use super::{Items, Page, PaginateConfig, PaginateError, Position};
use crate::error::ConfigError;

type PageStream = Pin<Box<dyn Stream<Item = Result<Page, PaginateError>> + Send>>;

/// The pages of a list, one call through the client's stack each, made by
/// [`Client::paginate`](crate::Client::paginate).
///
/// A [`Stream`] of `Result<Page, PaginateError>`: it ends after the last page, or after
/// the first error. Nothing is sent until it is polled; [`limits`](Self::limits) and
/// [`resume_from`](Self::resume_from) apply when called before that.
#[must_use = "a stream does nothing until polled"]
pub struct Pages {
    state: State,
}

enum State {
    /// Not polled yet.
    Ready(Box<Walk>),
    Running(PageStream),
    /// The request could not be built: its error, then the end.
    Failed(Option<PaginateError>),
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready(_) => "ready",
            State::Running(_) => "running",
            State::Failed(_) => "failed",
        };
        f.debug_struct("Pages")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Pages {
    pub(super) fn new(walk: Walk) -> Self {
        Self {
            state: State::Ready(Box::new(walk)),
        }
    }

    pub(super) fn failed(error: PaginateError) -> Self {
        Self {
            state: State::Failed(Some(error)),
        }
    }

    /// Sets the walk's bounds (default [`PaginateConfig::default`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero bound.
    pub fn limits(mut self, config: &PaginateConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        if let State::Ready(walk) = &mut self.state {
            walk.config = config.clone();
        }
        Ok(self)
    }

    /// Starts at `position`, as stored from an earlier walk's [`Page::resume_from`],
    /// [`PaginateError::resume_from`] or [`Items::position`], instead of the first page.
    /// The request and paginator must be the earlier walk's. A position that is done
    /// yields nothing.
    pub fn resume_from(mut self, position: Position) -> Self {
        if let State::Ready(walk) = &mut self.state {
            walk.position = position;
        }
        self
    }

    /// Where the walk starts: the start, or the position given to
    /// [`resume_from`](Self::resume_from).
    pub(super) fn start_position(&self) -> Position {
        match &self.state {
            State::Ready(walk) => walk.position.clone(),
            _ => Position::start(),
        }
    }

    /// The records of every page: the array at JSON pointer `pointer` (RFC 6901, `""` for
    /// a body that is the array), each decoded as `T`.
    pub fn items<T: DeserializeOwned>(self, pointer: impl Into<String>) -> Items<T> {
        Items::new(self, pointer.into())
    }
}

impl Stream for Pages {
    type Item = Result<Page, PaginateError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match &mut self.state {
                State::Running(stream) => return stream.as_mut().poll_next(cx),
                State::Failed(error) => return Poll::Ready(error.take().map(Err)),
                State::Ready(_) => {
                    let State::Ready(walk) =
                        std::mem::replace(&mut self.state, State::Failed(None))
                    else {
                        continue;
                    };
                    let stream = futures_util::stream::unfold(walk, |mut walk| async move {
                        let item = walk.step().await?;
                        Some((item, walk))
                    });
                    self.state = State::Running(Box::pin(stream));
                }
            }
        }
    }
}

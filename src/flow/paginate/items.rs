//! The records of every page, one by one.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use super::{Checkpoint, Pages, PaginateError, PaginateErrorKind, Position, UntilError};

/// The records of every page, made by [`Pages::items`]: a [`Stream`] of
/// `Result<T, PaginateError>` that ends after the last record or the first error.
#[must_use = "a stream does nothing until polled"]
pub struct Items<T> {
    pages: Pages,
    pointer: String,
    buffer: std::vec::IntoIter<T>,
    /// The position after the page in `buffer`, once its records are all handed out.
    pending: Option<Position>,
    position: Position,
    ended: bool,
    _records: PhantomData<fn() -> T>,
}

// The records are moved out of a `Vec`, never pinned.
impl<T> Unpin for Items<T> {}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl<T> Items<T> {
    pub(super) fn new(pages: Pages, pointer: String) -> Self {
        Self {
            position: pages.start_position(),
            pages,
            pointer,
            buffer: Vec::new().into_iter(),
            pending: None,
            ended: false,
            _records: PhantomData,
        }
    }

    /// Where to resume so that no record is lost: after the last page whose records have
    /// all been handed out. Records of a page handed out in part come again on a resume.
    /// Before any page it is where the walk started: the start, or what
    /// [`Pages::resume_from`] was given.
    #[must_use]
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// The records as plain `T`, for a consumer that takes records only (a
    /// [`Batcher`](crate::flow::Batcher)): the stream ends at the first error, which goes
    /// to the [`Checkpoint`] with the position to resume from; nothing is dropped silently.
    ///
    /// ```
    /// # use futures_util::StreamExt as _;
    /// # async fn sync(client: steadfast::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let paginator = steadfast::flow::LinkHeader::new();
    /// let (orders, checkpoint) = client
    ///     .paginate(client.get("https://shop.example.com/orders"), paginator)
    ///     .items::<serde_json::Value>("")
    ///     .until_error();
    /// let orders: Vec<_> = orders.collect().await;
    /// if let Some(error) = checkpoint.take_error() {
    ///     eprintln!("{error}; {} orders read, resume from {:?}", orders.len(), checkpoint.position());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn until_error(self) -> (UntilError<T>, Checkpoint) {
        UntilError::new(self)
    }
}

impl<T: DeserializeOwned> Stream for Items<T> {
    type Item = Result<T, PaginateError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffer.next() {
                if this.buffer.len() == 0
                    && let Some(position) = this.pending.take()
                {
                    this.position = position;
                }
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(position) = this.pending.take() {
                // A page without records.
                this.position = position;
            }
            if this.ended {
                return Poll::Ready(None);
            }
            let Some(page) = std::task::ready!(this.pages.poll_next_unpin(cx)) else {
                this.ended = true;
                return Poll::Ready(None);
            };
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            match page.items::<T>(&this.pointer) {
                Ok(items) => {
                    this.buffer = items.into_iter();
                    this.pending = Some(page.resume_from().clone());
                }
                Err(e) => {
                    this.ended = true;
                    let resume = Position::before(page.number(), page.cursor().cloned());
                    return Poll::Ready(Some(Err(PaginateError::new(
                        PaginateErrorKind::Decode(e),
                        page.number(),
                        resume,
                    ))));
                }
            }
        }
    }
}

//! How far a walk got: what to store to resume after a crash.

use serde::{Deserialize, Serialize};

use super::Cursor;

/// How far a walk got: pages read and where the next one is.
///
/// Store it (it is serde) after each page, and hand it to
/// [`Pages::resume_from`](super::Pages::resume_from) to carry on after a crash. Its
/// `Debug` redacts the cursor (see [`Cursor`]); its serde form does not, since a resumed
/// walk needs the cursor itself: store it as you would the request.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Pages read so far (the page cap counts them across resumes).
    pub(super) pages: u64,
    /// Where the next page is; `None` before the first page (the request as given, or the
    /// paginator's [`first`](super::Paginator::first) cursor) and after the last.
    pub(super) next: Option<Cursor>,
    /// Whether the last page has been read.
    pub(super) done: bool,
}

impl Position {
    /// The start of a walk: no page read yet.
    #[must_use]
    pub fn start() -> Self {
        Self::default()
    }

    /// Pages read so far.
    #[must_use]
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Where the next page is, when a page was read and more remain.
    #[must_use]
    pub fn next(&self) -> Option<&Cursor> {
        self.next.as_ref()
    }

    /// Whether the walk read its last page.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// After `pages` pages, the next at `next` (none: the walk is over).
    pub(super) fn after(pages: u64, next: Option<Cursor>) -> Self {
        Self {
            pages,
            done: next.is_none(),
            next,
        }
    }

    /// Before page `number`, fetched from `cursor` (none: the first page).
    pub(super) fn before(number: u64, cursor: Option<Cursor>) -> Self {
        Self {
            pages: number,
            next: cursor,
            done: false,
        }
    }
}

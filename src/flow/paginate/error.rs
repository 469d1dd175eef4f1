//! Why a walk stopped, and where to resume it.

use std::fmt;

use crate::classify::Applied;
use crate::error::{BoxError, Error};
use crate::mapper::{DecodeError, MapError};

use super::Position;

/// What went wrong with a page.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PaginateErrorKind {
    /// The page's call failed, after the stack's retries.
    #[error(transparent)]
    Call(Error),
    /// The request cannot be sent more than once (a streaming body), or could not be built.
    #[error("the request cannot be paginated: {0}")]
    Request(&'static str),
    /// The next page is on another origin (scheme, host or port): not followed, so that
    /// the client's credentials never reach a host the caller did not name.
    #[error(
        "the next page is on another origin ({origin}, not {expected}); not followed, so no \
         credential goes to it"
    )]
    #[non_exhaustive]
    CrossOrigin {
        /// The next page's origin.
        origin: String,
        /// The first page's origin.
        expected: String,
    },
    /// A page would be the same request (method, URL, body) as an earlier one: the server
    /// handed back a cursor or link it gave before.
    #[error("pagination loop: page {page} would repeat the request of page {earlier}")]
    #[non_exhaustive]
    Loop {
        /// The page that would repeat (from 0).
        page: u64,
        /// The earlier page it would repeat.
        earlier: u64,
    },
    /// The page cap was reached while pages remained.
    #[error("page cap reached: {max} pages read and more remain")]
    #[non_exhaustive]
    PageCap {
        /// The cap.
        max: u64,
    },
    /// A page's body was over the byte cap.
    #[error("page body larger than {max} bytes")]
    #[non_exhaustive]
    BodyTooLarge {
        /// The cap.
        max: usize,
    },
    /// A page's body broke off.
    #[error("page body could not be read")]
    Body(#[source] BoxError),
    /// A page's body is not JSON, or its records do not fit the type asked for.
    #[error("page body could not be decoded: {}", .0.summary())]
    Decode(#[from] DecodeError),
    /// The paginator's mapper could not read the cursor.
    #[error("next-page cursor could not be read")]
    Cursor(#[source] MapError),
    /// The next page's cursor or link is not usable.
    #[error("invalid next page: {0}")]
    InvalidNext(&'static str),
    /// A custom paginator failed.
    #[error("paginator failed")]
    Paginator(#[source] BoxError),
}

/// A walk that stopped: what went wrong, on which page, and where to resume.
///
/// Its `Display` names the page and the kind; [`source`](std::error::Error::source) is
/// the kind's cause.
///
/// ```
/// # use futures_util::StreamExt as _;
/// # async fn sync(client: steadfast::Client) {
/// let paginator = steadfast::flow::LinkHeader::new();
/// let mut pages = client.paginate(client.get("https://api.example.com/orders"), paginator);
/// while let Some(page) = pages.next().await {
///     match page {
///         Ok(page) => { /* store page.resume_from() with what the page held */ }
///         Err(e) => {
///             eprintln!("{e}; resume from page {}", e.resume_from().pages());
///             break;
///         }
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct PaginateError {
    kind: PaginateErrorKind,
    page: u64,
    resume: Position,
}

impl PaginateError {
    pub(super) fn new(kind: PaginateErrorKind, page: u64, resume: Position) -> Self {
        Self { kind, page, resume }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &PaginateErrorKind {
        &self.kind
    }

    /// What went wrong, by value (to take the crate's [`Error`] out).
    #[must_use]
    pub fn into_kind(self) -> PaginateErrorKind {
        self.kind
    }

    /// The page (from 0) that failed.
    #[must_use]
    pub fn page(&self) -> u64 {
        self.page
    }

    /// Where to resume: the failed page again.
    #[must_use]
    pub fn resume_from(&self) -> &Position {
        &self.resume
    }

    /// Whether the failed call may have acted: a page is a read, so this matters only for
    /// pagination by POST. `NotApplied` for anything but a failed call.
    #[must_use]
    pub fn outcome(&self) -> Applied {
        match &self.kind {
            PaginateErrorKind::Call(e) => e.outcome(),
            _ => Applied::NotApplied,
        }
    }
}

impl fmt::Display for PaginateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pagination stopped at page {}: {}", self.page, self.kind)
    }
}

impl std::error::Error for PaginateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

//! Page numbers or offsets, with a rule for when to stop.

use reqwest::Request;
use serde_json::Value;

use super::paginator::{apply_query, set_query_param};
use super::{Cursor, Page, PaginateErrorKind, Paginator};

/// When an [`Offset`] walk stops. An empty page always ends it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// At the first page with no records.
    EmptyPage,
    /// At the first page with fewer records than the page size.
    ShortPage,
    /// Once the records read reach the total at this JSON pointer (`/meta/total`).
    Total(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Offset,
    Page,
}

/// Numbered pages (`?page=1, 2, …`) or offsets (`?offset=0, 100, …`).
///
/// The records are the array at a JSON pointer ([`items_at`](Self::items_at), default the
/// body itself); the [`Stop`] rule ([`stop`](Self::stop), default
/// [`Stop::ShortPage`]) says when the walk ends. An offset advances by the records the page
/// actually held, so a server that returns fewer than asked loses nothing.
///
/// ```
/// use steadfast::flow::{Offset, Stop};
///
/// // ?offset=0&limit=100, ?offset=100&limit=100, … until `/meta/total` records are read.
/// let offsets = Offset::offsets("offset", 100)
///     .size_param("limit")
///     .items_at("/data")
///     .stop(Stop::Total("/meta/total".into()));
/// // ?page=1, ?page=2, … until an empty page.
/// let pages = Offset::pages("page", 50).stop(Stop::EmptyPage);
/// # let _ = (offsets, pages);
/// ```
#[derive(Debug, Clone)]
pub struct Offset {
    mode: Mode,
    param: String,
    page_size: u64,
    start: u64,
    size_param: Option<String>,
    items: String,
    stop: Stop,
}

impl Offset {
    /// Offsets in query parameter `param`, from 0, `page_size` records a page.
    #[must_use]
    pub fn offsets(param: impl Into<String>, page_size: u64) -> Self {
        Self::new(Mode::Offset, param.into(), page_size, 0)
    }

    /// Page numbers in query parameter `param`, from 1, `page_size` records a page.
    #[must_use]
    pub fn pages(param: impl Into<String>, page_size: u64) -> Self {
        Self::new(Mode::Page, param.into(), page_size, 1)
    }

    fn new(mode: Mode, param: String, page_size: u64, start: u64) -> Self {
        Self {
            mode,
            param,
            page_size,
            start,
            size_param: None,
            items: String::new(),
            stop: Stop::ShortPage,
        }
    }

    /// The first offset or page number. Default 0 for offsets, 1 for pages.
    #[must_use]
    pub fn start(mut self, start: u64) -> Self {
        self.start = start;
        self
    }

    /// Also sends the page size, in query parameter `param` (`limit`, `per_page`).
    /// Default: not sent.
    #[must_use]
    pub fn size_param(mut self, param: impl Into<String>) -> Self {
        self.size_param = Some(param.into());
        self
    }

    /// The JSON pointer of the records' array. Default `""`: the body is the array.
    #[must_use]
    pub fn items_at(mut self, pointer: impl Into<String>) -> Self {
        self.items = pointer.into();
        self
    }

    /// When to stop. Default [`Stop::ShortPage`].
    #[must_use]
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Records read up to and including the page at `at` holding `count`.
    fn read_so_far(&self, at: u64, count: u64) -> u64 {
        match self.mode {
            Mode::Offset => at.saturating_add(count),
            Mode::Page => at
                .saturating_sub(self.start)
                .saturating_mul(self.page_size)
                .saturating_add(count),
        }
    }
}

impl Paginator for Offset {
    fn first(&self) -> Option<Cursor> {
        Some(Cursor::Number(self.start))
    }

    fn next(&mut self, page: &Page) -> Result<Option<Cursor>, PaginateErrorKind> {
        let at = match page.cursor() {
            Some(Cursor::Number(n)) => *n,
            None => self.start,
            Some(_) => return Err(PaginateErrorKind::InvalidNext("expected a number cursor")),
        };
        let count = page.array(&self.items)?.len() as u64;
        let last = count == 0
            || match &self.stop {
                Stop::EmptyPage => false,
                Stop::ShortPage => count < self.page_size,
                Stop::Total(pointer) => {
                    let total = page
                        .json()?
                        .pointer(pointer)
                        .and_then(Value::as_u64)
                        .ok_or(PaginateErrorKind::InvalidNext(
                            "no total count at the stop rule's pointer",
                        ))?;
                    self.read_so_far(at, count) >= total
                }
            };
        if last {
            return Ok(None);
        }
        let next = match self.mode {
            Mode::Offset => at.checked_add(count),
            Mode::Page => at.checked_add(1),
        };
        next.map(|n| Some(Cursor::Number(n)))
            .ok_or(PaginateErrorKind::InvalidNext("offset overflow"))
    }

    fn apply(&self, cursor: &Cursor, request: &mut Request) -> Result<(), PaginateErrorKind> {
        apply_query(cursor, &self.param, request)?;
        if let Some(size) = &self.size_param {
            set_query_param(request.url_mut(), size, &self.page_size.to_string());
        }
        Ok(())
    }
}

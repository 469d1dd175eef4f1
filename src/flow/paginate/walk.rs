//! One step of a walk: the next page's request, its call, its body, where it leads.

use std::collections::HashMap;
use std::sync::OnceLock;

use reqwest::Request;
use sha2::{Digest as _, Sha256};
use url::Origin;

use super::{Cursor, Page, PaginateConfig, PaginateError, PaginateErrorKind, Paginator, Position};
use crate::Client;
use crate::flow::read::{Unread, read_capped};

/// A walk's state between pages.
pub(super) struct Walk {
    pub(super) client: Client,
    /// The first page's request, copied for every page.
    pub(super) base: Request,
    /// The first page's origin; every page must share it.
    pub(super) origin: Origin,
    pub(super) paginator: Box<dyn Paginator>,
    pub(super) config: PaginateConfig,
    pub(super) position: Position,
    /// A digest of every request sent (method, URL, body) and its page: the loop guard.
    /// At most `max_pages` entries of 32 bytes.
    seen: HashMap<[u8; 32], u64>,
    over: bool,
}

impl Walk {
    pub(super) fn new(client: Client, base: Request, paginator: Box<dyn Paginator>) -> Self {
        Self {
            client,
            origin: base.url().origin(),
            base,
            paginator,
            config: PaginateConfig::default(),
            position: Position::start(),
            seen: HashMap::new(),
            over: false,
        }
    }

    /// The next page, the error that ends the walk, or `None` after the last page.
    pub(super) async fn step(&mut self) -> Option<Result<Page, PaginateError>> {
        if self.over || self.position.done {
            return None;
        }
        let number = self.position.pages;
        let cursor = match &self.position.next {
            Some(next) => Some(next.clone()),
            None => self.paginator.first(),
        };
        match self.fetch(number, cursor.clone()).await {
            Ok(page) => {
                self.position = page.resume.clone();
                Some(Ok(page))
            }
            Err(kind) => {
                self.over = true;
                let resume = Position::before(number, self.position.next.clone());
                Some(Err(PaginateError::new(kind, number, resume)))
            }
        }
    }

    async fn fetch(
        &mut self,
        number: u64,
        cursor: Option<Cursor>,
    ) -> Result<Page, PaginateErrorKind> {
        if number >= self.config.max_pages {
            return Err(PaginateErrorKind::PageCap {
                max: self.config.max_pages,
            });
        }
        let mut request = self.base.try_clone().ok_or(PaginateErrorKind::Request(
            "its body is a stream, which cannot be sent twice",
        ))?;
        if let Some(cursor) = &cursor {
            self.paginator.apply(cursor, &mut request)?;
        }
        let origin = request.url().origin();
        if origin != self.origin {
            return Err(PaginateErrorKind::CrossOrigin {
                origin: origin.ascii_serialization(),
                expected: self.origin.ascii_serialization(),
            });
        }
        let digest = fingerprint(&request);
        if let Some(&earlier) = self.seen.get(&digest) {
            return Err(PaginateErrorKind::Loop {
                page: number,
                earlier,
            });
        }
        self.seen.insert(digest, number);

        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(PaginateErrorKind::Call)?;
        let (status, url) = (response.status(), response.url().clone());
        let headers = std::mem::take(response.headers_mut());
        let body = read_capped(response, self.config.max_page_bytes)
            .await
            .map_err(|unread| match unread {
                Unread::TooLarge => PaginateErrorKind::BodyTooLarge {
                    max: self.config.max_page_bytes,
                },
                Unread::Broken(e) => PaginateErrorKind::Body(Box::new(e)),
            })?;
        let mut page = Page {
            number,
            cursor,
            status,
            headers,
            url,
            body,
            value: OnceLock::new(),
            resume: Position::start(),
        };
        let next = self.paginator.next(&page)?;
        page.resume = Position::after(number + 1, next);
        Ok(page)
    }
}

/// What makes two requests the same page: method, URL and body.
fn fingerprint(request: &Request) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(request.method().as_str());
    digest.update([0]);
    digest.update(request.url().as_str());
    digest.update([0]);
    if let Some(body) = request.body().and_then(reqwest::Body::as_bytes) {
        digest.update(body);
    }
    digest.finalize().into()
}

//! The paginator trait: where the next page is, and how to ask for it.

use reqwest::{Request, Url};

use super::{Cursor, Page, PaginateErrorKind};

/// Says where the page after a page is, and points a request at it.
///
/// The walk calls [`first`](Self::first) once (unless it resumes), then, after each page,
/// [`next`](Self::next); every page's request is a copy of the first one handed to
/// [`apply`](Self::apply) with the page's cursor. The walk itself enforces the page cap,
/// the loop guard and the same-origin rule, whatever the paginator does.
///
/// # Example
///
/// An API that answers `X-Next-Page: 3` until the last page:
///
/// ```
/// use reqwest::Request;
/// use steadfast::flow::{Cursor, Page, PaginateErrorKind, Paginator, set_query_param};
///
/// #[derive(Debug)]
/// struct NextPageHeader;
///
/// impl Paginator for NextPageHeader {
///     fn next(&mut self, page: &Page) -> Result<Option<Cursor>, PaginateErrorKind> {
///         let Some(value) = page.headers().get("x-next-page") else {
///             return Ok(None);
///         };
///         let number = value
///             .to_str()
///             .ok()
///             .and_then(|v| v.parse().ok())
///             .ok_or(PaginateErrorKind::InvalidNext("x-next-page is not a number"))?;
///         Ok(Some(Cursor::Number(number)))
///     }
///
///     fn apply(&self, cursor: &Cursor, request: &mut Request) -> Result<(), PaginateErrorKind> {
///         match cursor {
///             Cursor::Number(n) => {
///                 set_query_param(request.url_mut(), "page", &n.to_string());
///                 Ok(())
///             }
///             _ => Err(PaginateErrorKind::InvalidNext("expected a page number")),
///         }
///     }
/// }
/// ```
pub trait Paginator: Send + 'static {
    /// The cursor of the first page; `None` (the default) sends the request as given.
    fn first(&self) -> Option<Cursor> {
        None
    }

    /// Where the page after `page` is; `None` when `page` is the last.
    ///
    /// # Errors
    ///
    /// A [`PaginateErrorKind`] when the page does not say where the next is in a usable
    /// way; the walk ends with it.
    fn next(&mut self, page: &Page) -> Result<Option<Cursor>, PaginateErrorKind>;

    /// Points `request`, a copy of the first page's, at `cursor`.
    ///
    /// # Errors
    ///
    /// A [`PaginateErrorKind`] when the cursor is not one this paginator made (a resumed
    /// position from another walk, say).
    fn apply(&self, cursor: &Cursor, request: &mut Request) -> Result<(), PaginateErrorKind>;
}

/// Sets query parameter `name` to `value` in `url`, replacing every earlier value of it
/// and keeping the other parameters in their order.
pub fn set_query_param(url: &mut Url, name: &str, value: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut pairs = url.query_pairs_mut();
    pairs.clear();
    for (k, v) in &kept {
        pairs.append_pair(k, v);
    }
    pairs.append_pair(name, value);
}

/// `param=value` on `request` for a [`Cursor::Token`] or [`Cursor::Number`].
pub(super) fn apply_query(
    cursor: &Cursor,
    param: &str,
    request: &mut Request,
) -> Result<(), PaginateErrorKind> {
    match cursor {
        Cursor::Token(token) => set_query_param(request.url_mut(), param, token),
        Cursor::Number(n) => set_query_param(request.url_mut(), param, &n.to_string()),
        Cursor::Url(_) => {
            return Err(PaginateErrorKind::InvalidNext(
                "a URL cursor given to a query paginator",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_replaced_and_the_others_kept() {
        let mut url: Url = "http://h/orders?cursor=a&status=open&cursor=b"
            .parse()
            .expect("url");
        set_query_param(&mut url, "cursor", "c d");
        assert_eq!(url.query(), Some("status=open&cursor=c+d"));
    }
}

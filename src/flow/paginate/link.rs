//! `Link: <…>; rel="next"` (RFC 8288): the next page's URL in a response header.

use reqwest::Request;
use reqwest::header::{HeaderMap, LINK};

use super::{Cursor, Page, PaginateErrorKind, Paginator};

/// Link header bytes read at most, over all `Link` fields of a response.
const MAX_LINK_BYTES: usize = 16 * 1024;
/// Links read at most, over all `Link` fields of a response.
const MAX_LINKS: usize = 64;

/// Follows `Link: <url>; rel="next"` (RFC 8288), as GitHub, GitLab and many others send.
///
/// Every `Link` field and every link in it is read; `rel` may be quoted or not, hold
/// several relation types (`rel="next last"`) and any case. A relative target resolves
/// against the page's URL. A target on another origin ends the walk with
/// [`CrossOrigin`](PaginateErrorKind::CrossOrigin). Link fields over 16 KiB or 64 links in
/// all end it with [`InvalidNext`](PaginateErrorKind::InvalidNext), never a silent stop.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct LinkHeader;

impl LinkHeader {
    /// The paginator.
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

impl Paginator for LinkHeader {
    fn next(&mut self, page: &Page) -> Result<Option<Cursor>, PaginateErrorKind> {
        let Some(target) = next_link(page.headers()).map_err(PaginateErrorKind::InvalidNext)?
        else {
            return Ok(None);
        };
        let url = page
            .url()
            .join(&target)
            .map_err(|_| PaginateErrorKind::InvalidNext("the next link is not a URL"))?;
        Ok(Some(Cursor::Url(url.into())))
    }

    fn apply(&self, cursor: &Cursor, request: &mut Request) -> Result<(), PaginateErrorKind> {
        let Cursor::Url(url) = cursor else {
            return Err(PaginateErrorKind::InvalidNext(
                "a link paginator needs a URL cursor",
            ));
        };
        *request.url_mut() = url
            .parse()
            .map_err(|_| PaginateErrorKind::InvalidNext("the next link is not a URL"))?;
        Ok(())
    }
}

/// The target of the first link whose `rel` holds `next`, unresolved.
pub(crate) fn next_link(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let mut bytes = 0;
    let mut links = 0;
    for value in headers.get_all(LINK) {
        bytes += value.len();
        if bytes > MAX_LINK_BYTES {
            return Err("link header too long");
        }
        // RFC 8288 targets are URI references: ASCII. A field that is not is skipped.
        let Ok(value) = value.to_str() else { continue };
        let mut rest = value;
        while let Some((link, after)) = parse_link(rest) {
            links += 1;
            if links > MAX_LINKS {
                return Err("too many links");
            }
            if let Some(target) = link {
                return Ok(Some(target.to_owned()));
            }
            rest = after;
        }
    }
    Ok(None)
}

/// Reads one `link-value` from `input`: `Some(target)` when its `rel` holds `next`, and
/// what follows it. `None` at the end of the field.
fn parse_link(input: &str) -> Option<(Option<&str>, &str)> {
    let input = input.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
    if input.is_empty() {
        return None;
    }
    let Some(open) = input.strip_prefix('<') else {
        // Not a link: skip to the next element.
        return Some((None, skip_element(input)));
    };
    let Some(close) = open.find('>') else {
        return Some((None, ""));
    };
    let target = &open[..close];
    let mut rest = &open[close + 1..];
    let mut rel_seen = false;
    let mut is_next = false;
    loop {
        rest = rest.trim_start();
        let Some(param) = rest.strip_prefix(';') else {
            break;
        };
        let (name, value, after) = parse_param(param);
        rest = after;
        // Only the first `rel` counts (RFC 8288 §3.3).
        if !rel_seen && name.eq_ignore_ascii_case("rel") {
            rel_seen = true;
            is_next = value.as_deref().is_some_and(|v| {
                v.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            });
        }
    }
    let rest = skip_element(rest);
    Some((is_next.then_some(target), rest))
}

/// One `link-param` after its `;`: name, value (unquoted) and what follows.
fn parse_param(input: &str) -> (&str, Option<String>, &str) {
    let input = input.trim_start();
    let end = input
        .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_ascii_whitespace())
        .unwrap_or(input.len());
    let (name, rest) = input.split_at(end);
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return (name, None, rest);
    };
    let rest = rest.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return (name, Some(value), &quoted[i + 1..]),
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                c => value.push(c),
            }
        }
        // An unterminated string runs to the end of the field.
        return (name, Some(value), "");
    }
    let end = rest
        .find(|c: char| c == ';' || c == ',' || c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    (name, Some(rest[..end].to_owned()), &rest[end..])
}

/// What follows the next top-level comma (commas inside quoted strings do not count).
fn skip_element(input: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => return &input[i + 1..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    use super::*;

    fn next_of(fields: &[&str]) -> Result<Option<String>, &'static str> {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(LINK, HeaderValue::from_str(field).expect("header value"));
        }
        next_link(&headers)
    }

    #[test]
    fn header_forms() {
        let table: &[(&[&str], Option<&str>)] = &[
            (
                &[r#"<https://a/o?page=2>; rel="next""#],
                Some("https://a/o?page=2"),
            ),
            (&["</o?page=2>; rel=next"], Some("/o?page=2")),
            (
                &[r#"<https://a/o?page=9>; rel="last", <https://a/o?page=2>; rel="next""#],
                Some("https://a/o?page=2"),
            ),
            (
                &[
                    r#"<https://a/o?page=1>; rel="prev""#,
                    r#"<https://a/o?page=3>; rel="next""#,
                ],
                Some("https://a/o?page=3"),
            ),
            (
                &[r#"<https://a/o?page=2>; rel="NEXT last""#],
                Some("https://a/o?page=2"),
            ),
            (
                &[r#"<https://a/o?a=1,2;b>; title="x, y; rel=next"; rel="next""#],
                Some("https://a/o?a=1,2;b"),
            ),
            // Only the first rel counts.
            (&[r#"<https://a/2>; rel="prev"; rel="next""#], None),
            (&[r#"<https://a/o?page=2>; rel="nextpage""#], None),
            (&["<https://a/o?page=2>"], None),
            (&["garbage, <https://a/3>; rel=next"], Some("https://a/3")),
            (&["<unterminated; rel=next"], None),
            (&[""], None),
        ];
        for (fields, expected) in table {
            let found = next_of(fields).expect("within bounds");
            assert_eq!(found.as_deref(), *expected, "{fields:?}");
        }
    }

    #[test]
    fn too_many_links_or_bytes_is_an_error() {
        let many = vec![r#"<https://a/1>; rel="prev""#; MAX_LINKS + 1].join(", ");
        assert_eq!(next_of(&[&many]), Err("too many links"));
        let long = format!("<https://a/{}>; rel=next", "x".repeat(MAX_LINK_BYTES));
        assert_eq!(next_of(&[&long]), Err("link header too long"));
    }

    proptest! {
        #[test]
        fn never_panics(field in "[ -~]{0,300}") {
            if let Ok(value) = HeaderValue::from_str(&field) {
                let mut headers = HeaderMap::new();
                headers.insert(LINK, value);
                let _ = next_link(&headers);
            }
        }
    }
}

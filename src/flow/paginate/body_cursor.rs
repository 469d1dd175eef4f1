//! A cursor in the JSON body, sent back in a query parameter.

use std::fmt;

use reqwest::Request;
use serde_json::Value;

use super::paginator::apply_query;
use super::{Cursor, Page, PaginateErrorKind, Paginator};
use crate::mapper::{MapError, Mapper};

type ReadCursor = dyn Fn(&Value) -> Result<Option<String>, MapError> + Send + Sync;

/// Reads the next page's cursor from the JSON body and sends it back in a query parameter
/// (`?cursor=…`), as Slack, Shopify's GraphQL-less APIs and many CRMs do.
///
/// The cursor is read at a JSON pointer ([`pointer`](Self::pointer)) or by a
/// [`Mapper`] ([`mapper`](Self::mapper)). A missing, `null` or empty cursor ends the walk;
/// so does a `false` at the [`has_more`](Self::has_more) pointer when one is set.
///
/// ```
/// use serde_json::Value;
/// use steadfast::flow::BodyCursor;
/// use steadfast::mapper::MapError;
///
/// // {"meta": {"next_cursor": "abc"}} → ?cursor=abc
/// let by_pointer = BodyCursor::pointer("/meta/next_cursor", "cursor");
/// // Or through a mapper, for cursors that need work.
/// let by_mapper = BodyCursor::mapper(
///     |body: &Value| -> Result<Option<String>, MapError> {
///         Ok(body["paging"]["after"].as_str().map(str::to_owned))
///     },
///     "after",
/// );
/// # let _ = (by_pointer, by_mapper);
/// ```
pub struct BodyCursor {
    read: Box<ReadCursor>,
    param: String,
    has_more: Option<String>,
}

impl fmt::Debug for BodyCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyCursor")
            .field("param", &self.param)
            .field("has_more", &self.has_more)
            .finish_non_exhaustive()
    }
}

impl BodyCursor {
    /// The cursor at JSON pointer `pointer` (RFC 6901), a string or a number, sent back as
    /// query parameter `param`.
    #[must_use]
    pub fn pointer(pointer: impl Into<String>, param: impl Into<String>) -> Self {
        let pointer = pointer.into();
        Self::with(
            Box::new(move |body: &Value| match body.pointer(&pointer) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(MapError::from(crate::mapper::FieldError::new(
                    pointer.trim_start_matches('/').replace('/', "."),
                    crate::mapper::FieldErrorKind::invalid("a string or a number"),
                ))),
            }),
            param.into(),
        )
    }

    /// The cursor as `mapper` reads it from the body (`None`: the last page), sent back as
    /// query parameter `param`. Annotate a closure's argument (`|body: &Value|`).
    #[must_use]
    pub fn mapper<M>(mapper: M, param: impl Into<String>) -> Self
    where
        M: for<'a> Mapper<&'a Value, Out = Option<String>> + Send + Sync + 'static,
    {
        Self::with(Box::new(move |body: &Value| mapper.map(body)), param.into())
    }

    fn with(read: Box<ReadCursor>, param: String) -> Self {
        Self {
            read,
            param,
            has_more: None,
        }
    }

    /// Also ends the walk when the boolean at JSON pointer `pointer` is `false` (Stripe's
    /// `has_more`). Default: not read.
    #[must_use]
    pub fn has_more(mut self, pointer: impl Into<String>) -> Self {
        self.has_more = Some(pointer.into());
        self
    }
}

impl Paginator for BodyCursor {
    fn next(&mut self, page: &Page) -> Result<Option<Cursor>, PaginateErrorKind> {
        let body = page.json()?;
        if let Some(pointer) = &self.has_more
            && body.pointer(pointer).and_then(Value::as_bool) == Some(false)
        {
            return Ok(None);
        }
        let cursor = (self.read)(body).map_err(PaginateErrorKind::Cursor)?;
        Ok(cursor.filter(|c| !c.is_empty()).map(Cursor::Token))
    }

    fn apply(&self, cursor: &Cursor, request: &mut Request) -> Result<(), PaginateErrorKind> {
        apply_query(cursor, &self.param, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(paginator: &mut BodyCursor, body: &str) -> Result<Option<Cursor>, PaginateErrorKind> {
        paginator.next(&Page::for_test(body, None))
    }

    #[test]
    fn cursor_forms() {
        let mut p = BodyCursor::pointer("/next", "cursor");
        let table = [
            (r#"{"next":"abc"}"#, Some(Cursor::Token("abc".into()))),
            (r#"{"next":42}"#, Some(Cursor::Token("42".into()))),
            (r#"{"next":""}"#, None),
            (r#"{"next":null}"#, None),
            ("{}", None),
        ];
        for (body, expected) in table {
            assert_eq!(next(&mut p, body).expect(body), expected, "{body}");
        }
        assert!(matches!(
            next(&mut p, r#"{"next":{"a":1}}"#),
            Err(PaginateErrorKind::Cursor(_))
        ));
        assert!(matches!(
            next(&mut p, "not json"),
            Err(PaginateErrorKind::Decode(_))
        ));
    }

    #[test]
    fn has_more_false_ends_the_walk_whatever_the_cursor() {
        let mut p = BodyCursor::pointer("/data/0/id", "starting_after").has_more("/has_more");
        let more = r#"{"data":[{"id":"o_1"}],"has_more":true}"#;
        assert_eq!(
            next(&mut p, more).expect("ok"),
            Some(Cursor::Token("o_1".into()))
        );
        let last = r#"{"data":[{"id":"o_2"}],"has_more":false}"#;
        assert_eq!(next(&mut p, last).expect("ok"), None);
    }

    #[test]
    fn a_mapper_reads_the_cursor() {
        let mut p = BodyCursor::mapper(
            |body: &Value| -> Result<Option<String>, MapError> {
                Ok(body["paging"]["after"].as_str().map(str::to_owned))
            },
            "after",
        );
        let body = r#"{"paging":{"after":"xyz"}}"#;
        assert_eq!(
            next(&mut p, body).expect("ok"),
            Some(Cursor::Token("xyz".into()))
        );
        let mut request = reqwest::Request::new(
            reqwest::Method::GET,
            "http://127.0.0.1/orders?after=old&limit=5"
                .parse()
                .expect("url"),
        );
        p.apply(&Cursor::Token("xyz".into()), &mut request)
            .expect("applied");
        assert_eq!(request.url().query(), Some("limit=5&after=xyz"));
    }
}

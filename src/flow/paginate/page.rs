//! One page as read: status, headers, URL and body, with where it came from.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Cursor, Position};
use crate::mapper::{DecodeError, FieldError, FieldErrorKind, decode_value_with_drift};
use crate::redact::Redactor;

/// One page: its response's status, headers and URL, its body (read whole, within the
/// byte cap), and where it sits in the walk.
///
/// Its `Debug` shows the URL redacted and the body's length only.
pub struct Page {
    pub(super) number: u64,
    pub(super) cursor: Option<Cursor>,
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) url: Url,
    pub(super) body: Bytes,
    pub(super) value: OnceLock<Value>,
    pub(super) resume: Position,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("number", &self.number)
            .field("cursor", &self.cursor)
            .field("status", &self.status)
            .field(
                "url",
                &format_args!("{}", Redactor::default().url(&self.url)),
            )
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Page {
    /// A page with `body` from `http://127.0.0.1/orders`, for paginators' unit tests.
    #[cfg(test)]
    pub(super) fn for_test(body: &str, cursor: Option<Cursor>) -> Self {
        Self {
            number: 0,
            cursor,
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            url: Url::parse("http://127.0.0.1/orders").expect("a URL"),
            body: Bytes::copy_from_slice(body.as_bytes()),
            value: OnceLock::new(),
            resume: Position::start(),
        }
    }

    /// The page's number in the walk, from 0 (counted across resumes).
    #[must_use]
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Where the page was fetched from; `None` for the request as given.
    #[must_use]
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// The response's status (a success: failures end the walk).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response's headers.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response's URL (after redirects), which relative links resolve against.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body, whole.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Where to resume after this page: store it once the page's records are safe.
    #[must_use]
    pub fn resume_from(&self) -> &Position {
        &self.resume
    }

    /// The body as JSON, parsed once and kept (paginators and [`items`](Self::items) share
    /// it). An empty body is `null`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Syntax`] when the body is not JSON.
    pub fn json(&self) -> Result<&Value, DecodeError> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body).map_err(|source| DecodeError::Syntax { source })?
        };
        Ok(self.value.get_or_init(|| value))
    }

    /// The array at JSON pointer `pointer` (RFC 6901: `/data`, `/result/items`; `""` for a
    /// body that is the array itself).
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the body is not JSON or holds no array there.
    pub fn array(&self, pointer: &str) -> Result<&[Value], DecodeError> {
        let found = self.json()?.pointer(pointer);
        match found {
            Some(Value::Array(items)) => Ok(items),
            other => Err(DecodeError::Shape {
                type_name: "an array of records",
                problem: FieldError::new(
                    pointer,
                    if other.is_none() {
                        FieldErrorKind::Missing
                    } else {
                        FieldErrorKind::invalid("an array")
                    },
                ),
            }),
        }
    }

    /// The records of the array at `pointer` (see [`array`](Self::array)), decoded as `T`.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when there is no array there or a record does not fit `T` (the
    /// problem's value redacted).
    pub fn items<T: DeserializeOwned>(&self, pointer: &str) -> Result<Vec<T>, DecodeError> {
        let items = self.array(pointer)?;
        // Problems are reported on the mapper's dotted paths: `data[3].sku`.
        let base = pointer.trim_start_matches('/').replace('/', ".");
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match decode_value_with_drift::<T>(item) {
                Ok((decoded, _drift)) => out.push(decoded),
                Err(DecodeError::Shape { type_name, problem }) => {
                    return Err(DecodeError::Shape {
                        type_name,
                        problem: problem.prefixed(&format!("{base}[{i}]")),
                    });
                }
                Err(other) => return Err(other),
            }
        }
        Ok(out)
    }
}

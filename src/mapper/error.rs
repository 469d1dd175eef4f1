//! `MapError`, `FieldError` and the kinds of field problem.

use std::fmt;

use serde_json::Value;

use crate::redact::{JsonRedactor, REDACTED};

/// Longest preview of an offending value kept in a [`FieldError`], in characters.
pub const MAX_VALUE_CHARS: usize = 64;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// The field is absent (or, for text helpers that treat it so, empty).
    Missing,
    /// The field is present but `null`.
    Null,
    /// The field has the wrong shape or content.
    Invalid {
        /// What was expected, in words, such as `i64` or `a string`.
        expected: String,
    },
    /// The field is a number outside the accepted range.
    OutOfRange {
        /// The accepted range or type, in words (`u8`, `0..=150`).
        expected: String,
    },
    /// A problem described by the mapping code.
    Custom(String),
}

impl FieldErrorKind {
    /// An [`Invalid`](Self::Invalid) kind.
    #[must_use]
    pub fn invalid(expected: impl Into<String>) -> Self {
        Self::Invalid {
            expected: expected.into(),
        }
    }

    /// An [`OutOfRange`](Self::OutOfRange) kind.
    #[must_use]
    pub fn out_of_range(expected: impl Into<String>) -> Self {
        Self::OutOfRange {
            expected: expected.into(),
        }
    }

    /// A [`Custom`](Self::Custom) kind.
    #[must_use]
    pub fn custom(message: impl Into<String>) -> Self {
        Self::Custom(message.into())
    }
}

impl fmt::Display for FieldErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::Null => f.write_str("null"),
            Self::Invalid { expected } => write!(f, "invalid, expected {expected}"),
            Self::OutOfRange { expected } => write!(f, "out of range, expected {expected}"),
            Self::Custom(message) => f.write_str(message),
        }
    }
}

/// One problem with one field of a record: where, what, and the offending value.
///
/// The value is stored only as a redacted, truncated preview, decided when the value is
/// attached: if any segment of the path is a sensitive field name, the preview is
/// `"[redacted]"`, so no accessor, `Display` or `Debug` output can show the real value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    path: String,
    kind: FieldErrorKind,
    value: Option<String>,
}

impl FieldError {
    /// Creates a problem at `path` (`customer.address.zip`, `items[2].sku`; empty for the
    /// record itself) without a value.
    #[must_use]
    pub fn new(path: impl Into<String>, kind: FieldErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
            value: None,
        }
    }

    /// Attaches the offending value, redacted with the default sensitive names.
    #[must_use]
    pub fn with_value(self, value: &Value) -> Self {
        self.with_value_using(value, &JsonRedactor::DEFAULT)
    }

    /// Attaches the offending value, redacted with `redactor`.
    #[must_use]
    pub fn with_value_using(mut self, value: &Value, redactor: &JsonRedactor) -> Self {
        self.value = Some(if redactor.is_sensitive_path(&self.path) {
            REDACTED.to_owned()
        } else {
            redactor.preview(value, MAX_VALUE_CHARS)
        });
        self.scrub_if_sensitive(redactor);
        self
    }

    /// The path of the field; empty when the problem concerns the whole record.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> &FieldErrorKind {
        &self.kind
    }

    /// The redacted, truncated preview of the offending value, as JSON text.
    #[must_use]
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// Puts `prefix` in front of the path, as when a nested mapper's error is reported
    /// from its parent; the value is masked if the longer path has become sensitive.
    #[must_use]
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.prefix_with(prefix, &JsonRedactor::DEFAULT);
        self
    }

    pub(crate) fn prefix_with(&mut self, prefix: &str, redactor: &JsonRedactor) {
        self.path = super::path::join(prefix, &self.path);
        if redactor.is_sensitive_path(prefix) && self.value.is_some() {
            self.value = Some(REDACTED.to_owned());
        }
        self.scrub_if_sensitive(redactor);
    }

    pub(crate) fn scrubbed(mut self, redactor: &JsonRedactor) -> Self {
        self.scrub_if_sensitive(redactor);
        self
    }

    /// Messages that come from foreign parsers may quote the input, so a sensitive
    /// field keeps only the kind of its problem, not the message.
    fn scrub_if_sensitive(&mut self, redactor: &JsonRedactor) {
        if let FieldErrorKind::Custom(message) = &mut self.kind
            && message != REDACTED
            && redactor.is_sensitive_path(&self.path)
        {
            REDACTED.clone_into(message);
        }
    }
}

impl FieldError {
    /// Where and what, without the value: for messages that reach logs whatever the field
    /// (`` `id`: invalid, expected u64 ``).
    pub(crate) fn without_value(&self) -> WithoutValue<'_> {
        WithoutValue(self)
    }
}

/// A [`FieldError`] shown without its value; see [`FieldError::without_value`].
pub(crate) struct WithoutValue<'a>(&'a FieldError);

impl fmt::Display for WithoutValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.0.path.is_empty() {
            "$"
        } else {
            &self.0.path
        };
        write!(f, "`{path}`: {}", self.0.kind)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.without_value())?;
        if let Some(value) = &self.value {
            write!(f, " (got {value})")?;
        }
        Ok(())
    }
}

/// Every field problem of one record, never only the first.
///
/// ```
/// use steadfast::mapper::{FieldError, FieldErrorKind, MapError};
///
/// let error = MapError::from(FieldError::new("customer_id", FieldErrorKind::Missing));
/// assert_eq!(error.to_string(), "1 field problem: `customer_id`: missing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MapError {
    problems: Vec<FieldError>,
}

impl MapError {
    /// Builds an error from the problems found, or `None` when there are none.
    #[must_use]
    pub fn from_problems(problems: impl IntoIterator<Item = FieldError>) -> Option<Self> {
        let problems: Vec<FieldError> = problems.into_iter().collect();
        (!problems.is_empty()).then_some(Self { problems })
    }

    /// A problem with the record as a whole (path `$`), described by `message`.
    #[must_use]
    pub fn custom(message: impl Into<String>) -> Self {
        FieldError::new("", FieldErrorKind::Custom(message.into())).into()
    }

    /// The problems, in the order they were found; never empty.
    #[must_use]
    pub fn problems(&self) -> &[FieldError] {
        &self.problems
    }

    /// Consumes the error into its problems.
    #[must_use]
    pub fn into_problems(self) -> Vec<FieldError> {
        self.problems
    }

    /// Adds one more problem.
    pub fn push(&mut self, problem: FieldError) {
        self.problems.push(problem);
    }

    /// Puts `prefix` in front of every path (see [`FieldError::prefixed`]).
    #[must_use]
    pub fn prefixed(self, prefix: &str) -> Self {
        Self {
            problems: self
                .problems
                .into_iter()
                .map(|problem| problem.prefixed(prefix))
                .collect(),
        }
    }
}

impl From<FieldError> for MapError {
    fn from(problem: FieldError) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "{count} field {noun}: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "s3cr3t-hunter2";

    fn assert_thread_safe_static<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_are_send_sync_static() {
        assert_thread_safe_static::<MapError>();
        assert_thread_safe_static::<FieldError>();
        assert_thread_safe_static::<FieldErrorKind>();
    }

    #[test]
    fn display_of_each_kind() {
        let table = [
            (
                FieldError::new("customer_id", FieldErrorKind::Missing),
                "`customer_id`: missing",
            ),
            (
                FieldError::new("email", FieldErrorKind::Null).with_value(&json!(null)),
                "`email`: null (got null)",
            ),
            (
                FieldError::new("amount", FieldErrorKind::invalid("f64")).with_value(&json!("x")),
                "`amount`: invalid, expected f64 (got \"x\")",
            ),
            (
                FieldError::new("age", FieldErrorKind::out_of_range("0..=150"))
                    .with_value(&json!(200)),
                "`age`: out of range, expected 0..=150 (got 200)",
            ),
            (
                FieldError::new("", FieldErrorKind::custom("not a customer")),
                "`$`: not a customer",
            ),
        ];
        for (error, expected) in table {
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn without_value_keeps_path_and_kind_only() {
        let table = [
            (
                FieldError::new("amount", FieldErrorKind::invalid("f64")).with_value(&json!("x")),
                "`amount`: invalid, expected f64",
            ),
            (
                FieldError::new("", FieldErrorKind::Null).with_value(&json!(null)),
                "`$`: null",
            ),
        ];
        for (error, expected) in table {
            assert_eq!(error.without_value().to_string(), expected);
        }
    }

    #[test]
    fn map_error_names_every_path() {
        let error = MapError::from_problems([
            FieldError::new("a", FieldErrorKind::Missing),
            FieldError::new("b.c", FieldErrorKind::Null),
            FieldError::new("d[1]", FieldErrorKind::invalid("a string")),
        ])
        .expect("three problems");
        assert_eq!(
            error.to_string(),
            "3 field problems: `a`: missing; `b.c`: null; `d[1]`: invalid, expected a string"
        );
        assert!(MapError::from_problems([]).is_none());
    }

    #[test]
    fn sensitive_values_never_show() {
        let table = [
            FieldError::new("password", FieldErrorKind::invalid("a string"))
                .with_value(&json!(SECRET)),
            FieldError::new("user.apiKey", FieldErrorKind::Null).with_value(&json!(SECRET)),
            FieldError::new("tokens[0]", FieldErrorKind::custom(format!("bad {SECRET}")))
                .with_value(&json!(SECRET)),
            FieldError::new("login", FieldErrorKind::invalid("a string"))
                .with_value(&json!({"password": SECRET})),
            FieldError::new("value", FieldErrorKind::invalid("a string"))
                .with_value(&json!(SECRET))
                .prefixed("credentials.secret"),
            FieldError::new("pin", FieldErrorKind::custom(SECRET))
                .with_value_using(&json!(SECRET), &JsonRedactor::new().field("pin")),
        ];
        for error in table {
            let shown = format!("{error} {error:?} {:?}", error.value());
            assert!(!shown.contains(SECRET), "{shown}");
            let wrapped = MapError::from(error);
            let shown = format!("{wrapped} {wrapped:?}");
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn sensitive_value_is_shown_as_redacted() {
        let error = FieldError::new("customer.password", FieldErrorKind::invalid("a string"))
            .with_value(&json!(12));
        assert_eq!(error.value(), Some("[redacted]"));
    }

    #[test]
    fn long_values_are_truncated() {
        let long = "x".repeat(1000);
        let error = FieldError::new("note", FieldErrorKind::invalid("u8")).with_value(&json!(long));
        let value = error.value().expect("value attached");
        assert_eq!(value.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(value.ends_with('…'));
    }

    #[test]
    fn prefixing_joins_paths() {
        let table = [
            ("items[2]", "sku", "items[2].sku"),
            ("items", "[2].sku", "items[2].sku"),
            ("", "sku", "sku"),
            ("order", "", "order"),
        ];
        for (prefix, path, expected) in table {
            let error = MapError::from(FieldError::new(path, FieldErrorKind::Missing));
            assert_eq!(error.prefixed(prefix).problems()[0].path(), expected);
        }
    }
}

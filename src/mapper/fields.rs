//! `Fields`: read a JSON record field by field, collecting every problem.

mod convert;
mod lookup;

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::Value;

use self::lookup::Lookup;
use super::error::{FieldError, FieldErrorKind, MapError};
use super::path::{self, Segment};
use super::text::Text;
use super::traits::Mapper;
use crate::redact::JsonRedactor;

/// Reads fields of a JSON record and collects every problem instead of stopping at the
/// first.
///
/// Each reader returns `Option<T>`: `None` either because the field is legitimately
/// absent (the `optional_*` readers) or because a problem was recorded. Build the output
/// in [`finish`](Self::finish), which runs the build closure only when no problem was
/// recorded, so `?` on a required field can never turn a real problem into silence.
///
/// ```
/// use serde_json::json;
/// use steadfast::mapper::{Fields, MapError, Text};
///
/// #[derive(Debug, PartialEq)]
/// struct Client {
///     external_client_id: String,
///     email: Option<String>,
///     currency: String,
/// }
///
/// fn to_client(record: &serde_json::Value) -> Result<Client, MapError> {
///     let mut f = Fields::new(record);
///     let id = f.required::<i64>("customer_id");
///     let email = f.optional_text("email", Text::EMAIL);
///     let currency = f.or_default("currency", "EUR".to_owned());
///     f.finish(|| Some(Client { external_client_id: id?.to_string(), email, currency }))
/// }
///
/// fn main() -> Result<(), MapError> {
///     let client = to_client(&json!({"customer_id": 42, "email": " Ada@Example.com "}))?;
///     assert_eq!(client.external_client_id, "42");
///     assert_eq!(client.email.as_deref(), Some("ada@example.com"));
///     assert_eq!(client.currency, "EUR");
///
///     // Missing id and a non-string email, both reported; a null currency is defaulted.
///     let rejected = to_client(&json!({"email": 7, "currency": null}));
///     assert!(matches!(rejected, Err(error) if error.problems().len() == 2));
///     Ok(())
/// }
/// ```
///
/// # Paths
///
/// Paths are dotted and may index arrays: `address.zip`, `items[2].sku`; the empty path
/// is the record itself. A key that itself contains `.` or `[` cannot be named in a path:
/// read its parent as a `Deserialize` struct (with `#[serde(rename)]`) or as a
/// `serde_json::Map` instead. Such keys are rare in API payloads.
///
/// # Missing and null
///
/// An absent key is [`Missing`](FieldErrorKind::Missing), a `null` is
/// [`Null`](FieldErrorKind::Null); `optional_*` readers and [`or_default`](Self::or_default)
/// accept both. When a parent on the path is absent or `null`, the problem is reported
/// once, at the parent.
///
/// # Dropping
///
/// Dropping a `Fields` that holds problems without calling `finish` or
/// [`into_result`](Self::into_result) logs a `tracing` ERROR, so a forgotten report is
/// at least visible.
#[must_use = "call `finish` to turn collected problems into a `MapError`"]
pub struct Fields<'a> {
    record: &'a Value,
    prefix: String,
    redactor: &'a JsonRedactor,
    problems: Vec<FieldError>,
}

/// A `static` because a `const` with a `Vec` inside is not promoted to `'static`.
static DEFAULT_REDACTOR: JsonRedactor = JsonRedactor::new();

impl<'a> Fields<'a> {
    /// Starts reading `record`, redacting values in problems with the default names.
    pub fn new(record: &'a Value) -> Self {
        Self::with_redactor(record, &DEFAULT_REDACTOR)
    }

    /// Starts reading `record`, redacting values in problems with `redactor`.
    pub fn with_redactor(record: &'a Value, redactor: &'a JsonRedactor) -> Self {
        Self::child(record, String::new(), redactor)
    }

    fn child(record: &'a Value, prefix: String, redactor: &'a JsonRedactor) -> Self {
        Self {
            record,
            prefix,
            redactor,
            problems: Vec::new(),
        }
    }

    /// A required field decoded with `serde` (numbers, strings, booleans, arrays, your own
    /// `Deserialize` structs).
    pub fn required<T: DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        let (at, value) = self.present(path)?;
        self.decode(&at, value)
    }

    /// An optional field: absent or `null` is `None`; a present but malformed value is
    /// a problem.
    pub fn optional<T: DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        let (at, value) = self.present_or_none(path)?;
        self.decode(&at, value)
    }

    /// An optional field with a default for absent or `null`.
    ///
    /// A malformed value is a problem; `default` is then returned only as a placeholder,
    /// since [`finish`](Self::finish) will fail anyway.
    pub fn or_default<T: DeserializeOwned>(&mut self, path: &str, default: T) -> T {
        let Some((at, value)) = self.present_or_none(path) else {
            return default;
        };
        self.decode(&at, value).unwrap_or(default)
    }

    /// A required field decoded as `T`, then converted or validated by `convert`; an
    /// error kind from `convert` is recorded with the field's path and value.
    ///
    /// ```
    /// use serde_json::json;
    /// use steadfast::mapper::{Fields, FieldErrorKind};
    ///
    /// let record = json!({"age": 200});
    /// let mut f = Fields::new(&record);
    /// let age = f.required_with("age", |age: u64| {
    ///     u8::try_from(age)
    ///         .ok()
    ///         .filter(|age| *age <= 150)
    ///         .ok_or_else(|| FieldErrorKind::out_of_range("0..=150"))
    /// });
    /// assert_eq!(age, None);
    /// assert_eq!(f.problems()[0].to_string(), "`age`: out of range, expected 0..=150 (got 200)");
    /// # let _ = f.into_result();
    /// ```
    pub fn required_with<T, U>(
        &mut self,
        path: &str,
        convert: impl FnOnce(T) -> Result<U, FieldErrorKind>,
    ) -> Option<U>
    where
        T: DeserializeOwned,
    {
        let (at, value) = self.present(path)?;
        let decoded = self.decode(&at, value)?;
        self.converted(at, value, convert(decoded))
    }

    /// Like [`required_with`](Self::required_with) for an optional field: absent or
    /// `null` is `None` and `convert` is not called.
    pub fn optional_with<T, U>(
        &mut self,
        path: &str,
        convert: impl FnOnce(T) -> Result<U, FieldErrorKind>,
    ) -> Option<U>
    where
        T: DeserializeOwned,
    {
        let (at, value) = self.present_or_none(path)?;
        let decoded = self.decode(&at, value)?;
        self.converted(at, value, convert(decoded))
    }

    /// A required field parsed with [`FromStr`] from a string (trimmed) or from the
    /// text of a JSON number or boolean: amounts, dates, enums kept as text upstream.
    ///
    /// The parser's own error message is not kept, because some parsers quote their
    /// input; the problem says which type was expected and shows the redacted value.
    pub fn parse<T: FromStr>(&mut self, path: &str) -> Option<T> {
        let (at, value) = self.present(path)?;
        self.parse_value(at, value)
    }

    /// Like [`parse`](Self::parse) for an optional field: absent, `null` or a blank
    /// string is `None`.
    pub fn optional_parse<T: FromStr>(&mut self, path: &str) -> Option<T> {
        let (at, value) = self.present_or_none(path)?;
        if value.as_str().is_some_and(|s| s.trim().is_empty()) {
            return None;
        }
        self.parse_value(at, value)
    }

    /// A required string field normalised by `text`; empty counts as
    /// [`Missing`](FieldErrorKind::Missing) when `text` says so.
    pub fn required_text(&mut self, path: &str, text: Text) -> Option<String> {
        let (at, value) = self.present(path)?;
        let Some(raw) = value.as_str() else {
            self.record_at(at, FieldErrorKind::invalid("a string"), Some(value));
            return None;
        };
        let normalized = text.normalize(raw);
        if normalized.is_none() {
            self.record_at(at, FieldErrorKind::Missing, Some(value));
        }
        normalized
    }

    /// An optional string field normalised by `text`: absent, `null`, or empty when
    /// `text` treats empty as missing, is `None`.
    pub fn optional_text(&mut self, path: &str, text: Text) -> Option<String> {
        let (at, value) = self.present_or_none(path)?;
        let Some(raw) = value.as_str() else {
            self.record_at(at, FieldErrorKind::invalid("a string"), Some(value));
            return None;
        };
        text.normalize(raw)
    }

    /// A required, trimmed, non-empty string: [`required_text`](Self::required_text)
    /// with [`Text::TRIMMED`].
    pub fn trimmed(&mut self, path: &str) -> Option<String> {
        self.required_text(path, Text::TRIMMED)
    }

    /// Reads a required nested object with `read`, whose problems are reported under
    /// this path.
    pub fn nested<R>(
        &mut self,
        path: &str,
        read: impl FnOnce(&mut Fields<'a>) -> Option<R>,
    ) -> Option<R> {
        let (at, value) = self.present(path)?;
        self.read_child(at, value, read)
    }

    /// Like [`nested`](Self::nested) for an optional object: absent or `null` is `None`.
    pub fn optional_nested<R>(
        &mut self,
        path: &str,
        read: impl FnOnce(&mut Fields<'a>) -> Option<R>,
    ) -> Option<R> {
        let (at, value) = self.present_or_none(path)?;
        self.read_child(at, value, read)
    }

    /// Reads every element of a required array with `read`; problems are reported as
    /// `path[index].field`, for all elements, not only the first bad one.
    pub fn each<R>(
        &mut self,
        path: &str,
        mut read: impl FnMut(&mut Fields<'a>) -> Option<R>,
    ) -> Option<Vec<R>> {
        let (at, value) = self.present(path)?;
        let Value::Array(items) = value else {
            self.record_at(at, FieldErrorKind::invalid("an array"), Some(value));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut complete = true;
        for (index, item) in items.iter().enumerate() {
            let mut item_at = at.clone();
            path::push(&mut item_at, Segment::Index(index));
            match self.read_child(item_at, item, &mut read) {
                Some(mapped) if complete => out.push(mapped),
                _ => complete = false,
            }
        }
        complete.then_some(out)
    }

    /// Maps a required nested value with another [`Mapper`], reporting its problems
    /// under this path.
    pub fn map_with<M>(&mut self, path: &str, mapper: &M) -> Option<M::Out>
    where
        M: Mapper<&'a Value> + ?Sized,
    {
        let (at, value) = self.present(path)?;
        match mapper.map(value) {
            Ok(out) => Some(out),
            Err(error) => {
                for mut problem in error.into_problems() {
                    problem.prefix_with(&at, self.redactor);
                    self.push(problem);
                }
                None
            }
        }
    }

    /// Records a problem found by the mapping code itself (a cross-field rule, say);
    /// the value at `path`, if any, is attached redacted.
    pub fn report(&mut self, path: &str, kind: FieldErrorKind) {
        let (at, value) = match self.lookup(path) {
            Lookup::Found { at, value } => (at, Some(value)),
            Lookup::Absent { .. } | Lookup::Null { .. } | Lookup::NotContainer { .. } => {
                (path::join(&self.prefix, path), None)
            }
        };
        self.record_at(at, kind, value);
    }

    /// The problems recorded so far.
    #[must_use]
    pub fn problems(&self) -> &[FieldError] {
        &self.problems
    }

    /// Builds the output with `build` if no problem was recorded, else returns every
    /// problem.
    ///
    /// # Errors
    ///
    /// A [`MapError`] with every recorded problem. If `build` returns `None` although
    /// nothing was recorded (a `?` on an optional field that was absent), the error says
    /// so instead of inventing a value.
    pub fn finish<Out>(mut self, build: impl FnOnce() -> Option<Out>) -> Result<Out, MapError> {
        if let Some(error) = MapError::from_problems(std::mem::take(&mut self.problems)) {
            return Err(error);
        }
        build().ok_or_else(|| {
            MapError::custom(
                "the mapping built no value although no field problem was recorded \
                 (a `?` on an optional field?)",
            )
        })
    }

    /// `Ok(())` if no problem was recorded, for validation without output.
    ///
    /// # Errors
    ///
    /// A [`MapError`] with every recorded problem.
    pub fn into_result(mut self) -> Result<(), MapError> {
        match MapError::from_problems(std::mem::take(&mut self.problems)) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Shows where the reader is and what it found, never the record, which may hold secrets.
impl fmt::Debug for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fields")
            .field("prefix", &self.prefix)
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}

impl Drop for Fields<'_> {
    fn drop(&mut self) {
        if let Some(first) = self.problems.first() {
            tracing::error!(
                problems = self.problems.len(),
                first = %first,
                "field problems dropped without `Fields::finish`; the record was not rejected"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn kinds(error: &MapError) -> Vec<(&str, &FieldErrorKind)> {
        error
            .problems()
            .iter()
            .map(|problem| (problem.path(), problem.kind()))
            .collect()
    }

    #[test]
    fn collects_every_problem() {
        let record = json!({"name": "  ", "email": null, "age": "x", "tags": [1]});
        let mut f = Fields::new(&record);
        let id = f.required::<i64>("customer_id");
        let name = f.trimmed("name");
        let email = f.required::<String>("email");
        let age = f.required::<u8>("age");
        let tags = f.required::<Vec<String>>("tags");
        let error = f
            .finish(|| Some((id?, name?, email?, age?, tags?)))
            .expect_err("five problems");
        assert_eq!(
            kinds(&error),
            [
                ("customer_id", &FieldErrorKind::Missing),
                ("name", &FieldErrorKind::Missing),
                ("email", &FieldErrorKind::Null),
                ("age", &FieldErrorKind::invalid("u8")),
                ("tags[0]", &FieldErrorKind::invalid("a string")),
            ]
        );
    }

    #[test]
    fn optional_and_defaults() {
        let record = json!({"phone": null, "currency": null, "count": "3"});
        let mut f = Fields::new(&record);
        assert_eq!(f.optional::<String>("phone"), None);
        assert_eq!(f.optional::<String>("fax"), None);
        assert_eq!(f.or_default("currency", "EUR".to_owned()), "EUR");
        assert_eq!(f.or_default("country", "DE".to_owned()), "DE");
        assert!(f.problems().is_empty());
        assert_eq!(f.or_default("count", 0_u32), 0);
        assert_eq!(f.problems().len(), 1, "malformed value is still a problem");
        assert!(f.into_result().is_err());
    }

    #[test]
    fn nested_paths_and_parents() {
        let record = json!({
            "customer": {"address": {"zip": "10115"}},
            "billing": null,
            "tags": "vip",
            "items": [{"sku": "A"}, {"sku": 3}],
        });
        let mut f = Fields::new(&record);
        assert_eq!(
            f.required::<String>("customer.address.zip").as_deref(),
            Some("10115")
        );
        assert_eq!(f.required::<String>("items[0].sku").as_deref(), Some("A"));
        assert_eq!(f.optional::<String>("billing.zip"), None);
        assert_eq!(f.optional::<String>("shipping.zip"), None);
        assert!(f.problems().is_empty());

        assert_eq!(f.required::<String>("customer.phone.number"), None);
        assert_eq!(f.required::<String>("billing.zip"), None);
        assert_eq!(f.required::<String>("billing.city"), None);
        assert_eq!(f.required::<String>("tags.first"), None);
        assert_eq!(f.required::<String>("items[5].sku"), None);
        assert_eq!(f.required::<String>("items[1].sku"), None);
        let error = f.into_result().expect_err("problems");
        assert_eq!(
            kinds(&error),
            [
                ("customer.phone", &FieldErrorKind::Missing),
                ("billing", &FieldErrorKind::Null),
                ("tags", &FieldErrorKind::invalid("an object")),
                ("items[5]", &FieldErrorKind::Missing),
                ("items[1].sku", &FieldErrorKind::invalid("a string")),
            ]
        );
    }

    #[test]
    fn non_object_record_is_one_problem() {
        let record = json!([1, 2]);
        let mut f = Fields::new(&record);
        assert_eq!(f.required::<i64>("a"), None);
        assert_eq!(f.optional::<i64>("b"), None);
        let error = f.into_result().expect_err("not an object");
        assert_eq!(kinds(&error), [("", &FieldErrorKind::invalid("an object"))]);
        assert_eq!(error.problems()[0].value(), Some("[1,2]"));
    }

    #[test]
    fn parse_from_text_and_numbers() {
        #[derive(Debug, PartialEq)]
        struct Cents(i64);
        impl FromStr for Cents {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                let euros: f64 = s.parse().map_err(|_| ())?;
                #[allow(clippy::cast_possible_truncation)]
                Ok(Cents((euros * 100.0).round() as i64))
            }
        }
        let record = json!({"a": " 12.5 ", "b": 7, "c": "12,5", "d": "", "e": " ", "f": true});
        let mut f = Fields::new(&record);
        assert_eq!(f.parse::<Cents>("a"), Some(Cents(1250)));
        assert_eq!(f.parse::<u32>("b"), Some(7));
        assert_eq!(f.parse::<bool>("f"), Some(true));
        assert_eq!(f.optional_parse::<u32>("e"), None);
        assert_eq!(f.optional_parse::<u32>("zz"), None);
        assert!(f.problems().is_empty());
        assert_eq!(f.parse::<Cents>("c"), None);
        assert_eq!(f.parse::<u32>("d"), None);
        let error = f.into_result().expect_err("two problems");
        assert_eq!(
            kinds(&error),
            [
                ("c", &FieldErrorKind::invalid("Cents")),
                ("d", &FieldErrorKind::invalid("u32")),
            ]
        );
    }

    #[test]
    fn text_readers() {
        let record = json!({"email": " Ada@X.io ", "blank": " ", "n": 5});
        let mut f = Fields::new(&record);
        assert_eq!(
            f.required_text("email", Text::EMAIL).as_deref(),
            Some("ada@x.io")
        );
        assert_eq!(f.optional_text("blank", Text::TRIMMED), None);
        assert_eq!(f.optional_text("none", Text::TRIMMED), None);
        assert_eq!(f.optional_text("blank", Text::AS_IS).as_deref(), Some(" "));
        assert!(f.problems().is_empty());
        assert_eq!(f.required_text("blank", Text::TRIMMED), None);
        assert_eq!(f.optional_text("n", Text::TRIMMED), None);
        let error = f.into_result().expect_err("two problems");
        assert_eq!(
            kinds(&error),
            [
                ("blank", &FieldErrorKind::Missing),
                ("n", &FieldErrorKind::invalid("a string")),
            ]
        );
        assert_eq!(error.problems()[0].value(), Some("\" \""));
    }

    #[test]
    fn nested_each_and_map_with_prefix_paths() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Line {
            sku: String,
            qty: u32,
        }
        let record = json!({
            "address": {"zip": 10115},
            "items": [{"sku": "A", "qty": 1}, {"sku": 2, "qty": -1}, {"qty": 3}],
            "lines": [{"sku": "B", "qty": "x"}],
        });
        let mut f = Fields::new(&record);
        let zip = f.nested("address", |a| a.required::<String>("zip"));
        let items = f.each("items", |item| {
            let sku = item.required::<String>("sku");
            let qty = item.required::<u32>("qty");
            Some((sku?, qty?))
        });
        let line_mapper = |v: &Value| -> Result<Line, MapError> {
            let mut f = Fields::new(v);
            let line = f.required::<Line>("");
            f.finish(|| line)
        };
        let lines = f.map_with("lines[0]", &line_mapper);
        let absent = f.optional_nested("billing", |b| b.required::<String>("zip"));
        assert_eq!((zip, items, lines, absent), (None, None, None, None));
        let error = f.into_result().expect_err("problems");
        assert_eq!(
            kinds(&error),
            [
                ("address.zip", &FieldErrorKind::invalid("a string")),
                ("items[1].sku", &FieldErrorKind::invalid("a string")),
                ("items[1].qty", &FieldErrorKind::out_of_range("u32")),
                ("items[2].sku", &FieldErrorKind::Missing),
                ("lines[0].qty", &FieldErrorKind::invalid("u32")),
            ]
        );
    }

    #[test]
    fn each_returns_all_elements() {
        let record = json!({"tags": [{"name": " a "}, {"name": "b"}]});
        let mut f = Fields::new(&record);
        let tags = f.each("tags", |tag| tag.trimmed("name"));
        assert_eq!(f.finish(|| tags), Ok(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn required_with_converts_and_validates() {
        let record = json!({"customer_id": 42, "age": 151});
        let mut f = Fields::new(&record);
        let id = f.required_with("customer_id", |id: i64| Ok(format!("crm-{id}")));
        let age = f.required_with("age", |age: u8| {
            if age <= 150 {
                Ok(age)
            } else {
                Err(FieldErrorKind::out_of_range("0..=150"))
            }
        });
        let missing = f.optional_with("nickname", |n: String| Ok(n.len()));
        assert_eq!(id.as_deref(), Some("crm-42"));
        assert_eq!((age, missing), (None, None));
        let error = f.into_result().expect_err("age");
        assert_eq!(
            error.to_string(),
            "1 field problem: `age`: out of range, expected 0..=150 (got 151)"
        );
    }

    #[test]
    fn report_and_custom_redactor() {
        let record = json!({"pin": "1234", "from": 5, "to": 3});
        let redactor = JsonRedactor::new().field("pin");
        let mut f = Fields::with_redactor(&record, &redactor);
        let _ = f.required::<u32>("pin");
        f.report("to", FieldErrorKind::custom("must not be before `from`"));
        f.report("nowhere", FieldErrorKind::custom("cross-field rule"));
        let error = f.into_result().expect_err("problems");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("1234"), "{shown}");
        assert_eq!(error.problems()[0].value(), Some("[redacted]"));
        assert_eq!(error.problems()[1].value(), Some("3"));
        assert_eq!(error.problems()[2].value(), None);
    }

    #[test]
    fn debug_never_shows_the_record() {
        let record = json!({"password": "hunter2", "n": "x"});
        let mut f = Fields::new(&record);
        let _ = f.required::<u8>("n");
        let shown = format!("{f:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("problems"), "{shown}");
        let _ = f.into_result();
    }

    #[test]
    fn finish_without_value_is_an_error_not_a_panic() {
        let record = json!({});
        let mut f = Fields::new(&record);
        let phone = f.optional::<String>("phone");
        let error = f.finish(|| phone).expect_err("no value");
        assert!(matches!(
            error.problems()[0].kind(),
            FieldErrorKind::Custom(_)
        ));
    }
}

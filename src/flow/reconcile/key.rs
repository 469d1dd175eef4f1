//! The key that pairs a source record with its destination record, and its order.

use serde_json::Value;

use crate::error::ConfigError;
use crate::redact::{JsonRedactor, REDACTED, Redactor};

use super::compare::integral;
use super::config::invalid;

/// Where a record's key is: one JSON pointer (`/id`) or several for a composite key
/// (`/tenant`, `/order_no`).
///
/// A key part is a string or an integer (a number with no fraction counts as one, so `42`
/// and `42.0` are the same key). Keys are ordered part by part, integers by value before
/// strings, strings by their UTF-8 bytes (Rust's `str` order, SQL's `COLLATE "C"`): sorted
/// streams must come in that order. A part under a sensitive field name (see
/// [`crate::redact`]) is shown as `[redacted]` in reports and errors.
///
/// ```
/// use steadfast::flow::reconcile::RecordKey;
///
/// let by_id = RecordKey::from("/id");
/// let by_tenant_and_number = RecordKey::composite(["/tenant", "/order_no"]);
/// # let _ = (by_id, by_tenant_and_number);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    pointers: Vec<String>,
}

impl RecordKey {
    /// A key made of the fields at `pointers`, compared in that order.
    #[must_use]
    pub fn composite<I, P>(pointers: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Self {
            pointers: pointers.into_iter().map(Into::into).collect(),
        }
    }

    /// The pointers, in order.
    #[must_use]
    pub fn pointers(&self) -> &[String] {
        &self.pointers
    }

    pub(crate) fn check(&self) -> Result<KeyReader, ConfigError> {
        if self.pointers.is_empty() {
            return Err(invalid("reconcile key", ""));
        }
        for pointer in &self.pointers {
            if !pointer.starts_with('/') {
                return Err(invalid("reconcile key", pointer));
            }
        }
        let redactor = JsonRedactor::DEFAULT;
        Ok(KeyReader {
            tokens: self
                .pointers
                .iter()
                .map(|p| {
                    p.split('/')
                        .skip(1)
                        .map(|t| t.replace("~1", "/").replace("~0", "~"))
                        .collect()
                })
                .collect(),
            sensitive: self
                .pointers
                .iter()
                .map(|p| {
                    p.split('/')
                        .any(|segment| !segment.is_empty() && redactor.is_sensitive(segment))
                })
                .collect(),
            pointers: self.pointers.clone(),
        })
    }
}

impl From<&str> for RecordKey {
    fn from(pointer: &str) -> Self {
        Self::composite([pointer])
    }
}

impl From<String> for RecordKey {
    fn from(pointer: String) -> Self {
        Self::composite([pointer])
    }
}

/// A checked [`RecordKey`]: reads keys out of records and shows them redacted.
#[derive(Debug, Clone)]
pub(crate) struct KeyReader {
    pointers: Vec<String>,
    // Unescaped once: serde_json's `Value::pointer` allocates per token and lookup.
    tokens: Vec<Vec<String>>,
    sensitive: Vec<bool>,
}

impl KeyReader {
    /// The record's key, or `None` when a part is absent or neither string nor integer.
    pub(crate) fn read(&self, record: &Value) -> Option<Key> {
        if let [tokens] = self.tokens.as_slice() {
            return part(lookup(record, tokens)?).map(Key::One);
        }
        self.tokens
            .iter()
            .map(|tokens| part(lookup(record, tokens)?))
            .collect::<Option<Vec<_>>>()
            .map(|parts| Key::Many(parts.into_boxed_slice()))
    }

    /// The key as the report shows it: one part as itself, several as an array,
    /// sensitive parts masked.
    pub(crate) fn show(&self, key: &Key) -> Value {
        match key {
            Key::One(one) => self.show_part(0, one),
            Key::Many(parts) => Value::Array(
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| self.show_part(i, p))
                    .collect(),
            ),
        }
    }

    fn show_part(&self, index: usize, part: &KeyPart) -> Value {
        if self.sensitive.get(index).copied().unwrap_or(true) {
            return Value::String(REDACTED.to_owned());
        }
        match part {
            KeyPart::Int(n) => i64::try_from(*n)
                .map(Value::from)
                .or_else(|_| u64::try_from(*n).map(Value::from))
                .unwrap_or(Value::Null),
            // A URL or `token=…` pair used as a key is scrubbed like any logged text.
            KeyPart::Str(s) => Value::String(Redactor::shared_default().text(s).into_owned()),
        }
    }

    /// The pointers, joined for an error message.
    pub(crate) fn describe(&self) -> String {
        self.pointers.join(", ")
    }
}

fn lookup<'v>(mut value: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    for token in tokens {
        value = match value {
            Value::Object(map) => map.get(token)?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn part(value: &Value) -> Option<KeyPart> {
    match value {
        Value::String(s) => Some(KeyPart::Str(s.as_str().into())),
        Value::Number(n) => integral(n).map(KeyPart::Int),
        _ => None,
    }
}

/// A record's key: ordered, hashable, cheap to compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Key {
    One(KeyPart),
    Many(Box<[KeyPart]>),
}

/// One part of a key; integers sort before strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum KeyPart {
    Int(i128),
    Str(Box<str>),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_read_order_and_show() {
        let nested = RecordKey::from("/ref/a~1b/1").check().expect("valid key");
        let record = json!({"ref": {"a/b": [0, "x"]}});
        assert_eq!(
            nested.read(&record),
            Some(Key::One(KeyPart::Str("x".into())))
        );
        let reader = RecordKey::from("/id").check().expect("valid key");
        let int = reader.read(&json!({"id": 42})).expect("key");
        assert_eq!(reader.read(&json!({"id": 42.0})), Some(int.clone()));
        let text = reader.read(&json!({"id": "41"})).expect("key");
        assert!(int < text, "integers sort before strings");
        assert_eq!(reader.read(&json!({"id": 4.5})), None);
        assert_eq!(reader.read(&json!({"id": null})), None);
        assert_eq!(reader.read(&json!({})), None);
        assert_eq!(reader.show(&int), json!(42));

        let composite = RecordKey::composite(["/tenant", "/api_key"])
            .check()
            .expect("valid key");
        let key = composite
            .read(&json!({"tenant": "acme", "api_key": "s3cret"}))
            .expect("key");
        assert_eq!(composite.show(&key), json!(["acme", "[redacted]"]));

        let url = reader
            .read(&json!({"id": "https://h.example/x?token=PLANTED"}))
            .expect("key");
        assert!(!reader.show(&url).to_string().contains("PLANTED"));

        assert!(RecordKey::from("id").check().is_err());
        assert!(RecordKey::composite(Vec::<String>::new()).check().is_err());
    }
}

//! Turning a found value into the caller's type, recording a value that does not fit.

use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Fields;
use crate::mapper::error::FieldErrorKind;
use crate::mapper::value_de;

impl Fields<'_> {
    pub(super) fn decode<T: DeserializeOwned>(&mut self, at: &str, value: &Value) -> Option<T> {
        match value_de::from_value(value, self.redactor) {
            Ok(decoded) => Some(decoded),
            Err(mut problem) => {
                problem.prefix_with(at, self.redactor);
                self.push(problem);
                None
            }
        }
    }

    pub(super) fn converted<U>(
        &mut self,
        at: String,
        value: &Value,
        result: Result<U, FieldErrorKind>,
    ) -> Option<U> {
        match result {
            Ok(converted) => Some(converted),
            Err(kind) => {
                self.record_at(at, kind, Some(value));
                None
            }
        }
    }

    pub(super) fn parse_value<T: FromStr>(&mut self, at: String, value: &Value) -> Option<T> {
        let parsed = match value {
            Value::String(s) => s.trim().parse().ok(),
            Value::Number(n) => n.to_string().parse().ok(),
            Value::Bool(b) => b.to_string().parse().ok(),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        };
        if parsed.is_none() {
            let expected = short_type_name(std::any::type_name::<T>());
            self.record_at(at, FieldErrorKind::Invalid { expected }, Some(value));
        }
        parsed
    }
}

/// `alloc::vec::Vec<core::option::Option<u8>>` → `Vec<Option<u8>>`.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut word_start = 0;
    for (i, c) in full.char_indices() {
        if !(c.is_alphanumeric() || c == '_' || c == ':') {
            push_last_segment(&mut out, &full[word_start..i]);
            out.push(c);
            word_start = i + c.len_utf8();
        }
    }
    push_last_segment(&mut out, &full[word_start..]);
    out
}

fn push_last_segment(out: &mut String, word: &str) {
    out.push_str(word.rsplit("::").next().unwrap_or(word));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names() {
        let table = [
            ("u8", "u8"),
            ("alloc::string::String", "String"),
            (
                "alloc::vec::Vec<core::option::Option<my_crate::Cents>>",
                "Vec<Option<Cents>>",
            ),
            ("(u8, alloc::string::String)", "(u8, String)"),
            ("&str", "&str"),
        ];
        for (full, short) in table {
            assert_eq!(short_type_name(full), short);
        }
    }
}

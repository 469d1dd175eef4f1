//! JSON: masking sensitive fields at any depth, in place or while rendering a preview.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

use super::names::{is_default_field, name_or_plural_matches};
use super::redactor::Redactor;
use super::{REDACTED, process};

/// Masks every default-sensitive field of `value`, at any depth, with [`REDACTED`].
///
/// String values are scrubbed too: URLs in them are redacted as URLs and `name=value`
/// pairs of sensitive names are masked (see [`Redactor::text`]).
pub fn redact_json(value: &mut Value) {
    JsonRedactor::DEFAULT.redact(value);
}

/// Masks the default sensitive field names plus names the caller adds with
/// [`RedactConfig::json_field`](super::RedactConfig::json_field); a [`Redactor`] lends its
/// own with [`Redactor::json`].
///
/// ```
/// use serde_json::json;
/// use steadfast::redact::{RedactConfig, Redactor};
///
/// let redactor = Redactor::new(&RedactConfig::default().json_field("customer_no"))?;
/// let mut value = json!({"customerNo": 1234, "name": "Ada"});
/// redactor.json().redact(&mut value);
/// assert_eq!(value, json!({"customerNo": "[redacted]", "name": "Ada"}));
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonRedactor {
    extra: Vec<String>,
}

impl JsonRedactor {
    /// The redactor with only the default names (and those configured in the process),
    /// usable where a `&'static` one is needed.
    pub const DEFAULT: JsonRedactor = JsonRedactor::new();

    /// Creates a redactor that masks the [default names](super::DEFAULT_SENSITIVE_FIELDS)
    /// and the JSON field names configured in the process (see
    /// [`Redactor::new`](super::Redactor::new)).
    #[must_use]
    pub const fn new() -> Self {
        Self { extra: Vec::new() }
    }

    /// Also masks fields called `name` (compared like the default names).
    #[must_use]
    pub(crate) fn field(mut self, name: impl Into<String>) -> Self {
        self.extra.push(name.into());
        self
    }

    /// Returns `true` when a field called `name` must be masked.
    #[must_use]
    pub fn is_sensitive(&self, name: &str) -> bool {
        is_default_field(name)
            || self
                .extra
                .iter()
                .any(|pattern| name_or_plural_matches(name, pattern))
            || process::is_field(name)
    }

    /// Returns `true` when any segment of a dotted path such as `user.credentials[0].token`
    /// is a sensitive field name.
    #[must_use]
    pub fn is_sensitive_path(&self, path: &str) -> bool {
        path.split(['.', '[', ']'])
            .any(|segment| !segment.is_empty() && self.is_sensitive(segment))
    }

    /// Masks every sensitive field of `value`, at any depth, with [`REDACTED`], and
    /// scrubs string values like [`Redactor::text`] (URLs in them are redacted as URLs).
    pub fn redact(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    if self.is_sensitive(key) {
                        *field = Value::String(REDACTED.to_owned());
                    } else {
                        self.redact(field);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact(item)),
            Value::String(s) => {
                if let Cow::Owned(scrubbed) = Redactor::shared_default().text(s) {
                    *s = scrubbed;
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Renders `value` as one line of JSON with sensitive fields masked and string values
    /// scrubbed, cut after `max_chars` characters (an ellipsis marks the cut).
    ///
    /// Unlike cloning, redacting and serializing, this never copies the whole value,
    /// so it is cheap to call on a large body.
    ///
    /// ```
    /// use serde_json::json;
    /// use steadfast::redact::JsonRedactor;
    ///
    /// let preview = JsonRedactor::DEFAULT.preview(&json!([{"token": "abc"}, 1]), 64);
    /// assert_eq!(preview, r#"[{"token":"[redacted]"},1]"#);
    /// assert_eq!(JsonRedactor::DEFAULT.preview(&json!("abcdef"), 3), "\"ab…");
    /// ```
    #[must_use]
    pub fn preview(&self, value: &Value, max_chars: usize) -> String {
        self.preview_with(value, max_chars, Redactor::shared_default())
    }

    /// [`preview`](Self::preview) with string values scrubbed by `strings`.
    pub(crate) fn preview_with(
        &self,
        value: &Value,
        max_chars: usize,
        strings: &Redactor,
    ) -> String {
        // A char is at most 4 bytes, so this byte budget always covers `max_chars + 1` chars.
        let budget = max_chars.saturating_add(1).saturating_mul(4);
        let mut out = String::new();
        self.render(value, &mut out, budget, strings);
        if let Some((cut, _)) = out.char_indices().nth(max_chars) {
            out.truncate(cut);
            out.push('…');
        }
        out
    }

    fn render(&self, value: &Value, out: &mut String, budget: usize, strings: &Redactor) {
        if out.len() > budget {
            return;
        }
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::String(s) => {
                // Only what can still be shown is scrubbed; the margin lets a name at the
                // cut still see its value.
                let room = budget.saturating_sub(out.len()).saturating_add(256);
                push_json_string(&strings.text(prefix(s, room)), out, budget);
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if out.len() > budget {
                        return;
                    }
                    if i > 0 {
                        out.push(',');
                    }
                    self.render(item, out, budget, strings);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (key, field)) in map.iter().enumerate() {
                    if out.len() > budget {
                        return;
                    }
                    if i > 0 {
                        out.push(',');
                    }
                    push_json_string(key, out, budget);
                    out.push(':');
                    if self.is_sensitive(key) {
                        push_json_string(REDACTED, out, budget);
                    } else {
                        self.render(field, out, budget, strings);
                    }
                }
                out.push('}');
            }
        }
    }
}

/// The longest start of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

fn push_json_string(s: &str, out: &mut String, budget: usize) {
    out.push('"');
    for c in s.chars() {
        if out.len() > budget {
            return;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_names_are_matched_like_defaults() {
        let redactor = JsonRedactor::new().field("customer_no").field("");
        for (name, expected) in [
            ("customer_no", true),
            ("customerNo", true),
            ("CUSTOMER-NO", true),
            ("password", true),
            ("no", false),
            ("customer", false),
        ] {
            assert_eq!(redactor.is_sensitive(name), expected, "{name:?}");
        }
        assert!(!JsonRedactor::DEFAULT.is_sensitive("customer_no"));
    }

    #[test]
    fn sensitive_paths() {
        let table: &[(&str, bool)] = &[
            ("password", true),
            ("user.password", true),
            ("users[3].credentials.apiKey", true),
            ("tokens[0]", true),
            ("user.name", false),
            ("items[2].sku", false),
            ("", false),
        ];
        for (path, expected) in table {
            assert_eq!(
                JsonRedactor::DEFAULT.is_sensitive_path(path),
                *expected,
                "{path:?}"
            );
        }
    }

    #[test]
    fn redacts_at_any_depth_and_scrubs_strings() {
        let mut value = json!({
            "user": "ada",
            "password": {"nested": "hunter2"},
            "sessions": [{"token": "t1", "id": 1}, {"refreshToken": null}],
            "meta": {"deep": {"Api-Key": 7}},
            "next": "https://h/x?access_token=t2&page=2",
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "user": "ada",
                "password": "[redacted]",
                "sessions": [{"token": "[redacted]", "id": 1}, {"refreshToken": "[redacted]"}],
                "meta": {"deep": {"Api-Key": "[redacted]"}},
                "next": "https://h/x?access_token=REDACTED&page=2",
            })
        );
    }

    #[test]
    fn preview_masks_and_truncates() {
        let table: &[(Value, usize, &str)] = &[
            (json!(null), 64, "null"),
            (json!(12.5), 64, "12.5"),
            (json!("a\"b\n"), 64, r#""a\"b\n""#),
            (
                json!({"password": "hunter2"}),
                64,
                r#"{"password":"[redacted]"}"#,
            ),
            (json!([1, {"cvv": 123}]), 64, r#"[1,{"cvv":"[redacted]"}]"#),
            (
                json!({"private_key": {"n": 1}, "otp": [1, 2]}),
                64,
                r#"{"otp":"[redacted]","private_key":"[redacted]"}"#,
            ),
            (
                json!({"link": "https://u:pw@h/bot123:AB/getMe"}),
                64,
                r#"{"link":"https://REDACTED:REDACTED@h/botREDACTED/getMe"}"#,
            ),
            (
                json!({"note": "retry with password=hunter2"}),
                64,
                r#"{"note":"retry with password=[redacted]"}"#,
            ),
            (json!("abcdef"), 4, "\"abc…"),
            (json!([1, 2, 3, 4, 5]), 4, "[1,2…"),
            (json!("ééééé"), 3, "\"éé…"),
            (json!("x"), 0, "…"),
        ];
        for (value, max, expected) in table {
            assert_eq!(JsonRedactor::DEFAULT.preview(value, *max), *expected);
        }
    }

    #[test]
    fn preview_of_a_huge_value_stays_bounded() {
        let big = Value::Array((0..100_000).map(Value::from).collect());
        let preview = JsonRedactor::DEFAULT.preview(&big, 64);
        assert_eq!(preview.chars().count(), 65);
        assert!(preview.ends_with('…'));
    }
}

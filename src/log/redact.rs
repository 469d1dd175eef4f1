//! Masking of sensitive JSON fields before anything reaches a log or an error message.
//!
//! ```
//! use serde_json::json;
//! use steadfast::log::redact::{JsonRedactor, is_sensitive_field, redact_json};
//!
//! fn main() -> Result<(), serde_json::Error> {
//!     let mut body: serde_json::Value = serde_json::from_str(
//!         r#"{"user": "ada", "password": "hunter2", "card": {"cardNumber": "4111"}}"#,
//!     )?;
//!     redact_json(&mut body);
//!     assert_eq!(
//!         body,
//!         json!({"user": "ada", "password": "[redacted]", "card": {"cardNumber": "[redacted]"}})
//!     );
//!
//!     assert!(is_sensitive_field("Access-Token"));
//!     let redactor = JsonRedactor::new().field("customer_pin");
//!     assert!(redactor.is_sensitive("customerPin"));
//!     Ok(())
//! }
//! ```
//!
//! # Matching
//!
//! A field name is sensitive when, ignoring ASCII case and the separators `-` and `_`,
//! it equals one of the listed names or ends with one at a word boundary (after a
//! separator or a lower-to-upper camel-case step), optionally followed by a plural `s`.
//! So `api_key`, `apiKey` and `API-KEY` match `api_key`; `user_password`, `githubToken`
//! and `tokens` match too; `business` does not match `ssn`. Over-masking a harmless field costs a little debugging comfort,
//! under-masking leaks a secret, so the suffix rule errs on the side of masking.

use std::fmt::Write as _;

use serde_json::Value;

/// Text that replaces a masked value.
pub const REDACTED: &str = "[redacted]";

/// Field names masked by default (see the module docs for how names are compared).
pub const DEFAULT_SENSITIVE_FIELDS: &[&str] = &[
    "password",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "authorization",
    "card_number",
    "cvv",
    "ssn",
    "client_secret",
];

/// Returns `true` when `name` is one of the [default sensitive field names](DEFAULT_SENSITIVE_FIELDS).
///
/// Does not allocate.
#[must_use]
pub fn is_sensitive_field(name: &str) -> bool {
    DEFAULT_SENSITIVE_FIELDS
        .iter()
        .any(|pattern| name_or_plural_matches(name, pattern))
}

/// Masks every default-sensitive field of `value`, at any depth, with [`REDACTED`].
pub fn redact_json(value: &mut Value) {
    JsonRedactor::DEFAULT.redact(value);
}

/// Masks the default sensitive field names plus names the caller adds.
///
/// ```
/// use serde_json::json;
/// use steadfast::log::redact::JsonRedactor;
///
/// let redactor = JsonRedactor::default().field("customer_pin");
/// let mut value = json!({"customerPin": 1234, "name": "Ada"});
/// redactor.redact(&mut value);
/// assert_eq!(value, json!({"customerPin": "[redacted]", "name": "Ada"}));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonRedactor {
    extra: Vec<String>,
}

impl JsonRedactor {
    /// The redactor with only the default names, usable where a `&'static` one is needed.
    pub const DEFAULT: JsonRedactor = JsonRedactor::new();

    /// Creates a redactor that masks the [default names](DEFAULT_SENSITIVE_FIELDS).
    #[must_use]
    pub const fn new() -> Self {
        Self { extra: Vec::new() }
    }

    /// Also masks fields called `name` (compared like the default names).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.extra.push(name.into());
        self
    }

    /// Returns `true` when a field called `name` must be masked.
    #[must_use]
    pub fn is_sensitive(&self, name: &str) -> bool {
        is_sensitive_field(name)
            || self
                .extra
                .iter()
                .any(|pattern| name_or_plural_matches(name, pattern))
    }

    /// Returns `true` when any segment of a dotted path such as `user.credentials[0].token`
    /// is a sensitive field name.
    #[must_use]
    pub fn is_sensitive_path(&self, path: &str) -> bool {
        path.split(['.', '[', ']'])
            .any(|segment| !segment.is_empty() && self.is_sensitive(segment))
    }

    /// Masks every sensitive field of `value`, at any depth, with [`REDACTED`].
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
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    /// Renders `value` as one line of JSON with sensitive fields masked, cut after
    /// `max_chars` characters (an ellipsis marks the cut).
    ///
    /// Unlike cloning, redacting and serializing, this never copies the whole value,
    /// so it is cheap to call on a large body.
    ///
    /// ```
    /// use serde_json::json;
    /// use steadfast::log::redact::JsonRedactor;
    ///
    /// let preview = JsonRedactor::DEFAULT.preview(&json!([{"token": "abc"}, 1]), 64);
    /// assert_eq!(preview, r#"[{"token":"[redacted]"},1]"#);
    /// assert_eq!(JsonRedactor::DEFAULT.preview(&json!("abcdef"), 3), "\"ab…");
    /// ```
    #[must_use]
    pub fn preview(&self, value: &Value, max_chars: usize) -> String {
        // A char is at most 4 bytes, so this byte budget always covers `max_chars + 1` chars.
        let budget = max_chars.saturating_add(1).saturating_mul(4);
        let mut out = String::new();
        self.render(value, &mut out, budget);
        if let Some((cut, _)) = out.char_indices().nth(max_chars) {
            out.truncate(cut);
            out.push('…');
        }
        out
    }

    fn render(&self, value: &Value, out: &mut String, budget: usize) {
        if out.len() > budget {
            return;
        }
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::String(s) => push_json_string(s, out, budget),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if out.len() > budget {
                        return;
                    }
                    if i > 0 {
                        out.push(',');
                    }
                    self.render(item, out, budget);
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
                        self.render(field, out, budget);
                    }
                }
                out.push('}');
            }
        }
    }
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

fn is_separator(b: u8) -> bool {
    b == b'-' || b == b'_'
}

/// A list of secrets (`tokens`, `api_keys`) is as sensitive as one.
fn name_or_plural_matches(name: &str, pattern: &str) -> bool {
    name_matches(name, pattern)
        || name
            .strip_suffix(['s', 'S'])
            .is_some_and(|singular| name_matches(singular, pattern))
}

/// Compares from the end so that `user_password` matches `password`, skipping
/// separators in both names and ignoring ASCII case.
fn name_matches(name: &str, pattern: &str) -> bool {
    let name = name.as_bytes();
    let pattern = pattern.as_bytes();
    let mut i = name.len();
    let mut j = pattern.len();
    // Index in `name` of the earliest byte that matched the pattern.
    let mut first = name.len();
    loop {
        while j > 0 && is_separator(pattern[j - 1]) {
            j -= 1;
        }
        if j == 0 {
            break;
        }
        while i > 0 && is_separator(name[i - 1]) {
            i -= 1;
        }
        if i == 0 || !name[i - 1].eq_ignore_ascii_case(&pattern[j - 1]) {
            return false;
        }
        i -= 1;
        j -= 1;
        first = i;
    }
    if first == name.len() {
        // An empty pattern (or one of separators only) matches nothing.
        return false;
    }
    if name[..first].iter().all(|&b| is_separator(b)) {
        return true;
    }
    let before = name[first - 1];
    is_separator(before)
        || (name[first].is_ascii_uppercase()
            && (before.is_ascii_lowercase() || before.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_names() {
        let table: &[(&str, bool)] = &[
            ("password", true),
            ("PASSWORD", true),
            ("Password", true),
            ("secret", true),
            ("token", true),
            ("access_token", true),
            ("accessToken", true),
            ("access-token", true),
            ("ACCESS_TOKEN", true),
            ("refresh_token", true),
            ("refreshToken", true),
            ("api_key", true),
            ("apiKey", true),
            ("API-KEY", true),
            ("x-api-key", true),
            ("apikey", true),
            ("authorization", true),
            ("Authorization", true),
            ("card_number", true),
            ("cardNumber", true),
            ("credit_card_number", true),
            ("cvv", true),
            ("ssn", true),
            ("client_secret", true),
            ("clientSecret", true),
            ("user_password", true),
            ("newPassword", true),
            ("githubToken", true),
            ("csrf_token", true),
            ("password_", true),
            ("_password", true),
            ("tokens", true),
            ("api_keys", true),
            ("clientSecrets", true),
            // Not sensitive.
            ("", false),
            ("-", false),
            ("name", false),
            ("email", false),
            ("business", false),
            ("passwordHash", false),
            ("tokenizer", false),
            ("mytoken", false),
            ("s", false),
            ("tokenss", false),
            ("USERTOKEN", false),
            ("card", false),
            ("number", false),
            ("key", false),
            ("customer_pin", false),
            ("passwor", false),
            ("ünïcödé", false),
        ];
        for (name, expected) in table {
            assert_eq!(is_sensitive_field(name), *expected, "{name:?}");
        }
    }

    #[test]
    fn extra_names_are_matched_like_defaults() {
        let redactor = JsonRedactor::new().field("customer_pin").field("");
        for (name, expected) in [
            ("customer_pin", true),
            ("customerPin", true),
            ("CUSTOMER-PIN", true),
            ("password", true),
            ("pin", false),
            ("customer", false),
        ] {
            assert_eq!(redactor.is_sensitive(name), expected, "{name:?}");
        }
        assert!(!JsonRedactor::DEFAULT.is_sensitive("customer_pin"));
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
    fn redacts_at_any_depth() {
        let mut value = json!({
            "user": "ada",
            "password": {"nested": "hunter2"},
            "sessions": [{"token": "t1", "id": 1}, {"refreshToken": null}],
            "meta": {"deep": {"Api-Key": 7}},
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "user": "ada",
                "password": "[redacted]",
                "sessions": [{"token": "[redacted]", "id": 1}, {"refreshToken": "[redacted]"}],
                "meta": {"deep": {"Api-Key": "[redacted]"}},
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

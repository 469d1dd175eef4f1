//! Masking of secrets before anything reaches a log, an error message or a `Debug` output.
//!
//! [`Redactor`] masks headers, query parameters, URL userinfo and JSON fields; the log
//! layer renders every URL, header and body through it. [`JsonRedactor`] is its JSON part,
//! also used by the [`mapper`](crate::mapper) so that a bad `password` field is never printed.
//!
//! ```
//! use serde_json::json;
//! use steadfast::log::redact::{JsonRedactor, RedactConfig, Redactor, is_sensitive_field, redact_json};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
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
//!
//!     let redactor = Redactor::new(&RedactConfig::default().query_param("session"))?;
//!     let url = "https://ada:pw@api.example.com/orders?session=s3&page=2".parse()?;
//!     assert_eq!(
//!         redactor.url(&url).to_string(),
//!         "https://REDACTED:REDACTED@api.example.com/orders?session=REDACTED&page=2"
//!     );
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
//!
//! | what | masked when | defaults |
//! |---|---|---|
//! | JSON field | its name matches a field name | [`DEFAULT_SENSITIVE_FIELDS`] |
//! | query parameter | its name matches a query name or a field name | [`DEFAULT_SENSITIVE_QUERY_PARAMS`] |
//! | header | it is listed (exact, any case), its name matches a field name (`X-Upstream-Token`), or reqwest marked the value sensitive (`bearer_auth`, `basic_auth`) | [`DEFAULT_SENSITIVE_HEADERS`] |
//! | URL userinfo | always | |
//! | URL fragment | always dropped (never sent, but OAuth puts tokens there) | |
//!
//! Query and header names are compared like field names; extra names come from
//! [`RedactConfig`]. Header names are not suffix-matched against the query names, so
//! `Idempotency-Key` stays visible: keys are not secrets.
//!
//! In URLs the mask is `REDACTED`, as OpenTelemetry's `url.full` convention spells it; in
//! headers, JSON and text it is [`REDACTED`].
//!
//! # Bodies
//!
//! [`Redactor::body`] renders a body for a log line: JSON with sensitive fields masked at
//! any depth; other text with `name: value` and `name=value` pairs of sensitive names
//! masked (this also covers form bodies and JSON cut short); anything that is not UTF-8 as
//! its length only. The result is capped.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::{Arc, LazyLock};

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConfigError;

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

/// Text that replaces a masked userinfo or query value in a URL, as OpenTelemetry spells it.
pub const URL_REDACTED: &str = "REDACTED";

/// Header names masked by default, compared in any case.
pub const DEFAULT_SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Query parameter names masked by default (compared like field names).
pub const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "key",
    "secret",
    "signature",
    "sig",
    "password",
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

/// Extra names to mask, on top of the built-in lists; `serde`-deserializable.
///
/// ```
/// let config: steadfast::log::redact::RedactConfig = serde_json::from_str(
///     r#"{ "headers": ["X-Partner-Pin"], "query_params": ["session"], "json_fields": ["iban"] }"#,
/// )?;
/// assert_eq!(config.headers, ["X-Partner-Pin"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactConfig {
    /// Header names masked besides [`DEFAULT_SENSITIVE_HEADERS`]. Default none.
    pub headers: Vec<String>,
    /// Query parameter names masked besides [`DEFAULT_SENSITIVE_QUERY_PARAMS`]. Default none.
    pub query_params: Vec<String>,
    /// JSON field names masked besides [`DEFAULT_SENSITIVE_FIELDS`]. Default none.
    pub json_fields: Vec<String>,
}

impl RedactConfig {
    /// Also masks the header `name` (any case). Default: only [`DEFAULT_SENSITIVE_HEADERS`].
    #[must_use]
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.headers.push(name.into());
        self
    }

    /// Also masks the query parameter `name`. Default: only [`DEFAULT_SENSITIVE_QUERY_PARAMS`].
    #[must_use]
    pub fn query_param(mut self, name: impl Into<String>) -> Self {
        self.query_params.push(name.into());
        self
    }

    /// Also masks JSON fields called `name`. Default: only [`DEFAULT_SENSITIVE_FIELDS`].
    #[must_use]
    pub fn json_field(mut self, name: impl Into<String>) -> Self {
        self.json_fields.push(name.into());
        self
    }
}

/// Masks secrets in URLs, headers, query strings, JSON and text bodies.
///
/// Built from a [`RedactConfig`]; the defaults need no configuration
/// (`Redactor::default()`). Nothing is rendered until a result is formatted, so a
/// redacted URL handed to a disabled `tracing` field costs nothing.
///
/// # Clone
///
/// Clones share one set of names behind an `Arc`.
///
/// # Example
///
/// ```
/// use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
/// use steadfast::log::redact::Redactor;
///
/// let redactor = Redactor::default();
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cr3t"));
/// headers.insert("accept", HeaderValue::from_static("application/json"));
/// assert_eq!(
///     redactor.headers(&headers).to_string(),
///     r#"{"authorization": "[redacted]", "accept": "application/json"}"#
/// );
/// assert_eq!(
///     redactor.body(br#"{"user": "ada", "password": "hunter2"}"#, 4096),
///     r#"{"password":"[redacted]","user":"ada"}"#
/// );
/// ```
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Names>,
}

struct Names {
    headers: Vec<HeaderName>,
    query_params: Vec<String>,
    json: JsonRedactor,
}

static DEFAULT_REDACTOR: LazyLock<Redactor> = LazyLock::new(|| Redactor {
    inner: Arc::new(Names {
        headers: Vec::new(),
        query_params: Vec::new(),
        json: JsonRedactor::new(),
    }),
});

impl Default for Redactor {
    /// The built-in lists only; shares one instance, so it does not allocate.
    fn default() -> Self {
        DEFAULT_REDACTOR.clone()
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("extra_headers", &self.inner.headers)
            .field("extra_query_params", &self.inner.query_params)
            .field("json", &self.inner.json)
            .finish()
    }
}

/// A body longer than this is not parsed as JSON for redaction: its start is scrubbed as
/// text instead, which masks as much and costs less.
const MAX_PARSED_BODY: usize = 1 << 20;

impl Redactor {
    /// A redactor masking the built-in names plus those of `config`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::HeaderName`] when an extra header name is not a valid header name.
    pub fn new(config: &RedactConfig) -> Result<Self, ConfigError> {
        let headers = config
            .headers
            .iter()
            .map(|name| {
                HeaderName::try_from(name.as_str()).map_err(|_| ConfigError::HeaderName {
                    name: "log.redact.headers",
                    value: name.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        let json = config
            .json_fields
            .iter()
            .fold(JsonRedactor::new(), |json, name| json.field(name.as_str()));
        Ok(Self {
            inner: Arc::new(Names {
                headers,
                query_params: config.query_params.clone(),
                json,
            }),
        })
    }

    /// The JSON part: the built-in field names plus the configured ones.
    #[must_use]
    pub fn json(&self) -> &JsonRedactor {
        &self.inner.json
    }

    /// Returns `true` when the header called `name` is masked whatever its value.
    ///
    /// [`headers`](Self::headers) also masks any value reqwest marked sensitive.
    #[must_use]
    pub fn is_sensitive_header(&self, name: &HeaderName) -> bool {
        is_listed_header(name.as_str(), &self.inner.headers)
            || self.json().is_sensitive(name.as_str())
    }

    /// Returns `true` when the value of the query parameter `name` is masked.
    #[must_use]
    pub fn is_sensitive_query_param(&self, name: &str) -> bool {
        DEFAULT_SENSITIVE_QUERY_PARAMS
            .iter()
            .copied()
            .chain(self.inner.query_params.iter().map(String::as_str))
            .any(|pattern| name_or_plural_matches(name, pattern))
            || self.json().is_sensitive(name)
    }

    /// Whether `name` is sensitive in any role: text bodies may hold headers, form fields or
    /// JSON, so the scrubber masks the union.
    fn is_sensitive_name(&self, name: &str) -> bool {
        self.is_sensitive_query_param(name) || is_listed_header(name, &self.inner.headers)
    }

    /// `url` without userinfo, fragment or sensitive query values, for `url.full`.
    ///
    /// ```
    /// use steadfast::log::redact::Redactor;
    ///
    /// let url = "http://127.0.0.1:8080/orders?token=abc&status=open#frag".parse()?;
    /// assert_eq!(
    ///     Redactor::default().url(&url).to_string(),
    ///     "http://127.0.0.1:8080/orders?token=REDACTED&status=open"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn url<'a>(&'a self, url: &'a Url) -> RedactedUrl<'a> {
        RedactedUrl {
            redactor: self,
            url,
        }
    }

    /// `headers` as `{"name": "value", …}` with sensitive values masked.
    #[must_use]
    pub fn headers<'a>(&'a self, headers: &'a HeaderMap) -> RedactedHeaders<'a> {
        RedactedHeaders {
            redactor: self,
            headers,
        }
    }

    /// Renders a body for a log line, cut after `max_bytes` bytes (an ellipsis marks the
    /// cut): JSON on one line with sensitive fields masked (object keys come out sorted),
    /// other text scrubbed like
    /// [`text`](Self::text), anything else as `<N bytes, not UTF-8>`.
    ///
    /// `body` may be the start of a longer body: a UTF-8 character cut at its end is
    /// dropped, and JSON cut short is scrubbed as text.
    #[must_use]
    pub fn body(&self, body: &[u8], max_bytes: usize) -> String {
        let parsed = body.len() <= MAX_PARSED_BODY;
        // Scrubbing may need a little of what follows the cut to see a name's value start.
        let body = if parsed {
            body
        } else {
            &body[..body.len().min(max_bytes.saturating_add(256))]
        };
        let text = match std::str::from_utf8(body) {
            Ok(text) => text,
            // A character cut at the end of a captured prefix.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => return format!("<{} bytes, not UTF-8>", body.len()),
        };
        if parsed && let Ok(value) = serde_json::from_str::<Value>(text) {
            let mut out = self.json().preview(&value, max_bytes);
            truncate_bytes(&mut out, max_bytes);
            return out;
        }
        let mut out = self.text(text).into_owned();
        truncate_bytes(&mut out, max_bytes);
        out
    }

    /// Masks the value after every sensitive name followed by `:` or `=` in free text
    /// (`password=…`, `"token": "…"`, `Authorization: Bearer …`), up to the closing quote or
    /// the next `&`, `,`, `;`, bracket or line end.
    ///
    /// ```
    /// use steadfast::log::redact::Redactor;
    ///
    /// let redactor = Redactor::default();
    /// assert_eq!(redactor.text("user=ada&password=hunter2"), "user=ada&password=[redacted]");
    /// assert_eq!(redactor.text(r#"{"token": "abc"#), r#"{"token": "[redacted]"#);
    /// ```
    #[must_use]
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        // Everything before `copied` is already in `out`.
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if !is_name_byte(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_name_byte(bytes[i]) {
                i += 1;
            }
            if !self.is_sensitive_name(&text[start..i]) {
                continue;
            }
            let Some((from, to)) = value_after_name(bytes, i) else {
                continue;
            };
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..from]);
            out.push_str(REDACTED);
            copied = to;
            i = to;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }
}

fn is_listed_header(name: &str, extra: &[HeaderName]) -> bool {
    DEFAULT_SENSITIVE_HEADERS
        .iter()
        .any(|listed| listed.eq_ignore_ascii_case(name))
        || extra
            .iter()
            .any(|listed| listed.as_str().eq_ignore_ascii_case(name))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || is_separator(b)
}

/// The byte range of the value that follows a name ending at `i`: after an optional
/// closing quote, blanks, `:` or `=`, and blanks. A quoted value's range excludes its
/// quotes; an unterminated quote runs to the end.
fn value_after_name(bytes: &[u8], mut i: usize) -> Option<(usize, usize)> {
    if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
        i += 1;
    }
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    if i >= bytes.len() || (bytes[i] != b':' && bytes[i] != b'=') {
        return None;
    }
    i += 1;
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
        let quote = bytes[i];
        let from = i + 1;
        let mut j = from;
        while j < bytes.len() && bytes[j] != quote {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        return Some((from, j.min(bytes.len())));
    }
    let from = i;
    while i < bytes.len() && !b"&,;}]\"'\r\n".contains(&bytes[i]) {
        i += 1;
    }
    Some((from, i))
}

/// Cuts `out` to at most `max_bytes` bytes at a character boundary, marking the cut.
fn truncate_bytes(out: &mut String, max_bytes: usize) {
    if out.len() <= max_bytes {
        return;
    }
    let mut cut = max_bytes;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.push('…');
}

/// A URL rendered without secrets; see [`Redactor::url`].
pub struct RedactedUrl<'a> {
    redactor: &'a Redactor,
    url: &'a Url,
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.url;
        f.write_str(url.scheme())?;
        let Some(host) = url.host_str() else {
            // Not a host URL (`data:`, `mailto:`): all of it may be payload.
            return write!(f, ":{URL_REDACTED}");
        };
        f.write_str("://")?;
        if !url.username().is_empty() || url.password().is_some() {
            f.write_str(URL_REDACTED)?;
            if url.password().is_some() {
                write!(f, ":{URL_REDACTED}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(host)?;
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        if let Some(query) = url.query() {
            f.write_str("?")?;
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) if self.redactor.is_sensitive_query_param(&decode(name)) => {
                        write!(f, "{name}={URL_REDACTED}")?;
                    }
                    _ => f.write_str(pair)?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Percent-decodes a query name (`+` is a space) so that `%74oken` is seen as `token`.
fn decode(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '+']) {
        return Cow::Borrowed(name);
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Headers rendered without secrets; see [`Redactor::headers`].
pub struct RedactedHeaders<'a> {
    redactor: &'a Redactor,
    headers: &'a HeaderMap,
}

impl RedactedHeaders<'_> {
    fn value(
        &self,
        name: &HeaderName,
        value: &HeaderValue,
        f: &mut fmt::Formatter<'_>,
    ) -> fmt::Result {
        if value.is_sensitive() || self.redactor.is_sensitive_header(name) {
            return write!(f, "\"{REDACTED}\"");
        }
        match value.to_str() {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => write!(f, "\"<{} bytes>\"", value.len()),
        }
    }
}

impl fmt::Display for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{:?}: ", name.as_str())?;
            self.value(name, value, f)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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

#[cfg(test)]
mod redactor_tests {
    use super::*;
    use proptest::prelude::*;

    fn url(text: &str) -> Url {
        text.parse().expect("valid url")
    }

    #[test]
    fn urls() {
        let redactor =
            Redactor::new(&RedactConfig::default().query_param("session")).expect("valid config");
        let table: &[(&str, &str)] = &[
            (
                "http://127.0.0.1:8080/orders",
                "http://127.0.0.1:8080/orders",
            ),
            ("https://api.example.com/", "https://api.example.com/"),
            (
                "https://ada:pw@api.example.com/x",
                "https://REDACTED:REDACTED@api.example.com/x",
            ),
            (
                "https://ada@api.example.com/x",
                "https://REDACTED@api.example.com/x",
            ),
            (
                "http://h/o?token=t&page=2&api_key=k&apiKey=k&key=k&sig=s&signature=s",
                "http://h/o?token=REDACTED&page=2&api_key=REDACTED&apiKey=REDACTED&key=REDACTED&sig=REDACTED&signature=REDACTED",
            ),
            (
                "http://h/o?access_token=a&client_secret=c&password=p&Password=p",
                "http://h/o?access_token=REDACTED&client_secret=REDACTED&password=REDACTED&Password=REDACTED",
            ),
            (
                "http://h/o?session=s&sessions=s",
                "http://h/o?session=REDACTED&sessions=REDACTED",
            ),
            (
                "http://h/o?%74oken=t&a+b=c",
                "http://h/o?%74oken=REDACTED&a+b=c",
            ),
            (
                "http://h/o?token&=x&&status=open",
                "http://h/o?token&=x&&status=open",
            ),
            (
                "http://h/o?monkey=1&keyword=2",
                "http://h/o?monkey=1&keyword=2",
            ),
            ("http://h/o#access_token=t", "http://h/o"),
            (
                "http://[::1]:9/o?token=t",
                "http://[::1]:9/o?token=REDACTED",
            ),
            ("data:text/plain,s3cr3t", "data:REDACTED"),
        ];
        for (input, expected) in table {
            assert_eq!(redactor.url(&url(input)).to_string(), *expected, "{input}");
        }
        assert_eq!(
            format!("{:?}", redactor.url(&url("http://h/?token=t"))),
            "\"http://h/?token=REDACTED\""
        );
    }

    #[test]
    fn headers() {
        let redactor =
            Redactor::new(&RedactConfig::default().header("X-Partner-Pin")).expect("valid config");
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer a"),
            ("proxy-authorization", "Basic b"),
            ("cookie", "c=1"),
            ("set-cookie", "s=1"),
            ("x-api-key", "k"),
            ("x-auth-token", "t"),
            ("x-partner-pin", "1234"),
            ("x-upstream-token", "u"),
            ("idempotency-key", "order-42"),
            ("content-type", "application/json"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let mut marked = HeaderValue::from_static("opaque");
        marked.set_sensitive(true);
        headers.insert("x-custom", marked);
        headers.insert(
            "x-binary",
            HeaderValue::from_bytes(&[0xff, 0xfe]).expect("opaque bytes are valid"),
        );
        assert_eq!(
            redactor.headers(&headers).to_string(),
            r#"{"authorization": "[redacted]", "proxy-authorization": "[redacted]", "cookie": "[redacted]", "set-cookie": "[redacted]", "x-api-key": "[redacted]", "x-auth-token": "[redacted]", "x-partner-pin": "[redacted]", "x-upstream-token": "[redacted]", "idempotency-key": "order-42", "content-type": "application/json", "x-custom": "[redacted]", "x-binary": "<2 bytes>"}"#
        );
        assert!(
            !Redactor::default().is_sensitive_header(&HeaderName::from_static("x-partner-pin"))
        );
    }

    #[test]
    fn invalid_extra_header_is_a_config_error() {
        let error = Redactor::new(&RedactConfig::default().header("bad header"))
            .expect_err("a space is not allowed");
        assert_eq!(
            error,
            ConfigError::HeaderName {
                name: "log.redact.headers",
                value: "bad header".to_owned(),
            }
        );
    }

    #[test]
    fn text() {
        let redactor = Redactor::default();
        let table: &[(&str, &str)] = &[
            ("nothing here", "nothing here"),
            ("password=hunter2&user=ada", "password=[redacted]&user=ada"),
            ("user=ada&password=hunter2", "user=ada&password=[redacted]"),
            (
                r#"{"token":"a\"b","id":1}"#,
                r#"{"token":"[redacted]","id":1}"#,
            ),
            (r#"{"password": "hun"#, r#"{"password": "[redacted]"#),
            (
                "Authorization: Bearer abc\nAccept: */*",
                "Authorization: [redacted]\nAccept: */*",
            ),
            ("Cookie: a=1; b=2", "Cookie: [redacted]; b=2"),
            ("token : 'x y', other", "token : '[redacted]', other"),
            ("passwordless=1 tokenizer=2", "passwordless=1 tokenizer=2"),
            ("the token is secret", "the token is secret"),
            ("token=", "token=[redacted]"),
            ("token", "token"),
            ("ünï password=é", "ünï password=[redacted]"),
        ];
        for (input, expected) in table {
            assert_eq!(redactor.text(input), *expected, "{input}");
        }
        assert!(matches!(redactor.text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn bodies() {
        let redactor = Redactor::new(&RedactConfig::default().json_field("iban")).expect("valid");
        let accents = "é".repeat(10);
        let table: &[(&[u8], usize, &str)] = &[
            (b"", 64, ""),
            (
                br#"{"a":{"b":[{"password":"p"}]},"iban":"DE1"}"#,
                64,
                r#"{"a":{"b":[{"password":"[redacted]"}]},"iban":"[redacted]"}"#,
            ),
            (
                br#"{"password":"p","n":"abcdefgh"}"#,
                20,
                r#"{"n":"abcdefgh","pas…"#,
            ),
            (b"access_token=abc&x=1", 64, "access_token=[redacted]&x=1"),
            (
                br#"{"access_token":"abc","x":"#,
                64,
                r#"{"access_token":"[redacted]","x":"#,
            ),
            (&[0xff, 0x00, 0x01], 64, "<3 bytes, not UTF-8>"),
            (b"\xc3", 64, ""),
            (accents.as_bytes(), 5, "éé…"),
        ];
        for (body, max, expected) in table {
            assert_eq!(redactor.body(body, *max), *expected, "{body:?}");
        }
    }

    #[test]
    fn a_huge_body_is_scrubbed_from_its_start_only() {
        let mut body = br#"{"token":"t1","pad":""#.to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_PARSED_BODY));
        body.extend(br#"","password":"p2"}"#);
        let shown = Redactor::default().body(&body, 64);
        assert!(
            shown.starts_with(r#"{"token":"[redacted]","pad":"xxx"#),
            "{shown}"
        );
        assert!(shown.len() <= 64 + '…'.len_utf8());
    }

    #[test]
    fn serde_config() {
        let config: RedactConfig =
            serde_json::from_str(r#"{"headers": ["x-a"], "json_fields": ["iban"]}"#)
                .expect("valid");
        assert_eq!(
            config,
            RedactConfig::default().header("x-a").json_field("iban")
        );
        assert!(serde_json::from_str::<RedactConfig>(r#"{"header": []}"#).is_err());
    }

    proptest! {
        #[test]
        fn random_secrets_never_survive(secret in "[A-Za-z0-9._~-]{12,40}") {
            let redactor = Redactor::default();
            let url = url(&format!("https://u:{secret}@h/p?token={secret}&ok=1"));
            let shown = redactor.url(&url).to_string();
            prop_assert!(!shown.contains(&secret), "{}", shown);
            let json = format!(r#"{{"deep":[{{"password":"{secret}"}}],"x":1}}"#);
            for max in [8, 64, 4096] {
                let shown = redactor.body(json.as_bytes(), max);
                prop_assert!(!shown.contains(&secret), "{}", shown);
                let shown = redactor.body(&json.as_bytes()[..json.len() - 3], max);
                prop_assert!(!shown.contains(&secret), "{}", shown);
                let form = format!("a=1&api_key={secret}&b=2");
                prop_assert!(!redactor.body(form.as_bytes(), max).contains(&secret));
            }
        }

        #[test]
        fn text_scrubbing_never_panics(text in "\\PC*") {
            let _ = Redactor::default().text(&text);
            let _ = Redactor::default().body(text.as_bytes(), 16);
        }
    }
}

//! Masking of secrets before anything reaches a log, an error message or a `Debug` output.
//!
//! One redactor for the whole crate: the [`log`](crate::log) layer renders every URL,
//! header and body through a [`Redactor`]; the [`mapper`](crate::mapper) masks the values
//! in its errors with [`JsonRedactor`], its JSON part. This module imports no layer.
//!
//! ```
//! use serde_json::json;
//! use steadfast::redact::{JsonRedactor, RedactConfig, Redactor, is_sensitive_field, redact_json};
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
//!     assert!(JsonRedactor::DEFAULT.is_sensitive("password"));
//!
//!     let redactor = Redactor::new(
//!         &RedactConfig::default()
//!             .json_field("customer_no")
//!             .query_param("session_ref")
//!             .path("/hooks/{secret}"),
//!     )?;
//!     assert!(redactor.json().is_sensitive("customerNo"));
//!     let url = "https://ada:pw@api.example.com/hooks/h00k?session_ref=s3&page=2".parse()?;
//!     assert_eq!(
//!         redactor.url(&url).to_string(),
//!         "https://REDACTED:REDACTED@api.example.com/hooks/REDACTED?session_ref=REDACTED&page=2"
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
//! and `tokens` match too; `business` does not match `ssn`. Over-masking a harmless field
//! costs a little debugging comfort, under-masking leaks a secret, so the suffix rule errs
//! on the side of masking.
//!
//! | what | masked when | defaults |
//! |---|---|---|
//! | JSON field | its name matches a field name | [`DEFAULT_SENSITIVE_FIELDS`] |
//! | query parameter | its name matches a query name or a field name, in any spelling a server parses (below) | [`DEFAULT_SENSITIVE_QUERY_PARAMS`] |
//! | header | it is listed (exact, any case), its name matches a field name (`X-Upstream-Token`), or reqwest marked the value sensitive (`bearer_auth`, `basic_auth`) | [`DEFAULT_SENSITIVE_HEADERS`] |
//! | other header values | scrubbed as text: URLs in `Location`, `Link`, `Refresh`… redacted as URLs | |
//! | URL path segment | a path template marks it `{secret}` | [`DEFAULT_PATH_TEMPLATES`] |
//! | URL userinfo | always | |
//! | URL fragment | always dropped (never sent, but OAuth puts tokens there) | |
//! | string values in JSON, text | URLs in them redacted as URLs, `name=value` pairs scrubbed | |
//!
//! Query and header names are compared like field names; extra names come from
//! [`RedactConfig`]. Header names are not suffix-matched against the query names, so
//! `Idempotency-Key` stays visible: keys are not secrets.
//!
//! A query name is read as servers read it: percent-decoded (`%74oken`, `token%5B%5D`),
//! in bracket or dotted form (`user[password]`, `token[]`, `card[number]`,
//! `user.password`: sensitive when a part is, or the parts read as one name), pairs split
//! at `&` and `;`, in any case, singular or plural.
//!
//! Path segments are masked only by templates (see [`RedactConfig::path`]), never by
//! guessing which segment looks like a token: what is masked stays predictable.
//!
//! In URLs the mask is `REDACTED` ([`URL_REDACTED`]), as OpenTelemetry's `url.full`
//! convention spells it; in headers, JSON and text it is [`REDACTED`].
//!
//! # Configured names reach the whole process
//!
//! JSON field names of a [`RedactConfig`] that a [`Redactor`] is built from (by a
//! [`LogLayer`](crate::log::LogLayer) or a [`Client`](crate::Client), say) are masked by
//! every redactor of the process from then on, so that the mapper's errors, which have no
//! client at hand, mask them too. Header and query names and path templates stay with the
//! redactor they were configured on.
//!
//! # Bodies
//!
//! [`Redactor::body`] renders a body for a log line: JSON with sensitive fields masked at
//! any depth; other text scrubbed by [`Redactor::text`] (this also covers form bodies,
//! error pages and JSON cut short or too large to parse); anything that is not UTF-8 as
//! its length only. The result is capped.
//!
//! # Cost
//!
//! Nothing is redacted until a log line or an error is formatted: [`Redactor::url`] and
//! [`Redactor::headers`] return values that render when displayed, and a call that
//! succeeds with no subscriber listening never reaches this module.

mod config;
mod headers;
mod json;
mod mask;
mod names;
mod path;
mod process;
#[cfg(test)]
mod properties;
mod redactor;
mod text;
mod url;

pub use config::RedactConfig;
pub use headers::RedactedHeaders;
pub use json::{JsonRedactor, redact_json};
pub use mask::{REDACTED, URL_REDACTED};
pub use names::{
    DEFAULT_SENSITIVE_FIELDS, DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS,
    is_sensitive_field,
};
pub use path::DEFAULT_PATH_TEMPLATES;
pub use redactor::Redactor;
pub use url::RedactedUrl;

//! Where a delivery's id is, and reading it.

use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The longest delivery id accepted, in bytes; providers use 36 (a UUID) to about 40.
pub(crate) const MAX_ID: usize = 256;

/// Where a delivery's id is: the same on every retry of one event, so that a repeat can be
/// recognised. [`Scheme::delivery_id`](super::Scheme::delivery_id) gives each provider's.
///
/// ```
/// use steadfast::webhook::IdSource;
///
/// let github = IdSource::header("X-GitHub-Delivery");
/// let stripe = IdSource::json_pointer("/id");
/// # let _ = (github, stripe);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IdSource {
    /// A request header.
    Header(String),
    /// A string or number in the JSON body, at this [JSON pointer](https://www.rfc-editor.org/rfc/rfc6901)
    /// (`/id`, `/event/id`).
    JsonPointer(String),
}

impl IdSource {
    /// The id is the value of header `name`.
    #[must_use]
    pub fn header(name: impl Into<String>) -> Self {
        Self::Header(name.into())
    }

    /// The id is the string or number at `pointer` in the JSON body.
    #[must_use]
    pub fn json_pointer(pointer: impl Into<String>) -> Self {
        Self::JsonPointer(pointer.into())
    }
}

impl Default for IdSource {
    /// The `webhook-id` header of Standard Webhooks.
    fn default() -> Self {
        Self::header("webhook-id")
    }
}

/// The id of the delivery being handled, put in the request's extensions by
/// [`Deduplicate`](super::Deduplicate) for the handler (and [`Enqueue`](super::Enqueue))
/// to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(pub String);

/// An [`IdSource`] checked: the header name parsed.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Header(HeaderName),
    JsonPointer(Box<str>),
}

impl Source {
    pub(crate) fn new(source: &IdSource) -> Result<Self, ConfigError> {
        match source {
            IdSource::Header(name) => HeaderName::try_from(name.as_str())
                .map(Self::Header)
                .map_err(|_| ConfigError::HeaderName {
                    name: "webhook.delivery_id",
                    value: name.clone(),
                }),
            IdSource::JsonPointer(pointer) if pointer.is_empty() || pointer.starts_with('/') => {
                Ok(Self::JsonPointer(pointer.as_str().into()))
            }
            IdSource::JsonPointer(pointer) => Err(ConfigError::Invalid {
                name: "webhook.delivery_id",
                value: pointer.clone(),
            }),
        }
    }

    /// Whether the id is in the body, which must then be read first.
    pub(crate) fn needs_body(&self) -> bool {
        matches!(self, Self::JsonPointer(_))
    }

    /// The id of a delivery: non-empty, at most [`MAX_ID`] bytes, visible ASCII.
    pub(crate) fn find(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        let id = match self {
            Self::Header(name) => headers.get(name)?.to_str().ok()?.trim().to_owned(),
            Self::JsonPointer(pointer) => {
                let value: serde_json::Value = serde_json::from_slice(body).ok()?;
                match value.pointer(pointer)? {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Number(number) => number.to_string(),
                    _ => return None,
                }
            }
        };
        let fits = !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_graphic());
        fits.then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_headers_or_json_and_are_bounded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-github-delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
                .parse()
                .expect("valid"),
        );
        let github = Source::new(&IdSource::header("X-GitHub-Delivery")).expect("valid");
        assert_eq!(
            github.find(&headers, b"").as_deref(),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
        let stripe = Source::new(&IdSource::json_pointer("/id")).expect("valid");
        assert!(stripe.needs_body() && !github.needs_body());
        assert_eq!(
            stripe.find(&headers, br#"{"id":"evt_1"}"#).as_deref(),
            Some("evt_1")
        );
        assert_eq!(
            stripe.find(&headers, br#"{"id":42}"#).as_deref(),
            Some("42")
        );
        let long = format!(r#"{{"id":"{}"}}"#, "e".repeat(MAX_ID + 1));
        for body in [
            &b"{}"[..],
            b"not json",
            br#"{"id":""}"#,
            br#"{"id":"a b"}"#,
            br#"{"id":null}"#,
            long.as_bytes(),
        ] {
            assert_eq!(
                stripe.find(&headers, body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(Source::new(&IdSource::header("bad header")).is_err());
        assert!(Source::new(&IdSource::json_pointer("id")).is_err());
    }
}

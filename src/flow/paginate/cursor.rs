//! Where a page is: a URL, a server's token, or a number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::redact::Redactor;

/// Where a page is, as a [`Paginator`](super::Paginator) names it.
///
/// Serde, as part of a [`Position`](super::Position). Its `Debug` shows a URL redacted
/// (query values and userinfo masked) and a token by its length only: signed next-page
/// links and opaque cursors may grant access.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cursor {
    /// The absolute URL of the page (a `Link: rel="next"` target, resolved).
    Url(String),
    /// An opaque token from the server, sent back in a query parameter.
    Token(String),
    /// A page number or an offset.
    Number(u64),
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => match reqwest::Url::parse(url) {
                Ok(url) => write!(f, "Url({})", Redactor::default().url(&url)),
                Err(_) => f.write_str("Url(<not a url>)"),
            },
            Self::Token(token) => write!(f, "Token(<{} bytes>)", token.len()),
            Self::Number(n) => write!(f, "Number({n})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_tokens_and_query_values() {
        let url = Cursor::Url("https://api.example.com/orders?page_token=s3cr3t".to_owned());
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("api.example.com"), "{shown}");
        let token = format!("{:?}", Cursor::Token("s3cr3t".to_owned()));
        assert_eq!(token, "Token(<6 bytes>)");
    }

    #[test]
    fn serde_form_is_tagged() {
        let json = serde_json::to_string(&Cursor::Number(200)).expect("serializes");
        assert_eq!(json, r#"{"number":200}"#);
        let back: Cursor = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, Cursor::Number(200));
    }
}

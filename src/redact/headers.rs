//! Headers: listed names masked whole, URL-valued and other values scrubbed.

use std::borrow::Cow;
use std::fmt;

use reqwest::header::{CONTENT_LOCATION, HeaderMap, HeaderName, HeaderValue, LOCATION};

use super::REDACTED;
use super::redactor::Redactor;

/// Headers rendered without secrets; see [`Redactor::headers`].
pub struct RedactedHeaders<'a> {
    pub(crate) redactor: &'a Redactor,
    pub(crate) headers: &'a HeaderMap,
}

impl Redactor {
    /// A header value as a log line may show it: masked whole when the header is
    /// sensitive or reqwest marked the value so, otherwise scrubbed like
    /// [`text`](Self::text) (URLs in `Location`, `Content-Location`, `Link`, `Refresh`…
    /// redacted as URLs, relative ones included), `None` when it is not text.
    ///
    /// ```
    /// use reqwest::header::{HeaderName, HeaderValue, LOCATION};
    /// use steadfast::redact::Redactor;
    ///
    /// let redactor = Redactor::default();
    /// let location = HeaderValue::from_static("/callback?code=abc&state=1");
    /// assert_eq!(
    ///     redactor.header_value(&LOCATION, &location).as_deref(),
    ///     Some("/callback?code=REDACTED&state=1")
    /// );
    /// let cookie = HeaderValue::from_static("sid=abc");
    /// assert_eq!(
    ///     redactor.header_value(&HeaderName::from_static("cookie"), &cookie).as_deref(),
    ///     Some("[redacted]")
    /// );
    /// ```
    #[must_use]
    pub fn header_value<'v>(
        &self,
        name: &HeaderName,
        value: &'v HeaderValue,
    ) -> Option<Cow<'v, str>> {
        if value.is_sensitive() || self.is_sensitive_header(name) {
            return Some(Cow::Borrowed(REDACTED));
        }
        let text = value.to_str().ok()?;
        if (name == LOCATION || name == CONTENT_LOCATION) && text.starts_with('/') {
            return Some(self.url_text(text));
        }
        Some(self.text(text))
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
            match self.redactor.header_value(name, value) {
                Some(shown) => write!(f, "{:?}", &*shown)?,
                None => write!(f, "\"<{} bytes>\"", value.len())?,
            }
        }
        f.write_str("}")
    }
}

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::RedactConfig;

    #[test]
    fn headers() {
        let redactor =
            Redactor::new(&RedactConfig::default().header("X-Partner-Ref")).expect("valid config");
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer a"),
            ("proxy-authorization", "Basic b"),
            ("cookie", "c=1"),
            ("set-cookie", "s=1"),
            ("x-api-key", "k"),
            ("x-auth-token", "t"),
            ("x-session", "s"),
            ("x-csrf-token", "c"),
            ("x-partner-ref", "1234"),
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
            r#"{"authorization": "[redacted]", "proxy-authorization": "[redacted]", "cookie": "[redacted]", "set-cookie": "[redacted]", "x-api-key": "[redacted]", "x-auth-token": "[redacted]", "x-session": "[redacted]", "x-csrf-token": "[redacted]", "x-partner-ref": "[redacted]", "x-upstream-token": "[redacted]", "idempotency-key": "order-42", "content-type": "application/json", "x-custom": "[redacted]", "x-binary": "<2 bytes>"}"#
        );
        assert!(
            !Redactor::default().is_sensitive_header(&HeaderName::from_static("x-partner-ref"))
        );
    }

    #[test]
    fn url_valued_headers() {
        let redactor = Redactor::default();
        let table: &[(&str, &str, &str)] = &[
            (
                "location",
                "https://h/cb?access_token=t1&n=1#x",
                "https://h/cb?access_token=REDACTED&n=1",
            ),
            (
                "location",
                "https://u:p1@h/x",
                "https://REDACTED:REDACTED@h/x",
            ),
            ("location", "/cb?code=c1", "/cb?code=REDACTED"),
            ("content-location", "/bot1:AA/getMe", "/botREDACTED/getMe"),
            (
                "link",
                r#"<https://h/x?page=2&access_token=t1>; rel="next", <https://h/x?page=9>; rel="last""#,
                r#"<https://h/x?page=2&access_token=REDACTED>; rel="next", <https://h/x?page=9>; rel="last""#,
            ),
            (
                "refresh",
                "0; url=https://h/?token=t1",
                "0; url=https://h/?token=REDACTED",
            ),
            ("x-debug", "password=p1", "password=[redacted]"),
            (
                "content-type",
                "text/html; charset=utf-8",
                "text/html; charset=utf-8",
            ),
        ];
        for (name, value, expected) in table {
            let name = HeaderName::from_static(name);
            let value = HeaderValue::from_static(value);
            assert_eq!(
                redactor.header_value(&name, &value).as_deref(),
                Some(*expected),
                "{name}: {value:?}"
            );
        }
    }
}

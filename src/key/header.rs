//! The header that carries a call's idempotency key.

use reqwest::header::{HeaderName, InvalidHeaderName};

/// The header that carries a call's key, unless configured otherwise.
pub(crate) const DEFAULT_HEADER: &str = "idempotency-key";

/// The header name `text` spells. The default name is kept static, so that putting it
/// on a request, and copying that request for a retry, shares no reference count.
pub(crate) fn header_name(text: &str) -> Result<HeaderName, InvalidHeaderName> {
    if text.eq_ignore_ascii_case(DEFAULT_HEADER) {
        return Ok(HeaderName::from_static(DEFAULT_HEADER));
    }
    HeaderName::try_from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_parsed_in_any_case() {
        for text in ["idempotency-key", "Idempotency-Key", "IDEMPOTENCY-KEY"] {
            assert_eq!(header_name(text).expect("valid").as_str(), DEFAULT_HEADER);
        }
        assert_eq!(
            header_name("X-Request-Key").expect("valid").as_str(),
            "x-request-key"
        );
        assert!(header_name("not a header").is_err());
    }
}

//! Request URLs relative to a client's base URL.

use reqwest::Url;
use url::ParseError;

use crate::error::ConfigError;

/// A request URL: absolute, or a path resolved against the client's base URL.
///
/// Implemented for `&str`, `String`, `&String`, [`Url`] and `&Url`.
///
/// # Resolution
///
/// With a base URL such as `https://crm.example.com/api/v2`:
///
/// | request URL | sent to |
/// |---|---|
/// | `orders`, `/orders` | `https://crm.example.com/api/v2/orders` |
/// | `orders/42?expand=lines` | `https://crm.example.com/api/v2/orders/42?expand=lines` |
/// | `../v1/orders` | `https://crm.example.com/api/v1/orders` |
/// | `""` | `https://crm.example.com/api/v2/` |
/// | `https://billing.example.com/invoices` | itself: an absolute URL wins |
///
/// The base URL's path is a directory whether or not it ends with `/` (`…/api/v2` and
/// `…/api/v2/` are the same base), and a leading `/` of the request's path does not leave
/// it: a relative URL is always under the base path, except by `..` segments, which are
/// resolved as RFC 3986 says. Without a base URL, a relative URL fails at send with
/// [`Error::InvalidRequest`](crate::Error::InvalidRequest), as does a URL that does not
/// parse. A first path segment with a colon (`orders:archive`) reads as a scheme: write
/// `./orders:archive`.
pub trait IntoRequestUrl: sealed::Sealed {
    /// The absolute URL, resolved against `base` when relative.
    #[doc(hidden)]
    fn into_request_url(self, base: Option<&Url>) -> Result<Url, ParseError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for reqwest::Url {}
    impl Sealed for &reqwest::Url {}
}

impl IntoRequestUrl for &str {
    fn into_request_url(self, base: Option<&Url>) -> Result<Url, ParseError> {
        resolve(self, base)
    }
}

impl IntoRequestUrl for String {
    fn into_request_url(self, base: Option<&Url>) -> Result<Url, ParseError> {
        resolve(&self, base)
    }
}

impl IntoRequestUrl for &String {
    fn into_request_url(self, base: Option<&Url>) -> Result<Url, ParseError> {
        resolve(self, base)
    }
}

impl IntoRequestUrl for Url {
    fn into_request_url(self, _: Option<&Url>) -> Result<Url, ParseError> {
        Ok(self)
    }
}

impl IntoRequestUrl for &Url {
    fn into_request_url(self, _: Option<&Url>) -> Result<Url, ParseError> {
        Ok(self.clone())
    }
}

fn resolve(url: &str, base: Option<&Url>) -> Result<Url, ParseError> {
    match (Url::parse(url), base) {
        (Err(ParseError::RelativeUrlWithoutBase), Some(base)) => {
            base.join(url.trim_start_matches('/'))
        }
        (parsed, _) => parsed,
    }
}

/// A base URL as resolution needs it: http or https, its path ending with `/`.
pub(super) fn normalize_base(mut base: Url) -> Result<Url, ConfigError> {
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(ConfigError::Invalid {
            name: "base_url",
            value: format!("a {} URL (use http or https)", base.scheme()),
        });
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_the_table() {
        let cases = [
            ("https://h.test/v2", "orders", "https://h.test/v2/orders"),
            ("https://h.test/v2/", "orders", "https://h.test/v2/orders"),
            ("https://h.test/v2", "/orders", "https://h.test/v2/orders"),
            (
                "https://h.test/v2/",
                "//evil.test/x",
                "https://h.test/v2/evil.test/x",
            ),
            ("https://h.test/a/v2", "../v1/x", "https://h.test/a/v1/x"),
            ("https://h.test/v2", "o?q=1#f", "https://h.test/v2/o?q=1#f"),
            ("https://h.test", "orders", "https://h.test/orders"),
            ("https://h.test/v2", "", "https://h.test/v2/"),
            ("https://h.test/v2", "http://o.test/x", "http://o.test/x"),
        ];
        for (base, url, want) in cases {
            let base = normalize_base(Url::parse(base).expect("valid")).expect("http");
            let got = url.into_request_url(Some(&base)).expect("resolves");
            assert_eq!(got.as_str(), want, "{base} + {url}");
        }
    }

    #[test]
    fn relative_without_base_is_an_error() {
        assert_eq!(
            "/orders".into_request_url(None),
            Err(ParseError::RelativeUrlWithoutBase)
        );
    }

    #[test]
    fn only_http_bases() {
        for base in ["mailto:a@b.test", "ftp://h.test/"] {
            let base = Url::parse(base).expect("parses");
            assert!(normalize_base(base).is_err());
        }
    }
}

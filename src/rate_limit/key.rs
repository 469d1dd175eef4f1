use std::fmt;

use reqwest::Url;

use crate::key::{MapKey, TaggedKey};

/// Which bucket a request draws from.
///
/// By default a request's key is its origin: scheme, host and port
/// (`https://api.example.com:443`). A [`RateLimiter`](super::RateLimiter) made with
/// [`keyed_by`](super::RateLimiter::keyed_by) lets you key by anything else (an API token,
/// an endpoint group) with [`RateLimitKey::custom`].
///
/// An origin is shown in errors, logs and `Debug`; a custom key never is, because keys
/// built from API tokens are secrets.
///
/// # Example
///
/// ```
/// use steadfast::rate_limit::RateLimitKey;
///
/// let url: reqwest::Url = "https://api.example.com/orders?page=2".parse()?;
/// let key = RateLimitKey::origin(&url);
/// assert_eq!(key.to_string(), "https://api.example.com:443");
///
/// let secret = RateLimitKey::custom("sk_live_123");
/// assert!(!format!("{secret} {secret:?}").contains("sk_live"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RateLimitKey(TaggedKey);

impl RateLimitKey {
    /// The default key of a URL: scheme, host and port (the scheme's default when the URL
    /// names none). Path, query and userinfo are not part of it.
    #[must_use]
    pub fn origin(url: &Url) -> Self {
        Self(TaggedKey::origin(url))
    }

    /// A key of your own: every request given the same value shares one bucket. Never
    /// shown in errors or logs.
    #[must_use]
    pub fn custom(value: impl Into<String>) -> Self {
        Self(TaggedKey::custom(value))
    }

    /// The key as text when it may be shown: an origin's, `None` for a custom key.
    #[must_use]
    pub fn as_public_str(&self) -> Option<&str> {
        self.0.as_public_str()
    }

    /// `host:port` and `host` of an origin key, in the order per-host quotas are looked up.
    pub(crate) fn host_names(&self) -> Option<[&str; 2]> {
        let text = self.as_public_str()?;
        let authority = text.split_once("://").map_or(text, |(_, rest)| rest);
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _port)| host);
        Some([authority, host])
    }

    /// The text the limiter's map is keyed by: the tag byte, then the key.
    pub(crate) fn tagged(&self) -> &[u8] {
        self.0.tagged()
    }

    /// The limiter's map key for this key.
    pub(crate) fn map_key(&self) -> MapKey {
        MapKey(self.0.clone())
    }
}

impl fmt::Display for RateLimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for RateLimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("RateLimitKey", f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> RateLimitKey {
        RateLimitKey::origin(&url.parse().expect("valid url"))
    }

    #[test]
    fn origins() {
        let cases = [
            (
                "https://api.example.com/orders",
                "https://api.example.com:443",
            ),
            ("http://api.example.com/orders", "http://api.example.com:80"),
            (
                "https://API.example.com:8443/x?token=1",
                "https://api.example.com:8443",
            ),
            (
                "https://user:secret@api.example.com/",
                "https://api.example.com:443",
            ),
            ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
            ("http://[::1]:9000/", "http://[::1]:9000"),
        ];
        for (url, key) in cases {
            assert_eq!(origin(url).to_string(), key, "{url}");
        }
        assert_eq!(
            origin("https://a.example/x"),
            origin("https://a.example:443/y")
        );
        assert_ne!(origin("https://a.example/"), origin("http://a.example/"));
        assert_ne!(origin("https://a.example/"), origin("https://b.example/"));
    }

    #[test]
    fn host_names_for_overrides() {
        assert_eq!(
            origin("https://api.example.com/").host_names(),
            Some(["api.example.com:443", "api.example.com"])
        );
        assert_eq!(
            origin("http://[::1]:9000/").host_names(),
            Some(["[::1]:9000", "[::1]"])
        );
        assert_eq!(RateLimitKey::custom("api.example.com").host_names(), None);
    }

    #[test]
    fn custom_keys_are_never_shown() {
        let key = RateLimitKey::custom("sk_live_abc");
        assert_eq!(key.as_public_str(), None);
        let shown = format!("{key} {key:?}");
        assert!(!shown.contains("sk_live"), "{shown}");
        assert_ne!(key, RateLimitKey::custom("sk_live_abd"));
        assert_ne!(
            RateLimitKey::custom("https://a.example:443"),
            origin("https://a.example/")
        );
    }
}

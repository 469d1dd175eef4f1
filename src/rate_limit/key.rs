use std::fmt;
use std::sync::Arc;

use reqwest::Url;

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
pub struct RateLimitKey(Arc<str>);

/// The first byte of a key's text says what it is, so that an origin and a custom key
/// with the same text stay two keys.
const ORIGIN: u8 = b'o';
const CUSTOM: u8 = b'c';

/// Hosts up to about a hundred bytes are looked up without allocating.
pub(crate) const INLINE: usize = 128;

impl RateLimitKey {
    /// The default key of a URL: scheme, host and port (the scheme's default when the URL
    /// names none). Path, query and userinfo are not part of it.
    #[must_use]
    pub fn origin(url: &Url) -> Self {
        let mut text = Vec::with_capacity(INLINE);
        write_origin(url, |part| {
            text.extend_from_slice(part);
            true
        });
        // Every part is text from a parsed URL.
        Self(Arc::from(String::from_utf8_lossy(&text)))
    }

    /// A key of your own: every request given the same value shares one bucket. Never
    /// shown in errors or logs.
    #[must_use]
    pub fn custom(value: impl Into<String>) -> Self {
        let value = value.into();
        let mut text = String::with_capacity(value.len() + 1);
        text.push(char::from(CUSTOM));
        text.push_str(&value);
        Self(Arc::from(text))
    }

    /// The key as text when it may be shown: an origin's, `None` for a custom key.
    #[must_use]
    pub fn as_public_str(&self) -> Option<&str> {
        self.0.strip_prefix(char::from(ORIGIN))
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
        self.0.as_bytes()
    }
}

/// Writes the tagged text of `url`'s origin key, part by part, into `push`; stops and
/// returns `false` as soon as `push` does.
fn write_origin(url: &Url, mut push: impl FnMut(&[u8]) -> bool) -> bool {
    let scheme = url.scheme().as_bytes();
    let host = url.host_str().unwrap_or_default().as_bytes();
    let fits = push(&[ORIGIN]) && push(scheme) && push(b"://") && push(host);
    match url.port_or_known_default() {
        Some(port) => fits && push(b":") && push(decimal(port, &mut [0; 5])),
        None => fits,
    }
}

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u16, digits: &mut [u8; 5]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        // A digit: `n % 10` is below 10.
        digits[start] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            return &digits[start..];
        }
    }
}

/// The tagged origin text of `url` in `buffer`, for a lookup that allocates nothing;
/// `None` when it does not fit.
pub(crate) fn origin_inline<'b>(url: &Url, buffer: &'b mut [u8; INLINE]) -> Option<&'b [u8]> {
    let mut len = 0;
    let fits = write_origin(url, |part| {
        let Some(room) = buffer.get_mut(len..len + part.len()) else {
            return false;
        };
        room.copy_from_slice(part);
        len += part.len();
        true
    });
    fits.then(|| &buffer[..len])
}

/// A key of the limiter's map: hashed and compared by its tagged text, so that a lookup can
/// borrow that text from a buffer ([`origin_inline`]) instead of building a key.
///
/// Private, so that the text of a custom key is never reachable through `Borrow`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MapKey(pub(crate) RateLimitKey);

impl std::hash::Hash for MapKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.tagged().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for MapKey {
    fn borrow(&self) -> &[u8] {
        self.0.tagged()
    }
}

impl fmt::Display for RateLimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_public_str().unwrap_or("<custom key>"))
    }
}

impl fmt::Debug for RateLimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RateLimitKey")
            .field(&format_args!("{self}"))
            .finish()
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

    #[test]
    fn lookups_without_allocating_build_the_same_text() {
        let urls = [
            "https://api.example.com/orders",
            "http://127.0.0.1:9000/",
            "http://[::1]:9000/",
            "https://API.example.com:8443/x?token=1",
            "http://host:0/",
            "http://host:65535/",
            "ftp://files.example.com/",
            "custom-scheme://host.example/path",
        ];
        for url in urls {
            let url: Url = url.parse().expect("valid url");
            let mut buffer = [0; INLINE];
            assert_eq!(
                origin_inline(&url, &mut buffer),
                Some(RateLimitKey::origin(&url).tagged()),
                "{url}"
            );
        }
        let long: Url = format!("https://{}.example/", "a".repeat(INLINE))
            .parse()
            .expect("valid url");
        assert_eq!(origin_inline(&long, &mut [0; INLINE]), None);
        assert!(
            RateLimitKey::origin(&long)
                .to_string()
                .ends_with(".example:443")
        );
    }
}

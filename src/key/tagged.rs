//! A per-host key that is either an origin (shown in errors and logs) or a caller's own
//! value (never shown), on the ground floor: the rate limiter's and the circuit breaker's
//! public key types wrap it, so both layers key their maps, hide custom keys and look a
//! known origin up without allocating the same way.

use std::fmt;
use std::sync::Arc;

use reqwest::Url;

use super::origin::{INLINE, origin, origin_inline};

/// The first byte of a key's text says what it is, so that an origin and a custom key with
/// the same text stay two keys.
const ORIGIN: u8 = b'o';
const CUSTOM: u8 = b'c';

/// The text of a key: its tag byte, then the origin or the custom value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TaggedKey(Arc<str>);

impl TaggedKey {
    /// The key of `url`'s origin: scheme, host and port (the scheme's default when the URL
    /// names none).
    pub(crate) fn origin(url: &Url) -> Self {
        let mut text = String::from(char::from(ORIGIN));
        text.push_str(&origin(url));
        Self(Arc::from(text))
    }

    /// A caller's own key.
    pub(crate) fn custom(value: impl Into<String>) -> Self {
        let value = value.into();
        let mut text = String::with_capacity(value.len() + 1);
        text.push(char::from(CUSTOM));
        text.push_str(&value);
        Self(Arc::from(text))
    }

    /// The key as text when it may be shown: an origin's, `None` for a custom key.
    pub(crate) fn as_public_str(&self) -> Option<&str> {
        self.0.strip_prefix(char::from(ORIGIN))
    }

    /// The text maps are keyed by: the tag byte, then the key.
    pub(crate) fn tagged(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Writes the key for `Debug`, as `name("origin")` or `name("<custom key>")`.
    pub(crate) fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(name).field(&format_args!("{self}")).finish()
    }
}

impl fmt::Display for TaggedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_public_str().unwrap_or("<custom key>"))
    }
}

/// The tagged text of `url`'s origin key in `buffer`, for a lookup that allocates nothing;
/// `None` when it does not fit.
#[inline]
pub(crate) fn tagged_origin_inline<'b>(
    url: &Url,
    buffer: &'b mut [u8; INLINE],
) -> Option<&'b [u8]> {
    buffer[0] = ORIGIN;
    origin_inline(url, buffer, 1)
}

/// A key of a map: hashed and compared by its tagged text, so that a lookup can borrow that
/// text from a buffer ([`tagged_origin_inline`]) instead of building a key.
///
/// Crate-private, so that the text of a custom key is never reachable through `Borrow`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MapKey(pub(crate) TaggedKey);

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

impl fmt::Debug for TaggedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug("TaggedKey", f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_custom_keys_never_meet() {
        let url: Url = "https://a.example/x".parse().expect("url");
        let origin = TaggedKey::origin(&url);
        assert_eq!(origin.as_public_str(), Some("https://a.example:443"));
        assert_ne!(origin, TaggedKey::custom("https://a.example:443"));
        let custom = TaggedKey::custom("sk_live_1");
        assert_eq!(custom.as_public_str(), None);
        assert_eq!(custom.to_string(), "<custom key>");
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
                tagged_origin_inline(&url, &mut buffer),
                Some(TaggedKey::origin(&url).tagged()),
                "{url}"
            );
        }
        let long: Url = format!("https://{}.example/", "a".repeat(INLINE))
            .parse()
            .expect("valid url");
        assert_eq!(tagged_origin_inline(&long, &mut [0; INLINE]), None);
        assert!(
            TaggedKey::origin(&long)
                .to_string()
                .ends_with(".example:443")
        );
    }
}

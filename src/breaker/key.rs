use std::fmt;
use std::sync::Arc;

use reqwest::Url;

use crate::key::origin;

/// Which circuit (and bulkhead) a request belongs to.
///
/// By default a request's key is its origin: scheme, host and port
/// (`https://api.example.com:443`). [`CircuitsBuilder::keyed_by`](super::CircuitsBuilder::keyed_by) keys
/// by anything else (an endpoint group, a tenant) with [`CircuitKey::custom`].
///
/// An origin is shown in errors, logs and `Debug`; a custom key never is, as keys built
/// from tokens are secrets.
///
/// # Example
///
/// ```
/// use steadfast::breaker::CircuitKey;
///
/// let url: reqwest::Url = "https://api.example.com/orders?page=2".parse()?;
/// assert_eq!(CircuitKey::origin(&url).to_string(), "https://api.example.com:443");
/// let secret = CircuitKey::custom("sk_live_123");
/// assert!(!format!("{secret} {secret:?}").contains("sk_live"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CircuitKey(Arc<str>);

/// The first byte of a key's text says what it is, so that an origin and a custom key with
/// the same text stay two keys.
pub(crate) const ORIGIN: u8 = b'o';
const CUSTOM: u8 = b'c';

impl CircuitKey {
    /// The default key of a URL: scheme, host and port. Path, query and userinfo are not
    /// part of it.
    #[must_use]
    pub fn origin(url: &Url) -> Self {
        let mut text = String::from(char::from(ORIGIN));
        text.push_str(&origin(url));
        Self(Arc::from(text))
    }

    /// A key of your own: every request given the same value shares one circuit. Never
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

    /// The text the registry is keyed by: the tag byte, then the key.
    pub(crate) fn tagged(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A key of the registry, hashed and compared by its tagged text so that a lookup can
/// borrow that text from a buffer. Private, so that a custom key's text is never reachable
/// through `Borrow`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MapKey(pub(crate) CircuitKey);

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

impl fmt::Display for CircuitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_public_str().unwrap_or("<custom key>"))
    }
}

impl fmt::Debug for CircuitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CircuitKey")
            .field(&format_args!("{self}"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_custom_keys_never_meet() {
        let url: Url = "https://a.example/x".parse().expect("url");
        let origin = CircuitKey::origin(&url);
        assert_eq!(origin.as_public_str(), Some("https://a.example:443"));
        assert_ne!(origin, CircuitKey::custom("https://a.example:443"));
        assert_eq!(CircuitKey::custom("x").as_public_str(), None);
    }
}

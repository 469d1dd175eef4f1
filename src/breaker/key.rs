use std::fmt;

use reqwest::Url;

use crate::key::{MapKey, TaggedKey};

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
pub struct CircuitKey(TaggedKey);

impl CircuitKey {
    /// The default key of a URL: scheme, host and port. Path, query and userinfo are not
    /// part of it.
    #[must_use]
    pub fn origin(url: &Url) -> Self {
        Self(TaggedKey::origin(url))
    }

    /// A key of your own: every request given the same value shares one circuit. Never
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

    /// The text the registry is keyed by: the tag byte, then the key.
    pub(crate) fn tagged(&self) -> &[u8] {
        self.0.tagged()
    }

    /// The registry's map key for this key.
    pub(crate) fn map_key(&self) -> MapKey {
        MapKey(self.0.clone())
    }
}

impl fmt::Display for CircuitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for CircuitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("CircuitKey", f)
    }
}

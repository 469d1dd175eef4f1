//! The idempotency key of a call: printable ASCII in one shared allocation.

use std::fmt;

use bytes::Bytes;

/// The idempotency key a call used, stored in the response's extensions.
///
/// # Example
///
/// ```
/// use steadfast::idempotency::IdempotencyKey;
///
/// # fn log(response: &reqwest::Response) {
/// if let Some(key) = IdempotencyKey::of(response) {
///     println!("created with key {key}");
/// }
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(
    /// Printable ASCII, checked where keys are made; clones share one allocation.
    Bytes,
);

impl IdempotencyKey {
    /// A key from text the caller checked is printable ASCII.
    pub(crate) fn new(key: &str) -> Self {
        let bytes = key.as_bytes();
        if bytes.len() <= 64 {
            let mut text = Inline::default();
            text.bytes[..bytes.len()].copy_from_slice(bytes);
            text.len = bytes.len();
            return Self(Bytes::from_owner(text));
        }
        Self(Bytes::from_owner(bytes.to_vec()))
    }

    /// The key's bytes, sharing its memory (a header value made from them shares it too).
    pub(crate) fn as_shared(&self) -> &Bytes {
        &self.0
    }

    /// The key of a response, when the call had one.
    #[must_use]
    pub fn of(response: &reqwest::Response) -> Option<&str> {
        response.extensions().get::<Self>().map(Self::as_str)
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.as_str())
    }
}

/// A short key's text, kept in the same allocation as the reference count that shares it.
struct Inline {
    len: usize,
    bytes: [u8; 64],
}

impl Default for Inline {
    fn default() -> Self {
        Self {
            len: 0,
            bytes: [0; 64],
        }
    }
}

impl AsRef<[u8]> for Inline {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

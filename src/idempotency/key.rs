use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Makes a fresh idempotency key for a logical call.
///
/// Implemented by [`UuidV4Keys`], [`UuidV7Keys`] and any `Fn() -> String` closure.
///
/// # Example
///
/// ```
/// use steadfast::idempotency::MakeIdempotencyKey;
///
/// let prefixed = || format!("billing-sync-{}", uuid::Uuid::new_v4().simple());
/// assert!(prefixed.make_key().starts_with("billing-sync-"));
/// ```
pub trait MakeIdempotencyKey: Send + Sync + 'static {
    /// A new key, unique across processes. It must be printable ASCII.
    fn make_key(&self) -> String;
}

impl<F> MakeIdempotencyKey for F
where
    F: Fn() -> String + Send + Sync + 'static,
{
    fn make_key(&self) -> String {
        self()
    }
}

/// Random UUID v4 keys (`0d9f…`), the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV4Keys;

impl MakeIdempotencyKey for UuidV4Keys {
    fn make_key(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Time-ordered UUID v7 keys, which sort by creation time in a server's index.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Keys;

impl MakeIdempotencyKey for UuidV7Keys {
    fn make_key(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// Which built-in generator a configuration names.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyGenerator {
    /// [`UuidV4Keys`] (the default).
    #[default]
    UuidV4,
    /// [`UuidV7Keys`].
    UuidV7,
}

impl KeyGenerator {
    pub(crate) fn into_maker(self) -> Arc<dyn MakeIdempotencyKey> {
        match self {
            Self::UuidV4 => Arc::new(UuidV4Keys),
            Self::UuidV7 => Arc::new(UuidV7Keys),
        }
    }
}

/// How the key is written in the header.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// The bare token, as Stripe and most payment APIs send it (the default).
    #[default]
    Plain,
    /// A quoted structured-field string, as the IETF `Idempotency-Key` draft specifies.
    SfString,
}

impl KeyFormat {
    /// The header value for `key`; `None` when `key` is not printable ASCII.
    pub(crate) fn encode(self, key: &str) -> Option<String> {
        if key.is_empty() || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        Some(match self {
            Self::Plain => key.to_owned(),
            Self::SfString => {
                let mut out = String::with_capacity(key.len() + 2);
                out.push('"');
                for c in key.chars() {
                    if matches!(c, '"' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
                out
            }
        })
    }

    /// The key inside a header value written by a caller: an sf-string is unquoted.
    pub(crate) fn decode(self, value: &str) -> String {
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        if self == Self::Plain || !quoted {
            return value.to_owned();
        }
        let mut out = String::with_capacity(value.len());
        let mut escaped = false;
        for c in value[1..value.len() - 1].chars() {
            if c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            escaped = false;
            out.push(c);
        }
        out
    }
}

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
pub struct IdempotencyKey(Arc<str>);

impl IdempotencyKey {
    pub(crate) fn new(key: &str) -> Self {
        Self(Arc::from(key))
    }

    /// The key of a response, when the call had one.
    #[must_use]
    pub fn of(response: &reqwest::Response) -> Option<&str> {
        response.extensions().get::<Self>().map(Self::as_str)
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", &*self.0)
    }
}

/// Marks a response that came from the ledger, not from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed;

impl Replayed {
    /// Whether `response` was replayed from the ledger.
    #[must_use]
    pub fn is(response: &reqwest::Response) -> bool {
        response.extensions().get::<Self>().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        for key in [
            "order-42",
            "a\"b\\c",
            "8e03978e-40d5-43e8-bc93-6894a57f9324",
        ] {
            for format in [KeyFormat::Plain, KeyFormat::SfString] {
                let encoded = format.encode(key).expect("ascii");
                assert_eq!(format.decode(&encoded), key, "{format:?}");
            }
        }
        assert_eq!(
            KeyFormat::SfString.encode("k-1").as_deref(),
            Some("\"k-1\"")
        );
        assert_eq!(KeyFormat::Plain.encode("k-1").as_deref(), Some("k-1"));
        assert_eq!(KeyFormat::Plain.encode("naïve"), None);
        assert_eq!(KeyFormat::Plain.encode(""), None);
        assert_eq!(KeyFormat::Plain.encode("tab\there"), None);
    }

    #[test]
    fn generators_make_distinct_keys() {
        for maker in [
            KeyGenerator::UuidV4.into_maker(),
            KeyGenerator::UuidV7.into_maker(),
        ] {
            let a = maker.make_key();
            assert_ne!(a, maker.make_key());
            assert!(KeyFormat::Plain.encode(&a).is_some());
        }
    }
}

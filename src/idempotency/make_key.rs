//! Making fresh idempotency keys, and the forms a key may take in its header.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

use super::IdempotencyKey;
use crate::key::{KeyFormat, is_printable_ascii};

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

/// A key maker behind an `Arc`, to share one between layers and clients
/// ([`IdempotencyLayer::shared_key_maker`](super::IdempotencyLayer::shared_key_maker)).
pub type SharedKeyMaker = std::sync::Arc<dyn MakeIdempotencyKey>;

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

/// How the layer makes fresh keys: the built-in UUIDs are written straight into the
/// key's one allocation, shared by the header and the ledger; other makers give a `String`.
#[derive(Clone)]
pub(crate) enum KeyMaker {
    Builtin(KeyGenerator),
    Custom(Arc<dyn MakeIdempotencyKey>),
}

impl KeyMaker {
    /// A fresh key and its header value; `None` when a custom maker's key is not printable
    /// ASCII.
    pub(crate) fn make(&self, format: KeyFormat) -> Option<(IdempotencyKey, HeaderValue)> {
        let key = match self {
            Self::Builtin(generator) => {
                let uuid = match generator {
                    KeyGenerator::UuidV4 => uuid::Uuid::new_v4(),
                    KeyGenerator::UuidV7 => uuid::Uuid::now_v7(),
                };
                IdempotencyKey::new(uuid.hyphenated().encode_lower(&mut [0; 36]))
            }
            Self::Custom(maker) => {
                let key = maker.make_key();
                if !is_printable_ascii(&key) {
                    return None;
                }
                IdempotencyKey::new(&key)
            }
        };
        let value = match format {
            // The header shares the key's memory.
            KeyFormat::Plain => HeaderValue::from_maybe_shared(key.as_shared().clone()).ok()?,
            KeyFormat::SfString => HeaderValue::try_from(format.encode(key.as_str())?).ok()?,
        };
        Some((key, value))
    }
}

impl fmt::Debug for KeyMaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin(generator) => generator.fmt(f),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Why a request's idempotency key was refused before anything was sent, as the source of
/// [`Error::InvalidRequest`](crate::Error::InvalidRequest).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    /// The key is empty.
    #[error("idempotency key is empty")]
    Empty,
    /// The key is not printable ASCII.
    #[error("idempotency key is not printable ASCII")]
    NotPrintable,
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
    fn built_in_keys_are_uuids_shared_with_their_header() {
        for (generator, version) in [(KeyGenerator::UuidV4, 4), (KeyGenerator::UuidV7, 7)] {
            let maker = KeyMaker::Builtin(generator);
            let (key, value) = maker.make(KeyFormat::Plain).expect("a key");
            let uuid = uuid::Uuid::parse_str(key.as_str()).expect("a uuid");
            assert_eq!(uuid.get_version_num(), version);
            assert_eq!(key.as_str(), uuid.hyphenated().to_string());
            assert_eq!(value.as_bytes(), key.as_str().as_bytes());
            assert_eq!(
                value.as_bytes().as_ptr(),
                key.as_shared().as_ptr(),
                "one allocation for both"
            );
            assert_ne!(maker.make(KeyFormat::Plain).expect("a key").0, key);

            let (key, value) = maker.make(KeyFormat::SfString).expect("a key");
            assert_eq!(value.to_str().expect("ascii"), format!("\"{key}\""));
        }
    }

    #[test]
    fn custom_keys_must_be_printable_ascii() {
        let maker = KeyMaker::Custom(Arc::new(|| "billing-sync-1".to_owned()));
        let (key, value) = maker.make(KeyFormat::Plain).expect("a key");
        assert_eq!(
            (key.as_str(), value.to_str().ok()),
            ("billing-sync-1", Some("billing-sync-1"))
        );
        for bad in ["", "naïve", "tab\there"] {
            let maker = KeyMaker::Custom(Arc::new(move || bad.to_owned()));
            assert!(maker.make(KeyFormat::Plain).is_none(), "{bad:?}");
        }
        let long = "k".repeat(200);
        assert_eq!(IdempotencyKey::new(&long).as_str(), long);
    }

    #[test]
    fn generators_make_distinct_keys() {
        let makers: [Arc<dyn MakeIdempotencyKey>; 2] = [Arc::new(UuidV4Keys), Arc::new(UuidV7Keys)];
        for maker in makers {
            let a = maker.make_key();
            assert_ne!(a, maker.make_key());
            assert!(KeyFormat::Plain.encode(&a).is_some());
        }
    }
}

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use reqwest::{Method, Url};

/// The name of a ledger entry: a call's idempotency key, scoped to its method and its URL
/// without the query, so that one business key used for two operations cannot replay the
/// wrong one.
///
/// Stores that need text use its [`Display`](fmt::Display) form, `<key>:<scope>` with the
/// scope as 16 hex digits; the scope is FNV-1a, specified, so every instance of an
/// integration names entries alike.
///
/// # Example
///
/// ```
/// use reqwest::{Method, Url};
/// use steadfast::idempotency::store::LedgerKey;
///
/// let url = Url::parse("https://api.example.com/invoices?expand=lines")?;
/// let key = LedgerKey::new("invoice-2024-0042", &Method::POST, &url);
/// assert_eq!(key.key(), "invoice-2024-0042");
/// assert!(key.to_string().starts_with("invoice-2024-0042:"));
///
/// let other = Url::parse("https://api.example.com/refunds")?;
/// assert_ne!(key, LedgerKey::new("invoice-2024-0042", &Method::POST, &other));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A key of up to 46 bytes (a UUID, a business key) is kept inline, so that a ledger's
/// index compares keys without following a pointer.
#[derive(Clone)]
pub struct LedgerKey {
    text: Text,
    scope: u64,
}

#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

/// The longest key kept inline: the key and its scope fill one cache line.
const INLINE: usize = 46;

impl LedgerKey {
    /// The entry for `key` used with `method` on `url`.
    #[must_use]
    pub fn new(key: &str, method: &Method, url: &Url) -> Self {
        let text = match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..key.len()].copy_from_slice(key.as_bytes());
                Text::Inline { len, bytes }
            }
            _ => Text::Shared(Arc::from(key)),
        };
        let mut hash = Fnv64::default();
        hash.write(method.as_str().as_bytes());
        hash.write(b" ");
        hash.write(url.scheme().as_bytes());
        hash.write(url.host_str().unwrap_or_default().as_bytes());
        hash.write(&url.port_or_known_default().unwrap_or(0).to_be_bytes());
        hash.write(url.path().as_bytes());
        Self {
            text,
            scope: hash.0,
        }
    }

    /// The idempotency key.
    #[must_use]
    pub fn key(&self) -> &str {
        // Copied from a `&str` whole: always UTF-8.
        std::str::from_utf8(self.key_bytes()).unwrap_or_default()
    }

    /// The key's bytes: what the index hashes and compares, without a UTF-8 check.
    fn key_bytes(&self) -> &[u8] {
        match &self.text {
            Text::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Text::Shared(text) => text.as_bytes(),
        }
    }

    /// Bytes the key holds outside itself: a long key's shared text.
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.text {
            Text::Inline { .. } => 0,
            Text::Shared(text) => text.len() + 2 * std::mem::size_of::<usize>(),
        }
    }

    /// The hash of the method and URL the key is scoped to.
    #[must_use]
    pub fn scope(&self) -> u64 {
        self.scope
    }
}

impl PartialEq for LedgerKey {
    fn eq(&self, other: &Self) -> bool {
        self.scope == other.scope && self.key_bytes() == other.key_bytes()
    }
}

impl Eq for LedgerKey {}

impl Hash for LedgerKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key_bytes().hash(state);
        self.scope.hash(state);
    }
}

impl fmt::Display for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:016x}", self.key(), self.scope)
    }
}

impl fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerKey({self})")
    }
}

/// FNV-1a, 64 bits.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Proof of holding a reservation: only the holder may complete or release it.
///
/// 128 random bits, kept inline as 32 hex digits: making and cloning one allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken([u8; 32]);

impl LeaseToken {
    /// A new random token.
    #[must_use]
    pub fn new() -> Self {
        let mut text = [0; 32];
        uuid::Uuid::new_v4().simple().encode_lower(&mut text);
        Self(text)
    }

    /// The token as text, for stores that persist it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Hex digits only, by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for LeaseToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LeaseToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        text.parse().expect("valid url")
    }

    #[test]
    fn the_scope_is_fnv1a_of_method_origin_and_path() {
        // Computed independently (Python), so that instances and versions agree.
        let cases = [
            (
                Method::POST,
                "https://api.example.com/invoices?x=1",
                "fc6815f8ebcf3bd2",
            ),
            (Method::PATCH, "http://127.0.0.1:9/", "334f7ae9ca6bcc18"),
            (Method::POST, "https://a.example/", "efbe2049f2adc65a"),
        ];
        for (method, text, scope) in cases {
            let key = LedgerKey::new("order-42", &method, &url(text));
            assert_eq!(key.to_string(), format!("order-42:{scope}"));
            assert_eq!(format!("{key:?}"), format!("LedgerKey(order-42:{scope})"));
            assert_eq!(format!("{:016x}", key.scope()), scope);
        }
    }

    #[test]
    fn the_query_is_not_part_of_the_scope_the_method_is() {
        let invoices = url("https://api.example.com/invoices");
        let key = |method: &Method, url: &Url| LedgerKey::new("k", method, url);
        assert_eq!(
            key(&Method::POST, &url("https://api.example.com/invoices?x=1")),
            key(&Method::POST, &invoices)
        );
        assert_ne!(
            key(&Method::POST, &invoices),
            key(&Method::PATCH, &invoices)
        );
        assert_ne!(
            key(&Method::POST, &invoices),
            LedgerKey::new("j", &Method::POST, &invoices)
        );
    }

    #[test]
    fn long_keys_are_equal_to_themselves_and_to_nothing_else() {
        let url = url("https://api.example.com/invoices");
        let long = "k".repeat(INLINE + 1);
        let edge = "k".repeat(INLINE);
        let key = |text: &str| LedgerKey::new(text, &Method::POST, &url);
        assert_eq!(key(&long), key(&long));
        assert_eq!(key(&long).key(), long);
        assert_eq!(key(&edge).key(), edge);
        assert_ne!(key(&long), key(&edge));
        let hash = |key: &LedgerKey| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(&key(&long)), hash(&key(&long)));
        assert_eq!(key("").key(), "");
        assert_eq!(key("ünïcode").key(), "ünïcode");
    }

    #[test]
    fn lease_tokens_are_distinct_hex_and_never_shown() {
        let (a, b) = (LeaseToken::new(), LeaseToken::new());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(format!("{a:?}"), "LeaseToken(..)");
    }
}

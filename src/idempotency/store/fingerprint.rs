use std::fmt;

use reqwest::{Method, Url};
use sha2::{Digest, Sha256};

/// A digest of what a call asked for: its method, its whole URL and its body.
///
/// The ledger keeps it with each key, so that the same key sent with another request (a
/// payment of another amount) is refused rather than answered with the first one's
/// response. SHA-256, specified, so every instance and version of an integration computes
/// the same digest for the same request; the request's headers are not part of it.
///
/// A streaming body cannot be read before it is sent: its fingerprint covers the method and
/// the URL only, and says so.
///
/// # Example
///
/// ```
/// use reqwest::{Method, Url};
/// use steadfast::idempotency::store::Fingerprint;
///
/// let url = Url::parse("https://api.example.com/payments")?;
/// let pay = |body: &[u8]| Fingerprint::new(&Method::POST, &url, Some(body));
/// assert_eq!(pay(br#"{"amount":1999}"#), pay(br#"{"amount":1999}"#));
/// assert_ne!(pay(br#"{"amount":1999}"#), pay(br#"{"amount":2999}"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a request; `body` is `None` for a streaming body.
    #[must_use]
    pub fn new(method: &Method, url: &Url, body: Option<&[u8]>) -> Self {
        let mut hash = Sha256::new();
        // Each part length-prefixed (8 bytes, big-endian), so that no two requests feed the
        // same bytes; the body is marked `B` (then length and bytes) or `S` (a stream).
        for part in [method.as_str().as_bytes(), url.as_str().as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        match body {
            Some(body) => {
                hash.update(b"B");
                hash.update((body.len() as u64).to_be_bytes());
                hash.update(body);
            }
            None => hash.update(b"S"),
        }
        Self(hash.finalize().into())
    }

    /// A fingerprint from its 32 bytes, as a store persisted them.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest's 32 bytes, for stores that persist it.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight bytes tell entries apart in a log; the digest of a small body is guessable.
        f.write_str("Fingerprint(")?;
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_url_and_body_all_count_and_streams_are_marked() {
        let url = |s: &str| Url::parse(s).expect("valid url");
        let a = url("https://api.example.com/payments?x=1");
        let base = Fingerprint::new(&Method::POST, &a, Some(b"{}"));
        assert_eq!(base, Fingerprint::new(&Method::POST, &a, Some(b"{}")));
        for other in [
            Fingerprint::new(&Method::PATCH, &a, Some(b"{}")),
            Fingerprint::new(
                &Method::POST,
                &url("https://api.example.com/payments?x=2"),
                Some(b"{}"),
            ),
            Fingerprint::new(&Method::POST, &a, Some(b"{ }")),
            Fingerprint::new(&Method::POST, &a, Some(b"")),
            Fingerprint::new(&Method::POST, &a, None),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(
            Fingerprint::new(&Method::POST, &a, None),
            Fingerprint::new(&Method::POST, &a, Some(b"S"))
        );
        assert_eq!(Fingerprint::from_bytes(*base.as_bytes()), base);
        assert_eq!(format!("{base:?}").len(), "Fingerprint(..)".len() + 8);
    }

    #[test]
    fn the_digest_is_stable() {
        // Instances and versions must agree: a fixed request, a fixed digest.
        let url = Url::parse("https://api.example.com/payments").expect("valid url");
        let digest = Fingerprint::new(&Method::POST, &url, Some(b"{\"amount\":1999}"));
        let hex = digest.as_bytes().iter().fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
        // Computed independently (Python's hashlib) from the layout documented above.
        let expected = "730d741e91a4e42349cc77792dbbd3f0d34ddcc4f02e34615174be1b3ddf743d";
        assert_eq!(hex, expected);
    }
}

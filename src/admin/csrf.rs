//! CSRF protection for the page's POSTs: tokens signed with a per-router key, and the
//! request's `Origin` (or `Referer`) checked against its `Host`.
//!
//! A token is `hex(nonce ‖ issued) ‖ hex(HMAC-SHA256(key, nonce ‖ issued))`: no session is
//! needed, a cross-site page cannot read one (no CORS), and one from another key or older
//! than the configured lifetime is refused.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use http::header::{HOST, ORIGIN, REFERER};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const NONCE: usize = 16;
const PAYLOAD: usize = NONCE + 8;
const MAC: usize = 32;
const BLOCK: usize = 64;
/// How far in the future a token's time may be (clocks of instances sharing a key differ).
const SKEW: u64 = 60;

/// The key tokens are signed with.
#[derive(Clone)]
pub(crate) struct CsrfKey {
    /// The key as HMAC uses it: one SHA-256 block, zero-padded (or the hash of a longer key).
    key: [u8; BLOCK],
    ttl: Duration,
}

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfKey")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CsrfKey {
    /// A key from `secret`, or a random one.
    pub(crate) fn new(secret: Option<&str>, ttl: Duration) -> Self {
        let material: Vec<u8> = match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            // uuid's v4 draws from a CSPRNG seeded by the OS: 2 × 122 random bits.
            None => [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
                .iter()
                .flat_map(|u| *u.as_bytes())
                .collect(),
        };
        let mut key = [0u8; BLOCK];
        if material.len() > BLOCK {
            key[..MAC].copy_from_slice(&Sha256::digest(&material));
        } else {
            key[..material.len()].copy_from_slice(&material);
        }
        Self { key, ttl }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new(&self.key.into());
        mac.update(payload);
        mac
    }

    /// A fresh token, issued at `now`.
    pub(crate) fn issue(&self, now: SystemTime) -> String {
        let mut payload = [0u8; PAYLOAD];
        payload[..NONCE].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        payload[NONCE..].copy_from_slice(&unix(now).to_be_bytes());
        let tag = self.mac(&payload).finalize().into_bytes();
        let mut token = String::with_capacity(2 * (PAYLOAD + MAC));
        push_hex(&mut token, &payload);
        push_hex(&mut token, &tag);
        token
    }

    /// Whether `token` was signed with this key and has not expired at `now`.
    pub(crate) fn verify(&self, token: &str, now: SystemTime) -> bool {
        let Some(bytes) = from_hex(token.trim()) else {
            return false;
        };
        if bytes.len() != PAYLOAD + MAC {
            return false;
        }
        let (payload, tag) = bytes.split_at(PAYLOAD);
        if self.mac(payload).verify_slice(tag).is_err() {
            return false;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&payload[NONCE..]);
        let issued = u64::from_be_bytes(issued);
        let now = unix(now);
        issued <= now.saturating_add(SKEW) && now.saturating_sub(issued) <= self.ttl.as_secs()
    }
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 2 * (PAYLOAD + MAC) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

/// The `host[:port]` of an origin or URL (`https://ops.example.com:8443/x` gives
/// `ops.example.com:8443`), lowercased; `None` for `null` or anything without a scheme.
pub(crate) fn authority_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', ' ']) {
        return None;
    }
    Some(authority.to_ascii_lowercase())
}

/// Whether the request comes from the page's own origin (or an allowed one): its `Origin`
/// header, or else its `Referer`, names the authority its `Host` does. A request with
/// neither passes (non-browser clients; the token is still required).
pub(crate) fn same_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    let claimed = match (headers.get(ORIGIN), headers.get(REFERER)) {
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => return true,
    };
    let Some(claimed) = claimed.to_str().ok().and_then(authority_of) else {
        return false;
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    host.as_deref() == Some(claimed.as_str())
        || allowed
            .iter()
            .filter_map(|origin| authority_of(origin))
            .any(|origin| origin == claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_key_within_their_lifetime() {
        let key = CsrfKey::new(None, Duration::from_secs(3600));
        let now = SystemTime::now();
        let token = key.issue(now);
        assert!(key.verify(&token, now));
        assert!(key.verify(&token, now + Duration::from_secs(3599)));
        assert!(
            !key.verify(&token, now + Duration::from_secs(3700)),
            "expired"
        );
        assert!(
            !key.verify(&token, now - Duration::from_secs(120)),
            "from the future"
        );
        let other = CsrfKey::new(None, Duration::from_secs(3600));
        assert!(!other.verify(&token, now), "another router's key");
        assert_ne!(key.issue(now), token, "a nonce per token");

        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).expect("hex");
        for bad in [
            "",
            "zz",
            &token[..token.len() - 2],
            &forged,
            &format!("{token}00"),
        ] {
            assert!(!key.verify(bad, now), "{bad}");
        }
        let shared = "s".repeat(32);
        let a = CsrfKey::new(Some(&shared), Duration::from_secs(60));
        let b = CsrfKey::new(Some(&shared), Duration::from_secs(60));
        assert!(b.verify(&a.issue(now), now), "instances sharing a secret");
    }

    #[test]
    fn origins() {
        let table = [
            (Some("http://127.0.0.1:8080"), None, true),
            (Some("http://127.0.0.1:8081"), None, false),
            (Some("null"), None, false),
            (
                Some("https://evil.example"),
                Some("http://127.0.0.1:8080/x"),
                false,
            ),
            (None, Some("http://127.0.0.1:8080/ops/dead-letters"), true),
            (None, Some("http://evil.example/ops"), false),
            (Some("https://ops.example.com"), None, true),
            (None, None, true),
        ];
        for (origin, referer, ok) in table {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, "127.0.0.1:8080".parse().expect("valid"));
            if let Some(origin) = origin {
                headers.insert(ORIGIN, origin.parse().expect("valid"));
            }
            if let Some(referer) = referer {
                headers.insert(REFERER, referer.parse().expect("valid"));
            }
            let allowed = ["https://ops.example.com".to_owned()];
            assert_eq!(
                same_origin(&headers, &allowed),
                ok,
                "{origin:?} {referer:?}"
            );
        }
        assert_eq!(
            authority_of("HTTPS://Ops.Example.com/x"),
            Some("ops.example.com".into())
        );
        assert_eq!(authority_of("not an origin"), None);
    }
}

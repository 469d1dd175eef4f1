//! Signing keys made from secrets, and the constant-time check of signatures against them.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::{Scheme, WebhookSecret};
use crate::error::ConfigError;

type HmacSha256 = Hmac<Sha256>;

/// The length of an HMAC-SHA256 tag.
pub(crate) const TAG: usize = 32;

/// The most signatures one header may offer: a header of thousands of entries costs no
/// more than this many comparisons per key.
pub(crate) const MAX_SIGNATURES: usize = 8;

/// One keyed HMAC state per secret, keyed once when the layer is built.
///
/// Clones share the keys.
#[derive(Clone)]
pub(crate) struct Keys(Arc<[HmacSha256]>);

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({} [redacted])", self.0.len())
    }
}

impl Keys {
    /// The keys `scheme` derives from `secrets`.
    pub(crate) fn new(scheme: &Scheme, secrets: &[WebhookSecret]) -> Result<Self, ConfigError> {
        if secrets.is_empty() {
            return Err(invalid("no secret is configured"));
        }
        let keys = secrets
            .iter()
            .map(|secret| {
                let text = secret.expose();
                let key = match scheme {
                    Scheme::StandardWebhooks => {
                        let encoded = text.strip_prefix("whsec_").unwrap_or(text);
                        STANDARD
                            .decode(encoded)
                            .map_err(|_| invalid("a secret is not whsec_ and base64"))?
                    }
                    _ => text.as_bytes().to_vec(),
                };
                if key.is_empty() {
                    return Err(invalid("a secret is empty"));
                }
                HmacSha256::new_from_slice(&key).map_err(|_| invalid("a secret is unusable"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(keys.into()))
    }

    /// Whether any key's tag of `parts` (concatenated) equals any of `signatures`. Every
    /// comparison runs in constant time, and all of them run.
    pub(crate) fn verify(&self, parts: &[&[u8]], signatures: &[[u8; TAG]]) -> bool {
        let mut found = Choice::from(0);
        for key in self.0.iter() {
            let mut mac = key.clone();
            for part in parts {
                mac.update(part);
            }
            let tag = mac.finalize().into_bytes();
            for signature in signatures {
                found |= tag.as_slice().ct_eq(signature);
            }
        }
        found.into()
    }
}

fn invalid(why: &str) -> ConfigError {
    // Never the secret itself: only what is wrong with it.
    ConfigError::Invalid {
        name: "webhook.secrets",
        value: why.to_owned(),
    }
}

/// A tag written in hexadecimal (either case); `None` unless it is exactly 32 bytes.
pub(crate) fn from_hex(text: &[u8]) -> Option<[u8; TAG]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if text.len() != 2 * TAG {
        return None;
    }
    let mut tag = [0; TAG];
    for (byte, pair) in tag.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(tag)
}

/// A tag written in standard base64; `None` unless it is exactly 32 bytes.
pub(crate) fn from_base64(text: &[u8]) -> Option<[u8; TAG]> {
    // 32 bytes are 44 characters; anything longer is not a tag and is not decoded.
    if text.len() != 44 {
        return None;
    }
    let mut tag = [0; TAG];
    match STANDARD.decode_slice(text, &mut tag) {
        Ok(TAG) => Some(tag),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_tags_decode_only_at_full_length() {
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let tag = from_hex(hex.as_bytes()).expect("valid hex");
        assert_eq!(tag[0], 0x75);
        assert_eq!(from_hex(hex.to_uppercase().as_bytes()), Some(tag));
        for bad in [
            &hex[..62],
            "zz",
            &format!("{hex}00"),
            &hex.replace('7', "g"),
        ] {
            assert_eq!(from_hex(bad.as_bytes()), None, "{bad}");
        }
        let b64 = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(from_base64(b64.as_bytes()).is_some());
        for bad in [
            &b64[..43],
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O!=",
            "",
        ] {
            assert_eq!(from_base64(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn configuration_errors_never_show_the_secret() {
        let secret = "whsec_hunter2!!";
        let error = Keys::new(&Scheme::StandardWebhooks, &[WebhookSecret::new(secret)])
            .expect_err("not base64");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("webhook.secrets"), "{shown}");
        assert!(Keys::new(&Scheme::Stripe, &[WebhookSecret::new("")]).is_err());
        assert!(Keys::new(&Scheme::Github, &[]).is_err());
        let keys = Keys::new(&Scheme::Github, &[WebhookSecret::new("s3cr3t")]).expect("valid");
        assert_eq!(format!("{keys:?}"), "Keys(1 [redacted])");
    }
}

//! Checking one delivery's signature and timestamp against a scheme's rules.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, StatusCode};

use super::keys::{Keys, MAX_SIGNATURES, TAG, from_base64, from_hex};
use super::{Encoding, Scheme};
use crate::error::ConfigError;

/// Why a delivery was refused. Logged by name; the sender sees only the status and a
/// generic body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A header the scheme needs is absent.
    Missing,
    /// A header is present but not in the scheme's form.
    Malformed,
    /// No signature matches any secret.
    Mismatch,
    /// The signature matches but its timestamp is older than the tolerance: a replay.
    Expired,
    /// The signature matches but its timestamp is further ahead than the tolerance.
    Future,
}

impl Rejection {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::Missing | Self::Malformed => StatusCode::BAD_REQUEST,
            Self::Mismatch | Self::Expired | Self::Future => StatusCode::UNAUTHORIZED,
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing_header",
            Self::Malformed => "malformed_header",
            Self::Mismatch => "signature_mismatch",
            Self::Expired => "timestamp_too_old",
            Self::Future => "timestamp_in_future",
        }
    }
}

/// A scheme ready to check deliveries: header names parsed, keys derived.
#[derive(Debug, Clone)]
pub(crate) struct Checker {
    rules: Rules,
    keys: Keys,
    tolerance: Duration,
}

#[derive(Debug, Clone)]
enum Rules {
    Standard,
    Stripe,
    BodyOnly {
        header: HeaderName,
        encoding: Encoding,
        prefix: Box<[u8]>,
    },
}

const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
const STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");

impl Checker {
    pub(crate) fn new(
        scheme: &Scheme,
        keys: Keys,
        tolerance: Duration,
    ) -> Result<Self, ConfigError> {
        let body_only = |header: &'static str, encoding, prefix: &str| Rules::BodyOnly {
            header: HeaderName::from_static(header),
            encoding,
            prefix: prefix.as_bytes().into(),
        };
        let rules = match scheme {
            Scheme::StandardWebhooks => Rules::Standard,
            Scheme::Stripe => Rules::Stripe,
            Scheme::Github => body_only("x-hub-signature-256", Encoding::Hex, "sha256="),
            Scheme::Shopify => body_only("x-shopify-hmac-sha256", Encoding::Base64, ""),
            Scheme::Hmac {
                header,
                encoding,
                prefix,
            } => Rules::BodyOnly {
                header: HeaderName::try_from(header.as_str()).map_err(|_| {
                    ConfigError::HeaderName {
                        name: "webhook.scheme.header",
                        value: header.clone(),
                    }
                })?,
                encoding: *encoding,
                prefix: prefix.as_bytes().into(),
            },
        };
        Ok(Self {
            rules,
            keys,
            tolerance,
        })
    }

    /// Checks a delivery received at `now`; `Ok` holds the signed timestamp, if any.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Option<u64>, Rejection> {
        match &self.rules {
            Rules::Standard => self.standard(headers, body, now).map(Some),
            Rules::Stripe => self.stripe(headers, body, now).map(Some),
            Rules::BodyOnly {
                header,
                encoding,
                prefix,
            } => {
                let value = headers.get(header).ok_or(Rejection::Missing)?.as_bytes();
                let value = value.strip_prefix(&**prefix).ok_or(Rejection::Malformed)?;
                let tag = decode(*encoding, value.trim_ascii()).ok_or(Rejection::Malformed)?;
                self.matches(&[body], &[tag])?;
                Ok(None)
            }
        }
    }

    /// Standard Webhooks: `v1,<base64>` entries separated by spaces, over
    /// `<id>.<timestamp>.<body>`.
    fn standard(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<u64, Rejection> {
        let id = headers
            .get(WEBHOOK_ID)
            .ok_or(Rejection::Missing)?
            .as_bytes();
        let stamp = headers
            .get(WEBHOOK_TIMESTAMP)
            .ok_or(Rejection::Missing)?
            .as_bytes();
        let header = headers
            .get(WEBHOOK_SIGNATURE)
            .ok_or(Rejection::Missing)?
            .as_bytes();
        let at = seconds(stamp).ok_or(Rejection::Malformed)?;
        // Other versions (`v1a`, asymmetric) are skipped, as the specification asks.
        let tags: Vec<[u8; TAG]> = header
            .split(|&b| b == b' ')
            .filter_map(|entry| entry.strip_prefix(b"v1,"))
            .take(MAX_SIGNATURES)
            .filter_map(from_base64)
            .collect();
        self.matches(&[id, b".", stamp, b".", body], &tags)?;
        self.in_window(at, now)
    }

    /// Stripe: `t=<ts>,v1=<hex>,v1=<hex>,v0=…` over `<t>.<body>`.
    fn stripe(&self, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<u64, Rejection> {
        let header = headers
            .get(STRIPE_SIGNATURE)
            .ok_or(Rejection::Missing)?
            .as_bytes();
        let mut stamp = None;
        let mut tags = Vec::new();
        for pair in header.split(|&b| b == b',') {
            let pair = pair.trim_ascii();
            if let Some(t) = pair.strip_prefix(b"t=") {
                if stamp.replace(t).is_some() {
                    return Err(Rejection::Malformed);
                }
            } else if let Some(v1) = pair.strip_prefix(b"v1=") {
                // Schemes other than v1 (`v0`, test mode's) are ignored, as Stripe's
                // libraries do; a v1 entry that is not a tag matches nothing.
                if tags.len() < MAX_SIGNATURES {
                    tags.extend(from_hex(v1));
                }
            }
        }
        let stamp = stamp.ok_or(Rejection::Malformed)?;
        let at = seconds(stamp).ok_or(Rejection::Malformed)?;
        self.matches(&[stamp, b".", body], &tags)?;
        self.in_window(at, now)
    }

    fn matches(&self, parts: &[&[u8]], tags: &[[u8; TAG]]) -> Result<(), Rejection> {
        if self.keys.verify(parts, tags) {
            Ok(())
        } else {
            Err(Rejection::Mismatch)
        }
    }

    /// Whether a signed timestamp is within the tolerance of `now`, either side.
    fn in_window(&self, at: u64, now: SystemTime) -> Result<u64, Rejection> {
        let signed = UNIX_EPOCH + Duration::from_secs(at);
        let outside = match now.duration_since(signed) {
            Ok(age) => (age > self.tolerance).then_some(Rejection::Expired),
            Err(ahead) => (ahead.duration() > self.tolerance).then_some(Rejection::Future),
        };
        outside.map_or(Ok(at), Err)
    }
}

fn decode(encoding: Encoding, text: &[u8]) -> Option<[u8; TAG]> {
    match encoding {
        Encoding::Hex => from_hex(text),
        Encoding::Base64 => from_base64(text),
    }
}

/// Unix seconds: 1 to 12 ASCII digits (beyond the year 30000 is not a timestamp).
fn seconds(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 12 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::WebhookSecret;

    fn checker(scheme: &Scheme, secret: &str) -> Checker {
        let keys = Keys::new(scheme, &[WebhookSecret::new(secret)]).expect("valid secret");
        Checker::new(scheme, keys, Duration::from_secs(300)).expect("valid scheme")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    value.parse().expect("valid value"),
                )
            })
            .collect()
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn standard_webhooks_reference_vector() {
        // The specification's published test vector.
        let checker = checker(
            &Scheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
        let body = br#"{"test": 2432232314}"#;
        let signed = |signature: &str, stamp: &str| {
            headers(&[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", stamp),
                ("webhook-signature", signature),
            ])
        };
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let now = at(1_614_265_330);
        assert_eq!(
            checker.check(&signed(good, "1614265330"), body, now),
            Ok(Some(1_614_265_330))
        );
        let several = format!("v1a,AAAA v1,{} {good}", "A".repeat(43) + "=");
        assert!(
            checker
                .check(&signed(&several, "1614265330"), body, now)
                .is_ok()
        );
        for (signature, stamp, body, now, why) in [
            (
                good,
                "1614265330",
                &b"{\"test\": 2432232315}"[..],
                now,
                Rejection::Mismatch,
            ),
            (good, "1614265331", &body[..], now, Rejection::Mismatch),
            (
                "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                "1614265330",
                body,
                now,
                Rejection::Mismatch,
            ),
            (
                good,
                "1614265330",
                body,
                at(1_614_265_330 + 301),
                Rejection::Expired,
            ),
            (
                good,
                "1614265330",
                body,
                at(1_614_265_330 - 301),
                Rejection::Future,
            ),
            (good, "16142653e0", body, now, Rejection::Malformed),
            (good, "", body, now, Rejection::Malformed),
        ] {
            assert_eq!(
                checker.check(&signed(signature, stamp), body, now),
                Err(why),
                "{signature} {stamp}"
            );
        }
        let edge = at(1_614_265_330 + 300);
        assert!(
            checker
                .check(&signed(good, "1614265330"), body, edge)
                .is_ok()
        );
        let missing = headers(&[("webhook-id", "m"), ("webhook-timestamp", "1")]);
        assert_eq!(checker.check(&missing, body, now), Err(Rejection::Missing));
    }

    #[test]
    fn stripe_signatures() {
        // Computed independently: Python's hmac, key b"whsec_test_secret", over b"1700000000." + body.
        let checker = checker(&Scheme::Stripe, "whsec_test_secret");
        let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        let now = at(1_700_000_000);
        let good = stripe_tag(b"whsec_test_secret", b"1700000000", body);
        assert_eq!(
            good,
            "46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595"
        );
        let header = |v: &str| headers(&[("stripe-signature", v)]);
        assert!(
            checker
                .check(&header(&format!("t=1700000000,v1={good}")), body, now)
                .is_ok()
        );
        let rolled = format!(
            "t=1700000000,v1={},v1={good},v0={}",
            "0".repeat(64),
            "1".repeat(64)
        );
        assert!(checker.check(&header(&rolled), body, now).is_ok());
        for (value, why) in [
            (format!("t=1700000001,v1={good}"), Rejection::Mismatch),
            (format!("v1={good}"), Rejection::Malformed),
            (
                format!("t=1700000000,t=1700000000,v1={good}"),
                Rejection::Malformed,
            ),
            (format!("t=1700000000,v0={good}"), Rejection::Mismatch),
            ("garbage".to_owned(), Rejection::Malformed),
        ] {
            assert_eq!(
                checker.check(&header(&value), body, now),
                Err(why),
                "{value}"
            );
        }
        assert_eq!(
            checker.check(
                &header(&format!("t=1700000000,v1={good}")),
                body,
                at(1_700_000_301)
            ),
            Err(Rejection::Expired)
        );
        assert_eq!(
            checker.check(&HeaderMap::new(), body, now),
            Err(Rejection::Missing)
        );
    }

    /// A second path to the same tag: `hmac`'s one-shot API rather than the keyed state the
    /// checker clones.
    fn stripe_tag(key: &[u8], stamp: &[u8], body: &[u8]) -> String {
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).expect("any key");
        hmac::Mac::update(&mut mac, &[stamp, b".", body].concat());
        hmac::Mac::finalize(mac)
            .into_bytes()
            .iter()
            .fold(String::new(), |mut hex, b| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }

    #[test]
    fn github_reference_vector() {
        // GitHub's documented test values.
        let checker = checker(&Scheme::Github, "It's a Secret to Everybody");
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let header = |v: &str| headers(&[("x-hub-signature-256", v)]);
        let now = SystemTime::now();
        assert_eq!(
            checker.check(&header(good), b"Hello, World!", now),
            Ok(None)
        );
        assert_eq!(
            checker.check(&header(good), b"Hello, World?", now),
            Err(Rejection::Mismatch)
        );
        assert_eq!(
            checker.check(&header(&good[7..]), b"Hello, World!", now),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            checker.check(&HeaderMap::new(), b"Hello, World!", now),
            Err(Rejection::Missing)
        );
    }

    #[test]
    fn shopify_and_generic_hmac() {
        // GitHub's test values again, the tag in base64 (Python: base64.b64encode(hmac…digest())).
        let tag = "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=";
        let checker = checker(&Scheme::Shopify, "It's a Secret to Everybody");
        let now = SystemTime::now();
        let shopify = headers(&[("x-shopify-hmac-sha256", tag)]);
        assert_eq!(checker.check(&shopify, b"Hello, World!", now), Ok(None));
        assert_eq!(
            checker.check(&shopify, b"Hello, World", now),
            Err(Rejection::Mismatch)
        );

        let generic = Scheme::hmac("X-Partner-Signature", Encoding::Base64, "");
        let checker = self::checker(&generic, "It's a Secret to Everybody");
        let signed = headers(&[("x-partner-signature", tag)]);
        assert_eq!(checker.check(&signed, b"Hello, World!", now), Ok(None));
        let prefixed = Scheme::hmac("X-Sig", Encoding::Hex, "v1=");
        let checker = self::checker(&prefixed, "It's a Secret to Everybody");
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let signed = headers(&[("x-sig", &format!("v1={hex}"))]);
        assert_eq!(checker.check(&signed, b"Hello, World!", now), Ok(None));
        let unprefixed = headers(&[("x-sig", hex)]);
        assert_eq!(
            checker.check(&unprefixed, b"Hello, World!", now),
            Err(Rejection::Malformed)
        );

        let bad = Scheme::hmac("not a header", Encoding::Hex, "");
        let keys = Keys::new(&bad, &[WebhookSecret::new("k")]).expect("valid secret");
        assert!(matches!(
            Checker::new(&bad, keys, Duration::from_secs(1)),
            Err(ConfigError::HeaderName { .. })
        ));
    }

    #[test]
    fn every_secret_is_tried() {
        let scheme = Scheme::Github;
        let keys = Keys::new(
            &scheme,
            &[
                WebhookSecret::new("old"),
                WebhookSecret::new("It's a Secret to Everybody"),
            ],
        )
        .expect("valid secrets");
        let checker = Checker::new(&scheme, keys, Duration::from_secs(1)).expect("valid");
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let signed = headers(&[("x-hub-signature-256", good)]);
        assert_eq!(
            checker.check(&signed, b"Hello, World!", SystemTime::now()),
            Ok(None)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(header in "[ -~]{0,200}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            for scheme in [Scheme::StandardWebhooks, Scheme::Stripe, Scheme::Github, Scheme::Shopify] {
                let checker = checker(&scheme, "whsec_c2VjcmV0");
                let mut headers = HeaderMap::new();
                if let Ok(value) = header.parse::<http::HeaderValue>() {
                    for name in ["webhook-id", "webhook-timestamp", "webhook-signature", "stripe-signature", "x-hub-signature-256", "x-shopify-hmac-sha256"] {
                        headers.insert(HeaderName::from_static(name), value.clone());
                    }
                }
                let _ = checker.check(&headers, &body, SystemTime::now());
            }
        }
    }
}

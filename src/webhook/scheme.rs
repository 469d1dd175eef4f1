//! Which provider's signing rules a delivery follows.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::IdSource;

/// A provider's signing scheme: where the signature is, what it covers, how it is encoded.
///
/// | scheme | signature header | signed content | encoding | timestamp | delivery id |
/// |---|---|---|---|---|---|
/// | [`StandardWebhooks`](Self::StandardWebhooks) | `webhook-signature: v1,<sig> v1,<sig>…` | `<webhook-id>.<webhook-timestamp>.<body>` | base64 | `webhook-timestamp`, Unix seconds | `webhook-id` |
/// | [`Stripe`](Self::Stripe) | `Stripe-Signature: t=<ts>,v1=<sig>,v1=<sig>…` | `<t>.<body>` | hex | `t`, Unix seconds | the event's JSON `id` |
/// | [`Github`](Self::Github) | `X-Hub-Signature-256: sha256=<sig>` | the body | hex | none | `X-GitHub-Delivery` |
/// | [`Shopify`](Self::Shopify) | `X-Shopify-Hmac-Sha256: <sig>` | the body | base64 | none | `X-Shopify-Webhook-Id` |
/// | [`Hmac`](Self::Hmac) | the configured header, after an optional prefix | the body | hex or base64 | none | configured |
///
/// Every signature is HMAC-SHA256. The key is the secret's text as given, except for
/// Standard Webhooks, whose secrets are `whsec_` and the base64 of the key (the prefix is
/// optional). Stripe's secrets also start with `whsec_`, but Stripe signs with the whole
/// text, prefix included. A header may carry several signatures (Standard Webhooks and
/// Stripe sign with the old and the new secret while one is rolled); one match is enough.
///
/// Shopify also sends `X-Shopify-Event-Id`, the same for every subscription that an event
/// fires: deduplicate on it with [`IdSource::header`] when one endpoint has several
/// subscriptions to a topic.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "Spelled")]
pub enum Scheme {
    /// The [Standard Webhooks](https://www.standardwebhooks.com/) specification (Svix and
    /// others). The default.
    #[default]
    StandardWebhooks,
    /// Stripe's `Stripe-Signature`.
    Stripe,
    /// GitHub's `X-Hub-Signature-256`.
    Github,
    /// Shopify's `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// An HMAC-SHA256 of the body in a header of your choosing.
    #[non_exhaustive]
    Hmac {
        /// The header that holds the signature.
        header: String,
        /// How the signature is written.
        #[serde(default)]
        encoding: Encoding,
        /// Text before the signature (`sha256=`), removed before decoding; empty for none.
        #[serde(default)]
        prefix: String,
    },
}

/// How a configuration file spells a [`Scheme`]: serde lets unit variants of a tagged enum
/// ignore unknown fields, so each is an empty struct here, where they are refused.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Spelled {
    StandardWebhooks {},
    Stripe {},
    Github {},
    Shopify {},
    Hmac {
        header: String,
        #[serde(default)]
        encoding: Encoding,
        #[serde(default)]
        prefix: String,
    },
}

impl From<Spelled> for Scheme {
    fn from(spelled: Spelled) -> Self {
        match spelled {
            Spelled::StandardWebhooks {} => Self::StandardWebhooks,
            Spelled::Stripe {} => Self::Stripe,
            Spelled::Github {} => Self::Github,
            Spelled::Shopify {} => Self::Shopify,
            Spelled::Hmac {
                header,
                encoding,
                prefix,
            } => Self::hmac(header, encoding, prefix),
        }
    }
}

/// How a signature is written in its header.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Hexadecimal digits, either case. The default.
    #[default]
    Hex,
    /// Standard base64, with padding.
    Base64,
}

impl Scheme {
    /// An HMAC-SHA256 of the body in `header`, written in `encoding` after `prefix` (empty
    /// for none).
    ///
    /// ```
    /// use steadfast::webhook::{Encoding, Scheme};
    ///
    /// let scheme = Scheme::hmac("X-Signature", Encoding::Hex, "sha256=");
    /// # let _ = scheme;
    /// ```
    #[must_use]
    pub fn hmac(header: impl Into<String>, encoding: Encoding, prefix: impl Into<String>) -> Self {
        Self::Hmac {
            header: header.into(),
            encoding,
            prefix: prefix.into(),
        }
    }

    /// The scheme's name, as logs show it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard_webhooks",
            Self::Stripe => "stripe",
            Self::Github => "github",
            Self::Shopify => "shopify",
            Self::Hmac { .. } => "hmac",
        }
    }

    /// Whether the scheme signs a timestamp, so that a replay window applies.
    #[must_use]
    pub fn has_timestamp(&self) -> bool {
        matches!(self, Self::StandardWebhooks | Self::Stripe)
    }

    /// Where the provider puts each delivery's id, the same on every retry; `None` for
    /// [`Hmac`](Self::Hmac), whose provider you know better.
    #[must_use]
    pub fn delivery_id(&self) -> Option<IdSource> {
        match self {
            Self::StandardWebhooks => Some(IdSource::header("webhook-id")),
            Self::Stripe => Some(IdSource::json_pointer("/id")),
            Self::Github => Some(IdSource::header("x-github-delivery")),
            Self::Shopify => Some(IdSource::header("x-shopify-webhook-id")),
            Self::Hmac { .. } => None,
        }
    }
}

/// The replay window both Stripe (300 s) and Standard Webhooks (5 minutes) default to.
pub(crate) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializes_from_configuration() {
        let cases = [
            (r#"{"kind": "stripe"}"#, Scheme::Stripe),
            (r#"{"kind": "standard_webhooks"}"#, Scheme::StandardWebhooks),
            (r#"{"kind": "github"}"#, Scheme::Github),
            (r#"{"kind": "shopify"}"#, Scheme::Shopify),
            (
                r#"{"kind": "hmac", "header": "X-Sig", "encoding": "base64"}"#,
                Scheme::hmac("X-Sig", Encoding::Base64, ""),
            ),
            (
                r#"{"kind": "hmac", "header": "X-Sig", "prefix": "sha256="}"#,
                Scheme::hmac("X-Sig", Encoding::Hex, "sha256="),
            ),
        ];
        for (text, scheme) in cases {
            assert_eq!(
                serde_json::from_str::<Scheme>(text).expect(text),
                scheme,
                "{text}"
            );
        }
        for bad in [
            r#"{"kind": "paypal"}"#,
            r#"{"kind": "stripe", "x": 1}"#,
            r#"{"kind": "hmac", "header": "X-Sig", "x": 1}"#,
            r#"{"kind": "hmac"}"#,
        ] {
            assert!(serde_json::from_str::<Scheme>(bad).is_err(), "{bad}");
        }
    }
}

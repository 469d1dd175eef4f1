//! Settings of the verification and deduplication layers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::scheme::DEFAULT_TOLERANCE;
use super::{IdSource, Scheme, WebhookSecret};

/// Settings of [`VerifySignatureLayer`](super::VerifySignatureLayer).
///
/// Deserializes from a configuration file (`humantime` durations); it has no `Serialize`,
/// since it holds secrets.
///
/// ```
/// use std::time::Duration;
/// use steadfast::webhook::{Scheme, VerifyConfig, WebhookSecret};
///
/// // During a rotation both secrets are accepted; drop the old one once it is retired.
/// let config = VerifyConfig::new(Scheme::Stripe, WebhookSecret::new("whsec_new"))
///     .secret(WebhookSecret::new("whsec_old"))
///     .max_body_bytes(256 << 10);
/// let from_file: VerifyConfig = serde_json::from_str(
///     r#"{"scheme": {"kind": "stripe"}, "secrets": ["whsec_new", "whsec_old"], "tolerance": "5m"}"#,
/// )?;
/// assert_eq!(from_file.tolerance, Duration::from_secs(300));
/// # let _ = config;
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyConfig {
    /// The provider's signing scheme. Default [`Scheme::StandardWebhooks`].
    pub scheme: Scheme,
    /// Every secret a signature may match: two during a rotation. Default none (building
    /// the layer fails until one is given).
    pub secrets: Vec<WebhookSecret>,
    /// How far a signed timestamp may be from the receiver's clock, either way, for schemes
    /// that sign one. Default 300 s (Stripe's and Standard Webhooks' own).
    #[serde(with = "humantime_serde")]
    pub tolerance: Duration,
    /// The largest body read; a longer one is answered 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// How long the body may take to arrive; a slower one is answered 408. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self {
            scheme: Scheme::default(),
            secrets: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
        }
    }
}

impl VerifyConfig {
    /// Verification of `scheme` signatures made with `secret`, other settings at their
    /// defaults.
    #[must_use]
    pub fn new(scheme: Scheme, secret: WebhookSecret) -> Self {
        Self {
            scheme,
            secrets: vec![secret],
            ..Self::default()
        }
    }

    /// Sets the scheme. Default [`Scheme::StandardWebhooks`].
    #[must_use]
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Adds a secret that signatures may match (the new one during a rotation).
    #[must_use]
    pub fn secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Replaces every secret. Default none.
    #[must_use]
    pub fn secrets(mut self, secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        self.secrets = secrets.into_iter().collect();
        self
    }

    /// Sets the replay window. Default 300 s.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets the largest body read. Default 1 MiB.
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets how long the body may take to arrive. Default 10 s.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }
}

/// Settings of [`DeduplicateLayer`](super::DeduplicateLayer).
///
/// ```
/// use std::time::Duration;
/// use steadfast::webhook::{DedupConfig, Scheme};
///
/// let config = DedupConfig::for_scheme(&Scheme::Stripe)
///     .namespace("stripe-billing")
///     .max_wait(Duration::from_secs(2));
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// Where each delivery's id is. Default the `webhook-id` header (Standard Webhooks).
    pub delivery_id: IdSource,
    /// Scopes ids in the store, so that two providers' ids never meet. Default `webhook`.
    pub namespace: String,
    /// How long a handler may run before its claim on an id lapses and a retry of the
    /// delivery is handled again. Longer than the slowest handler. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long a handled id is remembered, and its answer replayed. Longer than the
    /// provider retries (Stripe: 3 days). Default 3 days.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long a duplicate that arrives while the first delivery is being handled waits
    /// for its answer before it is answered 409. Default zero: 409 at once.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// The largest answer body kept for replay; a larger one is kept without its body.
    /// Default 64 KiB.
    pub max_stored_body: usize,
    /// The largest request body read when the id is in the body. Default 1 MiB.
    pub max_body_bytes: usize,
    /// How long reading a body (the request's, for the id, or the handler's answer, to keep
    /// it) may take. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            delivery_id: IdSource::default(),
            namespace: "webhook".to_owned(),
            lease: Duration::from_secs(60),
            ttl: Duration::from_secs(3 * 24 * 3600),
            max_wait: Duration::ZERO,
            max_stored_body: 64 << 10,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
        }
    }
}

impl DedupConfig {
    /// Deduplication by the id at `delivery_id`, other settings at their defaults.
    #[must_use]
    pub fn new(delivery_id: IdSource) -> Self {
        Self {
            delivery_id,
            ..Self::default()
        }
    }

    /// Deduplication by the id `scheme`'s provider sends ([`Scheme::delivery_id`]; the
    /// default one for [`Scheme::Hmac`]), in a namespace named after the scheme.
    #[must_use]
    pub fn for_scheme(scheme: &Scheme) -> Self {
        Self {
            delivery_id: scheme.delivery_id().unwrap_or_default(),
            namespace: scheme.name().to_owned(),
            ..Self::default()
        }
    }

    /// Sets where the id is. Default the `webhook-id` header.
    #[must_use]
    pub fn delivery_id(mut self, source: IdSource) -> Self {
        self.delivery_id = source;
        self
    }

    /// Sets the namespace. Default `webhook`.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the handler's lease. Default 60 s.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets how long handled ids are remembered. Default 3 days.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets how long a concurrent duplicate waits for the first one's answer. Default zero.
    #[must_use]
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Sets the largest answer body kept. Default 64 KiB.
    #[must_use]
    pub fn max_stored_body(mut self, max: usize) -> Self {
        self.max_stored_body = max;
        self
    }

    /// Sets the largest request body read for an id. Default 1 MiB.
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets the time bound on reading bodies. Default 10 s.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }
}

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{KeyFormat, KeyGenerator};

/// Settings of the idempotency layer; every field has a production default.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::idempotency::{IdempotencyConfig, InFlight, KeyFormat};
///
/// let config = IdempotencyConfig::default()
///     .header("X-Idempotency-Key")
///     .format(KeyFormat::SfString)
///     .ttl(Duration::from_secs(7 * 24 * 3600))
///     .in_flight(InFlight::Fail);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// Methods that get a key when the caller set none; written as names in a file.
    /// Default `[POST, PATCH]`.
    #[serde(with = "method_names")]
    pub methods: Vec<Method>,
    /// The header carrying the key. Default `Idempotency-Key`.
    pub header: String,
    /// How the key is written. Default [`KeyFormat::Plain`].
    pub format: KeyFormat,
    /// How fresh keys are made. Default [`KeyGenerator::UuidV4`].
    pub generator: KeyGenerator,
    /// How long a completed key, or one of unknown outcome, is remembered. Default 24 h.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long a reservation holds. A holder that has not finished by then is taken to
    /// have crashed after sending: its key reads as of unknown outcome, never as free.
    /// Default 5 min; keep it above the call deadline.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// The largest body stored with a completed key, and the most the ledger reads of one;
    /// above it only status and headers are kept, and the caller gets the body as a stream.
    /// Default 64 KiB.
    pub max_body_bytes: usize,
    /// The longest the ledger waits for a recorded call's body; a slower body is not kept,
    /// and the caller gets it as a stream. Default 30 s. A [`Client`](crate::Client) also
    /// stops at the call's deadline (`retry.deadline`), whichever comes first.
    #[serde(with = "humantime_serde")]
    pub max_body_wait: Duration,
    /// Which outcomes complete a key. Default [`CompleteOn::Success`].
    pub complete_on: CompleteOn,
    /// What a call does when another call holds its key. Default: wait up to 30 s.
    pub in_flight: InFlight,
    /// What a call does when the ledger cannot be reached. Default
    /// [`LedgerDown::FailClosed`].
    pub ledger_down: LedgerDown,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            methods: vec![Method::POST, Method::PATCH],
            header: crate::key::DEFAULT_HEADER.to_owned(),
            format: KeyFormat::Plain,
            generator: KeyGenerator::UuidV4,
            ttl: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(300),
            max_body_bytes: 64 * 1024,
            max_body_wait: Duration::from_secs(30),
            complete_on: CompleteOn::Success,
            in_flight: InFlight::default(),
            ledger_down: LedgerDown::FailClosed,
        }
    }
}

/// Which outcomes complete a key in the ledger.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompleteOn {
    /// Only successes (2xx by the default classifier); a failed call frees its key.
    #[default]
    Success,
    /// Successes and permanent failures with a response (a 422, say), as Stripe does: the
    /// same request would fail the same way.
    SuccessOrPermanent,
}

/// What a call does when another call holds its key.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InFlight {
    /// Waits for the other call to finish, up to `max`, then fails with
    /// [`Error::IdempotencyKeyInFlight`](crate::Error::IdempotencyKeyInFlight).
    Wait {
        /// The longest wait.
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
    /// Fails at once with [`Error::IdempotencyKeyInFlight`](crate::Error::IdempotencyKeyInFlight).
    Fail,
}

impl Default for InFlight {
    fn default() -> Self {
        Self::Wait {
            max: Duration::from_secs(30),
        }
    }
}

/// What a call does when the ledger cannot be read or written.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerDown {
    /// Fails with [`Error::Ledger`](crate::Error::Ledger) and sends nothing: no duplicate
    /// can slip through (the default).
    #[default]
    FailClosed,
    /// Sends the request without the ledger's protection, logging a WARN.
    FailOpen,
}

impl IdempotencyConfig {
    /// Sets the methods that get a key when the caller set none. Default `[POST, PATCH]`.
    #[must_use]
    pub fn methods(mut self, methods: Vec<Method>) -> Self {
        self.methods = methods;
        self
    }

    /// Sets the key's format. Default [`KeyFormat::Plain`].
    #[must_use]
    pub fn format(mut self, format: KeyFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the generator of fresh keys. Default [`KeyGenerator::UuidV4`].
    #[must_use]
    pub fn generator(mut self, generator: KeyGenerator) -> Self {
        self.generator = generator;
        self
    }

    /// Sets how long a completed key is remembered. Default 24 h.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets how long a reservation holds. Default 5 min.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets the largest stored body, and the most read of one. Default 64 KiB.
    #[must_use]
    pub fn max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// Sets the longest wait for a recorded call's body. Default 30 s.
    #[must_use]
    pub fn max_body_wait(mut self, max_body_wait: Duration) -> Self {
        self.max_body_wait = max_body_wait;
        self
    }

    /// Sets which outcomes complete a key. Default [`CompleteOn::Success`].
    #[must_use]
    pub fn complete_on(mut self, complete_on: CompleteOn) -> Self {
        self.complete_on = complete_on;
        self
    }

    /// Sets what a call does when its key is in flight. Default: wait up to 30 s.
    #[must_use]
    pub fn in_flight(mut self, in_flight: InFlight) -> Self {
        self.in_flight = in_flight;
        self
    }

    /// Sets what a call does when the ledger is down. Default [`LedgerDown::FailClosed`].
    #[must_use]
    pub fn ledger_down(mut self, ledger_down: LedgerDown) -> Self {
        self.ledger_down = ledger_down;
        self
    }

    /// Sets the header carrying the key. Default `Idempotency-Key`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = name.into();
        self
    }
}

/// `methods` as a list of names; a name is upper-cased, so `"post"` is `POST`.
mod method_names {
    use reqwest::Method;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        methods: &[Method],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(methods.iter().map(Method::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Method>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .into_iter()
            .map(|name| {
                Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                    .map_err(|_| D::Error::custom(format_args!("invalid method {name:?}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::IdempotencyConfig;

    #[test]
    fn methods_read_and_write_as_names() {
        let config: IdempotencyConfig =
            serde_json::from_str(r#"{ "methods": ["post", "PUT"] }"#).expect("valid");
        assert_eq!(config.methods, [Method::POST, Method::PUT]);
        let written = serde_json::to_value(&config).expect("serializes");
        assert_eq!(written["methods"], serde_json::json!(["POST", "PUT"]));
        assert_eq!(
            IdempotencyConfig::default().methods,
            [Method::POST, Method::PATCH]
        );
    }

    #[test]
    fn a_method_that_is_no_token_is_refused() {
        let error = serde_json::from_str::<IdempotencyConfig>(r#"{ "methods": ["PO ST"] }"#)
            .expect_err("a space is not a token character");
        assert!(error.to_string().contains("invalid method"), "{error}");
    }
}

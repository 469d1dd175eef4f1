use std::time::Duration;

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
    /// Methods that get a key when the caller set none. Default `["POST", "PATCH"]`.
    pub methods: Vec<String>,
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
            methods: vec!["POST".to_owned(), "PATCH".to_owned()],
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

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        impl IdempotencyConfig {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, $name: $ty) -> Self {
                    self.$name = $name;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets the methods that get a key. Default `["POST", "PATCH"]`.
    methods: Vec<String>,
    /// Sets the key's format. Default [`KeyFormat::Plain`].
    format: KeyFormat,
    /// Sets the generator of fresh keys. Default [`KeyGenerator::UuidV4`].
    generator: KeyGenerator,
    /// Sets how long a completed key is remembered. Default 24 h.
    ttl: Duration,
    /// Sets how long a reservation holds. Default 5 min.
    lease: Duration,
    /// Sets the largest stored body, and the most read of one. Default 64 KiB.
    max_body_bytes: usize,
    /// Sets the longest wait for a recorded call's body. Default 30 s.
    max_body_wait: Duration,
    /// Sets which outcomes complete a key. Default [`CompleteOn::Success`].
    complete_on: CompleteOn,
    /// Sets what a call does when its key is in flight. Default: wait up to 30 s.
    in_flight: InFlight,
    /// Sets what a call does when the ledger is down. Default [`LedgerDown::FailClosed`].
    ledger_down: LedgerDown,
}

impl IdempotencyConfig {
    /// Sets the header carrying the key. Default `Idempotency-Key`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = name.into();
        self
    }
}

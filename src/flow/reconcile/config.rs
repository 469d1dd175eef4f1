//! How a reconciliation reads its two sides and what its report keeps.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

use super::pointer::Pointer;

/// How the two streams are matched up by key.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Both streams come in ascending key order (see [`RecordKey`](super::RecordKey) for the
    /// order): one pass, two records held at a time, whatever the size of the sets. A
    /// record out of order or a repeated key ends the run with a typed error.
    Sorted,
    /// The streams come in any order: records wait in a keyed index until their match
    /// arrives from the other side, and every key seen is remembered to catch duplicates.
    /// Both are capped ([`ReconcileConfig::max_pending`], [`ReconcileConfig::max_keys`]).
    Unsorted,
}

/// What a reconciliation compares and how much of it the report keeps.
///
/// | setting | default |
/// |---|---|
/// | `order` | [`Order::Unsorted`] |
/// | `max_pending` | 100,000 records waiting in the index for their match |
/// | `max_keys` | 1,000,000 keys remembered by the index |
/// | `ignore` | none (JSON pointers, `*` for any one segment) |
/// | `reveal` | none: no field value is ever shown |
/// | `missing_is_null` | `false`: an absent field differs from `null` |
/// | `max_examples` | 100 of each kind (missing, extra, different) |
/// | `max_fields` | 32 field differences kept per different record |
///
/// # Example
///
/// ```
/// use steadfast::flow::reconcile::{Order, ReconcileConfig};
///
/// let config = ReconcileConfig::default()
///     .order(Order::Sorted)
///     .ignore("/updated_at")
///     .ignore("/lines/*/synced_at")
///     .reveal("/status")
///     .max_examples(20);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileConfig {
    /// How the streams are matched up. Default [`Order::Unsorted`].
    pub order: Order,
    /// In [`Order::Unsorted`], how many records may wait in the index for their match, both
    /// sides together; one more is [`ReconcileError::IndexFull`](super::ReconcileError::IndexFull).
    /// Default 100,000.
    pub max_pending: usize,
    /// In [`Order::Unsorted`], how many distinct keys the index remembers (a key stays after
    /// its pair matched, to catch a duplicate); one more is
    /// [`ReconcileError::IndexFull`](super::ReconcileError::IndexFull). Default 1,000,000.
    pub max_keys: usize,
    /// Fields left out of the comparison, as JSON pointers (`/updated_at`,
    /// `/lines/*/synced_at`; `*` matches any one key or index); a pointer also covers
    /// everything under it. Default none.
    pub ignore: Vec<String>,
    /// Fields whose differing values the report shows (redacted and cut to
    /// [`MAX_VALUE_CHARS`](super::MAX_VALUE_CHARS)), as JSON pointers like `ignore`. A field
    /// with a sensitive name (see [`crate::redact`]) shows `[redacted]` even when listed.
    /// Default none: the report names the fields that differ, never their values.
    pub reveal: Vec<String>,
    /// Whether a field that is absent on one side and `null` on the other counts as equal.
    /// Default `false`.
    pub missing_is_null: bool,
    /// How many examples of each kind (missing, extra, different) the report keeps; the
    /// counts stay exact and the report says how many were left out. Default 100.
    pub max_examples: usize,
    /// How many field differences the report keeps for each different record. Default 32.
    pub max_fields: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            order: Order::Unsorted,
            max_pending: 100_000,
            max_keys: 1_000_000,
            ignore: Vec::new(),
            reveal: Vec::new(),
            missing_is_null: false,
            max_examples: 100,
            max_fields: 32,
        }
    }
}

impl ReconcileConfig {
    /// Sets how the streams are matched up. Default [`Order::Unsorted`].
    #[must_use]
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Sets how many records may wait in the unsorted index. Default 100,000.
    #[must_use]
    pub fn max_pending(mut self, records: usize) -> Self {
        self.max_pending = records;
        self
    }

    /// Sets how many keys the unsorted index remembers. Default 1,000,000.
    #[must_use]
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// Leaves the field at `pointer` (and everything under it) out of the comparison.
    /// Default none.
    #[must_use]
    pub fn ignore(mut self, pointer: impl Into<String>) -> Self {
        self.ignore.push(pointer.into());
        self
    }

    /// Shows the values of the field at `pointer` where it differs (redacted). Default none.
    #[must_use]
    pub fn reveal(mut self, pointer: impl Into<String>) -> Self {
        self.reveal.push(pointer.into());
        self
    }

    /// Sets whether an absent field equals `null`. Default `false`.
    #[must_use]
    pub fn missing_is_null(mut self, equal: bool) -> Self {
        self.missing_is_null = equal;
        self
    }

    /// Sets how many examples of each kind the report keeps. Default 100.
    #[must_use]
    pub fn max_examples(mut self, examples: usize) -> Self {
        self.max_examples = examples;
        self
    }

    /// Sets how many field differences are kept per different record. Default 32.
    #[must_use]
    pub fn max_fields(mut self, fields: usize) -> Self {
        self.max_fields = fields;
        self
    }

    /// Checks the settings: every pointer well formed, the index caps above zero.
    pub(crate) fn patterns(&self) -> Result<(Vec<Pointer>, Vec<Pointer>), ConfigError> {
        if self.max_pending == 0 {
            return Err(invalid("reconcile max_pending", "0"));
        }
        if self.max_keys == 0 {
            return Err(invalid("reconcile max_keys", "0"));
        }
        let parse = |name, pointers: &[String]| {
            pointers
                .iter()
                .map(|text| Pointer::parse(text).ok_or_else(|| invalid(name, text)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok((
            parse("reconcile ignore", &self.ignore)?,
            parse("reconcile reveal", &self.reveal)?,
        ))
    }
}

pub(crate) fn invalid(name: &'static str, value: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_config_errors() {
        let cases = [
            ReconcileConfig::default().max_pending(0),
            ReconcileConfig::default().max_keys(0),
            ReconcileConfig::default().ignore("updated_at"),
            ReconcileConfig::default().reveal("status"),
        ];
        for config in cases {
            assert!(config.patterns().is_err(), "{config:?}");
        }
        assert!(ReconcileConfig::default().ignore("").patterns().is_ok());
    }

    #[test]
    fn reads_from_json() {
        let config: ReconcileConfig = serde_json::from_str(
            r#"{"order": "sorted", "ignore": ["/updated_at"], "max_examples": 5}"#,
        )
        .expect("valid config");
        assert_eq!(
            config,
            ReconcileConfig::default()
                .order(Order::Sorted)
                .ignore("/updated_at")
                .max_examples(5)
        );
    }
}

//! The report: exact counts, capped examples, field differences with values hidden.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest preview of a revealed value in a [`FieldDifference`], in characters.
pub const MAX_VALUE_CHARS: usize = 64;

/// What a reconciliation found: exact counts, and up to
/// [`max_examples`](super::ReconcileConfig::max_examples) examples of each kind.
///
/// Its `Display` is a summary for a log line or a person; its serde form (JSON) is for a
/// job to store and compare with the next run. Neither holds a field value unless the
/// field was listed in [`reveal`](super::ReconcileConfig::reveal), and never the value of a
/// field with a sensitive name.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReconcileReport {
    /// How many records of each kind, exactly.
    pub counts: Counts,
    /// Keys of records in the source that the destination lacks, in key order.
    pub missing: Examples<Value>,
    /// Keys of records in the destination that the source lacks, in key order.
    pub extra: Examples<Value>,
    /// Records under the same key on both sides that differ, and how.
    pub different: Examples<Difference>,
}

impl ReconcileReport {
    /// Whether both sides hold the same records (nothing missing, extra or different).
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.counts.missing == 0 && self.counts.extra == 0 && self.counts.different == 0
    }

    pub(crate) fn new() -> Self {
        Self::default()
    }
}

/// Exact counts of a reconciliation.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Records read from the source.
    pub source: u64,
    /// Records read from the destination.
    pub destination: u64,
    /// Keys on both sides whose records are equal.
    pub equal: u64,
    /// Keys in the source only.
    pub missing: u64,
    /// Keys in the destination only.
    pub extra: u64,
    /// Keys on both sides whose records differ.
    pub different: u64,
}

/// The first examples of one kind, and how many more there were.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Examples<T> {
    /// The examples kept.
    pub items: Vec<T>,
    /// How many more were found but not kept.
    pub left_out: u64,
}

impl<T> Default for Examples<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            left_out: 0,
        }
    }
}

impl<T> Examples<T> {
    /// Whether another example fits under `max`.
    pub(crate) fn has_room(&self, max: usize) -> bool {
        self.items.len() < max
    }

    /// Keeps `item` if there is room, counts it as left out otherwise.
    pub(crate) fn offer(&mut self, max: usize, item: impl FnOnce() -> T) {
        if self.has_room(max) {
            self.items.push(item());
        } else {
            self.left_out += 1;
        }
    }
}

/// One record that differs: its key and the fields that differ.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The record's key (one part as itself, several as an array; sensitive parts masked).
    pub key: Value,
    /// The first [`max_fields`](super::ReconcileConfig::max_fields) differing fields: the
    /// source's fields in the order `serde_json` keeps them (by name, unless its
    /// `preserve_order` feature is on), then those only the destination has.
    pub fields: Vec<FieldDifference>,
    /// How many more fields differ.
    pub fields_left_out: u64,
}

/// One field that differs between the two records of a key.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDifference {
    /// Where, as a JSON pointer: `/total`, `/lines/2/price`.
    pub path: String,
    /// How it differs.
    pub change: Change,
    /// The source's value, only for a revealed field present in the source: JSON text,
    /// redacted and cut to [`MAX_VALUE_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The destination's value, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// How a field differs.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Present on both sides with different values (or types).
    Changed,
    /// Present in the source only.
    OnlyInSource,
    /// Present in the destination only.
    OnlyInDestination,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Changed => "changed",
            Self::OnlyInSource => "only in source",
            Self::OnlyInDestination => "only in destination",
        })
    }
}

impl fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{} source and {} destination records: {} equal, {} missing, {} extra, {} different",
            c.source, c.destination, c.equal, c.missing, c.extra, c.different
        )?;
        write_keys(f, "missing", &self.missing)?;
        write_keys(f, "extra", &self.extra)?;
        for difference in &self.different.items {
            write!(f, "\ndifferent {}:", difference.key)?;
            for (i, field) in difference.fields.iter().enumerate() {
                let separator = if i == 0 { " " } else { ", " };
                write!(f, "{separator}{} {}", field.path, field.change)?;
                if field.source.is_some() || field.destination.is_some() {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
                    write!(
                        f,
                        " ({} -> {})",
                        show(&field.source),
                        show(&field.destination)
                    )?;
                }
            }
            if difference.fields_left_out > 0 {
                write!(f, " (and {} more fields)", difference.fields_left_out)?;
            }
        }
        if self.different.left_out > 0 {
            write!(f, "\n(and {} more different)", self.different.left_out)?;
        }
        Ok(())
    }
}

fn write_keys(f: &mut fmt::Formatter<'_>, kind: &str, keys: &Examples<Value>) -> fmt::Result {
    if keys.items.is_empty() {
        return Ok(());
    }
    write!(f, "\n{kind}:")?;
    for key in &keys.items {
        write!(f, " {key}")?;
    }
    if keys.left_out > 0 {
        write!(f, " (and {} more)", keys.left_out)?;
    }
    Ok(())
}

//! Schema drift: decode a typed value and report what the upstream changed.
//!
//! ```
//! use serde::Deserialize;
//! use steadfast::mapper::{DecodeError, DriftMonitor, decode_with_drift};
//!
//! #[derive(Debug, Deserialize)]
//! struct Invoice {
//!     number: String,
//!     total_cents: i64,
//!     note: Option<String>,
//! }
//!
//! fn main() -> Result<(), DecodeError> {
//!     let body = br#"{"number": "INV-7", "total_cents": 1250, "currency": "EUR"}"#;
//!     let (invoice, drift) = decode_with_drift::<Invoice>(body)?;
//!     assert_eq!(invoice.number, "INV-7");
//!     assert_eq!(drift.unknown, ["currency"]);
//!     assert_eq!(drift.missing_optional, ["note"]);
//!
//!     // A monitor logs each distinct drift once, however many bodies show it.
//!     let monitor = DriftMonitor::new();
//!     for _ in 0..3 {
//!         let (_invoice, _drift) = monitor.decode::<Invoice>(body)?;
//!     }
//!     assert_eq!(monitor.signatures_seen(), 1);
//!     Ok(())
//! }
//! ```
//!
//! # What is reported
//!
//! - `unknown`: input keys that no part of `T` reads, found with `serde_ignored`.
//! - `missing_optional`: `Option` fields of a struct of `T` that are absent or `null` in
//!   the input. The decoder sees the field list each derived struct passes to
//!   `deserialize_struct` and compares it with the keys of the JSON object at that path.
//!   Since decoding succeeded, every such field is one `T` tolerates missing: an `Option`,
//!   or a field with `#[serde(default)]`. A `#[serde(default)]` field is not drift (the
//!   type says the upstream may leave it out) and is not reported, unless its type also
//!   takes `null` (an `Option` with a default). To tell them apart, a body with absent
//!   fields is decoded once more with them set to `null`, and once per field when that
//!   fails.
//!
//! Paths look like `customer.address.zip` and `items[2].sku`.
//!
//! # Limits
//!
//! Both lists come from what serde tells a deserializer, so they are exact for plain
//! derived structs, `Option`, `Vec`, maps and externally tagged enums, and incomplete
//! where serde buffers the input first:
//! - inside `#[serde(flatten)]`, untagged, internally or adjacently tagged enums, neither
//!   list sees the fields;
//! - a field with `#[serde(alias = "...")]` declares every alias, so the names that were
//!   not used are reported as missing.
//!
//! The body is parsed into a `serde_json::Value` first and decoded from that, which
//! costs one extra allocation of the document; malformed JSON is reported before any
//! decoding starts.

use std::collections::HashSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::FieldError;
use super::path;
use super::value_de;
use crate::redact::JsonRedactor;

/// Differences between a decoded body and the type it was decoded into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriftReport {
    /// Paths of input fields the type does not know, sorted.
    pub unknown: Vec<String>,
    /// Paths of optional fields of the type that were absent or `null`, sorted.
    pub missing_optional: Vec<String>,
}

impl DriftReport {
    /// `true` when the body matched the type exactly.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.missing_optional.is_empty()
    }
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not JSON.
    #[error("body is not valid json")]
    Syntax {
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The body is JSON but does not fit the type; the problem's value is redacted.
    #[error("json does not match `{type_name}`: {problem}")]
    Shape {
        /// The Rust type that was expected.
        type_name: &'static str,
        /// Where and how the body differs (serde stops at the first problem).
        problem: FieldError,
    },
}

impl DecodeError {
    /// The problem in one line without any value from the body, for
    /// [`Error::Decode`](crate::Error::Decode): the position of a syntax error, or the type,
    /// path and kind of the first field problem.
    pub(crate) fn summary(&self) -> Summary<'_> {
        Summary(self)
    }
}

/// A [`DecodeError`] in one line without values; see [`DecodeError::summary`].
pub(crate) struct Summary<'a>(&'a DecodeError);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // serde_json's own message may quote the input; its position does not.
            DecodeError::Syntax { source } => write!(
                f,
                "body is not valid json (line {}, column {})",
                source.line(),
                source.column()
            ),
            DecodeError::Shape { type_name, problem } => write!(
                f,
                "json does not match `{type_name}`: {}",
                problem.without_value()
            ),
        }
    }
}

/// Decodes a JSON body into `T` and reports drift.
///
/// Accepts `&[u8]`, `&str`, `Vec<u8>`, `String` and other byte containers.
///
/// # Errors
///
/// [`DecodeError::Syntax`] for malformed JSON, [`DecodeError::Shape`] when the JSON does
/// not fit `T`.
pub fn decode_with_drift<T: DeserializeOwned>(
    body: impl AsRef<[u8]>,
) -> Result<(T, DriftReport), DecodeError> {
    let value: Value =
        serde_json::from_slice(body.as_ref()).map_err(|source| DecodeError::Syntax { source })?;
    decode_value_with_drift(&value)
}

/// Decodes an already parsed JSON value into `T` and reports drift.
///
/// # Errors
///
/// [`DecodeError::Shape`] when the value does not fit `T`.
pub fn decode_value_with_drift<T: DeserializeOwned>(
    value: &Value,
) -> Result<(T, DriftReport), DecodeError> {
    let (decoded, observed) = value_de::from_value_observed::<T>(value, &JsonRedactor::DEFAULT)
        .map_err(|problem| DecodeError::Shape {
            type_name: std::any::type_name::<T>(),
            problem,
        })?;
    let missing_optional = if observed.declared_absent.is_empty() {
        observed.declared_absent
    } else {
        accepting_null::<T>(value, observed.declared_absent)
    };
    let mut report = DriftReport {
        unknown: observed.unknown,
        missing_optional,
    };
    for paths in [&mut report.unknown, &mut report.missing_optional] {
        paths.sort_unstable();
        paths.dedup();
    }
    Ok((decoded, report))
}

/// Of the fields `T` declares and `value` leaves out, those `T` would take as `null`: an
/// absent `Option` is drift to report, while an absent `#[serde(default)]` field of
/// another type (a `Vec`, a `bool`) is what the type says may happen. Serde gives a
/// deserializer no other way to tell them apart.
fn accepting_null<T: DeserializeOwned>(value: &Value, absent: Vec<String>) -> Vec<String> {
    let accepts = |paths: &[&String]| {
        let mut probe = value.clone();
        for path in paths {
            set_null(&mut probe, path);
        }
        T::deserialize(&probe).is_ok()
    };
    // Most often every absent field is an `Option`: one probe says so.
    if accepts(&absent.iter().collect::<Vec<_>>()) {
        return absent;
    }
    absent.into_iter().filter(|p| accepts(&[p])).collect()
}

/// Sets the field at `path` (inside objects and arrays that exist) to `null`.
fn set_null(value: &mut Value, path: &str) {
    let segments = path::parse(path);
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut current = value;
    for segment in parents {
        let next = match (segment, current) {
            (path::Segment::Key(key), Value::Object(map)) => map.get_mut(*key),
            (path::Segment::Index(index), Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else {
            return;
        };
        current = next;
    }
    if let (path::Segment::Key(key), Value::Object(map)) = (last, current) {
        map.insert((*key).to_owned(), Value::Null);
    }
}

/// Logs a `tracing` WARN the first time each distinct drift is seen, not once per body.
///
/// A drift's signature is the decoded type plus the sorted set of its paths with array
/// indices removed, so `items[0].color` and `items[7].color` are one drift. Clones share
/// the set of signatures already seen (it sits behind an `Arc`), so one monitor per
/// upstream endpoint can be handed to every task. The set is bounded (1,024 signatures by
/// default); past the bound one WARN says so and new signatures are no longer logged.
#[derive(Debug, Clone, Default)]
pub struct DriftMonitor {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    seen: Mutex<HashSet<u64>>,
    max_signatures: usize,
    limit_logged: AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            seen: Mutex::new(HashSet::new()),
            max_signatures: DriftMonitor::DEFAULT_MAX_SIGNATURES,
            limit_logged: AtomicBool::new(false),
        }
    }
}

impl DriftMonitor {
    /// How many distinct signatures a monitor remembers unless told otherwise.
    pub const DEFAULT_MAX_SIGNATURES: usize = 1024;

    /// A monitor remembering up to [`DEFAULT_MAX_SIGNATURES`](Self::DEFAULT_MAX_SIGNATURES).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A monitor remembering up to `max` distinct signatures.
    #[must_use]
    pub fn with_max_signatures(max: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                max_signatures: max,
                ..Shared::default()
            }),
        }
    }

    /// [`decode_with_drift`], then [`observe`](Self::observe) the report.
    ///
    /// # Errors
    ///
    /// As [`decode_with_drift`].
    pub fn decode<T: DeserializeOwned>(
        &self,
        body: impl AsRef<[u8]>,
    ) -> Result<(T, DriftReport), DecodeError> {
        let (decoded, report) = decode_with_drift::<T>(body)?;
        self.observe(std::any::type_name::<T>(), &report);
        Ok((decoded, report))
    }

    /// [`decode_value_with_drift`], then [`observe`](Self::observe) the report.
    ///
    /// # Errors
    ///
    /// As [`decode_value_with_drift`].
    pub fn decode_value<T: DeserializeOwned>(
        &self,
        value: &Value,
    ) -> Result<(T, DriftReport), DecodeError> {
        let (decoded, report) = decode_value_with_drift::<T>(value)?;
        self.observe(std::any::type_name::<T>(), &report);
        Ok((decoded, report))
    }

    /// Logs `report` if its signature is new for `type_name`; returns `true` when it
    /// logged.
    pub fn observe(&self, type_name: &str, report: &DriftReport) -> bool {
        if report.is_empty() {
            return false;
        }
        crate::metrics::drift_seen(type_name);
        let unknown = normalized(&report.unknown);
        let missing = normalized(&report.missing_optional);
        let signature = signature(type_name, &unknown, &missing);

        let is_new = {
            let mut seen = self
                .shared
                .seen
                .lock()
                // The set holds plain hashes: a panic elsewhere cannot leave it inconsistent.
                .unwrap_or_else(PoisonError::into_inner);
            if seen.contains(&signature) {
                return false;
            }
            if seen.len() >= self.shared.max_signatures {
                None
            } else {
                Some(seen.insert(signature))
            }
        };
        match is_new {
            Some(true) => {
                tracing::warn!(
                    type_name,
                    unknown = %unknown.join(", "),
                    missing_optional = %missing.join(", "),
                    "upstream schema drift: unknown fields or missing optional fields"
                );
                true
            }
            Some(false) => false,
            None => {
                if !self.shared.limit_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max_signatures = self.shared.max_signatures,
                        "drift signature limit reached; new drift signatures are no longer logged"
                    );
                }
                false
            }
        }
    }

    /// Number of distinct drift signatures seen (and logged) so far.
    #[must_use]
    pub fn signatures_seen(&self) -> usize {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn normalized(paths: &[String]) -> Vec<String> {
    let mut out: Vec<String> = paths.iter().map(|p| path::without_indices(p)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn signature(type_name: &str, unknown: &[String], missing: &[String]) -> u64 {
    let mut hasher = DefaultHasher::new();
    type_name.hash(&mut hasher);
    // Lengths keep ("a", "b") apart from ("a, b") and the two lists apart from each other.
    unknown.hash(&mut hasher);
    missing.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::mapper::FieldErrorKind;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Line {
        sku: String,
        color: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Order {
        id: u64,
        lines: Vec<Line>,
        coupon: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    }

    fn assert_thread_safe_static<T: Send + Sync + 'static>() {}

    #[test]
    fn types_are_shareable() {
        assert_thread_safe_static::<DecodeError>();
        assert_thread_safe_static::<DriftMonitor>();
        assert_thread_safe_static::<DriftReport>();
    }

    #[test]
    fn reports_paths() {
        let body = json!({
            "id": 1,
            "lines": [{"sku": "A", "color": "red", "size": "M"}, {"sku": "B", "size": "L"}],
            "coupon": null,
            "channel": "web",
        });
        let (order, report) = decode_value_with_drift::<Order>(&body).expect("decodes");
        assert_eq!(order.lines.len(), 2);
        assert_eq!(
            report.unknown,
            ["channel", "lines[0].size", "lines[1].size"]
        );
        assert_eq!(
            report.missing_optional,
            ["coupon", "lines[1].color"],
            "`tags` has a default: not drift"
        );
        assert!(!report.is_empty());
    }

    #[test]
    fn defaulted_fields_are_not_drift_at_any_depth() {
        #[derive(Debug, Deserialize)]
        struct Item {
            #[serde(default)]
            gift: bool,
            note: Option<String>,
        }
        #[derive(Debug, Deserialize)]
        struct Basket {
            items: Vec<Item>,
            #[serde(default)]
            discount_cents: u32,
            #[serde(default)]
            voucher: Option<String>,
        }
        let body = json!({ "items": [{ "gift": true, "note": "x" }, {}] });
        let (basket, report) = decode_value_with_drift::<Basket>(&body).expect("decodes");
        assert!(!basket.items[1].gift);
        assert_eq!(basket.items[1].note, None);
        assert_eq!((basket.discount_cents, basket.voucher), (0, None));
        assert_eq!(report.missing_optional, ["items[1].note", "voucher"]);
        assert!(report.unknown.is_empty());

        let full = json!({ "items": [], "discount_cents": 5, "voucher": "v" });
        let (_, report) = decode_value_with_drift::<Basket>(&full).expect("decodes");
        assert!(report.is_empty());
    }

    #[test]
    fn exact_body_has_no_drift() {
        let body = r#"{"id": 1, "lines": [], "coupon": "X", "tags": []}"#;
        let (_, report) = decode_with_drift::<Order>(body).expect("decodes");
        assert!(report.is_empty(), "{report:?}");
    }

    #[test]
    fn malformed_and_mismatched_bodies_are_typed_errors() {
        for body in ["", "{", "{\"id\": 1,}", "nul", "[1, 2] x"] {
            let error = decode_with_drift::<Order>(body).expect_err("malformed");
            assert!(
                matches!(error, DecodeError::Syntax { .. }),
                "{body:?}: {error}"
            );
            assert!(std::error::Error::source(&error).is_some());
        }
        let error =
            decode_with_drift::<Order>(r#"{"id": "one", "lines": []}"#).expect_err("mismatch");
        let DecodeError::Shape { problem, .. } = &error else {
            panic!("expected a shape error, got {error}");
        };
        assert_eq!(problem.path(), "id");
        assert_eq!(problem.kind(), &FieldErrorKind::invalid("u64"));
        assert!(error.to_string().contains("`id`"), "{error}");
    }

    #[test]
    fn the_crate_error_names_the_problem_without_values() {
        let table = [
            (
                "{\n  \"id\": 1,\n}",
                "response body could not be decoded: body is not valid json (line 3, column 1)",
            ),
            (
                r#"{"id": "ord-77", "lines": []}"#,
                "`id`: invalid, expected u64",
            ),
            (r#"{"lines": []}"#, "`id`: missing"),
        ];
        for (body, expected) in table {
            let error = crate::Error::from(decode_with_drift::<Order>(body).expect_err("bad"));
            let shown = error.to_string();
            assert!(shown.contains(expected), "{shown}");
            assert!(!shown.contains("ord-77"), "{shown}");
        }
    }

    #[test]
    fn shape_errors_redact_sensitive_values() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Login {
            password: u32,
        }
        let error = decode_with_drift::<Login>(r#"{"password": "hunter2"}"#).expect_err("mismatch");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn observe_once_per_signature() {
        let monitor = DriftMonitor::new();
        let clone = monitor.clone();
        let first = DriftReport {
            unknown: vec!["lines[0].size".into()],
            missing_optional: vec![],
        };
        let same_after_normalizing = DriftReport {
            unknown: vec!["lines[3].size".into(), "lines[9].size".into()],
            missing_optional: vec![],
        };
        let other = DriftReport {
            unknown: vec![],
            missing_optional: vec!["lines[].size".into()],
        };
        assert!(monitor.observe("Order", &first));
        assert!(!clone.observe("Order", &first));
        assert!(!monitor.observe("Order", &same_after_normalizing));
        assert!(monitor.observe("Order", &other));
        assert!(monitor.observe("Invoice", &first));
        assert!(!monitor.observe("Order", &DriftReport::default()));
        assert_eq!(clone.signatures_seen(), 3);
    }

    #[test]
    fn signature_set_is_bounded() {
        let monitor = DriftMonitor::with_max_signatures(2);
        for i in 0..10 {
            let report = DriftReport {
                unknown: vec![format!("field{i}")],
                missing_optional: vec![],
            };
            assert_eq!(monitor.observe("T", &report), i < 2, "signature {i}");
        }
        assert_eq!(monitor.signatures_seen(), 2);
    }
}

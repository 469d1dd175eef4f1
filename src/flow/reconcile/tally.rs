//! Keeping count: each key placed as equal, different, missing or extra, and the report's
//! examples filled up to their caps.

use serde_json::Value;

use crate::error::ConfigError;
use crate::redact::{JsonRedactor, REDACTED};

use super::compare::{Rules, compare};
use super::config::ReconcileConfig;
use super::key::{Key, KeyReader};
use super::pointer::{Pointer, Step, render};
use super::report::{Change, Difference, FieldDifference, MAX_VALUE_CHARS, ReconcileReport};

/// The report being built, with the checked settings it is built by.
#[derive(Debug)]
pub(crate) struct Tally {
    ignore: Vec<Pointer>,
    reveal: Vec<Pointer>,
    missing_is_null: bool,
    max_examples: usize,
    max_fields: usize,
    keys: KeyReader,
    pub(crate) report: ReconcileReport,
}

impl Tally {
    pub(crate) fn new(config: &ReconcileConfig, keys: KeyReader) -> Result<Self, ConfigError> {
        let (ignore, reveal) = config.patterns()?;
        Ok(Self {
            ignore,
            reveal,
            missing_is_null: config.missing_is_null,
            max_examples: config.max_examples,
            max_fields: config.max_fields,
            keys,
            report: ReconcileReport::new(),
        })
    }

    /// The key as reports and errors show it.
    pub(crate) fn show(&self, key: &Key) -> Value {
        self.keys.show(key)
    }

    /// A key on both sides: equal or different.
    pub(crate) fn matched(&mut self, key: &Key, source: &Value, destination: &Value) {
        let rules = Rules {
            ignore: &self.ignore,
            missing_is_null: self.missing_is_null,
        };
        if !self.report.different.has_room(self.max_examples) {
            // Only the count is needed: stop at the first difference.
            if compare(source, destination, &rules, None) {
                self.report.counts.different += 1;
                self.report.different.left_out += 1;
            } else {
                self.report.counts.equal += 1;
            }
            return;
        }
        let mut fields = Vec::new();
        let mut fields_left_out = 0;
        let differs = compare(
            source,
            destination,
            &rules,
            Some(
                &mut |path: &[Step<'_>], a: Option<&Value>, b: Option<&Value>| {
                    if fields.len() < self.max_fields {
                        fields.push(field(&self.reveal, path, a, b));
                    } else {
                        fields_left_out += 1;
                    }
                },
            ),
        );
        if differs {
            self.report.counts.different += 1;
            let key = self.keys.show(key);
            self.report.different.items.push(Difference {
                key,
                fields,
                fields_left_out,
            });
        } else {
            self.report.counts.equal += 1;
        }
    }

    /// A key in the source only.
    pub(crate) fn missing(&mut self, key: &Key) {
        self.report.counts.missing += 1;
        let keys = &self.keys;
        self.report
            .missing
            .offer(self.max_examples, || keys.show(key));
    }

    /// A key in the destination only.
    pub(crate) fn extra(&mut self, key: &Key) {
        self.report.counts.extra += 1;
        let keys = &self.keys;
        self.report
            .extra
            .offer(self.max_examples, || keys.show(key));
    }
}

/// One differing field; its values only when a `reveal` pointer covers it, and masked when
/// any step of its path is a sensitive name.
fn field(
    reveal: &[Pointer],
    path: &[Step<'_>],
    source: Option<&Value>,
    destination: Option<&Value>,
) -> FieldDifference {
    let change = match (source, destination) {
        (Some(_), Some(_)) => Change::Changed,
        (Some(_), None) => Change::OnlyInSource,
        (None, _) => Change::OnlyInDestination,
    };
    let (source, destination) = if reveal.iter().any(|p| p.covers(path)) {
        let redactor = JsonRedactor::DEFAULT;
        let sensitive = path
            .iter()
            .any(|step| matches!(step, Step::Key(name) if redactor.is_sensitive(name)));
        let show = |value: Option<&Value>| {
            value.map(|v| {
                if sensitive {
                    REDACTED.to_owned()
                } else {
                    redactor.preview(v, MAX_VALUE_CHARS)
                }
            })
        };
        (show(source), show(destination))
    } else {
        (None, None)
    };
    FieldDifference {
        path: render(path),
        change,
        source,
        destination,
    }
}

//! Finding a path in the record, and recording what was wrong with it.

use serde_json::Value;

use super::Fields;
use crate::mapper::error::{FieldError, FieldErrorKind};
use crate::mapper::path::{self, Segment};

/// Where a path led.
pub(super) enum Lookup<'a> {
    Found {
        at: String,
        value: &'a Value,
    },
    Absent {
        at: String,
    },
    Null {
        at: String,
    },
    NotContainer {
        at: String,
        expected: &'static str,
        value: &'a Value,
    },
}

impl<'a> Fields<'a> {
    pub(super) fn lookup(&self, path: &str) -> Lookup<'a> {
        let mut at = self.prefix.clone();
        let mut current = self.record;
        for segment in path::parse(path) {
            let next = match (segment, current) {
                (_, Value::Null) => return Lookup::Null { at },
                (Segment::Key(key), Value::Object(map)) => map.get(key),
                (Segment::Index(index), Value::Array(items)) => items.get(index),
                (Segment::Key(_), _) => {
                    return Lookup::NotContainer {
                        at,
                        expected: "an object",
                        value: current,
                    };
                }
                (Segment::Index(_), _) => {
                    return Lookup::NotContainer {
                        at,
                        expected: "an array",
                        value: current,
                    };
                }
            };
            path::push(&mut at, segment);
            match next {
                Some(value) => current = value,
                None => return Lookup::Absent { at },
            }
        }
        if current.is_null() {
            Lookup::Null { at }
        } else {
            Lookup::Found { at, value: current }
        }
    }

    /// The value at `path`, or `None` with the problem recorded.
    pub(super) fn present(&mut self, path: &str) -> Option<(String, &'a Value)> {
        match self.lookup(path) {
            Lookup::Found { at, value } => Some((at, value)),
            Lookup::Absent { at } => {
                self.record_at(at, FieldErrorKind::Missing, None);
                None
            }
            Lookup::Null { at } => {
                self.record_at(at, FieldErrorKind::Null, None);
                None
            }
            Lookup::NotContainer {
                at,
                expected,
                value,
            } => {
                self.record_at(at, FieldErrorKind::invalid(expected), Some(value));
                None
            }
        }
    }

    /// The value at `path`, or `None` when absent or `null` (no problem) or when the
    /// path runs through a non-container (problem recorded).
    pub(super) fn present_or_none(&mut self, path: &str) -> Option<(String, &'a Value)> {
        match self.lookup(path) {
            Lookup::Found { at, value } => Some((at, value)),
            Lookup::Absent { .. } | Lookup::Null { .. } => None,
            Lookup::NotContainer {
                at,
                expected,
                value,
            } => {
                self.record_at(at, FieldErrorKind::invalid(expected), Some(value));
                None
            }
        }
    }

    pub(super) fn read_child<R>(
        &mut self,
        at: String,
        value: &'a Value,
        read: impl FnOnce(&mut Fields<'a>) -> Option<R>,
    ) -> Option<R> {
        let mut child = Fields::child(value, at, self.redactor);
        let result = read(&mut child);
        for problem in std::mem::take(&mut child.problems) {
            self.push(problem);
        }
        result
    }

    pub(super) fn record_at(&mut self, at: String, kind: FieldErrorKind, value: Option<&Value>) {
        let problem = FieldError::new(at, kind);
        let problem = match value {
            Some(value) => problem.with_value_using(value, self.redactor),
            None => problem.scrubbed(self.redactor),
        };
        self.push(problem);
    }

    /// Several reads below one absent parent report the same problem; keep one.
    pub(super) fn push(&mut self, problem: FieldError) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }
}

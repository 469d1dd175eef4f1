//! The error `Deserialize` impls see while decoding, located and redacted by the
//! deserializer that knows the path.

use std::fmt;

use serde::de::{self, Expected, Unexpected};
use serde_json::Value;

use super::node::Node;
use crate::mapper::error::{FieldError, FieldErrorKind};
use crate::mapper::path::{self, Segment};
use crate::redact::JsonRedactor;

/// The error type seen by `Deserialize` impls while decoding.
///
/// It never formats the unexpected input (serde passes it in `Unexpected`); the value
/// preview is attached by the deserializer that knows the path, redacted.
#[derive(Debug)]
pub(crate) struct DeError(State);

#[derive(Debug)]
enum State {
    Pending {
        kind: FieldErrorKind,
        /// A struct field named by the error itself (`missing_field`), one level below
        /// the deserializer that will locate it.
        field: Option<String>,
    },
    Located(FieldError),
}

impl DeError {
    pub(super) fn new(kind: FieldErrorKind) -> Self {
        Self(State::Pending { kind, field: None })
    }

    pub(super) fn with_field(kind: FieldErrorKind, field: &str) -> Self {
        Self(State::Pending {
            kind,
            field: Some(field.to_owned()),
        })
    }

    /// Pins the error to `node`; the innermost deserializer calls this first, so later
    /// calls from enclosing ones are ignored.
    pub(super) fn locate(
        &mut self,
        node: Node<'_>,
        value: Option<&Value>,
        redactor: &JsonRedactor,
    ) {
        let State::Pending { kind, field } = &mut self.0 else {
            return;
        };
        let mut at = node.to_path();
        let mut kind = std::mem::replace(kind, FieldErrorKind::Missing);
        let problem = if let Some(field) = field.take() {
            path::push(&mut at, Segment::Key(&field));
            FieldError::new(at, kind).scrubbed(redactor)
        } else {
            match value {
                Some(value) => {
                    if value.is_null() && matches!(kind, FieldErrorKind::Invalid { .. }) {
                        kind = FieldErrorKind::Null;
                    }
                    FieldError::new(at, kind).with_value_using(value, redactor)
                }
                None => FieldError::new(at, kind).scrubbed(redactor),
            }
        };
        self.0 = State::Located(problem);
    }

    pub(super) fn into_field_error(self) -> FieldError {
        match self.0 {
            State::Located(problem) => problem,
            State::Pending { kind, field } => {
                FieldError::new(field.unwrap_or_default(), kind).scrubbed(&JsonRedactor::DEFAULT)
            }
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            State::Pending { kind, .. } => kind.fmt(f),
            State::Located(problem) => problem.fmt(f),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::new(FieldErrorKind::Custom(message.to_string()))
    }

    fn invalid_type(_unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::new(FieldErrorKind::invalid(expected.to_string()))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        let expected = expected.to_string();
        Self::new(match unexpected {
            // serde's integer visitors report a number that does not fit this way.
            Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => {
                FieldErrorKind::OutOfRange { expected }
            }
            _ => FieldErrorKind::Invalid { expected },
        })
    }

    fn invalid_length(_len: usize, expected: &dyn Expected) -> Self {
        Self::new(FieldErrorKind::invalid(expected.to_string()))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(FieldErrorKind::invalid(one_of(expected)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::with_field(
            FieldErrorKind::custom(format!("unknown field, expected {}", one_of(expected))),
            field,
        )
    }

    fn missing_field(field: &'static str) -> Self {
        Self::with_field(FieldErrorKind::Missing, field)
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::with_field(FieldErrorKind::custom("duplicate field"), field)
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".to_owned(),
        [only] => format!("`{only}`"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

//! The entry points: decode a value, or decode it and observe unknown and absent fields.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::de::ValueDe;
use super::error::DeError;
use crate::mapper::error::FieldError;
use crate::mapper::path::{self, Segment};
use crate::redact::JsonRedactor;

/// Decodes `value` into `T`; the error's path is relative to `value`.
pub(crate) fn from_value<T: DeserializeOwned>(
    value: &Value,
    redactor: &JsonRedactor,
) -> Result<T, FieldError> {
    let context = Context {
        redactor,
        declared_absent: None,
    };
    T::deserialize(ValueDe::root(value, &context)).map_err(DeError::into_field_error)
}

/// What a decode found besides the value itself.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// Input keys that no part of `T` read.
    pub(crate) unknown: Vec<String>,
    /// Fields declared by a struct of `T` that were absent or `null` in the input.
    pub(crate) declared_absent: Vec<String>,
}

/// Decodes `value` into `T`, observing unknown and absent declared fields.
pub(crate) fn from_value_observed<T: DeserializeOwned>(
    value: &Value,
    redactor: &JsonRedactor,
) -> Result<(T, Observed), FieldError> {
    let declared_absent = RefCell::new(Vec::new());
    let context = Context {
        redactor,
        declared_absent: Some(&declared_absent),
    };
    let mut unknown = Vec::new();
    let decoded = serde_ignored::deserialize(ValueDe::root(value, &context), |ignored| {
        let mut text = String::new();
        render_ignored(&ignored, &mut text);
        unknown.push(text);
    })
    .map_err(DeError::into_field_error)?;
    Ok((
        decoded,
        Observed {
            unknown,
            declared_absent: declared_absent.into_inner(),
        },
    ))
}

fn render_ignored(ignored: &serde_ignored::Path<'_>, out: &mut String) {
    match ignored {
        serde_ignored::Path::Root => {}
        serde_ignored::Path::Seq { parent, index } => {
            render_ignored(parent, out);
            path::push(out, Segment::Index(*index));
        }
        serde_ignored::Path::Map { parent, key } => {
            render_ignored(parent, out);
            path::push(out, Segment::Key(key));
        }
        // Option and newtype wrappers are invisible in JSON, so they add no segment.
        serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => render_ignored(parent, out),
    }
}

/// What every deserializer of one decode shares.
pub(super) struct Context<'c> {
    pub(super) redactor: &'c JsonRedactor,
    pub(super) declared_absent: Option<&'c RefCell<Vec<String>>>,
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::mapper::error::FieldErrorKind;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Address {
        zip: String,
        city: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Customer {
        id: u32,
        address: Address,
        tier: Tier,
        tags: Vec<String>,
        #[serde(default)]
        notes: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Tier {
        Gold,
        Silver,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Shape {
        Point,
        Circle(f64),
        Rect { w: u8, h: u8 },
        Pair(u8, u8),
    }

    fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, FieldError> {
        from_value(value, &JsonRedactor::DEFAULT)
    }

    #[test]
    fn decodes_like_serde_json() {
        let value = json!({
            "id": 7,
            "address": {"zip": "10115", "city": null},
            "tier": "gold",
            "tags": ["a", "b"],
        });
        let ours: Customer = decode(&value).expect("decodes");
        assert_eq!(
            ours,
            Customer {
                id: 7,
                address: Address {
                    zip: "10115".into(),
                    city: None
                },
                tier: Tier::Gold,
                tags: vec!["a".into(), "b".into()],
                notes: vec![],
            }
        );

        let shapes =
            json!(["Point", {"Circle": 1.5}, {"Rect": {"w": 2, "h": 3}}, {"Pair": [1, 2]}]);
        let ours: Vec<Shape> = decode(&shapes).expect("decodes");
        let theirs: Vec<Shape> = serde_json::from_value(shapes).expect("decodes");
        assert_eq!(ours, theirs);

        let keyed = json!({"1": true, "22": false});
        let ours: HashMap<u32, bool> = decode(&keyed).expect("decodes");
        assert_eq!(ours, HashMap::from([(1, true), (22, false)]));

        let loose: BTreeMap<String, Value> =
            decode(&json!({"x": [1, {"y": null}]})).expect("decodes");
        assert_eq!(loose["x"], json!([1, {"y": null}]));

        let unit: () = decode(&json!(null)).expect("decodes");
        assert_eq!(unit, ());
        let negative: i8 = decode(&json!(-5)).expect("decodes");
        assert_eq!(negative, -5);
        let float: f32 = decode(&json!(2)).expect("decodes");
        assert!((float - 2.0).abs() < f32::EPSILON);
    }

    #[test]
    fn errors_carry_path_kind_and_preview() {
        let table: Vec<(Value, &str, FieldErrorKind, Option<&str>)> = vec![
            (
                json!({"id": "seven", "address": {"zip": "1"}, "tier": "gold", "tags": []}),
                "id",
                FieldErrorKind::invalid("u32"),
                Some("\"seven\""),
            ),
            (
                json!({"id": 70_000_000_000_u64, "address": {"zip": "1"}, "tier": "gold", "tags": []}),
                "id",
                FieldErrorKind::out_of_range("u32"),
                Some("70000000000"),
            ),
            (
                json!({"id": 1, "address": {"city": "x"}, "tier": "gold", "tags": []}),
                "address.zip",
                FieldErrorKind::Missing,
                None,
            ),
            (
                json!({"id": 1, "address": {"zip": null}, "tier": "gold", "tags": []}),
                "address.zip",
                FieldErrorKind::Null,
                Some("null"),
            ),
            (
                json!({"id": 1, "address": {"zip": "1"}, "tier": "bronze", "tags": []}),
                "tier",
                FieldErrorKind::invalid("one of `gold`, `silver`"),
                Some("\"bronze\""),
            ),
            (
                json!({"id": 1, "address": {"zip": "1"}, "tier": "gold", "tags": ["a", 2]}),
                "tags[1]",
                FieldErrorKind::invalid("a string"),
                Some("2"),
            ),
            (
                json!("text"),
                "",
                FieldErrorKind::invalid("struct Customer"),
                Some("\"text\""),
            ),
            (
                // Derived structs also accept a sequence of their fields.
                json!([1, 2]),
                "[1]",
                FieldErrorKind::invalid("struct Address"),
                Some("2"),
            ),
        ];
        for (input, path, kind, value) in table {
            let error = decode::<Customer>(&input).expect_err("must fail");
            assert_eq!(error.path(), path, "{input}");
            assert_eq!(error.kind(), &kind, "{input}");
            assert_eq!(error.value(), value, "{input}");
        }
    }

    #[test]
    fn error_previews_are_redacted() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: u32,
        }
        let error =
            decode::<Login>(&json!({"user": "ada", "password": "hunter2"})).expect_err("must fail");
        assert_eq!(error.path(), "password");
        assert_eq!(error.value(), Some("[redacted]"));
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn observes_unknown_and_absent_fields() {
        let value = json!({
            "id": 7,
            "address": {"zip": "10115", "street": "Main"},
            "tier": "gold",
            "tags": [],
            "loyalty": 3,
        });
        let (_, observed) =
            from_value_observed::<Customer>(&value, &JsonRedactor::DEFAULT).expect("decodes");
        assert_eq!(observed.unknown, ["address.street", "loyalty"]);
        // Outer structs record their fields before inner ones are decoded.
        assert_eq!(observed.declared_absent, ["notes", "address.city"]);
    }
}

//! A `serde` deserializer over a borrowed `serde_json::Value` that knows where it is.
//!
//! `serde_json`'s own `Value` deserializer would do for decoding, but its errors quote
//! the offending value (a secret, say) and do not say where in the document they
//! happened. This one reports the path and a redacted preview, and can record which
//! fields each struct declares so that drift detection can compare them with the input.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};

use super::error::{FieldError, FieldErrorKind};
use super::path::{self, Segment};
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

struct Context<'c> {
    redactor: &'c JsonRedactor,
    declared_absent: Option<&'c RefCell<Vec<String>>>,
}

/// Where a value sits, as a stack-allocated linked list: no allocation per field
/// unless a path is actually reported.
#[derive(Clone, Copy)]
enum Node<'p> {
    Root,
    Key(&'p Node<'p>, &'p str),
    Index(&'p Node<'p>, usize),
}

impl Node<'_> {
    fn render(&self, out: &mut String) {
        match *self {
            Node::Root => {}
            Node::Key(parent, key) => {
                parent.render(out);
                path::push(out, Segment::Key(key));
            }
            Node::Index(parent, index) => {
                parent.render(out);
                path::push(out, Segment::Index(index));
            }
        }
    }

    fn to_path(self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }
}

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
    fn new(kind: FieldErrorKind) -> Self {
        Self(State::Pending { kind, field: None })
    }

    fn with_field(kind: FieldErrorKind, field: &str) -> Self {
        Self(State::Pending {
            kind,
            field: Some(field.to_owned()),
        })
    }

    /// Pins the error to `node`; the innermost deserializer calls this first, so later
    /// calls from enclosing ones are ignored.
    fn locate(&mut self, node: Node<'_>, value: Option<&Value>, redactor: &JsonRedactor) {
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

    fn into_field_error(self) -> FieldError {
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

#[derive(Clone, Copy)]
struct ValueDe<'de, 'p> {
    value: &'de Value,
    node: &'p Node<'p>,
    context: &'p Context<'p>,
}

impl<'de, 'p> ValueDe<'de, 'p> {
    fn root(value: &'de Value, context: &'p Context<'p>) -> Self {
        Self {
            value,
            node: &Node::Root,
            context,
        }
    }

    fn locate<T>(self, result: Result<T, DeError>) -> Result<T, DeError> {
        result.map_err(|mut error| {
            error.locate(*self.node, Some(self.value), self.context.redactor);
            error
        })
    }

    fn record_absent_fields(self, declared: &[&str]) {
        let (Some(sink), Value::Object(map)) = (self.context.declared_absent, self.value) else {
            return;
        };
        for field in declared {
            if map.get(*field).is_none_or(Value::is_null) {
                let mut at = self.node.to_path();
                path::push(&mut at, Segment::Key(field));
                sink.borrow_mut().push(at);
            }
        }
    }
}

fn visit_number<'de, V: Visitor<'de>>(number: &Number, visitor: V) -> Result<V::Value, DeError> {
    if let Some(n) = number.as_u64() {
        visitor.visit_u64(n)
    } else if let Some(n) = number.as_i64() {
        visitor.visit_i64(n)
    } else if let Some(n) = number.as_f64() {
        visitor.visit_f64(n)
    } else {
        Err(DeError::new(FieldErrorKind::out_of_range(
            "a number within f64",
        )))
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut access = Elements {
                    items: items.iter().enumerate(),
                    node: self.node,
                    context: self.context,
                };
                visitor.visit_seq(&mut access).and_then(|out| {
                    let left = access.items.len();
                    if left == 0 {
                        Ok(out)
                    } else {
                        Err(de::Error::invalid_length(items.len(), &"fewer elements"))
                    }
                })
            }
            Value::Object(map) => {
                let mut access = Entries::new(map, self.node, self.context);
                visitor.visit_map(&mut access).and_then(|out| {
                    if access.iter.len() == 0 {
                        Ok(out)
                    } else {
                        Err(de::Error::invalid_length(map.len(), &"fewer entries"))
                    }
                })
            }
        };
        self.locate(result)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = if self.value.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        };
        self.locate(result)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = visitor.visit_newtype_struct(self);
        self.locate(result)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.record_absent_fields(fields);
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match self.value {
            Value::String(variant) => visitor.visit_enum(Variant {
                name: variant,
                content: None,
                parent: self.node,
                context: self.context,
            }),
            Value::Object(map) if map.len() == 1 => match map.iter().next() {
                Some((variant, content)) => visitor.visit_enum(Variant {
                    name: variant,
                    content: Some(content),
                    parent: self.node,
                    context: self.context,
                }),
                None => Err(DeError::new(FieldErrorKind::invalid("an enum"))),
            },
            _ => Err(DeError::new(FieldErrorKind::invalid(
                "a string or an object with a single key",
            ))),
        };
        self.locate(result)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

struct Elements<'de, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    node: &'p Node<'p>,
    context: &'p Context<'p>,
}

impl<'de> SeqAccess<'de> for Elements<'de, '_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let node = Node::Index(self.node, index);
        seed.deserialize(ValueDe {
            value,
            node: &node,
            context: self.context,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'de, 'p> {
    iter: serde_json::map::Iter<'de>,
    pending: Option<(&'de str, &'de Value)>,
    node: &'p Node<'p>,
    context: &'p Context<'p>,
}

impl<'de, 'p> Entries<'de, 'p> {
    fn new(map: &'de Map<String, Value>, node: &'p Node<'p>, context: &'p Context<'p>) -> Self {
        Self {
            iter: map.iter(),
            pending: None,
            node,
            context,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'de, '_> {
    type Error = DeError;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(Key(key)).map(Some).map_err(|mut error| {
            error.locate(Node::Key(self.node, key), None, self.context.redactor);
            error
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom("map value requested before its key"));
        };
        let node = Node::Key(self.node, key);
        seed.deserialize(ValueDe {
            value,
            node: &node,
            context: self.context,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A JSON object key; numeric and boolean keys parse like `serde_json` parses them.
struct Key<'de>(&'de str);

macro_rules! parse_key {
    ($($method:ident => $visit:ident($ty:ty),)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0.parse::<$ty>() {
                Ok(parsed) => visitor.$visit(parsed),
                Err(_) => visitor.visit_borrowed_str(self.0),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.0)
    }

    parse_key! {
        deserialize_bool => visit_bool(bool),
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
        deserialize_f32 => visit_f32(f32),
        deserialize_f64 => visit_f64(f64),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

/// An externally tagged enum: `"Variant"` or `{"Variant": content}`.
struct Variant<'de, 'p> {
    name: &'de str,
    content: Option<&'de Value>,
    parent: &'p Node<'p>,
    context: &'p Context<'p>,
}

impl<'de> EnumAccess<'de> for Variant<'de, '_> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), DeError> {
        let tag = seed.deserialize(de::value::BorrowedStrDeserializer::<DeError>::new(
            self.name,
        ))?;
        Ok((tag, self))
    }
}

impl<'de> Variant<'de, '_> {
    fn content(&self, expected: &str) -> Result<&'de Value, DeError> {
        self.content
            .ok_or_else(|| DeError::new(FieldErrorKind::invalid(expected)))
    }
}

impl<'de> VariantAccess<'de> for Variant<'de, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(_) => Err(DeError::new(FieldErrorKind::invalid("a unit variant"))),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, DeError> {
        let value = self.content("a newtype variant")?;
        let node = Node::Key(self.parent, self.name);
        seed.deserialize(ValueDe {
            value,
            node: &node,
            context: self.context,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        let value = self.content("a tuple variant")?;
        let node = Node::Key(self.parent, self.name);
        de::Deserializer::deserialize_seq(
            ValueDe {
                value,
                node: &node,
                context: self.context,
            },
            visitor,
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let value = self.content("a struct variant")?;
        let node = Node::Key(self.parent, self.name);
        de::Deserializer::deserialize_struct(
            ValueDe {
                value,
                node: &node,
                context: self.context,
            },
            "",
            fields,
            visitor,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

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

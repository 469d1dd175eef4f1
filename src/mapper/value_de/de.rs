//! The deserializer over one borrowed JSON value.

use serde::de::{self, Visitor};
use serde_json::{Number, Value};

use super::access::{Elements, Entries, Variant};
use super::decode::Context;
use super::error::DeError;
use super::node::Node;
use crate::mapper::error::FieldErrorKind;
use crate::mapper::path::{self, Segment};

#[derive(Clone, Copy)]
pub(super) struct ValueDe<'de, 'p> {
    pub(super) value: &'de Value,
    pub(super) node: &'p Node<'p>,
    pub(super) context: &'p Context<'p>,
}

impl<'de, 'p> ValueDe<'de, 'p> {
    pub(super) fn root(value: &'de Value, context: &'p Context<'p>) -> Self {
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

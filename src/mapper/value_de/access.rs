//! Walking arrays, objects and enum variants: serde's access traits over borrowed JSON.

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use serde_json::{Map, Value};

use super::de::ValueDe;
use super::decode::Context;
use super::error::DeError;
use super::node::Node;
use crate::mapper::error::FieldErrorKind;

pub(super) struct Elements<'de, 'p> {
    pub(super) items: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    pub(super) node: &'p Node<'p>,
    pub(super) context: &'p Context<'p>,
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

pub(super) struct Entries<'de, 'p> {
    pub(super) iter: serde_json::map::Iter<'de>,
    pub(super) pending: Option<(&'de str, &'de Value)>,
    pub(super) node: &'p Node<'p>,
    pub(super) context: &'p Context<'p>,
}

impl<'de, 'p> Entries<'de, 'p> {
    pub(super) fn new(
        map: &'de Map<String, Value>,
        node: &'p Node<'p>,
        context: &'p Context<'p>,
    ) -> Self {
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
pub(super) struct Key<'de>(&'de str);

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
pub(super) struct Variant<'de, 'p> {
    pub(super) name: &'de str,
    pub(super) content: Option<&'de Value>,
    pub(super) parent: &'p Node<'p>,
    pub(super) context: &'p Context<'p>,
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

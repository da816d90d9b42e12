//! The `Value` builder behind [`super::parse()`]: like serde_yaml's own `Value` visitor, except
//! that a mapping key already in its mapping, or a merge key (`<<`), fails inside the key's
//! own visit, so serde_yaml's error carries that key's line; the key path and message are left
//! for the caller.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Number, Value};

use crate::key_path::join;

/// Builds one node; `path` names it in a duplicate-key or merge-key message, which is left
/// in `problem` as (key path, message).
pub(super) struct NodeSeed<'d> {
    pub(super) path: String,
    pub(super) problem: &'d RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor {
            seed: self,
            siblings: None,
        })
    }
}

/// Builds a node like serde_yaml's own `Value` visitor. As a mapping key (`siblings` set) it
/// fails on a key already in the mapping, inside the key's own visit so that serde_yaml
/// locates the error at the key.
struct NodeVisitor<'d, 'm> {
    seed: NodeSeed<'d>,
    siblings: Option<&'m Mapping>,
}

impl NodeVisitor<'_, '_> {
    fn done<E: serde::de::Error>(self, value: Value) -> Result<Value, E> {
        let Some(mapping) = self.siblings else {
            return Ok(value);
        };
        if value.as_str() == Some("<<") {
            let key = join(&self.seed.path, "<<");
            let message = "is not supported: `<<` is a YAML merge key, which this runtime \
                does not apply (the keys merged through it would be dropped, security settings \
                included); write the keys out in full instead of merging them"
                .to_string();
            *self.seed.problem.borrow_mut() = Some((key, message.clone()));
            return Err(E::custom(message));
        }
        if !mapping.contains_key(&value) {
            return Ok(value);
        }
        let name = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".into(),
            _ => "(a complex key)".into(),
        };
        let key = join(&self.seed.path, &name);
        let message = format!(
            "is not valid YAML: duplicate key `{key}`: YAML requires the keys of a mapping to \
             be unique, and which value was meant cannot be known; remove one of them"
        );
        *self.seed.problem.borrow_mut() = Some((key, message.clone()));
        Err(E::custom(message))
    }

    fn child(&self, path: String) -> NodeSeed<'_> {
        NodeSeed {
            path,
            problem: self.seed.problem,
        }
    }
}

impl<'de> Visitor<'de> for NodeVisitor<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.done(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.done(Value::Number(Number::from(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.done(Value::Number(Number::from(v)))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.done(Value::Number(Number::from(v)))
    }

    // Integers beyond 64 bits are valid YAML but do not fit a `Number`: they are kept as
    // their digits (a text key keeps them as written via the source map; a number key then
    // reports them out of range).
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Value, E> {
        self.done(Value::String(v.to_string()))
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
        self.done(Value::String(v.to_string()))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.done(Value::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.done(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.done(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.done(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let value = self.child(self.seed.path.clone()).deserialize(d)?;
        self.done(value)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format!("{}[{}]", self.seed.path, items.len())))?
        {
            items.push(item);
        }
        self.done(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        loop {
            let key_seed = KeySeed {
                seed: self.child(self.seed.path.clone()),
                siblings: &mapping,
            };
            let Some(key) = map.next_key_seed(key_seed)? else {
                break;
            };
            let name = match &key {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            let value = map.next_value_seed(self.child(join(&self.seed.path, &name)))?;
            mapping.insert(key, value);
        }
        self.done(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, contents): (String, _) = data.variant()?;
        let tag = if tag.is_empty() { "!".to_owned() } else { tag };
        let value = contents.newtype_variant_seed(self.child(self.seed.path.clone()))?;
        let tagged = TaggedValue {
            tag: Tag::new(tag),
            value,
        };
        self.done(Value::Tagged(Box::new(tagged)))
    }
}

/// A mapping key: a node that must not already be in `siblings`.
struct KeySeed<'d, 'm> {
    seed: NodeSeed<'d>,
    siblings: &'m Mapping,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor {
            seed: self.seed,
            siblings: Some(self.siblings),
        })
    }
}

/// Whether `s` is the digits [`NodeVisitor`] keeps for an integer beyond 64 bits.
pub(super) fn is_big_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    digits.len() >= 19 && digits.bytes().all(|b| b.is_ascii_digit())
}

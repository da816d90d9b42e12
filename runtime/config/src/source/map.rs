//! [`SourceMap`]: what a parsed `Value` cannot keep (scalars' text as written, nodes' lines),
//! found by walking serde_yaml's event stream for the same text alongside the tree.

use std::collections::HashMap;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_yaml::{Mapping, Value};

use super::build::is_big_integer;

/// What [`parse`](super::parse()) cannot keep in a `Value`: the text as written of every
/// number and boolean scalar (so a string-typed key keeps `1.10` rather than the float's
/// `1.1`), and where a node starts. Borrowing the tree for `'v` keeps the addresses valid: the
/// tree cannot move or change while this exists.
#[derive(Debug)]
pub(crate) struct SourceMap<'v> {
    text: &'v str,
    tree: &'v Value,
    raw: HashMap<*const Value, String>,
}

impl<'v> SourceMap<'v> {
    /// Maps `tree`, which must be what [`parse`](super::parse()) returned for `text`. Should
    /// the walk ever disagree with the tree, the texts found so far are kept and the rest fall
    /// back to the parsed values' own text.
    pub(crate) fn new(text: &'v str, tree: &'v Value) -> SourceMap<'v> {
        let mut walk = Walk::default();
        // An error only means the walk stopped early; see above.
        let _ = walk.run(text, tree);
        SourceMap {
            text,
            tree,
            raw: walk.raw,
        }
    }

    /// The text as written of `node`, when it is a number or boolean scalar of the tree.
    pub(crate) fn raw_text(&self, node: &Value) -> Option<&str> {
        self.raw.get(&(node as *const Value)).map(String::as_str)
    }

    /// The 1-based line where `node` (a node of the tree, not inside a tagged value) starts.
    pub(crate) fn line_of(&self, node: &Value) -> Option<usize> {
        let mut walk = Walk {
            stop_at: Some(node as *const Value),
            ..Walk::default()
        };
        let err = walk.run(self.text, self.tree).err()?;
        if walk.stopped {
            err.location().map(|l| l.line())
        } else {
            None
        }
    }
}

/// The state of a walk over the event stream alongside the tree.
#[derive(Default)]
struct Walk {
    /// Number and boolean scalars' text as written, by node address.
    raw: HashMap<*const Value, String>,
    /// Stop with an error at this node (so serde_yaml locates it).
    stop_at: Option<*const Value>,
    /// Whether the walk reached `stop_at`.
    stopped: bool,
}

impl Walk {
    fn run(&mut self, text: &str, tree: &Value) -> Result<(), serde_yaml::Error> {
        let seed = NodeWalk {
            node: tree,
            walk: self,
        };
        seed.deserialize(serde_yaml::Deserializer::from_str(text))
    }
}

/// Walks one node of the event stream, which must be `node` of the tree.
struct NodeWalk<'v, 'w> {
    node: &'v Value,
    walk: &'w mut Walk,
}

impl<'de> DeserializeSeed<'de> for NodeWalk<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.walk.stop_at == Some(self.node as *const Value) {
            self.walk.stopped = true;
            // `Stop` accepts nothing, so serde_yaml fails here and records this node's mark.
            return d.deserialize_any(Stop);
        }
        match self.node {
            Value::Number(_) | Value::Bool(_) => {
                let text = d.deserialize_str(TextVisitor)?;
                self.walk.raw.insert(self.node as *const Value, text);
                Ok(())
            }
            Value::Sequence(items) => d.deserialize_seq(SeqWalk {
                items,
                walk: self.walk,
            }),
            Value::Mapping(mapping) => d.deserialize_map(MapWalk {
                mapping,
                walk: self.walk,
            }),
            Value::String(s) if is_big_integer(s) => {
                let text = d.deserialize_str(TextVisitor)?;
                self.walk.raw.insert(self.node as *const Value, text);
                Ok(())
            }
            Value::Null | Value::String(_) | Value::Tagged(_) => {
                d.deserialize_ignored_any(IgnoredAny).map(|_| ())
            }
        }
    }
}

/// Rejects every value (each `visit_*` is serde's default: an "invalid type" error).
struct Stop;

impl Visitor<'_> for Stop {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing (locating a node)")
    }
}

/// A scalar's text as written.
struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

struct SeqWalk<'v, 'w> {
    items: &'v [Value],
    walk: &'w mut Walk,
}

impl<'de> Visitor<'de> for SeqWalk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for node in self.items {
            let seed = NodeWalk {
                node,
                walk: &mut *self.walk,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Err(A::Error::custom("the sequence is shorter than parsed"));
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct MapWalk<'v, 'w> {
    mapping: &'v Mapping,
    walk: &'w mut Walk,
}

impl<'de> Visitor<'de> for MapWalk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        for (key, value) in self.mapping {
            let seed = NodeWalk {
                node: key,
                walk: &mut *self.walk,
            };
            if map.next_key_seed(seed)?.is_none() {
                return Err(A::Error::custom("the mapping is shorter than parsed"));
            }
            map.next_value_seed(NodeWalk {
                node: value,
                walk: &mut *self.walk,
            })?;
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

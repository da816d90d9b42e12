//! config.yaml's source text, parsed strictly and without losing what was written.
//!
//! serde_yaml's own `Value` parser has three gaps for a configuration file: a duplicate key is
//! reported at the start of the enclosing mapping (line 1 for a top-level key) rather than at
//! the repeated key; a plain scalar such as `1.10` becomes the float `1.1`, so the text the
//! operator wrote is gone; and values carry no line numbers. This module closes them with
//! walks over serde_yaml's event stream (same parser, same text, so the same shape):
//!
//! 1. [`parse`]: a `Value` builder whose mapping-key visitor rejects a repeated key, so
//!    serde_yaml's error carries the repeated key's own line; the key path is kept for the
//!    message.
//! 2. [`SourceMap::new`]: a walk guided by that tree that asks for every number or boolean
//!    scalar as a string (serde_yaml then hands over the scalar's text as written), recorded
//!    by the node's address in the tree.
//! 3. [`SourceMap::line_of`]: the same walk, stopping with an error at one node; serde_yaml
//!    locates the error, which gives that node's line (used for error messages only).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, Error as _, IgnoredAny, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Number, Value};

use crate::lenient::join;

/// Why a YAML text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The 1-based line of the problem, when the parser knows it.
    pub(crate) line: Option<usize>,
    /// The key path of a repeated key (`a2a.port`); empty for other errors.
    pub(crate) key: String,
    /// What is wrong, starting with a verb (`is not valid YAML: …`).
    pub(crate) message: String,
}

/// How deeply collections may nest (serde_yaml's own recursion limit is the same); deeper
/// flow collections are refused by a linear scan before the parser, whose cost grows with the
/// square of the flow depth.
pub(crate) const MAX_DEPTH: usize = 128;

/// Parses one YAML document into a `Value`, rejecting repeated keys and merge keys (`<<`) at
/// their own line. A leading byte-order mark is the caller's to strip.
pub(crate) fn parse(text: &str) -> Result<Value, ParseError> {
    check_flow_depth(text)?;
    let problem = RefCell::new(None);
    let seed = NodeSeed {
        path: String::new(),
        problem: &problem,
    };
    let result = seed.deserialize(serde_yaml::Deserializer::from_str(text));
    result.map_err(|e| {
        let line = e.location().map(|l| l.line());
        match problem.into_inner() {
            Some((key, message)) => ParseError { line, message, key },
            None => ParseError {
                line,
                key: String::new(),
                message: format!("is not valid YAML: {e}"),
            },
        }
    })
}

/// Refuses flow collections (`[…]`, `{…}`) nested deeper than [`MAX_DEPTH`], naming the
/// line, in one pass over the text. Quoted scalars, comments and block scalars are skipped; a
/// `[` or `{` inside a plain scalar in block context (`a: b[c`) is not an indicator.
fn check_flow_depth(text: &str) -> Result<(), ParseError> {
    let mut depth = 0usize;
    // Inside a quoted scalar: the closing quote (quoted scalars may span lines).
    let mut quote: Option<char> = None;
    // Skipping the lines of a block scalar more indented than this.
    let mut block: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block = None;
        }
        let header = block_header(line);
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if let Some(q) = quote {
                let next = chars.peek().map(|&(_, c)| c);
                let escaped =
                    (q == '"' && c == '\\') || (c == q && q == '\'' && next == Some('\''));
                if escaped {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
                prev = c;
                continue;
            }
            let starts = prev == ' '
                || prev == '\t'
                || matches!(prev, '[' | '{' | ',')
                || (depth > 0 && prev == ':');
            match c {
                '#' if prev == ' ' || prev == '\t' => break,
                '"' | '\'' if starts => quote = Some(c),
                '[' | '{' if starts || depth > 0 => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(ParseError {
                            line: Some(i + 1),
                            key: String::new(),
                            message: format!(
                                "is not usable: collections nest deeper than {MAX_DEPTH} \
                                 levels; flatten it"
                            ),
                        });
                    }
                }
                ']' | '}' if depth > 0 => depth -= 1,
                '|' | '>' if starts && depth == 0 && header == Some(at) => {
                    block = Some(indent);
                    break;
                }
                _ => {}
            }
            prev = c;
        }
    }
    Ok(())
}

/// What [`parse`] cannot keep in a `Value`: the text as written of every number and boolean
/// scalar (so a string-typed key keeps `1.10` rather than the float's `1.1`), and where a node
/// starts. Borrowing the tree for `'v` keeps the addresses valid: the tree cannot move or
/// change while this exists.
#[derive(Debug)]
pub(crate) struct SourceMap<'v> {
    text: &'v str,
    tree: &'v Value,
    raw: HashMap<*const Value, String>,
}

impl<'v> SourceMap<'v> {
    /// Maps `tree`, which must be what [`parse`] returned for `text`. Should the walk ever
    /// disagree with the tree, the texts found so far are kept and the rest fall back to the
    /// parsed values' own text.
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

/// Builds one node; `path` names it in a duplicate-key or merge-key message, which is left
/// in `problem` as (key path, message).
struct NodeSeed<'d> {
    path: String,
    problem: &'d RefCell<Option<(String, String)>>,
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

/// Where the indicator of a block scalar header (`key: |`, `- >-`, `|2 # note`) that ends
/// `line` is, if one does.
fn block_header(line: &str) -> Option<usize> {
    let code = line.split(" #").next().unwrap_or(line).trim_end();
    let head = code.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    let at = head.len().checked_sub(1)?;
    let before = head[..at].chars().next_back();
    (head.ends_with(['|', '>']) && matches!(before, None | Some(' ' | '\t'))).then_some(at)
}

/// Whether `s` is the digits [`NodeVisitor`] keeps for an integer beyond 64 bits.
fn is_big_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    digits.len() >= 19 && digits.bytes().all(|b| b.is_ascii_digit())
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

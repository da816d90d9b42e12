//! Reading A2A operation params: the params object parsed from text (an out-of-range number
//! named), typed parses with errors naming the operation, and [`Fields`], the member reader
//! whose errors name the member (A2A 1.0: unknown members are ignored).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::error::{clip, A2aError, A2aResult};

pub(super) fn params<T: for<'de> Deserialize<'de>>(p: Value, what: &str) -> A2aResult<T> {
    let p = if p.is_null() { json!({}) } else { p };
    serde_json::from_value(p)
        .map_err(|e| A2aError::InvalidParams(format!("{what}: {}", clip(&e.to_string()))))
}

/// Parses a params object (JSON-RPC `params`, a REST body). Valid JSON holding a number no
/// `f64` can hold (`1e400`) is -32602 naming the member and repeating the number as written;
/// anything else that does not parse is -32700.
pub(crate) fn parse_params(text: &str) -> A2aResult<Value> {
    serde_json::from_str(text).map_err(|e| match unfit_number(text, "") {
        Some((path, number)) => A2aError::InvalidParams(format!(
            "`{path}`: the number {} is out of range",
            clip(&number)
        )),
        None => A2aError::Parse(e.to_string()),
    })
}

/// The path and text of the first number in the JSON `text` that does not fit a JSON value
/// here (out of `f64` range), or `None` (also when `text` is not valid JSON).
fn unfit_number(text: &str, path: &str) -> Option<(String, String)> {
    match text.trim_start().as_bytes().first()? {
        b'{' => {
            let members: std::collections::BTreeMap<String, &RawValue> =
                serde_json::from_str(text).ok()?;
            members.iter().find_map(|(k, v)| {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                unfit_number(v.get(), &path)
            })
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| unfit_number(v.get(), &format!("{path}[{i}]")))
        }
        b'-' | b'0'..=b'9' => serde_json::from_str::<Value>(text)
            .is_err()
            .then(|| (path.to_string(), text.trim().to_string())),
        _ => None,
    }
}

/// Reads the members of a params object with errors that name the member. An out-of-range
/// or mistyped value is refused (-32602 naming the field), never clamped or ignored. A
/// member that is `null` counts as absent; unknown members are ignored (A2A: "Unknown fields
/// are ignored").
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Prepended to member names in errors, e.g. `configuration.`.
    prefix: &'a str,
    /// The object's JSON text as the client wrote it, when known: errors repeat a bad number
    /// as written (`-0`, not `-0.0`).
    raw: Option<&'a str>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Fields<'a> {
    /// The members of `p` (`null` = no members); anything but an object is an error naming
    /// `what`.
    pub(super) fn of(
        p: &'a Value,
        prefix: &'a str,
        what: &str,
        raw: Option<&'a str>,
    ) -> A2aResult<Self> {
        let map = match p {
            Value::Object(map) => map,
            Value::Null => &EMPTY,
            other => {
                return Err(A2aError::InvalidParams(format!(
                    "`{what}` must be an object, got {}",
                    kind(other)
                )))
            }
        };
        Ok(Fields { map, prefix, raw })
    }

    /// The JSON text of member `key` as the client wrote it, when known.
    pub(super) fn written(&self, key: &str) -> Option<String> {
        let members: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(self.raw?).ok()?;
        members.get(key).map(|v| v.get().trim().to_string())
    }

    /// A member's value for an error text: a number as written, else [`shown`].
    fn shown(&self, key: &str, v: &Value) -> String {
        match v {
            Value::Number(_) => self
                .written(key)
                .map_or_else(|| shown(v), |text| clip(&text)),
            _ => shown(v),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string member.
    pub(super) fn string(&self, key: &str) -> A2aResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(A2aError::InvalidParams(format!(
                "`{}` must be a string, got {}",
                self.name(key),
                kind(other)
            ))),
        }
    }

    /// A required string member.
    pub(super) fn required_string(&self, key: &str) -> A2aResult<String> {
        self.string(key)?
            .ok_or_else(|| A2aError::InvalidParams(format!("missing field `{}`", self.name(key))))
    }

    /// An optional boolean member.
    pub(super) fn bool(&self, key: &str) -> A2aResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(A2aError::InvalidParams(format!(
                "`{}` must be true or false, got {}",
                self.name(key),
                self.shown(key, other)
            ))),
        }
    }

    /// An optional integer member in `min..=max`. As in the protobuf JSON mapping, a whole
    /// number may also be written as a string of digits (`"10"`, as a REST query gives it;
    /// surrounding whitespace is refused, as protojson does) or with a zero fraction (`10.0`,
    /// `1e1`).
    pub(super) fn int(&self, key: &str, min: i64, max: i64) -> A2aResult<Option<i64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let name = self.name(key);
        let got = self.shown(key, v);
        let range = || {
            A2aError::InvalidParams(format!(
                "`{name}` must be between {min} and {max}, got {got}"
            ))
        };
        let not_int = || {
            A2aError::InvalidParams(format!(
                "`{name}` must be a whole number between {min} and {max}, got {got}"
            ))
        };
        let n: i64 = match v {
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i,
                (None, Some(_), _) => return Err(range()),
                (None, None, Some(f)) if f.is_finite() && f.fract() == 0.0 => {
                    // Beyond i64 is out of range whatever the bounds are.
                    if f.abs() >= 9.2e18 {
                        return Err(range());
                    }
                    f as i64
                }
                _ => return Err(not_int()),
            },
            Value::String(s) if s.trim() != s => return Err(not_int()),
            Value::String(s) => match s.parse::<i64>() {
                Ok(i) => i,
                Err(e) => {
                    return Err(match e.kind() {
                        std::num::IntErrorKind::PosOverflow
                        | std::num::IntErrorKind::NegOverflow => range(),
                        _ => not_int(),
                    })
                }
            },
            _ => return Err(not_int()),
        };
        if (min..=max).contains(&n) {
            Ok(Some(n))
        } else {
            Err(range())
        }
    }
}

/// "a string", "an object", ... for error texts.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a scalar value for error texts (its kind for containers).
fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind(v).to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}…", s.chars().take(40).collect::<String>())
        }
        other => other.to_string(),
    }
}

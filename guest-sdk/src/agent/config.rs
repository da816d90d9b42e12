//! The adapter's view of the setup configuration: the workspace config.yaml after defaults, as
//! JSON, plus the keys the host adds (`system_prompt`, `runtime`, `model`, `runtime_config`,
//! `name`, `description`). `RuntimeConfig` reads `runtime_config` keys with defaults and errors
//! that name the key (`runtime_config.max_turns: expected a whole number ≥ 0, got "ten"`).
//! `SetupCell` carries the parsed configuration from `setup` to `execute` (same instance).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Mutex;

/// The setup configuration an adapter receives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    /// The system prompt the host assembled (prompt files, plugins, skills); may be empty.
    pub system_prompt: String,
    /// The configured runtime name (should equal the adapter's name).
    pub runtime: Option<String>,
    /// The resolved `provider:model` of the workspace.
    pub model: Option<String>,
    /// Workspace name.
    pub name: String,
    /// Workspace description.
    pub description: String,
    /// Workspace role, if configured.
    pub role: String,
    /// The `runtime_config` object.
    pub runtime_config: RuntimeConfig,
    /// The whole configuration, for keys not modelled here.
    pub raw: Value,
}

impl AgentConfig {
    /// Reads the configuration. Only the shape of the host-added keys is checked: a non-string
    /// `system_prompt` or a non-object `runtime_config` is an error naming the key.
    pub fn from_value(config: Value) -> Result<Self, String> {
        let obj = match &config {
            Value::Object(obj) => obj,
            Value::Null => return Ok(Self::default()),
            other => {
                return Err(format!(
                    "configuration must be a JSON object, got {}",
                    kind(other)
                ))
            }
        };
        let text = |key: &str| -> Result<Option<String>, String> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!("`{key}` must be a string, got {}", kind(other))),
            }
        };
        let runtime_config = match obj.get("runtime_config") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                return Err(format!(
                    "`runtime_config` must be an object, got {}",
                    kind(other)
                ))
            }
        };
        Ok(AgentConfig {
            system_prompt: text("system_prompt")?.unwrap_or_default(),
            runtime: text("runtime")?,
            model: text("model")?.filter(|m| !m.is_empty()),
            name: text("name")?.unwrap_or_default(),
            description: text("description")?.unwrap_or_default(),
            role: text("role")?.unwrap_or_default(),
            runtime_config: RuntimeConfig(runtime_config),
            raw: config,
        })
    }
}

/// The `runtime_config` object with typed getters. Absent and `null` keys take the default; a
/// present key of the wrong type is an error naming `runtime_config.<key>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConfig(pub Map<String, Value>);

impl RuntimeConfig {
    /// A runtime config from a JSON value (an object, or null for empty).
    pub fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(Self::default()),
            Value::Object(map) => Ok(Self(map)),
            other => Err(format!(
                "`runtime_config` must be an object, got {}",
                kind(&other)
            )),
        }
    }

    /// The raw value of `key`, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string key, `None` when absent; an empty string counts as absent.
    pub fn str(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong(key, "a string", other)),
        }
    }

    /// A string key with a default.
    pub fn str_or(&self, key: &str, default: &str) -> Result<String, String> {
        Ok(self.str(key)?.unwrap_or_else(|| default.to_string()))
    }

    /// A whole number ≥ 0 (a numeric string is accepted too), `None` when absent.
    pub fn u32(&self, key: &str) -> Result<Option<u32>, String> {
        let expected = "a whole number ≥ 0";
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| wrong(key, expected, &Value::Number(n.clone()))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| wrong(key, expected, &Value::String(s.clone()))),
            Some(other) => Err(wrong(key, expected, other)),
        }
    }

    /// A whole number ≥ 0 with a default.
    pub fn u32_or(&self, key: &str, default: u32) -> Result<u32, String> {
        Ok(self.u32(key)?.unwrap_or(default))
    }

    /// A number (a numeric string is accepted too), `None` when absent.
    pub fn f32(&self, key: &str) -> Result<Option<f32>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f as f32)),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| wrong(key, "a number", &Value::String(s.clone()))),
            Some(other) => Err(wrong(key, "a number", other)),
        }
    }

    /// A boolean (also `"true"`/`"false"`, `"yes"`/`"no"`, `"1"`/`"0"`) with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(wrong(key, "a boolean", &Value::String(s.clone()))),
            },
            Some(other) => Err(wrong(key, "a boolean", other)),
        }
    }

    /// A list of strings (a single string counts as a one-element list); empty when absent.
    pub fn string_list(&self, key: &str) -> Result<Vec<String>, String> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong(&format!("{key}[{i}]"), "a string", other)),
                })
                .collect(),
            Some(other) => Err(wrong(key, "a list of strings", other)),
        }
    }

    /// Deserializes `key` into `T`, `None` when absent. Errors name the exact path, e.g.
    /// ``runtime_config.tasks[1]: missing field `description` ``.
    pub fn parse<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        serde_path_to_error::deserialize(value.clone())
            .map(Some)
            .map_err(|e| {
                let path = e.path().to_string();
                let at = if path == "." || path.is_empty() {
                    format!("runtime_config.{key}")
                } else if path.starts_with('[') {
                    format!("runtime_config.{key}{path}")
                } else {
                    format!("runtime_config.{key}.{path}")
                };
                format!("{at}: {}", e.into_inner())
            })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong(key: &str, expected: &str, got: &Value) -> String {
    let mut shown = got.to_string();
    if shown.len() > 60 {
        let cut = (0..=60)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    format!("runtime_config.{key}: expected {expected}, got {shown}")
}

/// Holds what `setup` prepared until `execute` runs on the same instance.
pub struct SetupCell<T>(Mutex<Option<T>>);

impl<T: Clone> SetupCell<T> {
    /// An empty cell, usable in a `static`.
    pub const fn new() -> Self {
        SetupCell(Mutex::new(None))
    }

    /// Stores the prepared value.
    pub fn set(&self, value: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }

    /// A copy of the prepared value, or an error when `setup` did not run (or failed).
    pub fn get(&self) -> Result<T, String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| "adapter not configured: setup did not run or failed".to_string())
    }
}

impl<T: Clone> Default for SetupCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn rc(value: Value) -> RuntimeConfig {
        RuntimeConfig::from_value(value).unwrap()
    }

    #[test]
    fn reads_host_keys() {
        let cfg = AgentConfig::from_value(json!({
            "system_prompt": "be nice", "model": "anthropic:claude", "runtime": "langgraph",
            "runtime_config": {"max_turns": 3}, "name": "W"
        }))
        .unwrap();
        assert_eq!(cfg.system_prompt, "be nice");
        assert_eq!(cfg.model.as_deref(), Some("anthropic:claude"));
        assert_eq!(cfg.runtime_config.u32_or("max_turns", 9).unwrap(), 3);
        assert!(AgentConfig::from_value(json!({"runtime_config": 3}))
            .unwrap_err()
            .contains("`runtime_config` must be an object"));
        assert_eq!(
            AgentConfig::from_value(Value::Null).unwrap(),
            AgentConfig::default()
        );
    }

    #[test]
    fn typed_getters_default_and_explain() {
        let c = rc(json!({"n": "7", "bad": "ten", "neg": -1, "b": "yes", "l": "one", "f": 0.5}));
        assert_eq!(c.u32_or("n", 1).unwrap(), 7);
        assert_eq!(c.u32_or("missing", 4).unwrap(), 4);
        assert_eq!(
            c.u32("bad").unwrap_err(),
            "runtime_config.bad: expected a whole number ≥ 0, got \"ten\""
        );
        assert!(c.u32("neg").unwrap_err().contains("got -1"));
        assert!(c.bool_or("b", false).unwrap());
        assert_eq!(c.string_list("l").unwrap(), vec!["one".to_string()]);
        assert_eq!(c.f32("f").unwrap(), Some(0.5));
        assert!(c.str("n").unwrap().is_some());
        assert!(c.str("neg").unwrap_err().contains("expected a string"));
    }

    #[test]
    fn parse_names_the_path() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Task {
            description: String,
        }
        let c = rc(json!({"tasks": [{"description": "a"}, {"agent": "x"}]}));
        let err = c.parse::<Vec<Task>>("tasks").unwrap_err();
        assert_eq!(err, "runtime_config.tasks[1]: missing field `description`");
        assert!(c.parse::<Vec<Task>>("none").unwrap().is_none());
    }

    #[test]
    fn setup_cell() {
        static CELL: SetupCell<u8> = SetupCell::new();
        assert!(CELL.get().unwrap_err().contains("setup did not run"));
        CELL.set(4);
        assert_eq!(CELL.get().unwrap(), 4);
    }
}

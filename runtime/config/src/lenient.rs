//! Lenient reading of YAML values: a missing or null key yields the default silently (but a
//! null limit of untrusted code is an error, see [`Reader::limit_bytes`], and a null read
//! through [`Reader::present`] warns), a value of the wrong type or out of range yields the
//! default plus a [`Warning`] naming the key path and the value's line.
//! Security settings use [`Reader::fail`] instead: their problems are errors (preflight FAILs),
//! never a silent default. Text values keep the scalar as written (`1.10`, not `1.1`) when the
//! reader has the source's [`SourceMap`], which also gives errors their line.

use std::path::Path;
use std::time::Duration;

use serde_yaml::{Mapping, Value};

use crate::source::SourceMap;
use crate::units::{format_duration, parse_bytes, parse_duration, seconds};
use crate::warning::Warning;

/// Reads typed values out of a `serde_yaml::Value` tree, collecting warnings and errors for
/// `file`.
pub(crate) struct Reader<'a> {
    file: &'a Path,
    /// Scalars' text as written and nodes' lines, when the tree came from
    /// [`crate::source::parse()`].
    source: Option<&'a SourceMap<'a>>,
    /// Warnings collected so far, in the order the keys were read.
    pub(crate) warnings: Vec<Warning>,
    /// Errors collected so far: unusable security settings (preflight FAILs on each).
    pub(crate) errors: Vec<Warning>,
}

/// The value under `key` in `map`, treating a null value like an absent key.
pub(crate) fn field<'v>(map: &'v Value, key: &str) -> Option<&'v Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// A short description of `value` for messages: `a list`, `the string "abc"`, …
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => "a long string".into(),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A scalar as text (strings, numbers and booleans); `None` for lists and mappings.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Reader<'a> {
    /// A reader whose warnings name `file`; text values are the parsed values' text.
    pub(crate) fn new(file: &'a Path) -> Self {
        Reader {
            file,
            source: None,
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// A reader whose text values are the scalars as written in `source`.
    pub(crate) fn with_source(file: &'a Path, source: &'a SourceMap<'a>) -> Self {
        Reader {
            source: Some(source),
            ..Reader::new(file)
        }
    }

    /// Records a warning about `key`.
    pub(crate) fn warn(&mut self, key: &str, message: impl Into<String>) {
        self.warnings
            .push(Warning::in_file(self.file, key, message.into()));
    }

    /// Records a warning about `key`, located at `node` (a node of the tree) when the source
    /// is known.
    pub(crate) fn warn_at(&mut self, key: &str, node: &Value, message: impl Into<String>) {
        let mut w = Warning::in_file(self.file, key, message.into());
        w.line = self.source.and_then(|s| s.line_of(node));
        self.warnings.push(w);
    }

    /// Records an error about `key`, whose value is `node`: a security setting that is
    /// present but unusable. The error carries the node's line when the source is known.
    /// The folder of the file being read (config.yaml's config folder): relative paths in
    /// config.yaml are resolved against it.
    pub(crate) fn config_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    pub(crate) fn fail(&mut self, key: &str, node: &Value, message: impl Into<String>) {
        let mut error = Warning::in_file(self.file, key, message.into());
        error.line = self.source.and_then(|s| s.line_of(node));
        self.errors.push(error);
    }

    /// A scalar as text, as written in the source when known (`1.10` stays `1.10`); strings,
    /// numbers and booleans, `None` for lists, mappings, null and tagged values.
    pub(crate) fn text(&self, value: &Value) -> Option<String> {
        match (value, self.source.and_then(|s| s.raw_text(value))) {
            (Value::Number(_) | Value::Bool(_) | Value::String(_), Some(raw)) => {
                Some(raw.to_owned())
            }
            _ => scalar_text(value),
        }
    }

    fn wrong(&mut self, key: &str, expected: &str, found: &Value, default: &str) {
        self.warn_at(
            key,
            found,
            format!(
                "expected {expected}, found {}; using the default {default}",
                describe(found)
            ),
        );
    }

    /// A mapping under `key`; anything else warns and yields `None`.
    pub(crate) fn mapping<'v>(&mut self, value: Option<&'v Value>, key: &str) -> Option<&'v Value> {
        match value {
            None => None,
            Some(v @ Value::Mapping(_)) => Some(v),
            Some(other) => {
                self.warn_at(
                    key,
                    other,
                    format!("expected a mapping, found {}; ignoring it", describe(other)),
                );
                None
            }
        }
    }

    /// A mapping under `key` that holds security settings (`holds` names them): anything else
    /// is an error rather than a section of defaults.
    pub(crate) fn secure_mapping<'v>(
        &mut self,
        value: Option<&'v Value>,
        key: &str,
        holds: &str,
    ) -> Option<&'v Value> {
        match value {
            None => None,
            Some(v @ Value::Mapping(_)) => Some(v),
            Some(other) => {
                self.fail(
                    key,
                    other,
                    format!(
                        "expected a mapping, found {}; it holds {holds}, so it is not replaced \
                         by defaults: fix it or remove it",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// The entries of a mapping as (key text, value) pairs; non-string keys warn and are skipped.
    pub(crate) fn entries<'v>(&mut self, map: &'v Value, key: &str) -> Vec<(String, &'v Value)> {
        let Value::Mapping(m) = map else {
            return Vec::new();
        };
        let m: &Mapping = m;
        let mut out = Vec::new();
        for (k, v) in m {
            match self.text(k) {
                Some(name) => out.push((name, v)),
                None => self.warn_at(
                    key,
                    k,
                    format!("ignoring an entry whose key is {}", describe(k)),
                ),
            }
        }
        out
    }

    /// An optional text value; numbers and booleans are accepted as their text.
    pub(crate) fn opt_string(&mut self, value: Option<&Value>, key: &str) -> Option<String> {
        let v = value?;
        match self.text(v) {
            Some(s) => Some(s),
            None => {
                self.warn_at(
                    key,
                    v,
                    format!("expected a string, found {}; ignoring it", describe(v)),
                );
                None
            }
        }
    }

    /// A text value, or `default`.
    pub(crate) fn string(&mut self, value: Option<&Value>, key: &str, default: &str) -> String {
        match value {
            None => default.to_string(),
            Some(v) => match self.text(v) {
                Some(s) => s,
                None => {
                    self.wrong(key, "a string", v, &format!("\"{default}\""));
                    default.to_string()
                }
            },
        }
    }

    /// An integer within `min..=max` (numeric strings accepted), or `default`.
    pub(crate) fn int(
        &mut self,
        value: Option<&Value>,
        key: &str,
        (min, max): (i64, i64),
        default: i64,
    ) -> i64 {
        let Some(v) = value else { return default };
        let parsed = match v {
            Value::Number(n) => n.as_i64().map(i128::from),
            Value::String(s) => s.trim().parse::<i128>().ok(),
            _ => None,
        };
        let digits = |s: &str| {
            let d = s.trim().trim_start_matches(['-', '+']);
            !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
        };
        if let Some(n) = parsed.filter(|n| (i128::from(min)..=i128::from(max)).contains(n)) {
            return i64::try_from(n).unwrap_or(default);
        }
        let written = self.text(v).filter(|t| parsed.is_some() || digits(t));
        match written {
            Some(n) => self.warn_at(
                key,
                v,
                format!("{n} is out of range {min}–{max}; using the default {default}"),
            ),
            None => self.wrong(key, "an integer", v, &default.to_string()),
        }
        default
    }

    /// A number of seconds ≥ 0 (numeric strings accepted), or `default`.
    pub(crate) fn non_negative(&mut self, value: Option<&Value>, key: &str, default: f64) -> f64 {
        let Some(v) = value else { return default };
        let parsed = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n.is_finite() && n >= 0.0 => n,
            _ => {
                self.wrong(key, "a number ≥ 0", v, &default.to_string());
                default
            }
        }
    }

    /// A boolean (`true/false`, also the strings yes/no/on/off/1/0), or `default`.
    pub(crate) fn bool(&mut self, value: Option<&Value>, key: &str, default: bool) -> bool {
        let Some(v) = value else { return default };
        let parsed = match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => parse_flag(s),
            Value::Number(n) => n.as_i64().and_then(|n| match n {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            }),
            _ => None,
        };
        parsed.unwrap_or_else(|| {
            self.wrong(key, "true or false", v, &default.to_string());
            default
        })
    }

    /// A list of strings. A single string counts as a one-element list; non-text items warn
    /// (naming `key[i]`) and are skipped. `None` when absent or not a list.
    pub(crate) fn string_list(&mut self, value: Option<&Value>, key: &str) -> Option<Vec<String>> {
        match value? {
            Value::Sequence(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        let text = self.text(item);
                        if text.is_none() {
                            self.warn_at(
                                &format!("{key}[{i}]"),
                                item,
                                format!("expected a string, found {}; skipping it", describe(item)),
                            );
                        }
                        text
                    })
                    .collect(),
            ),
            Value::String(s) => Some(vec![s.clone()]),
            other => {
                self.warn_at(
                    key,
                    other,
                    format!(
                        "expected a list, found {}; using the default",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// The items of a list (a non-list warns and yields nothing).
    pub(crate) fn items<'v>(&mut self, value: Option<&'v Value>, key: &str) -> &'v [Value] {
        match value {
            None => &[],
            Some(Value::Sequence(items)) => items,
            Some(other) => {
                self.warn_at(
                    key,
                    other,
                    format!("expected a list, found {}; ignoring it", describe(other)),
                );
                &[]
            }
        }
    }

    /// An optional byte size; a bad one warns (mentioning `fallback`) and yields `None`.
    pub(crate) fn opt_bytes(
        &mut self,
        value: Option<&Value>,
        key: &str,
        fallback: &str,
    ) -> Option<u64> {
        let value = value?;
        match self.bytes_of(value) {
            Ok(n) => Some(n),
            Err(e) => {
                self.warn_at(key, value, format!("{e}; using {fallback}"));
                None
            }
        }
    }

    /// A duration (`30s`, `500ms`, or a number of seconds), or `default`.
    pub(crate) fn duration(
        &mut self,
        value: Option<&Value>,
        key: &str,
        default: Duration,
    ) -> Duration {
        self.opt_duration(value, key, &format_duration(default))
            .unwrap_or(default)
    }

    /// An optional duration; a bad one warns (mentioning `fallback`) and yields `None`.
    pub(crate) fn opt_duration(
        &mut self,
        value: Option<&Value>,
        key: &str,
        fallback: &str,
    ) -> Option<Duration> {
        let value = value?;
        match self.duration_of(value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.warn_at(key, value, format!("{e}; using {fallback}"));
                None
            }
        }
    }

    /// A memory limit for untrusted code (a security setting): `None` when absent; a value
    /// that cannot be read is an error, since any fallback could raise the limit.
    pub(crate) fn limit_bytes(&mut self, value: Option<&Value>, key: &str) -> Option<u64> {
        let v = self.not_null_limit(value?, key)?;
        self.bytes_of(v)
            .map_err(|e| self.fail(key, v, format!("{e}; {LIMIT_HINT}")))
            .ok()
    }

    /// A time limit for untrusted code (a security setting), like [`Reader::limit_bytes`].
    pub(crate) fn limit_duration(&mut self, value: Option<&Value>, key: &str) -> Option<Duration> {
        let v = self.not_null_limit(value?, key)?;
        self.duration_of(v)
            .map_err(|e| self.fail(key, v, format!("{e}; {LIMIT_HINT}")))
            .ok()
    }
}

impl Reader<'_> {
    /// `value` unless it is null, which is an error for a limit (`memory_limit: ~`).
    fn not_null_limit<'v>(&mut self, value: &'v Value, key: &str) -> Option<&'v Value> {
        if !value.is_null() {
            return Some(value);
        }
        self.fail(
            key,
            value,
            "is empty (null); an empty limit is not read as the default (which could raise \
             it): write a value, or remove the key to use the default",
        );
        None
    }
}

/// What an unusable limit error says to do.
pub(crate) const LIMIT_HINT: &str = "a limit whose value is unusable is not replaced by a \
    default (which could raise it); fix the value or remove the key";

impl Reader<'_> {
    /// A byte size from a number of bytes or text such as `256m`; errors echo the value as
    /// written (`1e3`, not `1000.0`).
    fn bytes_of(&self, value: &Value) -> Result<u64, String> {
        match self.text(value) {
            Some(text) => parse_bytes(&text),
            None => Err(format!("expected a size, found {}", describe(value))),
        }
    }

    /// A duration from a number of seconds or text such as `30s`; errors echo the value as
    /// written.
    fn duration_of(&self, value: &Value) -> Result<Duration, String> {
        match value {
            Value::Number(n) => n.as_f64().and_then(seconds).ok_or_else(|| {
                let written = self.text(value).unwrap_or_else(|| n.to_string());
                format!("`{written}` must be a positive number of seconds")
            }),
            Value::String(s) => parse_duration(s),
            other => Err(format!("expected a duration, found {}", describe(other))),
        }
    }

    /// The value of the lenient key `name` in `map` (full key `key`): absent → `None`
    /// silently; null (`idle_timeout: ~`) → `None` with a warning at its line saying that
    /// `default` applies, since an empty value is more likely a mistake than a wish for it.
    pub(crate) fn present<'v>(
        &mut self,
        map: &'v Value,
        name: &str,
        key: &str,
        default: &str,
    ) -> Option<&'v Value> {
        let value = map.get(name)?;
        if value.is_null() {
            self.warn_at(
                key,
                value,
                format!("is empty (null); using {default}: write a value, or remove the key"),
            );
            return None;
        }
        Some(value)
    }
}

/// Parses a flag as the runtime accepts it everywhere: 1/true/yes/on and 0/false/no/off.
pub(crate) fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

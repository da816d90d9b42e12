//! Declaring and exporting the tools of a skill component.
//!
//! A `Skill` is a list of `Tool`s; each tool is a name, a description for the model, a JSON
//! Schema of its input and a type-erased handler `&str -> Result<String, ToolError>` built from
//! an author's typed function `I -> Result<O, E>` (I: Deserialize, O: Serialize,
//! E: Into<ToolError>). `export_skill!` implements the WIT `tool` interface by building the
//! skill on each call (cheap: a component instance is fresh per call anyway) and delegating to
//! `Skill::describe` / `Skill::call`. Everything here is plain Rust, so authors can unit-test
//! their skills natively through `Skill::call`.

use crate::types::{ToolError, ToolSpec};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

type Handler = Box<dyn Fn(&str) -> Result<String, ToolError> + Send + Sync>;

/// One tool: a name, a description for the model, the JSON Schema of its input and a handler.
pub struct Tool {
    name: String,
    description: String,
    input_schema: Value,
    handler: Handler,
}

impl Tool {
    /// Declares a tool whose handler takes a typed input and returns a serializable output.
    ///
    /// `input_schema` is the JSON Schema (draft 2020-12) of the input object, usually written
    /// with [`json!`](crate::json). The handler's input is deserialized from the call's JSON
    /// (an empty string counts as `{}`); a failure becomes [`ToolError::InvalidInput`] naming
    /// the field. Its `Ok` value is serialized to JSON; its `Err` converts into [`ToolError`].
    ///
    /// # Panics
    ///
    /// If `name` is not 1–64 characters of `[a-z0-9_-]`, as the WIT requires.
    pub fn new<I, O, E, F>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: F,
    ) -> Self
    where
        I: DeserializeOwned,
        O: Serialize,
        E: Into<ToolError>,
        F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    {
        let name = name.into();
        assert!(
            valid_tool_name(&name),
            "molecule-guest-sdk: invalid tool name {name:?}: use 1-64 characters of [a-z0-9_-]"
        );
        Tool {
            name,
            description: description.into(),
            input_schema,
            handler: Box::new(move |input: &str| {
                let input: I = parse_input(input)?;
                let output = handler(input).map_err(Into::into)?;
                serde_json::to_string(&output)
                    .map_err(|e| ToolError::Failed(format!("could not serialize the output: {e}")))
            }),
        }
    }

    /// Declares a tool whose handler works on raw JSON text (no parsing or serialization).
    ///
    /// # Panics
    ///
    /// If `name` is not 1–64 characters of `[a-z0-9_-]`.
    pub fn raw<F>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: F,
    ) -> Self
    where
        F: Fn(&str) -> Result<String, ToolError> + Send + Sync + 'static,
    {
        let name = name.into();
        assert!(
            valid_tool_name(&name),
            "molecule-guest-sdk: invalid tool name {name:?}: use 1-64 characters of [a-z0-9_-]"
        );
        Tool {
            name,
            description: description.into(),
            input_schema,
            handler: Box::new(handler),
        }
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tool's description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of the tool's input.
    pub fn input_schema(&self) -> &Value {
        &self.input_schema
    }

    /// The WIT `tool-spec` describing this tool.
    pub fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            input_schema: self.input_schema.to_string(),
        }
    }

    /// Runs the tool on JSON text `input` and returns its JSON text output.
    pub fn call(&self, input: &str) -> Result<String, ToolError> {
        (self.handler)(input)
    }
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("input_schema", &self.input_schema)
            .finish_non_exhaustive()
    }
}

/// The tools a skill component offers. Build one in a function and export it with
/// [`export_skill!`](crate::export_skill).
#[derive(Debug, Default)]
pub struct Skill {
    tools: Vec<Tool>,
}

impl Skill {
    /// A skill with no tools yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool with a typed handler; see [`Tool::new`].
    ///
    /// # Panics
    ///
    /// If the name is invalid or already declared.
    pub fn tool<I, O, E, F>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: F,
    ) -> Self
    where
        I: DeserializeOwned,
        O: Serialize,
        E: Into<ToolError>,
        F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    {
        self.with(Tool::new(name, description, input_schema, handler))
    }

    /// Adds an already built [`Tool`].
    ///
    /// # Panics
    ///
    /// If a tool of the same name is already declared.
    pub fn with(mut self, tool: Tool) -> Self {
        assert!(
            self.find(&tool.name).is_none(),
            "molecule-guest-sdk: tool {:?} is declared twice",
            tool.name
        );
        self.tools.push(tool);
        self
    }

    /// The declared tools, in declaration order.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The tool called `name`, if declared.
    pub fn find(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// What the WIT `tool.describe` returns: one spec per tool, in declaration order.
    pub fn describe(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(Tool::spec).collect()
    }

    /// What the WIT `tool.call` does: runs tool `name` on JSON text `input`. An unknown name is
    /// [`ToolError::NotFound`] listing the tools that exist.
    pub fn call(&self, name: &str, input: &str) -> Result<String, ToolError> {
        match self.find(name) {
            Some(tool) => tool.call(input),
            None => Err(ToolError::NotFound(format!(
                "no tool named `{name}`; this skill offers: {}",
                self.tools
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// [`Skill::call`] on JSON values, convenient in unit tests.
    pub fn call_value(&self, name: &str, input: &Value) -> Result<Value, ToolError> {
        let out = self.call(name, &input.to_string())?;
        serde_json::from_str(&out)
            .map_err(|e| ToolError::Failed(format!("tool output is not JSON: {e}")))
    }
}

/// Whether `name` is a valid WIT tool name: 1–64 characters of `[a-z0-9_-]`.
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses a tool's JSON text input into `I`, with errors that name the offending field.
///
/// An empty (or all-whitespace) input counts as `{}`. `I` is read straight from the text (no
/// `serde_json::Value` in between), so a field may be a
/// [`Box<RawValue>`](serde_json::value::RawValue) to get that part of the input verbatim, and
/// numbers reach typed fields exactly as written.
pub fn parse_input<I: DeserializeOwned>(input: &str) -> Result<I, ToolError> {
    let text = input.trim();
    let text = if text.is_empty() { "{}" } else { text };
    // Syntax first, so a malformed input is reported as such even where a field's type is
    // wrong before the error.
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| ToolError::InvalidInput(format!("input is not valid JSON: {e}")))?;
    // serde_json's own deserializer first: it hands `RawValue` fields the exact input text
    // (through a wrapper such as serde_path_to_error, numbers would be re-spelled under
    // `arbitrary_precision`). Only a failure is parsed again, to name the field.
    if let Ok(value) = serde_json::from_str::<I>(text) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value: I = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = without_position(err.inner());
        if path == "." {
            ToolError::InvalidInput(inner)
        } else {
            ToolError::InvalidInput(format!("field `{path}`: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ToolError::InvalidInput(format!("input is not valid JSON: {e}")))?;
    Ok(value)
}

/// A serde_json error's message without the ` at line L column C` suffix: the field path
/// already says where, and the position in a one-line tool input helps nobody.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => text,
    }
}

/// Exports a skill: implements the WIT `tool` interface (`describe` and `call`) from a
/// function returning a [`Skill`].
///
/// Invoke it once, at the top level of the component's crate (a `cdylib`):
///
/// ```no_run
/// # use molecule_guest_sdk::{export_skill, json, Skill, ToolError};
/// fn ping(_: serde_json::Value) -> Result<&'static str, ToolError> {
///     Ok("pong")
/// }
///
/// fn skill() -> Skill {
///     Skill::new().tool("ping", "Answers pong.", json!({"type": "object"}), ping)
/// }
///
/// export_skill!(skill);
/// ```
#[macro_export]
macro_rules! export_skill {
    ($skill:path) => {
        const _: () = {
            struct MoleculeSkillExport;

            impl $crate::bindings::exports::molecule::runtime::tool::Guest for MoleculeSkillExport {
                fn describe() -> ::std::vec::Vec<$crate::types::ToolSpec> {
                    let skill: $crate::Skill = $skill();
                    skill.describe()
                }

                fn call(
                    name: ::std::string::String,
                    input: ::std::string::String,
                ) -> ::std::result::Result<::std::string::String, $crate::types::ToolError>
                {
                    let skill: $crate::Skill = $skill();
                    skill.call(&name, &input)
                }
            }

            $crate::bindings::__export_skill_world!(
                MoleculeSkillExport with_types_in $crate::bindings
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct AddInput {
        a: i64,
        b: i64,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Deserialize)]
    struct Nested {
        #[allow(dead_code)]
        flag: bool,
    }

    fn add(input: AddInput) -> Result<i64, ToolError> {
        Ok(input.a + input.b + i64::from(input.nested.is_some()))
    }

    fn denied(_: Value) -> Result<(), crate::types::HostError> {
        Err(crate::types::HostError::Denied("memory not granted".into()))
    }

    fn skill() -> Skill {
        Skill::new()
            .tool("add", "Adds.", json!({"type": "object"}), add)
            .tool("denied", "Always denied.", json!({}), denied)
    }

    fn invalid(r: Result<String, ToolError>) -> String {
        match r {
            Err(ToolError::InvalidInput(t)) => t,
            other => panic!("expected invalid-input, got {other:?}"),
        }
    }

    #[test]
    fn describe_lists_tools_in_order() {
        let specs = skill().describe();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name, "add");
        assert_eq!(specs[0].description, "Adds.");
        assert_eq!(specs[0].input_schema, r#"{"type":"object"}"#);
        assert_eq!(specs[1].name, "denied");
    }

    #[test]
    fn call_dispatches_and_serializes() {
        assert_eq!(skill().call("add", r#"{"a": 2, "b": 3}"#).unwrap(), "5");
        assert_eq!(
            skill()
                .call_value("add", &json!({"a": 1, "b": 1, "nested": {"flag": true}}))
                .unwrap(),
            json!(3)
        );
    }

    #[test]
    fn unknown_tool_is_not_found() {
        match skill().call("nope", "{}") {
            Err(ToolError::NotFound(t)) => {
                assert!(t.contains("nope") && t.contains("add, denied"), "{t}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_input_names_the_field() {
        let t = invalid(skill().call("add", r#"{"a": 1}"#));
        assert!(t.contains("missing field `b`"), "{t}");
        let t = invalid(skill().call("add", r#"{"a": 1, "b": "x"}"#));
        assert!(t.starts_with("field `b`:"), "{t}");
        let t = invalid(skill().call("add", r#"{"a": 1, "b": 2, "nested": {"flag": 3}}"#));
        assert!(t.starts_with("field `nested.flag`:"), "{t}");
        let t = invalid(skill().call("add", "{not json"));
        assert!(t.starts_with("input is not valid JSON"), "{t}");
        let t = invalid(skill().call("add", ""));
        assert!(t.contains("missing field `a`"), "{t}");
    }

    #[test]
    fn invalid_input_messages_carry_no_position() {
        let t = invalid(skill().call("add", r#"{"a": 1, "b": "x"}"#));
        assert_eq!(t, r#"field `b`: invalid type: string "x", expected i64"#);
        let t = invalid(skill().call("add", r#"{"a": 1}"#));
        assert_eq!(t, "missing field `b`");
        // Syntax errors win over type errors earlier in the text, and trailing text counts.
        let t = invalid(skill().call("add", r#"{"a": "x", oops"#));
        assert!(t.starts_with("input is not valid JSON"), "{t}");
        let t = invalid(skill().call("add", r#"{"a": 1, "b": 2} extra"#));
        assert!(t.starts_with("input is not valid JSON"), "{t}");
    }

    #[derive(Deserialize)]
    struct RawInput {
        doc: Box<serde_json::value::RawValue>,
    }

    #[test]
    fn raw_fields_see_the_input_verbatim() {
        let raw = |input: RawInput| -> Result<String, ToolError> { Ok(input.doc.get().to_owned()) };
        let skill = Skill::new().tool("raw", "Echoes `doc`.", json!({}), raw);
        for doc in [
            "123456789012345678901234567890",
            "0.1000000000000000055511151231257827",
            "-2.5E-7",
            r#"{"b": 1, "a": [1.0, 2e+5]}"#,
        ] {
            let out = skill.call("raw", &format!(r#"{{"doc": {doc}}}"#)).unwrap();
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, doc);
        }
    }

    #[test]
    fn host_errors_convert() {
        assert_eq!(
            skill().call("denied", "{}"),
            Err(ToolError::Denied("memory not granted".into()))
        );
    }

    #[test]
    #[should_panic(expected = "declared twice")]
    fn duplicate_names_panic() {
        let _ = Skill::new()
            .tool("a", "", json!({}), add)
            .tool("a", "", json!({}), add);
    }

    #[test]
    fn tool_names_are_checked() {
        assert!(valid_tool_name("find_notes-2"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name("Find"));
        assert!(!valid_tool_name("a.b"));
        assert!(!valid_tool_name(&"a".repeat(65)));
    }
}

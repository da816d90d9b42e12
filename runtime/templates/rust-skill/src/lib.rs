//! The `{{name}}` skill: tool `hello` greets someone by name.

use molecule_guest_sdk::{export_skill, json, Skill, ToolError};
use serde::{Deserialize, Serialize};

/// Input of `hello`.
#[derive(Deserialize)]
struct HelloInput {
    /// Who to greet.
    name: String,
}

/// Output of `hello`.
#[derive(Serialize)]
struct HelloOutput {
    greeting: String,
}

fn hello(input: HelloInput) -> Result<HelloOutput, ToolError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ToolError::InvalidInput("field `name`: must not be empty".into()));
    }
    Ok(HelloOutput {
        greeting: format!("Hello, {name}!"),
    })
}

fn skill() -> Skill {
    Skill::new().tool(
        "hello",
        "Greets someone by name. Input: {\"name\": string}. Output: {\"greeting\": string}.",
        json!({
            "type": "object",
            "properties": {"name": {"type": "string", "description": "Who to greet."}},
            "required": ["name"]
        }),
        hello,
    )
}

export_skill!(skill);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name() {
        let out = skill().call("hello", r#"{"name":"Ada"}"#).unwrap();
        assert_eq!(out, r#"{"greeting":"Hello, Ada!"}"#);
    }

    #[test]
    fn refuses_an_empty_name() {
        assert!(matches!(
            skill().call("hello", r#"{"name":" "}"#),
            Err(ToolError::InvalidInput(_))
        ));
    }
}

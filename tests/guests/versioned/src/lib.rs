//! A skill with one tool, `version`, that answers the version string below.

use molecule_guest_sdk::{export_skill, json, Skill, ToolError};
use serde_json::Value;

const VERSION: &str = "v1";

fn version(_input: Value) -> Result<String, ToolError> {
    Ok(VERSION.to_owned())
}

fn skill() -> Skill {
    Skill::new().tool(
        "version",
        "Returns the version of this component.",
        json!({"type": "object", "properties": {}}),
        version,
    )
}

export_skill!(skill);

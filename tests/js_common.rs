//! Shared fixtures of the JavaScript skill tests (`js_skills.rs`, `js_sandbox.rs`): a skill
//! folder writer, one host per test process (so every skill shares one compiled engine), and
//! loading on the engine the tests build once per run (`molecule_tests::js_builder`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::grants::Grants;
use molecule_runtime::javascript;
use molecule_runtime::sandbox::Sandbox;
use molecule_tests::{host, js_builder};
use serde_json::Value;

pub const HELLO: &str = r#"import { tool } from "molecule-skill";

export const hello = tool({
  description: "Greets someone by name.",
  inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
}, ({ name }) => ({ greeting: `Hello, ${name}!` }));
"#;

/// Writes skill `id` under `root` with `files` (relative path, text); returns its folder.
pub fn write_skill(root: &Path, id: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!("---\nname: {id}\ndescription: Test skill {id}.\n---\nUse {id}.\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// One host per test process, so every skill shares one compiled engine.
pub fn shared_host() -> &'static ComponentHost {
    static HOST: OnceLock<ComponentHost> = OnceLock::new();
    HOST.get_or_init(host)
}

pub async fn try_load(dir: &Path, grants: Arc<Grants>) -> anyhow::Result<SkillComponent> {
    javascript::load_skill(shared_host(), &js_builder(), dir, &grants).await
}

pub async fn load(dir: &Path, grants: Arc<Grants>) -> SkillComponent {
    try_load(dir, grants)
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e:#}", dir.display()))
}

pub fn sandbox() -> Sandbox {
    Sandbox::new(shared_host().engine().clone())
}

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

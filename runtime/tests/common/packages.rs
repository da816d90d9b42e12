//! Skill-package helpers shared by the binary's package tests: the demo `json-query` skill
//! with its built component, ready to push. Not every test binary uses every helper.
#![allow(dead_code)]

use super::{cache_dir, repo};

/// `<dir>/json-query`: the demo skill's SKILL.md and its component, built into the shared
/// test cache.
pub fn built_skill(dir: &std::path::Path) -> std::path::PathBuf {
    let source = repo().join("demo/skills/json-query");
    let built = molecule_runtime::builder::ComponentBuilder::new(&cache_dir())
        .build(&source)
        .expect("building the demo skill");
    let skill = dir.join("json-query");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::copy(source.join("SKILL.md"), skill.join("SKILL.md")).unwrap();
    std::fs::copy(&built.wasm, skill.join("tool.wasm")).unwrap();
    skill
}

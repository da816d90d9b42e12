//! Tests for [`system_prompt`]: section order, omitted sections, determinism.

use std::path::Path;

use super::write;
use crate::{load_plugins, system_prompt, PromptParts, PromptPeer, PromptSkill};

#[test]
fn assembles_sections_in_contract_order() {
    let cfg = tempfile::tempdir().expect("tempdir");
    write(cfg.path(), "system-prompt.md", "PROMPT FILE ONE\n");
    write(cfg.path(), "two.md", "PROMPT FILE TWO");
    write(cfg.path(), "plugins/p/rules/r.md", "RULE");
    write(cfg.path(), "plugins/p/guide.md", "GUIDELINE");
    write(
        cfg.path(),
        "plugins/p/plugin.yaml",
        "prompt_fragments: [frag.md]",
    );
    write(cfg.path(), "plugins/p/frag.md", "FRAGMENT");
    let plugins = load_plugins(cfg.path(), &cfg.path().join("none"), "langgraph").plugins;
    let files = vec![
        "system-prompt.md".to_string(),
        "missing.md".into(),
        "two.md".into(),
    ];
    let skills: Vec<PromptSkill> = vec![
        ("zeta", "Z DESC", "Z BODY").into(),
        ("alpha", "A DESC", "A BODY").into(),
    ];
    let peers = vec![
        PromptPeer {
            id: "ws-2".into(),
            name: "Writer".into(),
            role: Some("writes".into()),
            status: None,
        },
        PromptPeer {
            id: "ws-1".into(),
            name: "Analyst".into(),
            role: None,
            status: Some("online".into()),
        },
    ];
    let parts = PromptParts {
        platform_instructions: "PLATFORM",
        prompt_files: &files,
        plugins: &plugins,
        coordinator: Some("COORDINATOR"),
        skills: &skills,
        memory_instructions: "MEMORY",
        a2a_instructions: "A2A",
        peers: &peers,
        ..PromptParts::new(cfg.path())
    };
    let prompt = system_prompt(&parts);
    let order = [
        "PLATFORM",
        "PROMPT FILE ONE",
        "PROMPT FILE TWO",
        "## Platform Rules",
        "RULE",
        "## Platform Guidelines",
        "GUIDELINE",
        "FRAGMENT",
        "COORDINATOR",
        "## Your Skills",
        "### alpha",
        "A DESC",
        "A BODY",
        "### zeta",
        "MEMORY",
        "A2A",
        "## Your Peers",
        "- Analyst (id `ws-1`) — online",
        "- Writer (id `ws-2`) — writes",
    ];
    let mut at = 0;
    for needle in order {
        let found = prompt[at..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} out of order in:\n{prompt}"));
        at += found + needle.len();
    }
    assert!(
        prompt.contains("PROMPT FILE ONE\n\nPROMPT FILE TWO"),
        "{prompt}"
    );
    assert!(prompt.ends_with("writes\n"));
    assert_eq!(system_prompt(&parts), prompt, "deterministic");
}

#[test]
fn empty_sections_are_omitted() {
    let parts = PromptParts {
        platform_instructions: "PLATFORM",
        ..PromptParts::new(Path::new("/nonexistent"))
    };
    assert_eq!(system_prompt(&parts), "PLATFORM\n");
    let skills: Vec<PromptSkill> = vec![("only", "", "BODY").into()];
    let parts = PromptParts {
        skills: &skills,
        ..PromptParts::new(Path::new("/nonexistent"))
    };
    assert_eq!(
        system_prompt(&parts),
        "## Your Skills\n\n### only\n\nBODY\n"
    );
    assert_eq!(
        system_prompt(&PromptParts::new(Path::new("/nonexistent"))),
        ""
    );
}

//! Tests for [`load_plugins`]: precedence, shadowing, the runtimes filter and file roles.

use super::write;
use crate::{load_plugins, PluginOrigin};

#[test]
fn workspace_plugins_shadow_shared_ones() {
    let cfg = tempfile::tempdir().expect("tempdir");
    let shared = tempfile::tempdir().expect("tempdir");
    write(cfg.path(), "plugins/rules-pack/rules/a.md", "local rule");
    write(shared.path(), "rules-pack/rules/a.md", "shared rule");
    write(shared.path(), "extra/rules/b.md", "extra rule");
    let set = load_plugins(cfg.path(), shared.path(), "langgraph");
    let names: Vec<&str> = set.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["extra", "rules-pack"]);
    let pack = &set.plugins[1];
    assert_eq!(pack.origin, PluginOrigin::Workspace);
    assert_eq!(pack.rules[0].text, "local rule");
    assert_eq!(set.plugins[0].origin, PluginOrigin::Shared);
    assert_eq!(set.shadowed.len(), 1);
    assert_eq!(set.shadowed[0].used, cfg.path().join("plugins/rules-pack"));
    assert_eq!(set.shadowed[0].hidden, shared.path().join("rules-pack"));
}

#[test]
fn runtimes_filter_skips_plugins_for_other_runtimes() {
    let cfg = tempfile::tempdir().expect("tempdir");
    let shared = tempfile::tempdir().expect("tempdir");
    write(
        shared.path(),
        "cc-only/plugin.yaml",
        "runtimes: [claude-code]\n",
    );
    write(
        shared.path(),
        "both/plugin.yaml",
        "runtimes: [Claude-Code, langgraph]\n",
    );
    write(shared.path(), "any/plugin.yaml", "name: any\n");
    let set = load_plugins(cfg.path(), shared.path(), "langgraph");
    let names: Vec<&str> = set.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["any", "both"]);
    assert_eq!(set.skipped.len(), 1);
    assert_eq!(set.skipped[0].name, "cc-only");
    assert!(set.skipped[0].reason.contains("langgraph"));
    let set = load_plugins(cfg.path(), shared.path(), "claude-code");
    assert_eq!(set.plugins.len(), 3);
}

#[test]
fn sorts_files_into_rules_guidelines_fragments_and_skills() {
    let cfg = tempfile::tempdir().expect("tempdir");
    let shared = tempfile::tempdir().expect("tempdir");
    let p = "plugins/team/";
    write(
        cfg.path(),
        &format!("{p}plugin.yaml"),
        "name: team\nversion: 2.0.0\ndescription: d\nprompt_fragments: [fragments/tone.md, nope.md]\n\
         rules: [extra-rule.md]\nskills: [vendored/helper]\n",
    );
    write(cfg.path(), &format!("{p}rules/b.md"), "rule b");
    write(cfg.path(), &format!("{p}rules/a.md"), "rule a");
    write(cfg.path(), &format!("{p}extra-rule.md"), "rule extra");
    write(cfg.path(), &format!("{p}style.md"), "guideline");
    write(cfg.path(), &format!("{p}README.md"), "docs");
    write(cfg.path(), &format!("{p}license.md"), "legal");
    write(cfg.path(), &format!("{p}CHANGELOG.md"), "log");
    write(cfg.path(), &format!("{p}fragments/tone.md"), "fragment");
    write(cfg.path(), &format!("{p}skills/zeta/SKILL.md"), "z");
    write(cfg.path(), &format!("{p}skills/alpha/SKILL.md"), "a");
    write(cfg.path(), &format!("{p}vendored/helper/SKILL.md"), "h");
    let set = load_plugins(cfg.path(), shared.path(), "langgraph");
    let team = &set.plugins[0];
    assert_eq!(team.manifest.version.as_deref(), Some("2.0.0"));
    let texts = |v: &Vec<crate::PromptText>| v.iter().map(|t| t.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&team.rules), ["rule a", "rule b", "rule extra"]);
    // extra-rule.md is already a rule, and docs files are never guidelines.
    assert_eq!(texts(&team.guidelines), ["guideline"]);
    assert_eq!(texts(&team.prompt_fragments), ["fragment"]);
    let dir = cfg.path().join(p);
    assert_eq!(
        team.skill_dirs,
        [
            dir.join("skills/alpha"),
            dir.join("skills/zeta"),
            dir.join("vendored/helper")
        ]
    );
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert_eq!(set.warnings[0].key, "prompt_fragments[1]");
}

#[test]
fn a_broken_manifest_warns_and_the_plugin_still_loads() {
    let cfg = tempfile::tempdir().expect("tempdir");
    let shared = tempfile::tempdir().expect("tempdir");
    write(shared.path(), "broken/plugin.yaml", "runtimes: [\n");
    write(shared.path(), "broken/rules/r.md", "rule");
    let set = load_plugins(cfg.path(), shared.path(), "langgraph");
    assert_eq!(set.plugins.len(), 1);
    assert!(set.warnings[0].line.is_some());
    assert!(
        load_plugins(&cfg.path().join("none"), &shared.path().join("none"), "x")
            .plugins
            .is_empty()
    );
}

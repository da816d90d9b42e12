//! Tests for [`preflight`]: FAIL and WARN cases and the rendered report.

use std::path::Path;

use super::write;
use crate::{preflight, Env, PreflightReport, Status, WorkspaceConfig};

const ADAPTERS: &[&str] = &["langgraph", "claude-code"];

fn run(dir: &Path, yaml: &str, env: &Env) -> PreflightReport {
    let config = WorkspaceConfig::from_yaml_str(yaml, dir, env);
    preflight(env, &config, ADAPTERS, dir)
}

fn statuses<'a>(report: &'a PreflightReport, name: &str) -> Vec<(Status, &'a str)> {
    report
        .checks
        .iter()
        .filter(|c| c.name == name)
        .map(|c| (c.status, c.detail.as_str()))
        .collect()
}

fn one(report: &PreflightReport, name: &str) -> (Status, String) {
    let found = statuses(report, name);
    assert_eq!(found.len(), 1, "{name}: {}", report.render());
    (found[0].0, found[0].1.to_string())
}

#[test]
fn a_clean_workspace_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "system-prompt.md", "be nice");
    write(
        dir.path(),
        "skills/notes/SKILL.md",
        "---\nname: notes\n---\n",
    );
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk")]);
    let yaml = "model: openai:gpt-4.1\nskills: [notes]\nruntime_config: {required_env: [OPENAI_API_KEY]}\n";
    let report = run(dir.path(), yaml, &env);
    assert!(!report.has_failures(), "{report}");
    assert_eq!(report.with_status(Status::Warn).count(), 0, "{report}");
    assert_eq!(one(&report, "runtime").0, Status::Pass);
    assert_eq!(one(&report, "skill notes").0, Status::Pass);
}

#[test]
fn unknown_runtime_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(dir.path(), "runtime: crewai-pro", &super::no_env());
    assert!(report.has_failures());
    let (status, detail) = one(&report, "runtime");
    assert_eq!(status, Status::Fail);
    assert!(
        detail.contains("langgraph, claude-code") && detail.contains(".wasm"),
        "{detail}"
    );
}

#[test]
fn runtime_may_be_an_existing_wasm_or_crate_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "adapters/mine.wasm", "\0asm");
    write(dir.path(), "adapters/crate/Cargo.toml", "[package]");
    for (runtime, want) in [
        ("adapters/mine.wasm", Status::Pass),
        ("adapters/crate", Status::Pass),
        ("adapters/missing.wasm", Status::Fail),
        ("adapters", Status::Fail),
    ] {
        let report = run(dir.path(), &format!("runtime: {runtime}"), &super::no_env());
        assert_eq!(one(&report, "runtime").0, want, "{runtime}: {report}");
    }
}

#[test]
fn adapter_name_differing_only_in_case_warns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(dir.path(), "runtime: LangGraph", &super::no_env());
    let (status, detail) = one(&report, "runtime");
    assert_eq!(status, Status::Warn);
    assert!(detail.contains("runtime: langgraph"), "{detail}");
}

#[test]
fn ports_outside_the_range_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    for port in ["0", "70000", "-5"] {
        let report = run(
            dir.path(),
            &format!("a2a: {{port: {port}}}"),
            &super::no_env(),
        );
        assert!(report.has_failures(), "{port}");
        let (status, detail) = one(&report, "a2a.port");
        assert_eq!(status, Status::Fail);
        assert!(detail.contains("1–65535"), "{detail}");
    }
    let report = run(dir.path(), "a2a: {port: 65535}", &super::no_env());
    assert_eq!(one(&report, "a2a.port").0, Status::Pass);
}

#[test]
fn warnings_for_env_files_skills_plugins_and_grants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(plugins.path().join("shared-rules")).expect("mkdir");
    let env = Env::from_pairs([
        ("PLATFORM_URL", "http://platform:8080"),
        (
            "PLUGINS_DIR",
            plugins.path().to_str().expect("utf-8 temp path"),
        ),
        ("MOLECULE_SMOKE_MODE", "1"),
        ("MOLECULE_SMOKE_TIMEOUT_SECS", "soon"),
    ]);
    let yaml = "runtime_config: {required_env: [ANTHROPIC_API_KEY]}\nprompt_files: [missing.md]\n\
                initial_prompt_file: init.md\nskills: [ghost]\nplugins: [shared-rules, absent]\n\
                grants: {skills: {stranger: {env: [X]}}}\na2a: {streaming: maybe}\n";
    let report = run(dir.path(), yaml, &env);
    assert!(!report.has_failures(), "{report}");
    let warn = |name: &str| {
        let (status, detail) = one(&report, name);
        assert_eq!(status, Status::Warn, "{name}: {detail}");
        detail
    };
    assert!(warn("required_env").contains("ANTHROPIC_API_KEY is not set"));
    assert!(warn("prompt_files").contains("missing.md"));
    assert!(warn("initial_prompt_file").contains("init.md"));
    assert!(warn("skill ghost").contains("skills/ghost/SKILL.md"));
    assert!(warn("plugin absent").contains("install it"));
    assert!(warn("grants.skills.stranger").contains("not a listed"));
    assert!(warn("platform").contains("WORKSPACE_ID"));
    assert!(warn("a2a.streaming").contains("true or false"));
    assert!(warn("MOLECULE_SMOKE_TIMEOUT_SECS").contains("using 5"));
    assert_eq!(one(&report, "plugin shared-rules").0, Status::Pass);
    assert_eq!(one(&report, "smoke mode").0, Status::Pass);
}

#[test]
fn config_file_warnings_carry_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(dir.path(), "tier: many\n", &super::no_env());
    let (status, detail) = one(&report, "tier");
    assert_eq!(status, Status::Warn);
    assert!(detail.contains("an integer"), "{detail}");
}

#[test]
fn invalid_yaml_fails_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(dir.path(), "a: [\n", &super::no_env());
    assert!(report.has_failures(), "{report}");
    let (status, detail) = one(&report, "config");
    assert_eq!(status, Status::Fail);
    let file = dir.path().join("config.yaml");
    assert!(
        detail.starts_with(&format!("{}:2: ", file.display())),
        "{detail}"
    );
    assert!(detail.contains("not valid YAML"), "{detail}");
}

#[test]
fn renders_aligned_lines_and_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "system-prompt.md", "x");
    let report = run(
        dir.path(),
        "runtime: nope\na2a: {port: 0}\n",
        &super::no_env(),
    );
    let text = report.render();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), report.checks.len() + 1, "{text}");
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for (line, check) in lines.iter().zip(&report.checks) {
        assert!(line.starts_with(check.status.label()), "{line}");
        // Every detail starts in the same column.
        assert_eq!(&line[6..6 + width].trim_end(), &check.name, "{line}");
        assert_eq!(line.get(6 + width..8 + width), Some("  "), "{line}");
    }
    let expected = "\
FAIL  runtime       unknown runtime `nope`; set `runtime` in config.yaml to one of langgraph, claude-code, or a path to a .wasm component or adapter crate
FAIL  a2a.port      0 is not a port; set a2a.port in config.yaml to 1–65535 (default 8000)
PASS  model         `anthropic:claude-opus-4-7` (from default), provider `anthropic` (from model prefix)
PASS  required_env  nothing required
PASS  platform      none (PLATFORM_URL unset): standalone
PASS  prompt_files  system-prompt.md
preflight: 4 passed, 0 warnings, 2 failed
";
    assert_eq!(text, expected);
    assert_eq!(report.to_string(), expected);
}

/// A workspace guest-memory budget below a call's own memory limit is a WARN naming both
/// keys (such calls fail at the budget first); one below the floor is a FAIL naming the key.
#[test]
fn guest_memory_budget_below_a_call_limit_warns_and_below_the_floor_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = super::no_env();
    let yaml = "sandbox: {memory_limit: 256m, admission: {max_guest_memory: 128m}}\n\
                grants: {skills: {big: {memory_limit: 1g}}}\n";
    let report = run(dir.path(), yaml, &env);
    assert!(!report.has_failures(), "{report}");
    let found = statuses(&report, "sandbox.admission.max_guest_memory");
    assert_eq!(found.len(), 2, "{report}");
    assert!(found.iter().all(|(s, _)| *s == Status::Warn), "{report}");
    assert!(
        found[0]
            .1
            .contains("128m is below sandbox.memory_limit (256m)"),
        "{report}"
    );
    assert!(
        found[1].1.contains("grants.skills.big.memory_limit (1g)"),
        "{report}"
    );

    // The default budget (512m) against a 1g call limit warns too.
    let report = run(dir.path(), "sandbox: {memory_limit: 1g}\n", &env);
    let (status, detail) = one(&report, "sandbox.admission.max_guest_memory");
    assert_eq!(status, Status::Warn);
    assert!(
        detail.contains("512m is below sandbox.memory_limit (1g)"),
        "{detail}"
    );

    let report = run(dir.path(), "sandbox: {memory_limit: 64m}\n", &env);
    assert!(statuses(&report, "sandbox.admission.max_guest_memory").is_empty());

    let report = run(
        dir.path(),
        "sandbox: {admission: {max_guest_memory: 1m}}\n",
        &env,
    );
    assert!(report.has_failures(), "{report}");
    let fail = report
        .with_status(Status::Fail)
        .find(|c| c.detail.contains("sandbox.admission.max_guest_memory"))
        .unwrap_or_else(|| panic!("no FAIL naming the key: {report}"));
    assert!(
        fail.detail.contains("below the minimum 16m"),
        "{}",
        fail.detail
    );
}

/// `runtime: cli`: the program picks its own model and prompt, so neither the model line nor
/// a missing `prompt_files` entry (the default `system-prompt.md` included) is reported; what
/// does apply stays: the program, `required_env` (passed to it), the initial prompt file.
#[test]
fn a_cli_workspace_is_not_checked_for_a_model_or_prompt_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = Env::from_pairs([("PATH", "/usr/bin:/bin")]);
    let yaml = "runtime: cli\nruntime_config: {command: cat, required_env: [CLI_TOKEN]}\n\
                initial_prompt_file: init.md\n";
    let report = run(dir.path(), yaml, &env);
    assert!(!report.has_failures(), "{report}");
    assert!(statuses(&report, "model").is_empty(), "{report}");
    assert!(statuses(&report, "prompt_files").is_empty(), "{report}");
    assert_eq!(one(&report, "runtime").0, Status::Pass, "{report}");
    let (status, detail) = one(&report, "required_env");
    assert_eq!(status, Status::Warn, "{report}");
    assert!(
        detail.contains("CLI_TOKEN is not set (granted to the program)"),
        "{detail}"
    );
    assert_eq!(one(&report, "initial_prompt_file").0, Status::Warn);
    // Another runtime still gets both checks.
    let report = run(dir.path(), "runtime: langgraph\n", &env);
    assert_eq!(one(&report, "model").0, Status::Pass, "{report}");
    assert_eq!(one(&report, "prompt_files").0, Status::Warn, "{report}");
}

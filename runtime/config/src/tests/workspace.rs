//! Tests for [`WorkspaceConfig`]: defaults, lenient warnings, env precedence, `models[]`,
//! clamping and the sandbox section.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{error, parse, warning, write};
use crate::{Env, Origin, WorkspaceConfig};

#[test]
fn empty_file_gives_every_default_without_warnings() {
    let c = parse("");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.name, "Workspace");
    assert_eq!(c.description, "");
    assert_eq!(c.role, "");
    assert_eq!(c.version, "1.0.0");
    assert_eq!(c.tier, 1);
    assert_eq!(c.model, "anthropic:claude-opus-4-7");
    assert_eq!(c.model_origin, Origin::Default);
    assert_eq!(c.provider.as_deref(), Some("anthropic"));
    assert_eq!(c.provider_origin, Origin::ModelPrefix);
    assert_eq!(c.runtime, "langgraph");
    assert_eq!(c.idle_interval, Duration::from_secs(600));
    assert!(c.skills.is_empty() && c.plugins.is_empty() && c.tools.is_empty());
    assert_eq!(c.prompt_files, vec!["system-prompt.md".to_string()]);
    assert_eq!(c.a2a.port, 8000);
    assert!(c.a2a.streaming && c.a2a.push_notifications);
    assert_eq!(c.delegation.retry_attempts, 3);
    assert_eq!(c.delegation.retry_delay, Duration::from_secs(5));
    assert_eq!(c.delegation.timeout, Duration::from_secs(120));
    assert!(c.delegation.escalate);
    assert_eq!(c.sandbox.memory_limit, 256 << 20);
    assert_eq!(c.sandbox.timeout, Duration::from_secs(30));
    assert_eq!(c.observability.heartbeat_interval, Duration::from_secs(30));
    assert_eq!(c.observability.log_level, None);
    assert!(c.grants.skills.is_empty() && c.grants.default.is_empty());
    assert!(c.required_env.is_empty());
}

#[test]
fn reads_the_langgraph_template_and_warns_about_unknown_keys() {
    let c = parse(
        "name: LangGraph Agent\nruntime: langgraph\ndescription: LangGraph ReAct agent\n\
         version: 1.0.0\ntier: 2\nmodel: openai:gpt-4.1-mini\nskills: []\n\
         tools: [web_search, filesystem]\n\
         a2a: {port: 8000, streaming: true, push_notifications: true}\n\
         delegation: {retry_attempts: 3, timeout: 120}\nsomething_new: {x: 1}\n",
    );
    // An unknown top-level key is ignored with a warning naming it and its line.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = warning(&c, "something_new");
    assert!(w.message.contains("unknown key, ignored"), "{w}");
    assert_eq!(w.line, Some(11), "{w}");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.name, "LangGraph Agent");
    assert_eq!(c.tier, 2);
    assert_eq!(c.model, "openai:gpt-4.1-mini");
    assert_eq!(c.provider.as_deref(), Some("openai"));
    assert_eq!(c.tools, ["web_search", "filesystem"]);
}

#[test]
fn missing_file_gives_defaults_and_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = WorkspaceConfig::load(dir.path(), &super::no_env());
    assert_eq!(c.name, "Workspace");
    assert_eq!(c.warnings.len(), 1);
    let w = &c.warnings[0];
    assert_eq!(
        w.file.as_deref(),
        Some(dir.path().join("config.yaml").as_path())
    );
    assert!(w.message.contains("not found"), "{w}");
    assert!(w.message.contains("WORKSPACE_CONFIG_PATH"), "{w}");
}

#[test]
fn loads_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "config.yaml", "name: On Disk\n");
    let c = WorkspaceConfig::load(dir.path(), &super::no_env());
    assert_eq!(c.name, "On Disk");
    assert_eq!(c.config_dir, dir.path());
}

#[test]
fn invalid_yaml_gives_defaults_and_an_error_with_the_line() {
    let c = parse("name: ok\ntier: 2\na2a: {port: 8000\n");
    assert_eq!(c.name, "Workspace");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let e = &c.errors[0];
    assert!(e.line.is_some(), "{e:?}");
    assert!(e.message.contains("not valid YAML"), "{e}");
    assert!(e.to_string().starts_with("/cfg/config.yaml:"), "{e}");
    let top = parse("- just\n- a list\n");
    assert!(top.errors[0]
        .message
        .contains("top level must be a mapping"));
}

#[test]
fn wrong_types_fall_back_with_warnings_naming_file_and_key() {
    let c = parse(
        "name: [a, b]\ntier: -1\nskills: [ok, {x: 1}]\nprompt_files: 7\n\
         a2a: {port: abc, streaming: maybe}\n\
         delegation: {retry_attempts: 1000, retry_delay: -2, timeout: soon, escalate: 3}\n\
         idle_interval_seconds: 0\nobservability: {log_level: LOUD}\n",
    );
    assert_eq!(c.name, "Workspace");
    assert_eq!(c.tier, 1);
    assert_eq!(c.skills, ["ok"]);
    assert_eq!(c.a2a.port, 8000);
    assert!(c.a2a.streaming);
    assert_eq!(c.delegation.retry_attempts, 3);
    assert_eq!(c.delegation.retry_delay, Duration::from_secs(5));
    assert_eq!(c.delegation.timeout, Duration::from_secs(120));
    assert_eq!(c.observability.log_level, None);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let port = warning(&c, "a2a.port");
    assert_eq!(port.file.as_deref(), Some(Path::new("/cfg/config.yaml")));
    assert!(
        port.message.contains("the string \"abc\"") && port.message.contains("8000"),
        "{port}"
    );
    assert!(warning(&c, "tier").message.contains("out of range"));
    assert!(warning(&c, "skills[1]").message.contains("a mapping"));
    assert!(warning(&c, "name").message.contains("a list"));
    for key in [
        "prompt_files",
        "a2a.streaming",
        "delegation.retry_attempts",
        "delegation.retry_delay",
        "delegation.timeout",
        "delegation.escalate",
        "idle_interval_seconds",
        "observability.log_level",
    ] {
        warning(&c, key);
    }
    assert_eq!(c.prompt_files, ["system-prompt.md"]);
}

#[test]
fn an_out_of_range_port_is_kept_for_preflight() {
    let c = parse("a2a: {port: 70000}\n");
    assert_eq!(c.a2a.port, 70000);
    assert_eq!(c.a2a.valid_port(), None);
    assert!(c.warnings.is_empty());
    assert_eq!(parse("a2a: {port: '9000'}").a2a.valid_port(), Some(9000));
}

#[test]
fn model_precedence_molecule_model_then_model_then_yaml() {
    let yaml = "model: anthropic:claude-sonnet-4\n";
    let dir = Path::new("/cfg");
    let both = Env::from_pairs([
        ("MOLECULE_MODEL", "openai:gpt-4.1"),
        ("MODEL", "google/gemini"),
    ]);
    let c = WorkspaceConfig::from_yaml_str(yaml, dir, &both);
    assert_eq!(c.model, "openai:gpt-4.1");
    assert_eq!(
        c.model_origin,
        Origin::Env {
            var: "MOLECULE_MODEL"
        }
    );
    assert_eq!(c.provider.as_deref(), Some("openai"));
    let model_only = Env::from_pairs([("MODEL", "google/gemini-2.5")]);
    let c = WorkspaceConfig::from_yaml_str(yaml, dir, &model_only);
    assert_eq!(c.model, "google/gemini-2.5");
    assert_eq!(c.provider.as_deref(), Some("google"));
    let c = parse(yaml);
    assert_eq!(c.model, "anthropic:claude-sonnet-4");
    assert_eq!(c.model_origin, Origin::File { key: "model" });
}

#[test]
fn provider_precedence_env_then_yaml_then_prefix() {
    let dir = Path::new("/cfg");
    let yaml = "model: openai:gpt-4.1\nprovider: azure\n";
    let env = Env::from_pairs([("LLM_PROVIDER", "openrouter")]);
    let c = WorkspaceConfig::from_yaml_str(yaml, dir, &env);
    assert_eq!(c.provider.as_deref(), Some("openrouter"));
    assert_eq!(
        c.provider_origin,
        Origin::Env {
            var: "LLM_PROVIDER"
        }
    );
    assert_eq!(parse(yaml).provider.as_deref(), Some("azure"));
    assert_eq!(
        parse("model: openai:gpt-4.1").provider.as_deref(),
        Some("openai")
    );
    assert_eq!(parse("model: groq/llama").provider.as_deref(), Some("groq"));
    assert_eq!(parse("model: sonnet").provider, None);
}

const CLAUDE_CODE: &str = "runtime: claude-code\nruntime_config:\n  model: sonnet\n  \
    required_env: [CLAUDE_CODE_OAUTH_TOKEN, EXTRA]\n  models:\n    \
    - {id: sonnet, required_env: [CLAUDE_CODE_OAUTH_TOKEN]}\n    \
    - {id: Claude-Opus-4-7, name: Opus, required_env: [ANTHROPIC_API_KEY]}\n";

#[test]
fn models_required_env_replaces_the_top_level_list() {
    let c = parse(CLAUDE_CODE);
    assert_eq!(c.model, "sonnet");
    assert_eq!(
        c.model_origin,
        Origin::File {
            key: "runtime_config.model"
        }
    );
    assert_eq!(c.required_env, ["CLAUDE_CODE_OAUTH_TOKEN"]);
    assert_eq!(
        c.runtime_config.required_env,
        ["CLAUDE_CODE_OAUTH_TOKEN", "EXTRA"]
    );
    assert_eq!(c.runtime_config.models[1].name.as_deref(), Some("Opus"));
    // Case-insensitive, and a provider prefix on the picked model is ignored.
    let env = Env::from_pairs([("MODEL", "anthropic:claude-opus-4-7")]);
    let c = WorkspaceConfig::from_yaml_str(CLAUDE_CODE, Path::new("/cfg"), &env);
    assert_eq!(c.required_env, ["ANTHROPIC_API_KEY"]);
    // No match: the top-level list stays.
    let env = Env::from_pairs([("MODEL", "haiku")]);
    let c = WorkspaceConfig::from_yaml_str(CLAUDE_CODE, Path::new("/cfg"), &env);
    assert_eq!(c.required_env, ["CLAUDE_CODE_OAUTH_TOKEN", "EXTRA"]);
}

#[test]
fn a_model_without_id_is_skipped_with_a_warning() {
    let c = parse("runtime_config: {models: [{name: x}, 3]}\n");
    assert!(c.runtime_config.models.is_empty());
    assert!(warning(&c, "runtime_config.models[0]")
        .message
        .contains("`id`"));
    warning(&c, "runtime_config.models[1]");
}

#[test]
fn heartbeat_interval_is_clamped_with_a_warning() {
    for (raw, want) in [(1, 5), (1000, 300), (60, 60), (5, 5), (300, 300)] {
        let c = parse(&format!(
            "observability: {{heartbeat_interval_seconds: {raw}}}"
        ));
        assert_eq!(
            c.observability.heartbeat_interval,
            Duration::from_secs(want),
            "{raw}"
        );
        let warned = c
            .warnings
            .iter()
            .any(|w| w.key == "observability.heartbeat_interval_seconds");
        assert_eq!(warned, raw != want, "{raw}: {:?}", c.warnings);
    }
}

#[test]
fn sandbox_sizes_and_durations() {
    let c = parse("sandbox: {backend: docker, memory_limit: 64m, timeout: 10s}");
    assert_eq!(c.sandbox.backend.as_deref(), Some("docker"));
    assert_eq!(c.sandbox.memory_limit, 64 << 20);
    assert_eq!(c.sandbox.timeout, Duration::from_secs(10));
    let c = parse("sandbox: {memory_limit: 1048576, timeout: 2.5}");
    assert_eq!(c.sandbox.memory_limit, 1 << 20);
    assert_eq!(c.sandbox.timeout, Duration::from_millis(2500));
    // A limit of untrusted code that cannot be read is an error, not the default.
    let c = parse("sandbox: {timeout: -3}");
    assert!(error(&c, "sandbox.timeout").message.contains("-3"));
}

#[test]
fn prompt_files_and_sub_workspaces() {
    let c = parse(
        "initial_prompt: hi\ninitial_prompt_file: prompts/init.md\nidle_prompt_file: idle.md\n\
         idle_interval_seconds: 60\nprompt_files: [a.md, b.md]\n\
         sub_workspaces: [ws-a, {id: ws-b}, {name: ws-c}, [1]]\n",
    );
    assert_eq!(c.initial_prompt.as_deref(), Some("hi"));
    assert_eq!(
        c.initial_prompt_file,
        Some(PathBuf::from("/cfg/prompts/init.md"))
    );
    assert_eq!(c.idle_prompt_file, Some(PathBuf::from("/cfg/idle.md")));
    assert_eq!(c.idle_interval, Duration::from_secs(60));
    assert_eq!(c.prompt_files, ["a.md", "b.md"]);
    assert_eq!(c.sub_workspaces, ["ws-a", "ws-b", "ws-c"]);
    warning(&c, "sub_workspaces[3]");
}

#[test]
fn shutdown_grace_defaults_to_twenty_seconds_and_reads_durations() {
    assert_eq!(parse("").a2a.shutdown_grace, Duration::from_secs(20));
    let c = parse("a2a: {shutdown_grace: 5s}\n");
    assert_eq!(c.a2a.shutdown_grace, Duration::from_secs(5));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        parse("a2a: {shutdown_grace: 0}\n").a2a.shutdown_grace,
        Duration::ZERO
    );
    let c = parse("a2a: {shutdown_grace: soon}\n");
    assert_eq!(c.a2a.shutdown_grace, Duration::from_secs(20));
    assert!(warning(&c, "a2a.shutdown_grace").message.contains("20s"));
}

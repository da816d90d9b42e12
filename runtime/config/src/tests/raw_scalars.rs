//! Tests for text-typed keys keeping the scalar as written: YAML resolves `1.10` to the float
//! 1.1, but `version: 1.10` means the text "1.10".

use std::path::Path;

use super::parse;

#[test]
fn version_keeps_the_text_as_written() {
    let c = parse("version: 1.10\n");
    assert_eq!(c.version, "1.10");
    assert!(c.warnings.is_empty() && c.errors.is_empty(), "{c:?}");
    assert_eq!(parse("{version: 1.10}").version, "1.10");
    assert_eq!(parse("version: '1.10'").version, "1.10");
    assert_eq!(parse("version: 2").version, "2");
}

#[test]
fn numbers_of_every_yaml_form_keep_their_text() {
    for text in [
        "1.10", "1e3", "0x1F", ".5", "010", "0o17", "-0.0", ".inf", "1_000", "True",
    ] {
        let c = parse(&format!(
            "name: {text}\ndescription: {text}\nrole: {text}\nversion: {text}\nmodel: {text}\n\
             provider: {text}\ninitial_prompt: {text}\nruntime: {text}\n"
        ));
        for (key, got) in [
            ("name", &c.name),
            ("description", &c.description),
            ("role", &c.role),
            ("version", &c.version),
            ("model", &c.model),
            ("runtime", &c.runtime),
        ] {
            assert_eq!(got, text, "{key}");
        }
        assert_eq!(c.provider.as_deref(), Some(text));
        assert_eq!(c.initial_prompt.as_deref(), Some(text));
    }
}

#[test]
fn nested_keys_lists_and_flow_mappings_keep_their_text() {
    let c = parse(
        "runtime_config:\n  model: 1.10\n  command: 2.50\n  args: [1.10, 0x1F]\n  \
         models: [{id: 1.10, name: 3.0, required_env: [A]}]\n\
         skills: [1.10, 2.50]\nsub_workspaces: [1.20, {id: 1.30}]\nprompt_files: [1.10]\n\
         sandbox: {backend: 1.10}\n",
    );
    assert_eq!(c.runtime_config.model.as_deref(), Some("1.10"));
    assert_eq!(c.model, "1.10");
    assert_eq!(c.runtime_config.command.as_deref(), Some("2.50"));
    assert_eq!(c.runtime_config.args, ["1.10", "0x1F"]);
    assert_eq!(c.runtime_config.models[0].id, "1.10");
    assert_eq!(c.runtime_config.models[0].name.as_deref(), Some("3.0"));
    assert_eq!(c.required_env, ["A"]);
    assert_eq!(c.skills, ["1.10", "2.50"]);
    assert_eq!(c.sub_workspaces, ["1.20", "1.30"]);
    assert_eq!(c.prompt_files, ["1.10"]);
    assert_eq!(c.sandbox.backend.as_deref(), Some("1.10"));
}

#[test]
fn grant_keys_and_paths_keep_their_text() {
    let c = parse("grants:\n  skills:\n    1.10: {dirs: [{path: 3.10, mode: ro}], env: [A]}\n");
    let grant = &c.grants.skills["1.10"];
    assert_eq!(grant.dirs[0].path, Path::new("3.10"));
    assert_eq!(c.grant_for("1.10").caps.env, ["A"]);
}

#[test]
fn aliases_keep_the_anchored_text_and_numbers_stay_numbers() {
    let c = parse("base: &v 1.10\nversion: *v\ntier: 0x1F\n");
    assert_eq!(c.version, "1.10");
    // Number-typed keys still read the number YAML resolved.
    assert_eq!(c.tier, 31);
    let c = parse("delegation: {retry_delay: 1.50, timeout: 1e2}\n");
    assert_eq!(c.delegation.retry_delay.as_millis(), 1500);
    assert_eq!(c.delegation.timeout.as_secs(), 100);
}

//! `runtime: cli`: `runtime_config` read strictly (every bad value, null, bad item or unknown
//! key is an error naming the file and key), and preflight resolving the granted command.

use std::time::Duration;

use super::{error, parse};
use crate::{preflight, CliInput, Env, Status, WorkspaceConfig};

#[test]
fn a_full_grant_is_read() {
    let c = parse(
        "runtime: cli\nruntime_config:\n  command: /bin/cat\n  args: [-u, 1.10]\n  input: argument\n  \
         env: [LANG]\n  required_env: [OPENAI_API_KEY]\n  timeout: 2m\n  kill_grace: 500ms\n  \
         max_output: 64k\n  max_concurrent: 2\n  model: gpt\n",
    );
    assert!(c.errors.is_empty(), "{:#?}", c.errors);
    let cli = c.cli.expect("cli config");
    assert_eq!(cli.command, "/bin/cat");
    assert_eq!(cli.args, ["-u", "1.10"]);
    assert_eq!(cli.input, CliInput::Argument);
    assert_eq!(cli.env, ["LANG"]);
    assert_eq!(cli.timeout, Some(Duration::from_secs(120)));
    assert_eq!(cli.kill_grace, Duration::from_millis(500));
    assert_eq!(cli.max_output, 64 * 1024);
    assert_eq!(cli.max_concurrent, 2);
    assert_eq!(c.required_env, ["OPENAI_API_KEY"]);
}

#[test]
fn defaults_apply_only_to_absent_keys() {
    let c = parse("runtime: cli\nruntime_config: {command: cat}\n");
    let cli = c.cli.expect("cli config");
    assert_eq!(cli.input, CliInput::Stdin);
    assert_eq!(cli.timeout, None);
    assert_eq!(cli.kill_grace, crate::DEFAULT_KILL_GRACE);
    assert_eq!(cli.max_output, crate::DEFAULT_MAX_OUTPUT);
    assert!(cli.env.is_empty() && cli.args.is_empty());
    // Another runtime never reads runtime_config strictly.
    assert!(parse("runtime_config: {command: cat, bogus: 1}\n")
        .cli
        .is_none());
}

#[test]
fn every_bad_key_fails_closed_naming_the_file_and_key() {
    for (yaml, key) in [
        ("runtime: cli\n", "runtime_config"),
        ("runtime: cli\nruntime_config: ~\n", "runtime_config"),
        (
            "runtime: cli\nruntime_config: {args: [x]}\n",
            "runtime_config.command",
        ),
        (
            "runtime: cli\nruntime_config: {command: ~}\n",
            "runtime_config.command",
        ),
        (
            "runtime: cli\nruntime_config: {command: \"\"}\n",
            "runtime_config.command",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, args: ~}\n",
            "runtime_config.args",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, args: x}\n",
            "runtime_config.args",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, args: [{a: 1}]}\n",
            "runtime_config.args[0]",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, input: Stdin}\n",
            "runtime_config.input",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, input: ~}\n",
            "runtime_config.input",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, env: [A-B]}\n",
            "runtime_config.env[0]",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, env: ~}\n",
            "runtime_config.env",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, required_env: [\"1X\"]}\n",
            "runtime_config.required_env[0]",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, timeout: ~}\n",
            "runtime_config.timeout",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, timeout: soon}\n",
            "runtime_config.timeout",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, kill_grace: 1h}\n",
            "runtime_config.kill_grace",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, max_output: 0}\n",
            "runtime_config.max_output",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, max_output: ~}\n",
            "runtime_config.max_output",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, max_concurrent: 0}\n",
            "runtime_config.max_concurrent",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, timeot: 5s}\n",
            "runtime_config.timeot",
        ),
        (
            "runtime: cli\nruntime_config: {command: cat, Env: [A]}\n",
            "runtime_config.Env",
        ),
    ] {
        let c = parse(yaml);
        let e = error(&c, key);
        assert!(e.to_string().contains("config.yaml"), "{yaml}: {e}");
        assert!(e.to_string().contains(key), "{yaml}: {e}");
    }
}

fn cli_preflight(yaml: &str, vars: &[(&str, &str)]) -> crate::PreflightReport {
    let dir = tempfile::tempdir().expect("temp dir");
    super::write(dir.path(), "config.yaml", yaml);
    super::write(dir.path(), "bin/not-exec", "#!/bin/cat\n");
    let env = Env::from_pairs(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let c = WorkspaceConfig::load(dir.path(), &env);
    preflight(&env, &c, &["langgraph"], dir.path())
}

fn check<'a>(report: &'a crate::PreflightReport, name: &str) -> &'a crate::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {}", report.render()))
}

#[test]
fn preflight_resolves_the_command_or_fails_naming_the_key() {
    let ok = cli_preflight(
        "runtime: cli\nruntime_config: {command: cat}\n",
        &[("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(
        check(&ok, "runtime").status,
        Status::Pass,
        "{}",
        ok.render()
    );
    let cmd = check(&ok, "runtime_config.command");
    assert_eq!(cmd.status, Status::Pass, "{}", ok.render());
    assert!(cmd.detail.contains("bin/cat "), "{}", cmd.detail);

    for (yaml, why) in [
        (
            "runtime: cli\nruntime_config: {command: no-such-program-xyz}\n",
            "not an executable file in any folder of PATH",
        ),
        (
            "runtime: cli\nruntime_config: {command: ./missing}\n",
            "does not exist",
        ),
        (
            "runtime: cli\nruntime_config: {command: bin/not-exec}\n",
            "is not executable",
        ),
        (
            "runtime: cli\nruntime_config: {command: ./bin}\n",
            "is not a regular file",
        ),
    ] {
        let report = cli_preflight(yaml, &[("PATH", "/usr/bin:/bin")]);
        let cmd = check(&report, "runtime_config.command");
        assert_eq!(cmd.status, Status::Fail, "{yaml}");
        assert!(
            cmd.detail.starts_with("runtime_config.command: "),
            "{}",
            cmd.detail
        );
        assert!(cmd.detail.contains(why), "{yaml}: {}", cmd.detail);
        assert!(report.has_failures());
    }
    // A name is looked up in PATH only: with no PATH it is missing.
    let none = cli_preflight("runtime: cli\nruntime_config: {command: cat}\n", &[]);
    assert_eq!(check(&none, "runtime_config.command").status, Status::Fail);
}

/// A relative config dir (`--config-dir ws`) with `command: ./agent.sh`: the program's path is
/// made absolute once, so it still names the file when the task runs in its own folder.
#[test]
fn a_relative_config_dir_gives_an_absolute_command() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new()
        .prefix("cli-rel-")
        .tempdir_in(".")
        .expect("temp dir in the current folder");
    let rel = std::path::PathBuf::from(dir.path().file_name().expect("name"));
    super::write(
        &rel,
        "config.yaml",
        "runtime: cli\nruntime_config: {command: ./agent.sh}\n",
    );
    super::write(&rel, "agent.sh", "#!/bin/sh\n");
    std::fs::set_permissions(rel.join("agent.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let c = WorkspaceConfig::load(&rel, &Env::from_pairs(Vec::<(String, String)>::new()));
    let cli = c.cli.as_ref().expect("a cli grant");
    let program = cli.resolve_command(None, &rel).expect("resolves");
    assert!(program.is_absolute(), "{}", program.display());
    let elsewhere = tempfile::tempdir().expect("temp dir");
    assert!(
        elsewhere.path().join(&program).is_file(),
        "{} is not found from another folder",
        program.display()
    );
}

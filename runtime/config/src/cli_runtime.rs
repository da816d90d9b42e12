//! `runtime: cli`: the one place a workspace runs a native program. The operator grants one
//! command under `runtime_config` (the contract's `command`, `args`, `timeout`,
//! `required_env`, plus this runtime's `input`, `env`, `kill_grace`, `max_output`,
//! `max_concurrent`); each A2A task runs it as a subprocess (`molecule-runtime`'s
//! `cli_agent`). Every key here fails closed: a bad value, a null, a bad list item or an
//! unknown key under `runtime_config` is an error naming the file and the key, never a
//! default. Preflight resolves the command and FAILs when it is missing or not executable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use crate::escape_text;
use crate::lenient::{describe, Reader};
use crate::report::{PreflightReport, Status};

/// The `runtime` value that selects a CLI agent.
pub const CLI_RUNTIME: &str = "cli";
/// Default `runtime_config.kill_grace`: how long a canceled or timed-out program has between
/// SIGTERM and SIGKILL (5 s).
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);
/// Longest `runtime_config.kill_grace` (5 min).
pub const MAX_KILL_GRACE: Duration = Duration::from_secs(300);
/// Default `runtime_config.max_output`: stdout bytes streamed per task (1 MiB).
pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 20;
/// Default `runtime_config.history_max_bytes`: bytes of the context's earlier messages
/// written for the program per task (256 KiB).
pub const DEFAULT_HISTORY_MAX_BYTES: u64 = 256 * 1024;
/// Largest `runtime_config.history_max_bytes` (16 MiB).
pub const MAX_HISTORY_BYTES: u64 = 16 << 20;
/// Default `runtime_config.max_concurrent`: programs running at once (4).
pub const DEFAULT_MAX_CONCURRENT: u32 = 4;
/// Largest `runtime_config.max_concurrent` (256).
pub const MAX_CONCURRENT: u32 = 256;

/// How the task's text reaches the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CliInput {
    /// Written to its standard input, which is then closed (the default).
    #[default]
    Stdin,
    /// Appended as the last argument (stdin is empty).
    Argument,
}

/// `runtime_config` of a `runtime: cli` workspace, read strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliConfig {
    /// `command`: a program name looked up in `PATH` when the runtime starts (a name without
    /// `/`), or a path (relative to the config folder). Never run through a shell.
    pub command: String,
    /// `args`: its arguments, passed as they are (no shell expansion). Default none.
    pub args: Vec<String>,
    /// `input` (`stdin` | `argument`, default `stdin`).
    pub input: CliInput,
    /// `env`: names of host environment variables passed to the program (when set). Nothing
    /// else of the host environment is passed, apart from `required_env`.
    pub env: Vec<String>,
    /// `timeout`: the task's time limit; `None`: `sandbox.timeout` (30 s by default).
    pub timeout: Option<Duration>,
    /// `kill_grace`: SIGTERM to SIGKILL on cancel or timeout (default 5 s, at most 5 min).
    pub kill_grace: Duration,
    /// `max_output`: stdout bytes streamed per task; the rest is dropped with a notice
    /// (default 1 MiB).
    pub max_output: u64,
    /// `max_concurrent`: programs running at once; more tasks wait (default 4, 1–256).
    pub max_concurrent: u32,
    /// `argument_separator` (default `true`): with `input: argument`, pass `--` before the
    /// task's text so text starting with `-` is never read as an option (POSIX utility
    /// syntax guideline 10). `false`: text starting with `-` is refused instead.
    pub argument_separator: bool,
    /// `work_root`: an absolute folder under which each task's working folder is made;
    /// `None`: `<system temp dir>/molecule-cli-tasks-<uid>`. Never the data dir.
    pub work_root: Option<PathBuf>,
    /// `history_max_bytes`: bytes of the context's earlier messages written into the task's
    /// working folder for the program (`MOLECULE_HISTORY_FILE`; the newest that fit; 0: an
    /// empty file). Default 256 KiB, at most 16 MiB.
    pub history_max_bytes: u64,
}

/// Names of the runtime's own credentials, never granted to the program: every `MOLECULE_*`
/// variable (the workspace token, the inbound secret, …) and these.
pub const RUNTIME_SECRETS: [&str; 4] = [
    "LANGFUSE_SECRET_KEY",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
];

/// Whether `name` is one of the runtime's own credentials ([`RUNTIME_SECRETS`], `MOLECULE_*`).
pub fn is_runtime_secret(name: &str) -> bool {
    name.starts_with("MOLECULE_") || RUNTIME_SECRETS.contains(&name)
}

/// The keys a `runtime: cli` `runtime_config` may hold (`model`, `provider`, `models`: the
/// contract's, not used by the program but allowed).
const KEYS: [&str; 15] = [
    "command",
    "history_max_bytes",
    "argument_separator",
    "work_root",
    "args",
    "input",
    "env",
    "required_env",
    "timeout",
    "kill_grace",
    "max_output",
    "max_concurrent",
    "model",
    "provider",
    "models",
];

impl CliConfig {
    /// Reads `runtime_config` for `runtime: cli`; `None` (with errors in `r`) when it is
    /// absent, not a mapping or has no usable `command`.
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> Option<CliConfig> {
        let missing = "`runtime: cli` runs the command granted here; write \
                       `runtime_config: {command: <program>, args: [...]}`";
        let Some(map @ Value::Mapping(m)) = v else {
            let found = v.map_or("nothing".to_owned(), describe);
            r.fail(
                "runtime_config",
                v.unwrap_or(&Value::Null),
                format!("found {found}; {missing}"),
            );
            return None;
        };
        for (k, _) in m {
            let name = r.text(k).unwrap_or_default();
            if !KEYS.contains(&name.as_str()) {
                let name = escape_text(&name);
                r.fail(
                    &format!("runtime_config.{name}"),
                    k,
                    format!(
                        "unknown key for `runtime: cli` (a native program's grant is read \
                         strictly); the keys are {}",
                        KEYS.join(", ")
                    ),
                );
            }
        }
        let command = match map.get("command") {
            None => {
                r.fail(
                    "runtime_config.command",
                    map,
                    format!("is missing; {missing}"),
                );
                None
            }
            Some(node) => text(r, node, "runtime_config.command"),
        };
        let args = texts(r, map.get("args"), "runtime_config.args", |_| true);
        let env = texts(r, map.get("env"), "runtime_config.env", valid_env_name);
        let required = texts(
            r,
            map.get("required_env"),
            "runtime_config.required_env",
            valid_env_name,
        );
        refuse_secrets(r, map.get("env"), "runtime_config.env", &env);
        refuse_secrets(
            r,
            map.get("required_env"),
            "runtime_config.required_env",
            &required,
        );
        let out = CliConfig {
            command: command.unwrap_or_default(),
            args,
            input: input(r, map.get("input")),
            env,
            timeout: r.limit_duration(map.get("timeout"), "runtime_config.timeout"),
            kill_grace: kill_grace(r, map.get("kill_grace")),
            max_output: max_output(r, map.get("max_output")),
            max_concurrent: max_concurrent(r, map.get("max_concurrent")),
            argument_separator: strict_bool(r, map.get("argument_separator"), true),
            work_root: work_root(r, map.get("work_root")),
            history_max_bytes: history_max_bytes(r, map.get("history_max_bytes")),
        };
        (!out.command.is_empty()).then_some(out)
    }

    /// The program to run: `command` looked up in `path` (the runtime's `PATH`) when it has no
    /// `/`, else resolved against `config_dir`. It must be an executable regular file (or a
    /// link to one). The path returned is absolute (a relative `config_dir` is taken from the
    /// current folder now, once: each task runs in its own working folder), links kept (a
    /// multi-call program reads its name). The error names `runtime_config.command` and what
    /// was wrong.
    pub fn resolve_command(
        &self,
        path: Option<&str>,
        config_dir: &Path,
    ) -> Result<PathBuf, String> {
        let shown = escape_text(&self.command);
        if self.command.contains('/') {
            let file = config_dir.join(&self.command);
            return match executable(&file).and_then(|()| {
                std::path::absolute(&file).map_err(|_| "has no absolute path (current folder)")
            }) {
                Ok(file) => Ok(file),
                Err(why) => Err(format!(
                    "runtime_config.command: `{shown}` ({}) {why}",
                    file.display()
                )),
            };
        }
        let dirs = path.unwrap_or_default();
        for dir in std::env::split_paths(dirs).filter(|d| d.is_absolute()) {
            let file = dir.join(&self.command);
            if executable(&file).is_ok() {
                return Ok(file);
            }
        }
        Err(format!(
            "runtime_config.command: `{shown}` is not an executable file in any folder of PATH \
             ({}); install it, or write its path",
            escape_text(dirs)
        ))
    }
}

/// Whether `file` is a regular file with an execute bit.
fn executable(file: &Path) -> Result<(), &'static str> {
    let meta = std::fs::metadata(file).map_err(|_| "does not exist")?;
    if !meta.is_file() {
        return Err("is not a regular file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err("is not executable (no execute permission)");
        }
    }
    Ok(())
}

/// Preflight for `runtime: cli`: PASS naming the program, or FAIL naming
/// `runtime_config.command`. Nothing when the config is unusable (its errors already FAIL).
pub(crate) fn check_cli(
    report: &mut PreflightReport,
    cli: Option<&CliConfig>,
    path: Option<&str>,
    config_dir: &Path,
) {
    let Some(cli) = cli else { return };
    match cli.resolve_command(path, config_dir) {
        Ok(file) => report.push(
            Status::Pass,
            "runtime_config.command",
            format!(
                "native program {} (granted; no shell, scrubbed environment)",
                file.display()
            ),
        ),
        Err(why) => report.push(Status::Fail, "runtime_config.command", why),
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A non-empty scalar without NUL (numbers kept as written), or an error.
fn text(r: &mut Reader<'_>, node: &Value, key: &str) -> Option<String> {
    match r.text(node).filter(|s| !s.is_empty() && !s.contains('\0')) {
        Some(s) => Some(s),
        None => {
            let found = describe(node);
            r.fail(
                key,
                node,
                format!("expected a non-empty string, found {found}; fix it or remove the key"),
            );
            None
        }
    }
}

/// A list of strings each passing `ok`; absent is empty; anything else (null, a scalar, a bad
/// item) is an error.
fn texts(r: &mut Reader<'_>, node: Option<&Value>, key: &str, ok: fn(&str) -> bool) -> Vec<String> {
    let Some(node) = node else { return Vec::new() };
    let Value::Sequence(items) = node else {
        let found = describe(node);
        r.fail(
            key,
            node,
            format!("expected a list of strings, found {found}; fix it or remove the key"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("{key}[{i}]");
        match text(r, item, &key) {
            Some(s) if ok(&s) => out.push(s),
            Some(s) => r.fail(
                &key,
                item,
                format!(
                    "`{}` is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                    escape_text(&s)
                ),
            ),
            None => {}
        }
    }
    out
}

fn input(r: &mut Reader<'_>, node: Option<&Value>) -> CliInput {
    match node.map(|n| (n, n.as_str())) {
        None => CliInput::Stdin,
        Some((_, Some("stdin"))) => CliInput::Stdin,
        Some((_, Some("argument"))) => CliInput::Argument,
        Some((n, _)) => {
            let found = describe(n);
            r.fail(
                "runtime_config.input",
                n,
                format!("expected `stdin` or `argument`, found {found}"),
            );
            CliInput::Stdin
        }
    }
}

fn kill_grace(r: &mut Reader<'_>, node: Option<&Value>) -> Duration {
    let key = "runtime_config.kill_grace";
    match r.limit_duration(node, key) {
        Some(d) if d > MAX_KILL_GRACE => {
            r.fail(
                key,
                node.unwrap_or(&Value::Null),
                "is above the maximum 300s",
            );
            DEFAULT_KILL_GRACE
        }
        Some(d) => d,
        None => DEFAULT_KILL_GRACE,
    }
}

fn max_output(r: &mut Reader<'_>, node: Option<&Value>) -> u64 {
    match r.limit_bytes(node, "runtime_config.max_output") {
        Some(0) => {
            r.fail(
                "runtime_config.max_output",
                node.unwrap_or(&Value::Null),
                "must be at least 1 byte",
            );
            DEFAULT_MAX_OUTPUT
        }
        Some(n) => n,
        None => DEFAULT_MAX_OUTPUT,
    }
}

fn history_max_bytes(r: &mut Reader<'_>, node: Option<&Value>) -> u64 {
    match r.limit_bytes(node, "runtime_config.history_max_bytes") {
        Some(n) if n > MAX_HISTORY_BYTES => {
            r.fail(
                "runtime_config.history_max_bytes",
                node.unwrap_or(&Value::Null),
                format!("is over the largest allowed, {MAX_HISTORY_BYTES} bytes (16 MiB)"),
            );
            DEFAULT_HISTORY_MAX_BYTES
        }
        Some(n) => n,
        None => DEFAULT_HISTORY_MAX_BYTES,
    }
}

fn max_concurrent(r: &mut Reader<'_>, node: Option<&Value>) -> u32 {
    let Some(n) = node else {
        return DEFAULT_MAX_CONCURRENT;
    };
    match n.as_u64().and_then(|v| u32::try_from(v).ok()) {
        Some(v) if (1..=MAX_CONCURRENT).contains(&v) => v,
        _ => {
            let found = describe(n);
            r.fail(
                "runtime_config.max_concurrent",
                n,
                format!("expected a whole number 1–{MAX_CONCURRENT}, found {found}"),
            );
            DEFAULT_MAX_CONCURRENT
        }
    }
}

/// Fails each name in `names` that is one of the runtime's own credentials.
fn refuse_secrets(r: &mut Reader<'_>, node: Option<&Value>, key: &str, names: &[String]) {
    for name in names.iter().filter(|n| is_runtime_secret(n)) {
        r.fail(
            key,
            node.unwrap_or(&Value::Null),
            format!(
                "`{name}` is one of the runtime's own credentials (MOLECULE_*, {}); it is never \
                 given to the program — give the program its own credential under another name",
                RUNTIME_SECRETS.join(", ")
            ),
        );
    }
}

/// `runtime_config.argument_separator`: a YAML `true`/`false` only; absent is `default`.
fn strict_bool(r: &mut Reader<'_>, node: Option<&Value>, default: bool) -> bool {
    match node {
        None => default,
        Some(Value::Bool(b)) => *b,
        Some(n) => {
            let found = describe(n);
            r.fail(
                "runtime_config.argument_separator",
                n,
                format!("expected true or false, found {found}"),
            );
            default
        }
    }
}

/// `runtime_config.work_root`: an absolute path without NUL; absent is `None`.
fn work_root(r: &mut Reader<'_>, node: Option<&Value>) -> Option<PathBuf> {
    let node = node?;
    let key = "runtime_config.work_root";
    let path = text(r, node, key).map(PathBuf::from)?;
    if !path.is_absolute() {
        r.fail(
            key,
            node,
            "must be an absolute path (a folder outside the data dir)",
        );
        return None;
    }
    Some(path)
}

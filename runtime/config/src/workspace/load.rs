//! Getting config.yaml's text (or the reason there is none) and parsing it: a file that
//! exists but cannot be used gives all defaults plus an error, never a silent default.

use std::path::Path;

use serde_yaml::Value;

use super::config::{WorkspaceConfig, CONFIG_FILE, MAX_CONFIG_BYTES};
use crate::env::Env;
use crate::lenient::describe;
use crate::source::{self, SourceMap};
use crate::warning::Warning;

impl WorkspaceConfig {
    /// Reads `<config_dir>/config.yaml`. A missing file gives all defaults plus a warning; a
    /// missing `config_dir`, a dangling symlink, a file that is not regular (never opened, so a
    /// FIFO cannot block), larger than [`MAX_CONFIG_BYTES`] or that cannot be read
    /// (permissions, not UTF-8) gives all defaults plus an error. See [`WorkspaceConfig::from_yaml_str`] for the text.
    pub fn load(config_dir: &Path, env: &Env) -> WorkspaceConfig {
        let file = config_dir.join(CONFIG_FILE);
        match read_config_file(config_dir, &file) {
            Ok(Some(text)) => WorkspaceConfig::from_yaml_str(&text, config_dir, env),
            Ok(None) => {
                let w = Warning::in_file(
                    &file,
                    "",
                    "not found, so every setting is its default: no a2a.inbound_secret (A2A \
                     calls are unauthenticated unless MOLECULE_INBOUND_SECRET is set) and no \
                     grants beyond log; create it, or point WORKSPACE_CONFIG_PATH at the \
                     directory that holds it",
                );
                WorkspaceConfig::unusable(config_dir, env, vec![w], Vec::new())
            }
            Err(err) => WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err]),
        }
    }

    /// Parses config.yaml's text; `config_dir` locates relative paths and names the file in
    /// warnings and errors. Text that is not valid YAML (a duplicate key included) or whose top
    /// level is not a mapping gives all defaults plus an error naming the line (and the key);
    /// empty text gives all defaults silently. Text-typed keys keep a plain scalar as written:
    /// `version: 1.10` is `"1.10"`, not the float's `1.1`.
    pub fn from_yaml_str(text: &str, config_dir: &Path, env: &Env) -> WorkspaceConfig {
        let file = config_dir.join(CONFIG_FILE);
        if text.len() > MAX_CONFIG_BYTES {
            let err = too_large(&file, text.len() as u64);
            return WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err]);
        }
        // YAML allows a byte-order mark; it is not part of the first key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value = match source::parse(text) {
            Ok(value) => value,
            Err(e) => {
                let mut err = Warning::in_file(
                    &file,
                    e.key,
                    format!(
                        "{}; nothing from the file is used and the workspace does not start",
                        e.message
                    ),
                );
                err.line = e.line;
                return WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err]);
            }
        };
        match &value {
            Value::Mapping(_) => {
                let source = SourceMap::new(text, &value);
                WorkspaceConfig::from_value(&value, Some(&source), config_dir, env)
            }
            Value::Null => WorkspaceConfig::from_value(&Value::Null, None, config_dir, env),
            other => {
                let err = Warning::in_file(
                    &file,
                    "",
                    format!(
                        "the top level must be a mapping of keys, found {}; nothing from the \
                         file is used and the workspace does not start",
                        describe(other)
                    ),
                )
                .at_line(1);
                WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err])
            }
        }
    }

    /// All defaults, with `warnings` and `errors` about the file as a whole.
    fn unusable(
        config_dir: &Path,
        env: &Env,
        warnings: Vec<Warning>,
        errors: Vec<Warning>,
    ) -> WorkspaceConfig {
        let mut config = WorkspaceConfig::from_value(&Value::Null, None, config_dir, env);
        config.warnings.splice(0..0, warnings);
        config.errors.splice(0..0, errors);
        config
    }
}

fn too_large(file: &Path, size: u64) -> Warning {
    Warning::in_file(
        file,
        "",
        format!(
            "is {size} bytes, more than the limit of {MAX_CONFIG_BYTES} bytes (1 MiB); nothing \
             from it is used and the workspace does not start"
        ),
    )
}

/// config.yaml's text: `Ok(None)` when there is no such file (in a folder that exists), an
/// error when the folder does not exist, the file is a dangling symbolic link, not a regular
/// file (a FIFO would block), larger than [`MAX_CONFIG_BYTES`], or cannot be read.
fn read_config_file(config_dir: &Path, file: &Path) -> Result<Option<String>, Warning> {
    use std::io::{ErrorKind, Read};
    let cannot = |why: String| {
        Warning::in_file(
            file,
            "",
            format!(
                "exists but cannot be read ({why}); nothing from it is used and the workspace \
                 does not start: fix its permissions or contents"
            ),
        )
    };
    if let Err(e) = std::fs::metadata(config_dir) {
        if e.kind() == ErrorKind::NotFound {
            return Err(Warning::in_file(
                config_dir,
                "",
                format!(
                    "config folder {} does not exist; nothing is loaded and the workspace does \
                     not start: fix --config-dir / WORKSPACE_CONFIG_PATH",
                    config_dir.display()
                ),
            ));
        }
    }
    let link = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e.to_string())),
    };
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) if link.file_type().is_symlink() && e.kind() == ErrorKind::NotFound => {
            let target = std::fs::read_link(file)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(Warning::in_file(
                file,
                "",
                format!(
                    "is a symbolic link to {target}, which does not exist; nothing is loaded \
                     and the workspace does not start (a dangling link is not a missing file): \
                     fix the link or its target"
                ),
            ));
        }
        Err(e) => return Err(cannot(e.to_string())),
    };
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(cannot(format!("it is {kind}, not a regular file")));
    }
    if meta.len() > MAX_CONFIG_BYTES as u64 {
        return Err(too_large(file, meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_CONFIG_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(too_large(file, bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| cannot("stream did not contain valid UTF-8".into()))
}

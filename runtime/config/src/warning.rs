//! Problems found while reading configuration: each names where it is (file or environment,
//! key path, line when known) and what to do about it. The same type carries warnings (a value
//! fell back to its default) and errors (`WorkspaceConfig::errors`: the workspace must not start).

use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem. In a `warnings` list it is non-fatal: the value in question fell
/// back to its default (or was skipped). In `WorkspaceConfig::errors` it is fatal: preflight
/// FAILs. The message says what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file the problem is in; `None` for the process environment.
    pub file: Option<PathBuf>,
    /// The key path, e.g. `a2a.port`, `grants.skills.web-fetch.hosts[0]` or an env var name.
    /// Empty when the problem concerns the whole file.
    pub key: String,
    /// The 1-based line in `file`, when known.
    pub line: Option<usize>,
    /// What was wrong and what happens instead.
    pub message: String,
}

/// `text` with every control character (line breaks, tabs, escape sequences, …) and every
/// bidirectional-text control written as an escape (`\n`, `\u{1b}`), so that text taken
/// from a file or the environment can never start a new line or restyle a terminal in a
/// warning, an error or the preflight report.
pub fn escape_text(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

impl Warning {
    /// A warning about `key` in `file`. The key and message are escaped ([`escape_text`]).
    pub fn in_file(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            file: Some(file.to_path_buf()),
            key: escape_text(&key.into()),
            line: None,
            message: escape_text(&message.into()),
        }
    }

    /// A warning about the environment variable `var`. The name and message are escaped.
    pub fn in_env(var: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            file: None,
            key: escape_text(&var.into()),
            line: None,
            message: escape_text(&message.into()),
        }
    }

    /// The same warning, located at `line`.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}", escape_text(&file.display().to_string()))?,
            None => write!(f, "environment")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

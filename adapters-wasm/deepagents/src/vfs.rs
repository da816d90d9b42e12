//! The in-instance virtual filesystem of the deepagents adapter and its file tools (`ls`,
//! `read_file`, `write_file`, `edit_file`), modelled on deepagents' state-backed filesystem.
//! Nothing touches the host's filesystem: files live in a map for the task, are seeded from the
//! state snapshot the previous task of the context left in its completion message (see
//! `state.rs`) and persisted the same way at the end.

use molecule_guest_sdk::agent::ToolOutput;
use molecule_guest_sdk::types::ToolSpec;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Most bytes the filesystem may hold in total.
pub const MAX_TOTAL_BYTES: usize = 1 << 20;

/// Lines `read_file` returns when no `limit` is given.
pub const DEFAULT_READ_LIMIT: usize = 2000;

/// Files by absolute path (`/notes.md`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vfs {
    /// Path to content.
    pub files: BTreeMap<String, String>,
    /// True once a tool changed a file during this task.
    pub changed: bool,
}

/// `path` made absolute (`notes.md` → `/notes.md`), without a trailing slash.
pub fn normalize(path: &str) -> String {
    let trimmed = path.trim();
    let mut out = if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    };
    while out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

#[derive(Deserialize)]
struct LsArgs {
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
struct ReadArgs {
    file_path: String,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct WriteArgs {
    file_path: String,
    content: String,
}

#[derive(Deserialize)]
struct EditArgs {
    file_path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

fn parse<T: for<'de> Deserialize<'de>>(tool: &str, arguments: &str) -> Result<T, String> {
    serde_json::from_str(arguments).map_err(|e| format!("invalid arguments for `{tool}`: {e}"))
}

fn spec(name: &str, description: &str, schema: serde_json::Value) -> ToolSpec {
    ToolSpec {
        name: name.to_string(),
        description: description.to_string(),
        input_schema: schema.to_string(),
    }
}

impl Vfs {
    /// The specs of the file tools.
    pub fn specs() -> Vec<ToolSpec> {
        use serde_json::json;
        let path = json!({"type": "string", "description": "Absolute path, e.g. /notes.md"});
        vec![
            spec(
                "ls",
                "Lists the files in the virtual filesystem, optionally under a directory path.",
                json!({"type": "object", "properties": {"path": path}}),
            ),
            spec(
                "read_file",
                "Reads a file, numbered like `cat -n`. Use offset/limit (lines) for long files.",
                json!({"type": "object", "properties": {
                    "file_path": path, "offset": {"type": "integer", "minimum": 0},
                    "limit": {"type": "integer", "minimum": 1}
                }, "required": ["file_path"]}),
            ),
            spec(
                "write_file",
                "Creates a new file with the given content. Fails if the file exists: use edit_file.",
                json!({"type": "object", "properties": {
                    "file_path": path, "content": {"type": "string"}
                }, "required": ["file_path", "content"]}),
            ),
            spec(
                "edit_file",
                "Replaces old_string by new_string in a file. old_string must occur exactly once \
                 unless replace_all is true. Read the file first.",
                json!({"type": "object", "properties": {
                    "file_path": path, "old_string": {"type": "string"},
                    "new_string": {"type": "string"}, "replace_all": {"type": "boolean"}
                }, "required": ["file_path", "old_string", "new_string"]}),
            ),
        ]
    }

    /// Runs file tool `name`; `None` when `name` is not a file tool.
    pub fn call(&mut self, name: &str, arguments: &str) -> Option<ToolOutput> {
        Some(match name {
            "ls" => parse::<LsArgs>(name, arguments).map(|a| self.ls(a.path.as_deref())),
            "read_file" => parse::<ReadArgs>(name, arguments)
                .and_then(|a| self.read(&a.file_path, a.offset, a.limit)),
            "write_file" => parse::<WriteArgs>(name, arguments)
                .and_then(|a| self.write(&a.file_path, a.content)),
            "edit_file" => parse::<EditArgs>(name, arguments)
                .and_then(|a| self.edit(&a.file_path, &a.old_string, &a.new_string, a.replace_all)),
            _ => return None,
        })
    }

    fn total_bytes(&self) -> usize {
        self.files.values().map(String::len).sum()
    }

    /// Paths under `dir` (all when `None` or `/`), one per line.
    pub fn ls(&self, dir: Option<&str>) -> String {
        let prefix = dir.map(normalize).filter(|d| d != "/");
        let paths: Vec<&str> = self
            .files
            .keys()
            .filter(|p| match &prefix {
                Some(d) => p.starts_with(&format!("{d}/")) || *p == d,
                None => true,
            })
            .map(String::as_str)
            .collect();
        if paths.is_empty() {
            "No files found.".to_string()
        } else {
            paths.join("\n")
        }
    }

    /// Lines `offset..offset+limit` of `path`, numbered from 1 like `cat -n`.
    pub fn read(&self, path: &str, offset: usize, limit: Option<usize>) -> ToolOutput {
        let path = normalize(path);
        let content = self
            .files
            .get(&path)
            .ok_or_else(|| format!("file '{path}' not found"))?;
        if content.is_empty() {
            return Ok("System reminder: the file exists but is empty.".to_string());
        }
        let total = content.lines().count();
        if offset >= total {
            return Err(format!(
                "offset {offset} is past the end of '{path}' ({total} lines)"
            ));
        }
        let limit = limit.unwrap_or(DEFAULT_READ_LIMIT).max(1);
        Ok(content
            .lines()
            .enumerate()
            .skip(offset)
            .take(limit)
            .map(|(i, line)| format!("{:6}\t{line}", i + 1))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Creates `path` with `content`.
    pub fn write(&mut self, path: &str, content: String) -> ToolOutput {
        let path = normalize(path);
        if path == "/" {
            return Err("a file path is required".to_string());
        }
        if self.files.contains_key(&path) {
            return Err(format!(
                "cannot write '{path}': it already exists. Read it and use edit_file, or write a new path."
            ));
        }
        if self.total_bytes() + content.len() > MAX_TOTAL_BYTES {
            return Err(format!(
                "the virtual filesystem is full ({MAX_TOTAL_BYTES} bytes)"
            ));
        }
        let bytes = content.len();
        self.files.insert(path.clone(), content);
        self.changed = true;
        Ok(format!("Wrote {bytes} bytes to {path}"))
    }

    /// Replaces `old` by `new` in `path` (once, or everywhere with `all`).
    pub fn edit(&mut self, path: &str, old: &str, new: &str, all: bool) -> ToolOutput {
        let path = normalize(path);
        let total = self.total_bytes();
        let content = self
            .files
            .get_mut(&path)
            .ok_or_else(|| format!("file '{path}' not found"))?;
        if old.is_empty() {
            return Err("old_string must not be empty".to_string());
        }
        let count = content.matches(old).count();
        if count == 0 {
            return Err(format!("old_string not found in '{path}'"));
        }
        if count > 1 && !all {
            return Err(format!(
                "old_string appears {count} times in '{path}': use replace_all=true or a longer, unique old_string"
            ));
        }
        let updated = if all {
            content.replace(old, new)
        } else {
            content.replacen(old, new, 1)
        };
        if total - content.len() + updated.len() > MAX_TOTAL_BYTES {
            return Err(format!(
                "the virtual filesystem is full ({MAX_TOTAL_BYTES} bytes)"
            ));
        }
        *content = updated;
        self.changed = true;
        let n = if all { count } else { 1 };
        Ok(format!("Replaced {n} occurrence(s) in {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_edit_ls() {
        let mut fs = Vfs::default();
        assert_eq!(fs.ls(None), "No files found.");
        fs.call(
            "write_file",
            r#"{"file_path":"notes.md","content":"a\nb\na"}"#,
        )
        .unwrap()
        .unwrap();
        assert!(fs.changed);
        assert!(fs
            .write("/notes.md", "x".into())
            .unwrap_err()
            .contains("already exists"));
        assert_eq!(fs.read("/notes.md", 1, Some(1)).unwrap(), "     2\tb");
        let err = fs.edit("/notes.md", "a", "c", false).unwrap_err();
        assert!(err.contains("appears 2 times"));
        fs.edit("/notes.md", "a", "c", true).unwrap();
        assert_eq!(fs.files["/notes.md"], "c\nb\nc");
        fs.write("/dir/x.txt", String::new()).unwrap();
        assert_eq!(fs.ls(Some("/dir/")), "/dir/x.txt");
        assert!(fs.read("/dir/x.txt", 0, None).unwrap().contains("empty"));
        assert!(fs
            .read("/missing", 0, None)
            .unwrap_err()
            .contains("not found"));
        assert!(fs.call("ls", "{}").is_some());
        assert!(fs.call("other", "{}").is_none());
        let bad = fs.call("read_file", "{}").unwrap().unwrap_err();
        assert!(bad.contains("missing field `file_path`"));
    }

    #[test]
    fn size_limit() {
        let mut fs = Vfs::default();
        fs.write("/big", "x".repeat(MAX_TOTAL_BYTES)).unwrap();
        assert!(fs.write("/more", "y".into()).unwrap_err().contains("full"));
    }
}

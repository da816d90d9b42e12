//! file-search: an example molecule-runtime skill that reads a directory the operator granted
//! read-only (the host preopens it at /data). Tool `search` returns the lines that contain a
//! text, tool `read` returns one file, size-capped. Only std::fs over WASI: no other capability.

//! The `file-search` skill: tools `search` and `read` over the preopened `/data` directory.

mod paths;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use molecule_guest_sdk::{export_skill, json, Skill, ToolError};
use serde::{Deserialize, Serialize};

use paths::{display, resolve, DATA_ROOT};

/// Default and largest `max_results` of `search`.
const DEFAULT_RESULTS: usize = 50;
const MAX_RESULTS: usize = 500;
/// Files larger than this are skipped by `search`.
const MAX_SEARCHED_FILE: u64 = 2 * 1024 * 1024;
/// Most files `search` looks at in one call, and how deep it descends.
const MAX_FILES: usize = 20_000;
const MAX_DEPTH: usize = 32;
/// Longest line text returned (characters); longer lines are cut around the match.
const MAX_LINE_CHARS: usize = 300;
/// Most bytes `read` returns.
const MAX_READ_BYTES: u64 = 256 * 1024;

/// Input of `search`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchInput {
    /// Text to look for, case-insensitive.
    query: String,
    /// Directory to search, relative to /data (default: all of /data).
    path: Option<String>,
    /// Most matches to return.
    max_results: Option<usize>,
}

/// One matching line.
#[derive(Serialize, Debug, PartialEq)]
struct Match {
    /// File path relative to /data, `/`-separated.
    file: String,
    /// 1-based line number.
    line: usize,
    /// The line (cut to 300 characters).
    text: String,
}

/// Output of `search`.
#[derive(Serialize, Debug)]
struct SearchOutput {
    matches: Vec<Match>,
    /// True when more matches (or files) existed than were looked at or returned.
    truncated: bool,
    files_searched: usize,
}

/// Input of `read`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadInput {
    /// File path relative to /data (or starting with /data/).
    path: String,
}

/// Output of `read`.
#[derive(Serialize, Debug)]
struct ReadOutput {
    path: String,
    size: u64,
    text: String,
    /// True when the file is larger than 256 KiB and only its start is returned.
    truncated: bool,
}

/// Runs `search` under `root`.
fn search_in(root: &Path, input: SearchInput) -> Result<SearchOutput, ToolError> {
    let query = input.query.trim().to_lowercase();
    if query.is_empty() {
        return Err(ToolError::InvalidInput(
            "field `query`: give the text to look for (it is matched case-insensitively)".into(),
        ));
    }
    let limit = input.max_results.unwrap_or(DEFAULT_RESULTS);
    if limit == 0 || limit > MAX_RESULTS {
        return Err(ToolError::InvalidInput(format!(
            "field `max_results`: {limit} is out of range; use 1 to {MAX_RESULTS}"
        )));
    }
    let start = resolve(root, input.path.as_deref().unwrap_or(""), "path")
        .map_err(ToolError::InvalidInput)?;
    let meta = fs::metadata(&start).map_err(|e| missing(root, &start, "directory", &e))?;
    if !meta.is_dir() {
        return Err(ToolError::InvalidInput(format!(
            "field `path`: `{}` is a file, not a directory; use `read` for one file",
            display(root, &start)
        )));
    }
    let mut out = SearchOutput {
        matches: Vec::new(),
        truncated: false,
        files_searched: 0,
    };
    // Depth-first, alphabetical: the stack holds entries in reverse order, so they pop sorted.
    let mut stack: Vec<(PathBuf, bool, usize)> = vec![(start, true, 0)];
    while let Some((path, is_dir, depth)) = stack.pop() {
        if !is_dir {
            if out.files_searched >= MAX_FILES || out.matches.len() >= limit {
                out.truncated = true;
                return Ok(out);
            }
            out.files_searched += 1;
            search_file(root, &path, &query, limit, &mut out);
            continue;
        }
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        let mut children: Vec<(PathBuf, bool)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                // Symbolic links are neither files nor directories here: never followed.
                let kind = e.file_type().ok()?;
                let dir = kind.is_dir();
                (dir && depth < MAX_DEPTH || kind.is_file()).then(|| (e.path(), dir))
            })
            .collect();
        children.sort_by(|a, b| b.0.cmp(&a.0));
        stack.extend(children.into_iter().map(|(p, dir)| (p, dir, depth + 1)));
    }
    Ok(out)
}

/// Appends the matching lines of one file (skipping large and binary files).
fn search_file(root: &Path, file: &Path, query: &str, limit: usize, out: &mut SearchOutput) {
    match fs::metadata(file) {
        Ok(m) if m.len() <= MAX_SEARCHED_FILE => {}
        _ => return,
    }
    let Ok(bytes) = fs::read(file) else { return };
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return; // binary
    }
    let text = String::from_utf8_lossy(&bytes);
    for (n, line) in text.lines().enumerate() {
        let lower = line.to_lowercase();
        if let Some(at) = lower.find(query) {
            if out.matches.len() >= limit {
                out.truncated = true;
                return;
            }
            out.matches.push(Match {
                file: display(root, file),
                line: n + 1,
                text: excerpt(line, &lower, at),
            });
        }
    }
}

/// `line` cut to [`MAX_LINE_CHARS`] characters, keeping the match at byte `at` (of `lower`)
/// in view.
fn excerpt(line: &str, lower: &str, at: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= MAX_LINE_CHARS {
        return line.to_owned();
    }
    // Lowercasing can change lengths; position by characters of the lowered prefix.
    let at_char = lower[..at].chars().count().min(chars.len());
    let start = at_char.saturating_sub(MAX_LINE_CHARS / 3);
    let end = (start + MAX_LINE_CHARS).min(chars.len());
    let start = end.saturating_sub(MAX_LINE_CHARS);
    let mut text: String = chars[start..end].iter().collect();
    if start > 0 {
        text.insert(0, '…');
    }
    if end < chars.len() {
        text.push('…');
    }
    text
}

/// Runs `read` under `root`.
fn read_in(root: &Path, input: ReadInput) -> Result<ReadOutput, ToolError> {
    let path = resolve(root, &input.path, "path").map_err(ToolError::InvalidInput)?;
    let meta = fs::metadata(&path).map_err(|e| missing(root, &path, "file", &e))?;
    if meta.is_dir() {
        return Err(ToolError::InvalidInput(format!(
            "field `path`: `{}` is a directory; use `search` with this `path` to look inside",
            display(root, &path)
        )));
    }
    let mut bytes = Vec::new();
    fs::File::open(&path)
        .and_then(|f| f.take(MAX_READ_BYTES).read_to_end(&mut bytes))
        .map_err(|e| ToolError::Failed(format!("reading `{}`: {e}", display(root, &path))))?;
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(ToolError::Failed(format!(
            "`{}` is a binary file ({} bytes); this tool only returns text",
            display(root, &path),
            meta.len()
        )));
    }
    Ok(ReadOutput {
        path: display(root, &path),
        size: meta.len(),
        text: String::from_utf8_lossy(&bytes).into_owned(),
        truncated: meta.len() > MAX_READ_BYTES,
    })
}

/// The error for a path that cannot be opened.
fn missing(root: &Path, path: &Path, what: &str, err: &std::io::Error) -> ToolError {
    let shown = display(root, path);
    if err.kind() == std::io::ErrorKind::NotFound {
        ToolError::Failed(format!(
            "no {what} `{shown}` under {DATA_ROOT}; use `search` (without `path`) to see which \
             files exist"
        ))
    } else {
        ToolError::Failed(format!("cannot open `{shown}` under {DATA_ROOT}: {err}"))
    }
}

fn skill() -> Skill {
    let root = || Path::new(DATA_ROOT);
    Skill::new()
        .tool(
            "search",
            "Finds the lines that contain a text (case-insensitive) in the files of the \
             read-only directory granted to this skill (seen as /data), optionally only under \
             a subdirectory. Returns {file, line, text} per match, files in alphabetical order; \
             binary files and files over 2 MiB are skipped.",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Text to find, case-insensitive."},
                    "path": {"type": "string", "description": "Subdirectory relative to /data (default: all of it)."},
                    "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "default": DEFAULT_RESULTS}
                },
                "required": ["query"],
                "additionalProperties": false
            }),
            move |input: SearchInput| search_in(root(), input),
        )
        .tool(
            "read",
            "Returns the text of one file of the granted directory (/data), at most 256 KiB; \
             `truncated` tells whether the file is longer.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File path relative to /data, e.g. docs/readme.md."}
                },
                "required": ["path"],
                "additionalProperties": false
            }),
            move |input: ReadInput| read_in(root(), input),
        )
}

export_skill!(skill);

#[cfg(test)]
mod tests;

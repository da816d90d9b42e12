//! Path checking for file-search: every path a caller gives must stay inside the data root
//! (the WASI preopen at /data). `..`, other absolute roots and empty names are refused before
//! any file system call, so errors can say what to write instead.

//! [`resolve`]: a caller's path → a path under the data root, or an `invalid-input` text.

use std::path::{Component, Path, PathBuf};

/// Where the host mounts the granted directory.
pub const DATA_ROOT: &str = "/data";

/// Resolves `given` (relative to the root, or absolute under `/data`) to a path under `root`.
/// `field` names the input field in errors.
pub fn resolve(root: &Path, given: &str, field: &str) -> Result<PathBuf, String> {
    let trimmed = given.trim();
    let relative = if let Some(rest) = trimmed.strip_prefix(DATA_ROOT) {
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Err(outside(field, given));
        }
        rest.trim_start_matches('/')
    } else if trimmed.starts_with('/') || trimmed.starts_with('\\') {
        return Err(outside(field, given));
    } else {
        trimmed
    };
    let mut out = root.to_path_buf();
    for part in Path::new(relative).components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "field `{field}`: `{given}` contains `..`; give a path inside {DATA_ROOT} \
                     without `..`, relative to it (for example `docs/readme.md`)"
                ))
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside(field, given)),
        }
    }
    Ok(out)
}

/// The error for a path that is not under the data root.
fn outside(field: &str, given: &str) -> String {
    format!(
        "field `{field}`: `{given}` is outside {DATA_ROOT}; this skill only sees {DATA_ROOT}: \
         give a path relative to it (for example `docs/readme.md`) or starting with {DATA_ROOT}/"
    )
}

/// `path` relative to `root`, with `/` separators, for output.
pub fn display(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_the_root() {
        let root = Path::new("/data");
        for (given, want) in [
            ("", "/data"),
            (".", "/data"),
            ("docs", "/data/docs"),
            ("./docs/a.md", "/data/docs/a.md"),
            ("/data", "/data"),
            ("/data/docs/", "/data/docs"),
        ] {
            assert_eq!(
                resolve(root, given, "path").unwrap(),
                Path::new(want),
                "{given}"
            );
        }
        assert_eq!(display(root, Path::new("/data/docs/a.md")), "docs/a.md");
    }

    #[test]
    fn refuses_escapes_naming_the_field() {
        let root = Path::new("/data");
        for (given, hint) in [
            ("../etc/passwd", "contains `..`"),
            ("docs/../../x", "contains `..`"),
            ("/data/../etc", "contains `..`"),
            ("/etc/passwd", "outside /data"),
            ("/database", "outside /data"),
            ("\\windows", "outside /data"),
        ] {
            let err = resolve(root, given, "path").expect_err(given);
            assert!(
                err.starts_with("field `path`") && err.contains(hint),
                "{given}: {err}"
            );
        }
    }
}

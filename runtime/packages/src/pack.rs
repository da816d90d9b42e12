//! Packing a skill folder into the two blobs of a package: the config ([`SkillConfig`], JSON)
//! and the content layer (a deterministic tar.gz of the folder: entries sorted, times, owners
//! and modes normalised), so one folder always packs to the same digests.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::error::PackageError;
use crate::limits::Limits;

/// Folders never packed: build output and caches, at any depth.
const SKIPPED: [&str; 4] = [".git", "target", "__pycache__", "node_modules"];

/// The config blob of a package ([`crate::media_types::CONFIG_MEDIA_TYPE`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillConfig {
    /// The skill's `name` from its SKILL.md front matter (the folder name when it has none).
    pub name: String,
    /// The skill's `description` from its SKILL.md front matter.
    #[serde(default)]
    pub description: String,
    /// How the component comes: `wasm` (a prebuilt `tool.wasm`), `rust` (a crate built on
    /// load), `python` or `javascript` (a folder run by the shared interpreter).
    pub kind: String,
    /// The SKILL.md front matter's `capabilities:` as JSON (`null` when it requests none):
    /// what the skill asks for; config.yaml `grants` decide what it gets.
    #[serde(default)]
    pub capabilities: serde_json::Value,
}

/// A packed skill: the config blob, the content layer, and what they hold.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The config, parsed.
    pub config: SkillConfig,
    /// The config blob (JSON).
    pub config_blob: Vec<u8>,
    /// The content layer (tar.gz).
    pub layer: Vec<u8>,
    /// The files packed, relative to the folder, sorted.
    pub files: Vec<String>,
}

impl Packed {
    /// `sha256:<hex>` of the content layer: its descriptor's digest in the manifest.
    pub fn layer_digest(&self) -> String {
        crate::blobs::digest_of(&self.layer)
    }
}

/// Packs the skill folder `dir`: it must hold a `SKILL.md`; symbolic links and special files
/// are refused (naming them), `.git`, `target`, `__pycache__` and `node_modules` are skipped,
/// and the content must fit `limits` (the same budgets a pull enforces).
pub fn pack(dir: &Path, limits: &Limits) -> Result<Packed, PackageError> {
    let skill_md = dir.join("SKILL.md");
    let text = std::fs::read_to_string(&skill_md)
        .map_err(|e| PackageError::io(&skill_md, "reading the skill's SKILL.md", e))?;
    let config = skill_config(dir, &text)?;
    check_crate_paths(dir)?;
    if crate::unpack::would_build_on_host(dir) {
        return Err(PackageError::Pack {
            path: dir.join("Cargo.toml"),
            reason: "a Rust crate with no built component: a pulled package is never built on \
                     the host, so put the built component in the folder as `tool.wasm` \
                     (`cargo build --release --target wasm32-wasip2`) and push again"
                .to_owned(),
        });
    }
    let mut files = Vec::new();
    collect(dir, dir, &mut files, limits)?;
    files.sort();
    if files.len() as u64 > limits.max_entries {
        return Err(PackageError::Pack {
            path: dir.to_owned(),
            reason: format!(
                "{} files, more than the {} a package may hold",
                files.len(),
                limits.max_entries
            ),
        });
    }
    let layer = tar_gz(dir, &files, limits)?;
    let config_blob = serde_json::to_vec(&config).map_err(|e| PackageError::Pack {
        path: skill_md,
        reason: e.to_string(),
    })?;
    let files = files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(Packed {
        config,
        config_blob,
        layer,
        files,
    })
}

/// The config from SKILL.md's front matter (between the leading `---` lines).
fn skill_config(dir: &Path, text: &str) -> Result<SkillConfig, PackageError> {
    let path = dir.join("SKILL.md");
    let front = front_matter(text).unwrap_or("");
    let yaml: serde_yaml::Value = serde_yaml::from_str(front).map_err(|e| PackageError::Pack {
        path: path.clone(),
        reason: format!("its front matter is not valid YAML: {e}"),
    })?;
    let folder = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let text_of = |key: &str| yaml.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let capabilities = match yaml.get("capabilities") {
        None => serde_json::Value::Null,
        Some(v) => serde_json::to_value(v).map_err(|e| PackageError::Pack {
            path,
            reason: format!("its `capabilities:` cannot be written as JSON: {e}"),
        })?,
    };
    Ok(SkillConfig {
        name: text_of("name").unwrap_or(folder),
        description: text_of("description").unwrap_or_default(),
        kind: kind_of(dir).to_owned(),
        capabilities,
    })
}

/// A crate whose Cargo.toml names a `path` outside the folder (`path = "../sdk"`) cannot
/// build from the package alone: refused, saying what to push instead.
fn check_crate_paths(dir: &Path) -> Result<(), PackageError> {
    let manifest = dir.join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(());
    };
    let value: toml::Value = toml::from_str(&text).map_err(|e| PackageError::Pack {
        path: manifest.clone(),
        reason: format!("is not valid TOML: {e}"),
    })?;
    match outside_path(&value) {
        Some(path) => Err(PackageError::Pack {
            path: manifest,
            reason: format!(
                "names `path = \"{path}\"`, outside the skill folder, so the package could not \
                 build; push the built component instead (`molecule-runtime build` the crate and \
                 put its .wasm in the folder as tool.wasm), or depend on published crates"
            ),
        }),
        None => Ok(()),
    }
}

/// The first `path = "…"` anywhere in `value` that leaves the folder (`..` or absolute).
fn outside_path(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::Table(table) => table.iter().find_map(|(key, v)| match (key.as_str(), v) {
            ("path", toml::Value::String(p)) => {
                let path = Path::new(p);
                let escapes = path.is_absolute()
                    || path
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir));
                escapes.then(|| p.clone())
            }
            _ => outside_path(v),
        }),
        toml::Value::Array(items) => items.iter().find_map(outside_path),
        _ => None,
    }
}

/// The text between a leading `---` line and the next `---` line.
fn front_matter(text: &str) -> Option<&str> {
    let rest = text.trim_start_matches('\u{feff}').strip_prefix("---")?;
    let end = rest.find("\n---")?;
    Some(&rest[..end])
}

/// The component kind, in the order the runtime looks (`skill_dir.rs`).
fn kind_of(dir: &Path) -> &'static str {
    let has_ext = |ext: &str| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == ext))
        })
    };
    if dir.join("tool.wasm").is_file() || has_ext("wasm") {
        "wasm"
    } else if dir.join("Cargo.toml").is_file() {
        "rust"
    } else if has_ext("py") {
        "python"
    } else if has_ext("js") || has_ext("mjs") {
        "javascript"
    } else {
        "unknown"
    }
}

/// Every regular file under `dir` (relative to `root`), refusing links and special files.
fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<PathBuf>,
    limits: &Limits,
) -> Result<(), PackageError> {
    let entries = std::fs::read_dir(dir).map_err(|e| PackageError::io(dir, "reading", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PackageError::io(dir, "reading", e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| PackageError::io(&path, "reading", e))?;
        let name = entry.file_name();
        if kind.is_dir() && SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        let refuse = |reason: &str| PackageError::Pack {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
        if rel.components().count() > limits.max_depth {
            return Err(refuse("is nested deeper than a package may be"));
        }
        if kind.is_symlink() {
            return Err(refuse(
                "is a symbolic link; a package holds regular files only (copy the target in)",
            ));
        } else if kind.is_dir() {
            collect(root, &path, out, limits)?;
        } else if kind.is_file() {
            if rel.to_str().is_none() {
                return Err(refuse("has a name that is not UTF-8"));
            }
            out.push(rel);
        } else {
            return Err(refuse("is not a regular file or a folder"));
        }
    }
    Ok(())
}

/// The files as a deterministic tar.gz, within `limits.max_unpacked_bytes`.
fn tar_gz(root: &Path, files: &[PathBuf], limits: &Limits) -> Result<Vec<u8>, PackageError> {
    let gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut total = 0u64;
    for rel in files {
        let path = root.join(rel);
        let meta = std::fs::metadata(&path).map_err(|e| PackageError::io(&path, "reading", e))?;
        total = total.saturating_add(meta.len());
        if total > limits.max_unpacked_bytes {
            return Err(PackageError::Pack {
                path: root.to_owned(),
                reason: format!(
                    "its files add up to more than {} bytes, the most a package may unpack to",
                    limits.max_unpacked_bytes
                ),
            });
        }
        let file = std::fs::File::open(&path).map_err(|e| PackageError::io(&path, "reading", e))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(meta.len());
        header.set_mode(if executable(&meta) { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, rel, file)
            .map_err(|e| PackageError::io(&path, "packing", e))?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| PackageError::io(root, "packing", e))?;
    let mut out = gz
        .finish()
        .map_err(|e| PackageError::io(root, "compressing", e))?;
    out.flush().ok();
    Ok(out)
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    false
}

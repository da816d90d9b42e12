//! Turns a Rust component crate into a `.wasm` component with `cargo build --target
//! wasm32-wasip2`, cached by a hash of its sources: an unchanged crate is never rebuilt, and
//! build output lives in the runtime's cache, never in the skill folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use sha2::{Digest, Sha256};

use crate::python::PythonInterpreter;
use crate::toolchain::GuestToolchain;
use crate::tree_hash::{hash_tree, TreeFilter};

/// What of a crate's tree a build reads: everything but `target/` (and hidden entries).
const CRATE_FILES: TreeFilter = TreeFilter {
    skip: &["target"],
    skip_at_root: &[],
    extension: None,
};

pub use crate::toolchain::GUEST_TARGET;

/// Builds component crates into the cache.
#[derive(Debug, Clone)]
pub struct ComponentBuilder {
    cache_root: PathBuf,
    target_dir: PathBuf,
    out_dir: PathBuf,
    toolchain: GuestToolchain,
    python: PythonInterpreter,
}

/// A built component.
#[derive(Debug, Clone)]
pub struct Built {
    /// The `.wasm` file in the cache.
    pub wasm: PathBuf,
    /// The source hash it was built from.
    pub source_hash: String,
    /// True when cargo ran now; false when the cache already had it.
    pub built_now: bool,
    /// Time spent (hashing, and building when `built_now`).
    pub elapsed: Duration,
}

impl ComponentBuilder {
    /// A builder keeping cargo's target dir and the built components under `cache_root`.
    pub fn new(cache_root: &Path) -> Self {
        ComponentBuilder {
            cache_root: cache_root.to_owned(),
            target_dir: cache_root.join("cargo-target"),
            out_dir: cache_root.join("builds"),
            toolchain: GuestToolchain {
                lock: Some(cache_root.join("wasm-target.lock")),
                ..GuestToolchain::from_env()
            },
            python: PythonInterpreter::new(cache_root),
        }
    }

    /// The same builder using `toolchain` to find (and complete) the Rust toolchain.
    pub fn with_toolchain(mut self, toolchain: GuestToolchain) -> Self {
        self.toolchain = toolchain;
        self
    }

    /// The Python interpreter builder sharing this builder's cache root.
    pub fn python(&self) -> &PythonInterpreter {
        &self.python
    }

    /// The same builder building the Python interpreter with `python`.
    pub fn with_python(mut self, python: PythonInterpreter) -> Self {
        self.python = python;
        self
    }

    /// The cache root this builder keeps its folders under.
    pub fn cache_root(&self) -> &Path {
        &self.cache_root
    }

    /// cargo's target folder for guest builds (`<cache>/cargo-target`).
    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// Builds the crate at `crate_dir` unless a build of the same sources is cached.
    pub fn build(&self, crate_dir: &Path) -> anyhow::Result<Built> {
        self.build_with_env(crate_dir, &[])
    }

    /// Where a build of `crate_dir` with the extra environment `env` is (or would be)
    /// cached: `(source hash, .wasm path)`. The hash covers `env` too.
    pub fn cached_path(
        &self,
        crate_dir: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<(String, PathBuf)> {
        let mut hash = source_hash(crate_dir)?;
        if !env.is_empty() {
            let mut hasher = Sha256::new();
            hasher.update(hash.as_bytes());
            for (key, value) in env {
                hasher.update([0]);
                hasher.update(key.as_bytes());
                hasher.update([0]);
                hasher.update(value.as_bytes());
            }
            hash = hex::encode(hasher.finalize());
        }
        let wasm = self.out_dir.join(format!("{hash}.wasm"));
        Ok((hash, wasm))
    }

    /// [`Self::build`] with extra environment variables for cargo (e.g. a C compiler for a
    /// `-sys` crate's build script); they are part of the cache key.
    pub fn build_with_env(
        &self,
        crate_dir: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Built> {
        let start = Instant::now();
        let crate_dir = &crate_dir
            .canonicalize()
            .with_context(|| format!("resolving {}", crate_dir.display()))?;
        let manifest = crate_dir.join("Cargo.toml");
        if !manifest.is_file() {
            bail!(
                "{} has no Cargo.toml; a component source is a Rust crate",
                crate_dir.display()
            );
        }
        let (source_hash, wasm) = self.cached_path(crate_dir, env)?;
        if wasm.is_file() {
            return Ok(Built {
                wasm,
                source_hash,
                built_now: false,
                elapsed: start.elapsed(),
            });
        }
        let artifact = self.run_cargo(crate_dir, &manifest, env)?;
        let bytes = std::fs::read(&artifact)
            .with_context(|| format!("reading build output {}", artifact.display()))?;
        crate::cache::write_atomically(&self.out_dir, &wasm, &bytes)?;
        Ok(Built {
            wasm,
            source_hash,
            built_now: true,
            elapsed: start.elapsed(),
        })
    }

    fn run_cargo(
        &self,
        crate_dir: &Path,
        manifest: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<PathBuf> {
        self.toolchain.ensure_target(crate_dir)?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .current_dir(crate_dir)
            .args([
                "build",
                "--release",
                "--message-format=json-render-diagnostics",
            ])
            .args(["--target", GUEST_TARGET])
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(&self.target_dir)
            // Host-build settings must not leak into guest builds.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .context("running cargo (is the Rust toolchain installed?)")?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let hint = if stderr.contains("target may not be installed")
                || stderr.contains("can't find crate for `core`")
                || stderr.contains("can't find crate for `std`")
            {
                "\nhint: the toolchain lacks the target: run `rustup target add wasm32-wasip2`"
            } else {
                ""
            };
            bail!(
                "building {} failed:\n{}{hint}",
                crate_dir.display(),
                last_lines(&stderr, 40)
            );
        }
        find_artifact(&String::from_utf8_lossy(&output.stdout)).with_context(|| {
            format!(
                "{} built, but produced no .wasm: is it a `crate-type = [\"cdylib\"]` crate?",
                crate_dir.display()
            )
        })
    }
}

/// The `.wasm` artifact of a cdylib target in cargo's JSON messages.
fn find_artifact(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Hash of everything a build of `crate_dir` reads: its files (minus `target/` and hidden
/// folders), its path dependencies, and extra inputs listed in
/// `[package.metadata.molecule] inputs = ["../wit"]`.
pub fn source_hash(crate_dir: &Path) -> anyhow::Result<String> {
    let mut roots = BTreeSet::new();
    collect_roots(crate_dir, &mut roots)?;
    let mut hasher = Sha256::new();
    hasher.update(GUEST_TARGET.as_bytes());
    let own = crate_dir
        .canonicalize()
        .unwrap_or_else(|_| crate_dir.to_owned());
    // The crate's own files first and without its location (a moved crate is the same
    // source); then each dependency with its location.
    hash_tree(&own, CRATE_FILES, &mut hasher)?;
    for root in roots.iter().filter(|r| **r != own) {
        hasher.update(root.to_string_lossy().as_bytes());
        hash_tree(root, CRATE_FILES, &mut hasher)?;
    }
    Ok(hex::encode(hasher.finalize()))
}

fn collect_roots(dir: &Path, roots: &mut BTreeSet<PathBuf>) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    if !roots.insert(dir.clone()) {
        return Ok(());
    }
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    for extra in extra_inputs(&doc).chain(path_dependencies(&doc)) {
        let path = dir.join(&extra);
        if path.exists() {
            collect_roots(&path, roots)?;
        }
    }
    Ok(())
}

fn extra_inputs(doc: &toml::Table) -> impl Iterator<Item = String> + '_ {
    doc.get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("molecule"))
        .and_then(|m| m.get("inputs"))
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
}

fn path_dependencies(doc: &toml::Table) -> Vec<String> {
    let mut tables: Vec<&toml::Table> = Vec::new();
    for key in ["dependencies", "build-dependencies"] {
        if let Some(t) = doc.get(key).and_then(|t| t.as_table()) {
            tables.push(t);
        }
    }
    if let Some(targets) = doc.get("target").and_then(|t| t.as_table()) {
        for target in targets.values() {
            for key in ["dependencies", "build-dependencies"] {
                if let Some(t) = target.get(key).and_then(|t| t.as_table()) {
                    tables.push(t);
                }
            }
        }
    }
    tables
        .into_iter()
        .flat_map(|t| t.values())
        .filter_map(|dep| dep.get("path").and_then(|p| p.as_str()).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_follows_sources_and_path_deps() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        let app = dir.path().join("app");
        std::fs::create_dir_all(lib.join("src")).unwrap();
        std::fs::create_dir_all(app.join("src")).unwrap();
        std::fs::create_dir_all(app.join("target")).unwrap();
        std::fs::write(lib.join("Cargo.toml"), "[package]\nname='lib'\n").unwrap();
        std::fs::write(lib.join("src/lib.rs"), "pub fn a() {}").unwrap();
        std::fs::write(
            app.join("Cargo.toml"),
            "[package]\nname='app'\n[dependencies]\nlib = { path = '../lib' }\n",
        )
        .unwrap();
        std::fs::write(app.join("src/lib.rs"), "fn main() {}").unwrap();
        let h1 = source_hash(&app).unwrap();
        std::fs::write(app.join("target/junk"), "ignored").unwrap();
        assert_eq!(source_hash(&app).unwrap(), h1, "target/ must not count");
        std::fs::write(lib.join("src/lib.rs"), "pub fn b() {}").unwrap();
        let h2 = source_hash(&app).unwrap();
        assert_ne!(h2, h1, "path deps must count");
        let moved = dir.path().join("moved");
        std::fs::rename(&app, &moved).unwrap();
        assert_eq!(
            source_hash(&moved).unwrap(),
            h2,
            "moving the crate keeps its hash"
        );
    }

    #[test]
    fn finds_cdylib_wasm() {
        let msg = r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/x/liba.rlib"]}
{"reason":"compiler-artifact","target":{"kind":["cdylib"]},"filenames":["/x/json_query.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            find_artifact(msg),
            Some(PathBuf::from("/x/json_query.wasm"))
        );
    }
}

//! The digest that names what a component is built from, as the caches key it: a prebuilt
//! `.wasm` by the sha256 of its bytes (the component digest), a Rust crate by the builder's
//! source hash (its files and path dependencies, `builder::source_hash`), and a Python,
//! JavaScript or instructions-only skill folder by the sha256 tree hash of its files (each
//! file's relative path and bytes, in name order; hidden entries, `__pycache__`,
//! `node_modules` and `target` skipped).

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::skill_dir::ComponentSource;
use crate::tree_hash::{hash_tree, TreeFilter};

/// Files of a script or instructions skill that do not count.
const SCRIPT_FILES: TreeFilter = TreeFilter {
    skip: &["__pycache__", "node_modules", "target"],
    skip_at_root: &[],
    extension: None,
};

/// What a [`SourceDigest`] was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestOf {
    /// The component's bytes (a prebuilt `.wasm`).
    Component,
    /// The source files the component is built (or interpreted) from.
    SourceTree,
}

/// A digest `sha256:<64 hex>` and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceDigest {
    /// `sha256:` and the lowercase hex digest.
    pub digest: String,
    /// What it covers.
    pub of: DigestOf,
}

/// The digest of a skill whose component comes from `source` and whose folder is `dir` (an
/// instructions-only skill is digested as its folder).
///
/// # Errors
/// A file or folder that cannot be read (the error names it).
pub fn skill_digest(source: &ComponentSource, dir: &Path) -> anyhow::Result<SourceDigest> {
    match source {
        ComponentSource::Prebuilt(wasm) => component_digest(wasm),
        ComponentSource::Crate(path) => crate_digest(path),
        ComponentSource::Python(path) | ComponentSource::JavaScript(path) => tree_digest(path),
        ComponentSource::Instructions => tree_digest(dir),
    }
}

/// The digest of an adapter path: a `.wasm` file or a crate folder.
///
/// # Errors
/// As [`skill_digest`].
pub fn path_digest(path: &Path) -> anyhow::Result<SourceDigest> {
    if path.is_file() {
        component_digest(path)
    } else {
        crate_digest(path)
    }
}

/// sha256 of a `.wasm` file's bytes.
fn component_digest(wasm: &Path) -> anyhow::Result<SourceDigest> {
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    Ok(SourceDigest {
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        of: DigestOf::Component,
    })
}

/// The builder's source hash of a crate.
fn crate_digest(path: &Path) -> anyhow::Result<SourceDigest> {
    Ok(SourceDigest {
        digest: format!("sha256:{}", crate::builder::source_hash(path)?),
        of: DigestOf::SourceTree,
    })
}

/// The tree hash of a script or instructions folder.
fn tree_digest(dir: &Path) -> anyhow::Result<SourceDigest> {
    let mut hasher = Sha256::new();
    hash_tree(dir, SCRIPT_FILES, &mut hasher)?;
    Ok(SourceDigest {
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        of: DigestOf::SourceTree,
    })
}

//! Helpers shared by the binary's integration tests: the repository root and the build cache
//! every integration test uses, so guests are built once per run.

use std::path::{Path, PathBuf};

pub mod cli;
pub mod collector;
pub mod packages;
pub mod server;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The cache the integration tests share (under the target dir).
pub fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        repo().join(target)
    };
    target.join("molecule-test-cache")
}

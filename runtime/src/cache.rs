//! The on-disk compiled-code cache. A component is compiled once per content and engine:
//! the key is sha256 of the wasm bytes plus the engine's compatibility hash, so a cache
//! written by another wasmtime build or other engine settings is never read back.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

/// How a component was obtained, for reports and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache without compiling.
    Hit,
    /// Compiled now and written to the cache.
    Compiled,
}

impl CompiledCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompiledCache { dir: dir.into() }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the component for `wasm`, from the cache when present, compiling and storing it
    /// otherwise. `origin` names the source in errors.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        origin: &str,
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let path = self.dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
        if path.exists() {
            // SAFETY: the file is one this runtime wrote (atomically, by rename) into its own
            // cache folder, under a key that includes the engine's compatibility hash;
            // wasmtime also checks the header and version and fails safely on a mismatch.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => tracing::warn!(
                    path = %path.display(),
                    error = %err,
                    "compiled-code cache entry unusable; compiling again"
                ),
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{origin} is not a valid WebAssembly component"))?;
        if let Err(err) = write_atomically(&self.dir, &path, &compiled) {
            tracing::warn!(error = %err, "could not write the compiled-code cache");
        }
        // SAFETY: `compiled` was produced just now by `precompile_component` on this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading freshly compiled {origin}"))?;
        Ok((component, CacheOutcome::Compiled))
    }
}

/// sha256 of the wasm plus the engine's compatibility hash, hex encoded.
pub fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(Sha256::digest(wasm));
    hex::encode(hasher.0.finalize())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see a
/// partial file.
pub fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// A `std::hash::Hasher` that feeds sha256, so the key is stable across processes.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

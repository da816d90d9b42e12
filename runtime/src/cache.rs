//! The on-disk compiled-code cache. A component is compiled once per content and engine:
//! the key is sha256 of the wasm bytes plus the engine's compatibility hash, so a cache
//! written by another wasmtime build or other engine settings is never read back.
//!
//! The cache is bounded: after every write, the oldest-used entries (by modification time,
//! which every hit refreshes) are removed until the `.cwasm` files total at most the limit:
//! `MOLECULE_CACHE_MAX_BYTES` (`2g`, `512m`, `1073741824`, …; default [`DEFAULT_MAX_BYTES`],
//! 2 GiB). An entry this process has loaded or written is never evicted by it (its compiled
//! code is in use; on Linux another process's mapping of a removed file also stays valid).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The default bound on the compiled-code cache: 2 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// The environment variable that bounds the compiled-code cache, in bytes (`2g`, `512m`).
pub const MAX_BYTES_VAR: &str = "MOLECULE_CACHE_MAX_BYTES";

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Entries this process loaded or wrote: never evicted by it.
    in_use: Arc<Mutex<HashSet<PathBuf>>>,
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
    /// A cache in `dir` (created on first write), bounded by [`DEFAULT_MAX_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompiledCache {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            in_use: Arc::default(),
        }
    }

    /// A cache in `dir` bounded by `$MOLECULE_CACHE_MAX_BYTES` (default 2 GiB). Errors, naming
    /// the variable, when it is set to something that is not a byte size.
    pub fn from_env(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let max = max_bytes_from(std::env::var(MAX_BYTES_VAR).ok().as_deref())?;
        Ok(CompiledCache::new(dir).with_max_bytes(max))
    }

    /// The same cache bounded by `max_bytes` of `.cwasm` files.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The bound, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
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
        let key = cache_key(engine, wasm);
        self.load_at(engine, &key, &|| Ok(wasm.to_vec()), origin)
    }

    /// Like [`CompiledCache::load`] for a component already named by `content_key` (a digest
    /// that changes whenever its bytes do, e.g. the Python interpreter's source key plus the
    /// file's size and time): the bytes are read (by `wasm`) only when it must be compiled,
    /// sparing a hash of tens of MiB on every start.
    pub fn load_keyed(
        &self,
        engine: &Engine,
        content_key: &str,
        wasm: &dyn Fn() -> anyhow::Result<Vec<u8>>,
        origin: &str,
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.0.update(b"keyed\0");
        hasher.0.update(content_key.as_bytes());
        let key = hex::encode(hasher.0.finalize());
        self.load_at(engine, &key, wasm, origin)
    }

    fn load_at(
        &self,
        engine: &Engine,
        key: &str,
        wasm: &dyn Fn() -> anyhow::Result<Vec<u8>>,
        origin: &str,
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let path = self.dir.join(format!("{key}.cwasm"));
        self.mark_in_use(&path);
        if path.exists() {
            touch(&path);
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
        let wasm = wasm()?;
        let compiled = engine
            .precompile_component(&wasm)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{origin} is not a valid WebAssembly component"))?;
        match write_atomically(&self.dir, &path, &compiled) {
            Ok(()) => {
                self.evict();
            }
            Err(err) => tracing::warn!(error = %err, "could not write the compiled-code cache"),
        }
        // SAFETY: `compiled` was produced just now by `precompile_component` on this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading freshly compiled {origin}"))?;
        Ok((component, CacheOutcome::Compiled))
    }
}

impl CompiledCache {
    fn mark_in_use(&self, path: &Path) {
        let mut in_use = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
        in_use.insert(path.to_owned());
    }

    /// Removes the oldest-used entries not in use until the cache fits its bound. Returns
    /// the removed files. Failures are logged, never fatal.
    pub fn evict(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                Some((used, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        let in_use = self
            .in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut removed = Vec::new();
        for (_, size, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if in_use.contains(&path) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    total -= size;
                    removed.push(path);
                }
                Err(err) => tracing::warn!(path = %path.display(), error = %err, "cannot evict"),
            }
        }
        if !removed.is_empty() {
            tracing::info!(
                removed = removed.len(),
                kept_bytes = total,
                max_bytes = self.max_bytes,
                "compiled-code cache over its bound ({MAX_BYTES_VAR}); evicted the oldest-used entries"
            );
        }
        removed
    }
}

/// The cache bound for a `MOLECULE_CACHE_MAX_BYTES` value (`None`: unset → the default).
pub fn max_bytes_from(value: Option<&str>) -> anyhow::Result<u64> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_MAX_BYTES),
        Some(text) => molecule_config::units::parse_bytes(text).map_err(|e| {
            anyhow::anyhow!(
                "{MAX_BYTES_VAR}=`{text}` is not a byte size ({e}); write e.g. `2g`, `512m` or \
                 a number of bytes, or unset it for the default 2 GiB"
            )
        }),
    }
}

/// Marks `path` as just used (its modification time is the eviction order).
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_parses_and_a_bad_value_names_the_variable() {
        assert_eq!(max_bytes_from(None).unwrap(), DEFAULT_MAX_BYTES);
        assert_eq!(max_bytes_from(Some("")).unwrap(), DEFAULT_MAX_BYTES);
        assert_eq!(max_bytes_from(Some("512m")).unwrap(), 512 << 20);
        assert_eq!(max_bytes_from(Some("1000")).unwrap(), 1000);
        let err = max_bytes_from(Some("lots")).unwrap_err().to_string();
        assert!(err.contains("MOLECULE_CACHE_MAX_BYTES=`lots`"), "{err}");
    }

    #[test]
    fn eviction_removes_the_oldest_used_first_and_never_an_entry_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompiledCache::new(dir.path()).with_max_bytes(250);
        let old = SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            let path = dir.path().join(format!("{name}.cwasm"));
            std::fs::write(&path, [0u8; 100]).unwrap();
            let file = std::fs::File::options().append(true).open(&path).unwrap();
            file.set_modified(old + std::time::Duration::from_secs(i as u64))
                .unwrap();
        }
        std::fs::write(dir.path().join("keep.txt"), [0u8; 1000]).unwrap();
        // `a` is the oldest but in use; `b` was used again (touched) just now.
        cache.mark_in_use(&dir.path().join("a.cwasm"));
        touch(&dir.path().join("b.cwasm"));
        let removed = cache.evict();
        let names: Vec<_> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["c.cwasm", "d.cwasm"]);
        assert!(dir.path().join("a.cwasm").exists() && dir.path().join("b.cwasm").exists());
        assert!(dir.path().join("keep.txt").exists());
        assert!(cache.evict().is_empty(), "200 bytes fit in 250");
    }
}

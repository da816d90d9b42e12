//! The on-disk compiled-code cache. A component is compiled once per content and engine:
//! the key is sha256 of the wasm bytes plus the engine's compatibility hash, so a cache
//! written by another wasmtime build or other engine settings is never read back.
//!
//! The cache is bounded: after every write, the oldest-used entries (by modification time,
//! which every hit refreshes) are removed until the `.cwasm` files total at most the limit:
//! `MOLECULE_CACHE_MAX_BYTES` (`2g`, `512m`, `1073741824`, …; default [`DEFAULT_MAX_BYTES`],
//! 2 GiB). An entry this process has loaded or written is never evicted by it (its compiled
//! code is in use; on Linux another process's mapping of a removed file also stays valid).
//!
//! A second, read-only folder of entries can sit under the cache: `MOLECULE_PRECOMPILED_DIR`
//! ([`PRECOMPILED_VAR`]; the container image's `/opt/molecule/cache/compiled`, on its
//! read-only root). A component with no entry in the cache is looked up there before it is
//! compiled; that folder is never written, touched or evicted. So the cache itself can be a
//! small writable volume (Kubernetes: an `emptyDir`) for skills that are not in the image,
//! while the image's precompiled adapters and skills still load without compiling.

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

/// The environment variable naming a read-only folder of precompiled entries, consulted
/// after the cache (the image sets it to `/opt/molecule/cache/compiled`).
pub const PRECOMPILED_VAR: &str = "MOLECULE_PRECOMPILED_DIR";

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
    /// Read-only entries consulted when `dir` has none (never written or evicted).
    precompiled: Option<PathBuf>,
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
            precompiled: None,
            max_bytes: DEFAULT_MAX_BYTES,
            in_use: Arc::default(),
        }
    }

    /// A cache in `dir` bounded by `$MOLECULE_CACHE_MAX_BYTES` (default 2 GiB). Errors, naming
    /// the variable, when it is set to something that is not a byte size.
    /// With `$MOLECULE_PRECOMPILED_DIR` set (not empty), its folder is the read-only layer
    /// ([`CompiledCache::with_precompiled`]); a value that is not a folder is an error naming
    /// the variable.
    pub fn from_env(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let max = max_bytes_from(std::env::var(MAX_BYTES_VAR).ok().as_deref())?;
        let cache = CompiledCache::new(dir).with_max_bytes(max);
        match precompiled_from(std::env::var_os(PRECOMPILED_VAR))? {
            Some(dir) => Ok(cache.with_precompiled(dir)),
            None => Ok(cache),
        }
    }

    /// The same cache with `dir` as its read-only layer: entries there are loaded when the
    /// cache has none, and never written, touched or evicted.
    pub fn with_precompiled(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        self.precompiled = (dir != self.dir).then_some(dir);
        self
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
        if let Some(component) = self.precompiled_entry(engine, key) {
            return Ok((component, CacheOutcome::Hit));
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
    /// The read-only layer's entry for `key`, when there is a usable one.
    fn precompiled_entry(&self, engine: &Engine, key: &str) -> Option<Component> {
        let path = self.precompiled.as_ref()?.join(format!("{key}.cwasm"));
        if !path.is_file() {
            return None;
        }
        // SAFETY: the folder is the operator's precompiled copy of this runtime's cache
        // (the image's build wrote it with this binary), under a key that includes the
        // engine's compatibility hash; wasmtime also checks the header and version and fails
        // safely on a mismatch.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %err,
                    "precompiled entry unusable; compiling into the cache"
                );
                None
            }
        }
    }

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

/// The read-only layer for a `MOLECULE_PRECOMPILED_DIR` value (`None` or empty: none). A
/// value that is not an existing folder is an error naming the variable.
pub fn precompiled_from(value: Option<std::ffi::OsString>) -> anyhow::Result<Option<PathBuf>> {
    let Some(dir) = value.filter(|v| !v.is_empty()).map(PathBuf::from) else {
        return Ok(None);
    };
    anyhow::ensure!(
        dir.is_dir(),
        "{PRECOMPILED_VAR}={} is not a folder: point it at a folder of precompiled entries \
         (the image's /opt/molecule/cache/compiled) or unset it",
        dir.display()
    );
    Ok(Some(dir))
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

    /// The smallest component (header only), and one told apart by a custom section.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";
    const OTHER: &[u8] = b"\0asm\x0d\0\x01\0\0\x04\x03abc";

    fn cwasm_files(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        files
    }

    #[test]
    fn the_precompiled_layer_is_read_and_never_written() {
        let engine = Engine::default();
        let image = tempfile::tempdir().unwrap();
        let build = CompiledCache::new(image.path());
        let (_, outcome) = build.load(&engine, EMPTY, "empty").unwrap();
        assert_eq!(outcome, CacheOutcome::Compiled);
        let shipped = cwasm_files(image.path());
        assert_eq!(shipped.len(), 1);

        let volume = tempfile::tempdir().unwrap();
        let cache =
            CompiledCache::new(volume.path().join("compiled")).with_precompiled(image.path());
        let (_, outcome) = cache.load(&engine, EMPTY, "empty").unwrap();
        assert_eq!(outcome, CacheOutcome::Hit, "found in the precompiled layer");
        assert!(cwasm_files(&volume.path().join("compiled")).is_empty());
        // A component the image does not have is compiled into the cache, not the layer.
        let (_, outcome) = cache.load(&engine, OTHER, "other").unwrap();
        assert_eq!(outcome, CacheOutcome::Compiled);
        assert_eq!(cwasm_files(&volume.path().join("compiled")).len(), 1);
        assert_eq!(cwasm_files(image.path()), shipped, "the layer is unchanged");
        // The same folder as both is just the cache.
        let same = CompiledCache::new(image.path()).with_precompiled(image.path());
        assert!(same.precompiled.is_none());
    }

    #[test]
    fn a_precompiled_dir_that_is_not_a_folder_names_the_variable() {
        assert_eq!(precompiled_from(None).unwrap(), None);
        assert_eq!(precompiled_from(Some("".into())).unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let got = precompiled_from(Some(dir.path().into())).unwrap();
        assert_eq!(got.as_deref(), Some(dir.path()));
        let missing = dir.path().join("nope");
        let err = precompiled_from(Some(missing.clone().into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MOLECULE_PRECOMPILED_DIR=") && err.contains("nope"),
            "{err}"
        );
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

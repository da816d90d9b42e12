//! JavaScript skills: a skill folder with `app.js` (an ES module) runs on the one shared
//! engine component of [`engine`], with the folder as data.
//!
//! Every JavaScript skill gets, besides what the operator grants it:
//!
//! * a snapshot of its folder, read-only, at [`SKILL_MOUNT`] (`/skill`), taken when the skill
//!   (version) loads: the engine imports `app.js` from it at each call, so an edit is served
//!   by the next load with no rebuild and no recompile, and a file being written never
//!   reaches the calls of a loaded version (`node_modules/` is never part of one);
//! * a host-owned bytecode folder at [`BYTECODE_MOUNT`] (`/jscache`), one per skill version
//!   and engine build, writable only for the `describe` at load (the engine compiles every
//!   module it imports and keeps its QuickJS bytecode there) and read-only for calls, so a
//!   call parses nothing and, whatever its input, can never plant code for later calls.
//!
//! Both live in `<cache>/javascript/skills/<folder hash>/<source fingerprint>/` (see
//! `skill_snapshot.rs`).
//!
//! The compiled engine is shared: [`crate::component::ComponentHost::load_shared_skill`]
//! compiles and pre-instantiates it once per process, whatever the number of skills.

pub mod engine;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;

use crate::builder::ComponentBuilder;
use crate::component::{ComponentHost, SkillComponent};
use crate::grants::{DirGrant, Grants};
use crate::skill_snapshot::{self as snapshot, JAVASCRIPT};

pub use engine::Engine;

/// Where a JavaScript skill's folder is mounted, read-only.
pub const SKILL_MOUNT: &str = "/skill";
/// Where a JavaScript skill's bytecode folder is mounted (writable only while loading).
pub const BYTECODE_MOUNT: &str = "/jscache";
/// The entry module the engine imports.
pub const ENTRY: &str = "app.js";
/// The most bytecode one skill version may hold (bytes); more is an error at load.
pub const MAX_BYTECODE_BYTES: u64 = 32 * 1024 * 1024;

/// True when `dir` is a JavaScript skill folder: it has `app.js`.
pub fn is_js_skill(dir: &Path) -> bool {
    dir.join(ENTRY).is_file()
}

/// `<cache root>/javascript`: the skills' snapshots.
pub fn cache_dir(builder: &ComponentBuilder) -> PathBuf {
    builder.cache_root().join("javascript")
}

/// Loads the JavaScript skill in `skill_dir` on the shared engine: ensures the engine is
/// built and the folder's snapshot taken (both on the blocking pool), then describes it with
/// the snapshot at `/skill`. Errors name the build step, the folder, the bound passed, or the
/// skill's load failure (a syntax error with its file and line, say).
pub async fn load_skill(
    host: &ComponentHost,
    builder: &ComponentBuilder,
    skill_dir: &Path,
    grants: &Grants,
) -> anyhow::Result<SkillComponent> {
    let engine = ensure(builder).await?;
    let (skill_dir, cache) = (skill_dir.to_owned(), cache_dir(builder));
    // Bytecode is specific to the engine build: one folder per build in each version.
    let engine_dir = engine.key[..16].to_owned();
    let (version, bytecode) = tokio::task::spawn_blocking(move || {
        let skill_dir = skill_dir
            .canonicalize()
            .with_context(|| format!("resolving {}", skill_dir.display()))?;
        let version = snapshot::version_dir(JAVASCRIPT, &skill_dir, &cache)?;
        let bytecode = version.join("jscache").join(engine_dir);
        std::fs::create_dir_all(&bytecode)
            .with_context(|| format!("creating {}", bytecode.display()))?;
        anyhow::Ok((version, bytecode))
    })
    .await
    .context("the snapshot task failed")??;
    let mounts = |writable| {
        grants.with_dirs([
            DirGrant {
                host: version.join("src"),
                guest: SKILL_MOUNT.into(),
                writable: false,
            },
            DirGrant {
                host: bytecode.clone(),
                guest: BYTECODE_MOUNT.into(),
                writable,
            },
        ])
    };
    let mut skill = host
        .load_shared_skill(&engine.key, &engine.wasm, mounts(true))
        .await?;
    let written = snapshot::tree_bytes(&bytecode);
    if written > MAX_BYTECODE_BYTES {
        let _ = std::fs::remove_dir_all(&bytecode);
        anyhow::bail!(
            "{} wrote {written} bytes of bytecode while loading, over the \
             {MAX_BYTECODE_BYTES}-byte limit",
            skill.label
        );
    }
    skill.grants = mounts(false);
    snapshot::mark_current(&version);
    Ok(skill)
}

/// [`engine::ensure`] on the blocking pool, logging a fresh build. Remembered per cache root
/// for the process while its file exists, so loading or reloading a skill does not hash the
/// engine's sources again (the engine is part of the runtime version).
pub async fn ensure(builder: &ComponentBuilder) -> anyhow::Result<Engine> {
    static ENSURED: Mutex<BTreeMap<PathBuf, Engine>> = Mutex::new(BTreeMap::new());
    let root = builder.cache_root().to_owned();
    let known = ENSURED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&root)
        .cloned();
    if let Some(engine) = known.filter(|e| e.wasm.is_file()) {
        return Ok(Engine {
            built_now: false,
            elapsed: std::time::Duration::ZERO,
            ..engine
        });
    }
    let builder = builder.clone();
    let engine = tokio::task::spawn_blocking(move || engine::ensure(&builder))
        .await
        .context("the engine build task failed")??;
    ENSURED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(root, engine.clone());
    if engine.built_now {
        tracing::info!(
            wasm = %engine.wasm.display(),
            elapsed = ?engine.elapsed,
            "built the JavaScript engine component"
        );
    }
    Ok(engine)
}

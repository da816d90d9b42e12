//! Python skills: a skill folder with `app.py` (or only `scripts/*.py`) runs on the one shared
//! interpreter component of [`interpreter`], with the folder as data.
//!
//! Every Python skill gets, besides what the operator grants it:
//!
//! * a snapshot of its folder, read-only, at [`SKILL_MOUNT`] (`/skill`), taken when the
//!   skill (version) loads: the interpreter imports `app.py` from it at call time, so an edit
//!   is served by the next load with no rebuild and no recompile, and a file being written
//!   never reaches the calls of a loaded version (they answer old or new, never half);
//! * a writable, host-owned bytecode folder at [`PYCACHE_MOUNT`] (`/pycache`).
//!
//! Both live in `<cache>/python/skills/<folder hash>/<source fingerprint>/{src,pycache}`. The
//! fingerprint covers every `.py` file's path, size and modification time in nanoseconds, so
//! bytecode written for an older `app.py` is never read for a newer one, even when an edit
//! keeps the size and lands within the same second (CPython's own `.pyc` check compares
//! whole seconds and the size only).
//!
//! The compiled interpreter is shared: [`crate::component::ComponentHost::load_shared_skill`]
//! compiles and pre-instantiates it once per process, whatever the number of Python skills.

pub mod interpreter;
pub mod run;

use crate::skill_snapshot::{self as snapshot, PYTHON};

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::component::{ComponentHost, SkillComponent};
use crate::grants::{DirGrant, Grants};
pub use interpreter::{Interpreter, PythonInterpreter};

/// Where a Python skill's folder is mounted, read-only.
pub const SKILL_MOUNT: &str = "/skill";
/// Where a Python skill's bytecode cache is mounted, writable.
pub const PYCACHE_MOUNT: &str = "/pycache";
/// The internal tool that runs `scripts/<name>.py` (input `{"script", "args", "stdin"}`,
/// output `{"exit_code", "stdout", "stderr"}`); never listed by `describe`.
pub const RUN_SCRIPT_TOOL: &str = "__molecule_run_script__";
/// The internal tool that runs a code snippet (input `{"code", "stdin"}`); never listed.
pub const RUN_CODE_TOOL: &str = "__molecule_run_code__";

/// True when `dir` is a Python skill folder: it has `app.py`, or a `scripts/` folder with a
/// `.py` file in it.
pub fn is_python_skill(dir: &Path) -> bool {
    if dir.join("app.py").is_file() {
        return true;
    }
    std::fs::read_dir(dir.join("scripts")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "py"))
    })
}

/// `grants` plus the Python skill's own mounts (see the module docs) for the source version
/// in `version` (from `skill_snapshot::version_dir`): the snapshot read-only at `/skill`, and the bytecode
/// folder at `/pycache`, writable only when `write_bytecode` — for the one `describe` call
/// at load, which imports the skill's own modules with no outside input. Tool calls get it
/// read-only, so a call, whatever its input, can never plant bytecode that later calls run.
pub fn skill_grants(grants: &Grants, version: &Path, write_bytecode: bool) -> Arc<Grants> {
    grants.with_dirs([
        DirGrant {
            host: version.join("src"),
            guest: SKILL_MOUNT.into(),
            writable: false,
        },
        DirGrant {
            host: version.join("pycache"),
            guest: PYCACHE_MOUNT.into(),
            writable: write_bytecode,
        },
    ])
}

/// The most bytecode one skill version may hold (bytes); more is an error at load.
pub const MAX_PYCACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Loads the Python skill in `skill_dir` on the shared interpreter: ensures the interpreter
/// is built and the folder's snapshot taken (both on the blocking pool), describes it with
/// its bytecode folder writable, then keeps it for calls with that folder read-only. Errors
/// name the build step, the folder, the bound passed, or the skill's import failure.
pub async fn load_skill(
    host: &ComponentHost,
    python: &PythonInterpreter,
    skill_dir: &Path,
    grants: &Grants,
) -> anyhow::Result<SkillComponent> {
    let interpreter = ensure(python).await?;
    let (skill_dir, python_dir) = (skill_dir.to_owned(), python.dir().to_owned());
    let version = tokio::task::spawn_blocking(move || {
        let skill_dir = skill_dir
            .canonicalize()
            .with_context(|| format!("resolving {}", skill_dir.display()))?;
        snapshot::version_dir(PYTHON, &skill_dir, &python_dir)
    })
    .await
    .context("the snapshot task failed")??;
    let mut skill = host
        .load_shared_skill(
            &interpreter.key,
            &interpreter.wasm,
            skill_grants(grants, &version, true),
        )
        .await?;
    let bytecode = snapshot::tree_bytes(&version.join("pycache"));
    if bytecode > MAX_PYCACHE_BYTES {
        let _ = std::fs::remove_dir_all(version.join("pycache"));
        let _ = std::fs::create_dir_all(version.join("pycache"));
        anyhow::bail!(
            "{} wrote {bytecode} bytes into its bytecode folder while loading, over the \
             {MAX_PYCACHE_BYTES}-byte limit",
            skill.label
        );
    }
    skill.grants = skill_grants(grants, &version, false);
    snapshot::mark_current(&version);
    Ok(skill)
}

/// [`PythonInterpreter::ensure`] on the blocking pool, logging a fresh build.
pub async fn ensure(python: &PythonInterpreter) -> anyhow::Result<Interpreter> {
    let python = python.clone();
    let interpreter = tokio::task::spawn_blocking(move || python.ensure())
        .await
        .context("the interpreter build task failed")??;
    if interpreter.built_now {
        tracing::info!(
            wasm = %interpreter.wasm.display(),
            elapsed = ?interpreter.elapsed,
            "built the Python interpreter component"
        );
    }
    Ok(interpreter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_gets_a_new_version_and_the_old_snapshot_stays_intact() {
        let root = tempfile::tempdir().unwrap();
        let skill = root.path().join("s");
        std::fs::create_dir_all(skill.join("data")).unwrap();
        std::fs::write(skill.join("app.py"), "A = 1").unwrap();
        std::fs::write(skill.join("data/x.txt"), "x").unwrap();
        std::fs::create_dir_all(skill.join("__pycache__")).unwrap();
        let cache = root.path().join("python");
        let first = snapshot::version_dir(PYTHON, &skill, &cache).unwrap();
        assert_eq!(
            snapshot::version_dir(PYTHON, &skill, &cache).unwrap(),
            first
        );
        assert!(first.join("pycache").is_dir());
        assert!(first.join("src/data/x.txt").is_file());
        assert!(!first.join("src/__pycache__").exists());
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(skill.join("app.py"), "A = 2").unwrap(); // same size, in place
        let second = snapshot::version_dir(PYTHON, &skill, &cache).unwrap();
        assert_ne!(second, first);
        let read = |d: &Path| std::fs::read_to_string(d.join("src/app.py")).unwrap();
        assert_eq!(
            (read(&first).as_str(), read(&second).as_str()),
            ("A = 1", "A = 2")
        );
    }

    #[test]
    fn python_skills_are_recognised() {
        let root = tempfile::tempdir().unwrap();
        assert!(!is_python_skill(root.path()));
        std::fs::create_dir_all(root.path().join("scripts")).unwrap();
        std::fs::write(root.path().join("scripts/run.sh"), "").unwrap();
        assert!(!is_python_skill(root.path()));
        std::fs::write(root.path().join("scripts/x.py"), "").unwrap();
        assert!(is_python_skill(root.path()));
    }
}

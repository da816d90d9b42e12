//! Running Python in the sandbox for an agent: Agent Skills scripts (`scripts/*.py` of a
//! loaded skill, through the reserved tool [`RUN_SCRIPT_TOOL`]) and code snippets
//! (`run_code`, through [`RUN_CODE_TOOL`]), both on the shared interpreter component with the
//! sandbox limits, and with a per-task scratch folder at [`SCRATCH_MOUNT`] (`/scratch`).
//!
//! * A script runs with its skill's own grants and mounts (the `/skill` snapshot, read-only),
//!   plus the scratch folder.
//! * A snippet ([`CodeRunner`]) gets an empty, read-only `/skill`, the scratch folder, and no
//!   capability beyond `log` (no memory, HTTP, config or environment).
//!
//! **Scratch budget.** `/scratch` is a guest-writable host folder. WASI has no quota, so the
//! host checks its size after every call: past [`SCRATCH_BUDGET`] the folder is emptied and the
//! call fails with a message saying so. Within one call a guest can write more than that
//! (bounded only by the call's time limit and the disk's speed); a hard per-write cap needs a
//! quota-enforcing filesystem in the WASI layer (open item).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::sync::OnceCell;

use super::{PythonInterpreter, RUN_CODE_TOOL, RUN_SCRIPT_TOOL, SKILL_MOUNT};
use crate::component::{ComponentHost, SkillComponent};
use crate::grants::{DirGrant, Grants};
use crate::limits::SandboxLimits;
use crate::sandbox::{CallError, Sandbox};

/// Where the per-task scratch folder is mounted, writable (the working directory of scripts
/// and snippets).
pub const SCRATCH_MOUNT: &str = "/scratch";
/// The most a task's `/scratch` may hold after a call: 64 MiB.
pub const SCRATCH_BUDGET: u64 = 64 << 20;
/// The scripts folder of an Agent Skills folder.
pub const SCRIPTS_DIR: &str = "scripts";

/// The `.py` files under `<skill_dir>/scripts` (recursively, sorted, relative to `scripts/`,
/// with `/` separators; hidden entries and `__pycache__` skipped).
pub fn scripts(skill_dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "__pycache__" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() && depth < 8 {
                walk(base, &path, out, depth + 1);
            } else if path.is_file() && name.ends_with(".py") {
                if let Ok(rel) = path.strip_prefix(base) {
                    let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                    out.push(parts.join("/"));
                }
            }
        }
    }
    let base = skill_dir.join(SCRIPTS_DIR);
    let mut out = Vec::new();
    walk(&base, &base, &mut out, 0);
    out
}

/// True when `<skill_dir>/scripts` holds a `.py` file (directly or in a sub-folder).
pub fn has_scripts(skill_dir: &Path) -> bool {
    !scripts(skill_dir).is_empty()
}

/// `script` as a path relative to `scripts/` (`stats.py` and `scripts/stats.py` both give
/// `stats.py`), or `None` when it is empty, absolute or climbs out with `..`.
pub fn script_name(script: &str) -> Option<String> {
    let rel = script.trim().replace('\\', "/");
    let rel = rel
        .strip_prefix(&format!("{SCRIPTS_DIR}/"))
        .unwrap_or(&rel)
        .to_owned();
    let bad = rel.is_empty()
        || rel.starts_with('/')
        || rel
            .split('/')
            .any(|part| part == ".." || part.is_empty() || part == ".");
    (!bad).then_some(rel)
}

/// A per-task scratch folder, made on first use under a root folder (the workspace's data
/// folder, or the system temp folder) and removed with everything in it when dropped.
pub struct Scratch {
    root: PathBuf,
    dir: Mutex<Option<PathBuf>>,
}

impl Scratch {
    /// A scratch folder to be made under `root` (the system temp folder when `None`).
    pub fn new(root: Option<PathBuf>) -> Self {
        Scratch {
            root: root.unwrap_or_else(std::env::temp_dir),
            dir: Mutex::new(None),
        }
    }

    /// The folder, created now if needed.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut dir = self.dir.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = &*dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating scratch folder {}", dir.display()))?;
            return Ok(dir.clone());
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "molecule-scratch-{}-{nanos:x}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.root.join(name);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating scratch folder {}", path.display()))?;
        *dir = Some(path.clone());
        Ok(path)
    }

    /// The folder, if it was made.
    pub fn existing(&self) -> Option<PathBuf> {
        self.dir.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The grant mounting the folder (created now) writable at `/scratch`.
    pub fn grant(&self) -> anyhow::Result<DirGrant> {
        Ok(DirGrant {
            host: self.path()?,
            guest: SCRATCH_MOUNT.into(),
            writable: true,
        })
    }

    /// Ok while the folder holds at most [`SCRATCH_BUDGET`]; otherwise empties it and says so.
    pub fn enforce_budget(&self) -> Result<(), String> {
        let Some(dir) = self.existing() else {
            return Ok(());
        };
        let used = dir_size(&dir);
        if used <= SCRATCH_BUDGET {
            return Ok(());
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        Err(format!(
            "the code wrote {} MiB into {SCRATCH_MOUNT}, over its budget of {} MiB per task; \
             {SCRATCH_MOUNT} was emptied",
            used >> 20,
            SCRATCH_BUDGET >> 20
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.existing() {
            if let Err(err) = std::fs::remove_dir_all(&dir) {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), error = %err, "cannot remove the scratch folder");
                }
            }
        }
    }
}

/// Bytes of the regular files under `dir` (links not followed).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// `skill` with `extra` folders mounted too (same compiled interpreter, same tools, its
/// grants plus the folders).
pub fn with_dirs(
    skill: &SkillComponent,
    extra: impl IntoIterator<Item = DirGrant>,
) -> SkillComponent {
    SkillComponent {
        label: skill.label.clone(),
        digest: skill.digest.clone(),
        tools: skill.tools.clone(),
        cache: skill.cache,
        pre: skill.pre.clone(),
        grants: skill.grants.with_dirs(extra),
    }
}

/// Runs `scripts/<script>` of the loaded Python `skill` with `args` and `stdin`, with
/// `scratch` at `/scratch`; returns the interpreter's JSON `{"exit_code", "stdout", "stderr"}`.
pub async fn run_script(
    sandbox: &Sandbox,
    skill: &SkillComponent,
    scratch: &Scratch,
    script: &str,
    args: &[String],
    stdin: &str,
) -> Result<String, RunError> {
    let component = with_dirs(skill, [scratch.grant().map_err(RunError::Setup)?]);
    let input = serde_json::json!({"script": script, "args": args, "stdin": stdin}).to_string();
    let result = sandbox
        .call_tool(&component, RUN_SCRIPT_TOOL, &input)
        .await
        .map_err(RunError::Call);
    finish(scratch, result)
}

fn finish(scratch: &Scratch, result: Result<String, RunError>) -> Result<String, RunError> {
    match scratch.enforce_budget() {
        Err(text) => Err(RunError::Scratch(text)),
        Ok(()) => result,
    }
}

/// Why a script or snippet produced no result.
#[derive(Debug)]
pub enum RunError {
    /// The interpreter or the scratch folder could not be set up.
    Setup(anyhow::Error),
    /// The call failed (a limit, a crash, a tool error such as an unknown script).
    Call(CallError),
    /// The code left `/scratch` over its budget.
    Scratch(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Setup(err) => write!(f, "{err:#}"),
            RunError::Call(err) => write!(f, "{err}"),
            RunError::Scratch(text) => f.write_str(text),
        }
    }
}

/// `run_code`: Python snippets on the shared interpreter with an empty read-only `/skill`, a
/// scratch folder and no capability beyond `log`, under `limits`. Cheap to clone; the
/// interpreter is made ready on first use.
#[derive(Clone)]
pub struct CodeRunner {
    host: Arc<ComponentHost>,
    python: PythonInterpreter,
    limits: SandboxLimits,
    loaded: Arc<OnceCell<Arc<SkillComponent>>>,
}

impl CodeRunner {
    /// A runner on `host`'s engine with the interpreter `python`, under `limits`.
    pub fn new(host: Arc<ComponentHost>, python: PythonInterpreter, limits: SandboxLimits) -> Self {
        CodeRunner {
            host,
            python,
            limits,
            loaded: Arc::new(OnceCell::new()),
        }
    }

    /// The limits snippets run under.
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// The interpreter with the empty `/skill` (built and described once).
    async fn component(&self) -> anyhow::Result<Arc<SkillComponent>> {
        self.loaded
            .get_or_try_init(|| async {
                let interpreter = super::ensure(&self.python).await?;
                let empty = self.python.dir().join("empty-skill");
                std::fs::create_dir_all(&empty)
                    .with_context(|| format!("creating {}", empty.display()))?;
                let grants = Grants::builder("run_code")
                    .grant_hint("nowhere: run_code has no capabilities beyond log")
                    .limits(self.limits)
                    .build()
                    .with_dirs([DirGrant {
                        host: empty,
                        guest: SKILL_MOUNT.into(),
                        writable: false,
                    }]);
                let skill = self
                    .host
                    .load_shared_skill(&interpreter.key, &interpreter.wasm, grants)
                    .await?;
                Ok(Arc::new(skill))
            })
            .await
            .cloned()
    }

    /// Runs `code` with `stdin`, with `scratch` at `/scratch`; returns the interpreter's JSON
    /// `{"exit_code", "stdout", "stderr"}`.
    pub async fn run(
        &self,
        scratch: &Scratch,
        code: &str,
        stdin: &str,
    ) -> Result<String, RunError> {
        let base = self.component().await.map_err(RunError::Setup)?;
        let component = with_dirs(&base, [scratch.grant().map_err(RunError::Setup)?]);
        let input = serde_json::json!({"code": code, "stdin": stdin}).to_string();
        let result = Sandbox::new(self.host.engine().clone())
            .call_tool(&component, RUN_CODE_TOOL, &input)
            .await
            .map_err(RunError::Call);
        finish(scratch, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_stay_inside_scripts() {
        assert_eq!(script_name("stats.py").as_deref(), Some("stats.py"));
        assert_eq!(script_name("scripts/a/b.py").as_deref(), Some("a/b.py"));
        for bad in [
            "",
            "/etc/passwd",
            "../app.py",
            "a/../../x.py",
            "scripts/",
            "a//b.py",
        ] {
            assert_eq!(script_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn scratch_is_made_lazily_and_removed_on_drop() {
        let root = std::env::temp_dir();
        let scratch = Scratch::new(Some(root));
        assert!(scratch.existing().is_none());
        let dir = scratch.path().unwrap();
        std::fs::write(dir.join("f"), vec![0u8; 10]).unwrap();
        assert!(scratch.enforce_budget().is_ok());
        drop(scratch);
        assert!(!dir.exists());
    }
}

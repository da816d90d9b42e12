//! The one Python interpreter component every Python skill runs on, built by componentize-py
//! from `guest-sdk/python` (entry module `molecule_interpreter`, world `python-skill`).
//!
//! It is built once per machine and source: into a pinned virtualenv
//! (`<cache>/python/venv-componentize-py-0.25.1`, `pip install componentize-py==0.25.1` from
//! PyPI and nothing else) and then into `<cache>/python/interpreter-<key>.wasm`, where the key
//! is sha256 of the componentize-py version, every WIT file (path and bytes) and every `.py`
//! file of `<sdk>/python` (minus `tests/` and `__pycache__`).
//!
//! **Reproducibility.** componentize-py 0.25.1 builds are not byte-for-byte reproducible (the
//! pre-initialised CPython heap depends on build-time randomness). The input-keyed file is the
//! reproducibility story instead: the same sources map to the same stored wasm, which is never
//! rebuilt, so its sha256 (and so its compiled code) stays stable; ship that file to pin it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use sha2::{Digest, Sha256};

use crate::tree_hash::{hash_tree, TreeFilter};

/// The pinned componentize-py version.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The WIT world the interpreter implements.
pub const WORLD: &str = "python-skill";
/// The Python module componentize-py builds from (exports the `tool` interface as `Tool`).
pub const ENTRY_MODULE: &str = "molecule_interpreter";

/// Finds or builds the interpreter component. Cheap to clone; holds only paths.
#[derive(Debug, Clone)]
pub struct PythonInterpreter {
    dir: PathBuf,
    sdk: Option<PathBuf>,
}

/// A built interpreter component.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The `.wasm` file in the cache.
    pub wasm: PathBuf,
    /// The input key (hex sha256) it was built from; also its memo key in the host.
    pub key: String,
    /// True when componentize-py ran now.
    pub built_now: bool,
    /// Time spent (hashing, plus venv set-up and building when `built_now`).
    pub elapsed: Duration,
}

impl PythonInterpreter {
    /// An interpreter cached under `<cache_root>/python`, built from the guest SDK that
    /// [`crate::scaffold::guest_sdk`] finds (this build's checkout or `$MOLECULE_GUEST_SDK`).
    pub fn new(cache_root: &Path) -> Self {
        PythonInterpreter {
            dir: cache_root.join("python"),
            sdk: None,
        }
    }

    /// The same, built from the guest SDK folder `sdk` (which holds `python/` and has the
    /// `wit/` folder beside it).
    pub fn with_sdk(mut self, sdk: PathBuf) -> Self {
        self.sdk = Some(sdk);
        self
    }

    /// `<cache>/python`: the venv, the built interpreters and the bytecode caches.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SDK's `python/` folder and the `wit/` folder beside the SDK.
    fn sources(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let sdk = match &self.sdk {
            Some(sdk) => sdk.clone(),
            None => crate::scaffold::guest_sdk(None)?,
        };
        let python = sdk.join("python");
        let entry = python.join(format!("{ENTRY_MODULE}.py"));
        if !entry.is_file() {
            bail!(
                "the guest SDK at {} has no {}: Python skills need the interpreter's entry \
                 module there (set MOLECULE_GUEST_SDK to a complete `guest-sdk` folder)",
                sdk.display(),
                entry.display()
            );
        }
        let wit = sdk.join("..").join("wit");
        let wit = wit
            .canonicalize()
            .with_context(|| format!("finding the WIT folder {} beside the SDK", wit.display()))?;
        Ok((python, wit))
    }

    /// The input key of the interpreter the current sources give (see the module docs).
    pub fn key(&self) -> anyhow::Result<String> {
        let (python, wit) = self.sources()?;
        source_key(&python, &wit)
    }

    /// Returns the interpreter for the current sources, building it first when no build of
    /// them is cached. Blocking (process spawns, maybe minutes on a first build): call it from
    /// `spawn_blocking` in async code. One process at a time builds (a lock file in
    /// `<cache>/python`); the others wait and then find the result.
    ///
    /// Errors name the command that failed and its output: python3 missing (or without the
    /// `venv` module), pip unable to reach PyPI, or componentize-py rejecting the sources.
    pub fn ensure(&self) -> anyhow::Result<Interpreter> {
        let started = Instant::now();
        let (python, wit) = self.sources()?;
        let key = source_key(&python, &wit)?;
        let wasm = self.dir.join(format!("interpreter-{key}.wasm"));
        let done = |built_now| Interpreter {
            wasm: wasm.clone(),
            key: key.clone(),
            built_now,
            elapsed: started.elapsed(),
        };
        if wasm.is_file() {
            return Ok(done(false));
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let lock_path = self.dir.join("build.lock");
        let lock = File::create(&lock_path)
            .with_context(|| format!("creating {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        if wasm.is_file() {
            return Ok(done(false));
        }
        tracing::warn!(
            key = %key,
            "building the Python interpreter component once (about a minute: a venv with \
             componentize-py from PyPI, then componentize); later loads reuse it"
        );
        let tool = self.venv()?;
        let tmp = self
            .dir
            .join(format!(".interpreter-{}.wasm.tmp", std::process::id()));
        let mut cmd = Command::new(&tool);
        cmd.arg("-d")
            .arg(&wit)
            .args(["-w", WORLD, "componentize", ENTRY_MODULE, "-p"])
            .arg(&python)
            .arg("-o")
            .arg(&tmp)
            .current_dir(&self.dir);
        run(&mut cmd, "building the Python interpreter component")?;
        std::fs::rename(&tmp, &wasm)
            .with_context(|| format!("renaming {} to {}", tmp.display(), wasm.display()))?;
        drop(lock);
        Ok(done(true))
    }

    /// The pinned virtualenv's `componentize-py`, creating the venv first when needed.
    fn venv(&self) -> anyhow::Result<PathBuf> {
        let venv = self
            .dir
            .join(format!("venv-componentize-py-{COMPONENTIZE_PY_VERSION}"));
        let tool = venv.join("bin").join("componentize-py");
        let marker = venv.join(".installed");
        if marker.is_file() && tool.is_file() {
            return Ok(tool);
        }
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            "creating the virtualenv for componentize-py (needs python3 with the venv module)",
        )?;
        let requirement = format!("componentize-py=={COMPONENTIZE_PY_VERSION}");
        run(
            Command::new(venv.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg(&requirement),
            &format!("installing {requirement} from PyPI"),
        )?;
        std::fs::write(&marker, &requirement)
            .with_context(|| format!("writing {}", marker.display()))?;
        Ok(tool)
    }
}

/// Runs `cmd`; on failure the error names `what`, the exact command line and its output.
fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = match cmd.output() {
        Ok(out) => out,
        Err(err) => bail!("{what}: cannot run `{shown}`: {err} (is python3 installed and on PATH? set PYTHON to choose one)"),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let tail: Vec<&str> = stderr.lines().chain(stdout.lines()).collect();
        let tail = tail[tail.len().saturating_sub(30)..].join("\n");
        bail!(
            "{what} failed ({}): run `{shown}` to see why:\n{tail}",
            out.status
        );
    }
    Ok(())
}

/// sha256 of the componentize-py version, the world and entry module, every WIT file under
/// `wit` and every `.py` file under `python` (minus `tests/` and `__pycache__`), each as its
/// relative path and bytes.
pub fn source_key(python: &Path, wit: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    for part in [COMPONENTIZE_PY_VERSION, WORLD, ENTRY_MODULE] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let only = |extension| TreeFilter {
        skip: &["__pycache__"],
        skip_at_root: &["tests"],
        extension: Some(extension),
    };
    hasher.update(b"wit\0");
    hash_tree(wit, only("wit"), &mut hasher)?;
    hasher.update(b"python\0");
    hash_tree(python, only("py"), &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_follows_sources_but_not_tests_or_bytecode() {
        let dir = tempfile::tempdir().unwrap();
        let (py, wit) = (dir.path().join("python"), dir.path().join("wit"));
        std::fs::create_dir_all(py.join("tests")).unwrap();
        std::fs::create_dir_all(py.join("pkg/__pycache__")).unwrap();
        std::fs::create_dir_all(&wit).unwrap();
        std::fs::write(py.join("pkg/a.py"), "x = 1").unwrap();
        std::fs::write(wit.join("w.wit"), "package a:b;").unwrap();
        let k1 = source_key(&py, &wit).unwrap();
        std::fs::write(py.join("tests/test_a.py"), "pass").unwrap();
        std::fs::write(py.join("pkg/__pycache__/a.pyc"), "junk").unwrap();
        std::fs::write(py.join("README.md"), "docs").unwrap();
        assert_eq!(source_key(&py, &wit).unwrap(), k1);
        std::fs::write(py.join("pkg/a.py"), "x = 2").unwrap();
        let k2 = source_key(&py, &wit).unwrap();
        assert_ne!(k2, k1);
        std::fs::write(wit.join("w.wit"), "package a:c;").unwrap();
        assert_ne!(source_key(&py, &wit).unwrap(), k2);
    }
}

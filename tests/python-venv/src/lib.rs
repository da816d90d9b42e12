//! The Python virtualenv the tests and benchmarks share to run the official A2A SDK
//! (`a2a-sdk[http-server]==1.3.0`). It lives at `$CARGO_TARGET_DIR/a2a-venv` (else
//! `<repo>/target/a2a-venv`), the same place and marker (`.a2a-sdk-1.3.0`) as the a2a crate's
//! own Python client test (runtime/a2a/tests/python_client.rs), so all of them share one venv.
//! It is created on first use and reused after; extra packages (e.g. `uvicorn` for the
//! benchmark) are pip-installed when missing. Setup is serialized across processes with a lock
//! file. If Python or PyPI is unreachable, setup panics with a clear message: a test that needs
//! the SDK never passes silently without it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate lives in `tests/python-venv`).
fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The pinned SDK requirement installed into the venv.
pub const A2A_SDK: &str = "a2a-sdk[http-server]==1.3.0";

/// The SDK's gRPC extra at the same pin (`grpcio`, `grpcio-tools`, `grpcio-reflection`): pass
/// it to [`venv_python`] to drive the gRPC binding. A requirement with an extra counts as
/// installed once it was pip-installed into the venv (a marker file per requirement), since
/// the distribution alone does not say which extras it has.
pub const A2A_SDK_GRPC: &str = "a2a-sdk[grpc]==1.3.0";

/// The file in the venv whose presence says the pinned SDK is installed.
pub const PIN_MARKER: &str = ".a2a-sdk-1.3.0";

/// The cargo target dir (`$CARGO_TARGET_DIR`, relative ones taken from the repo root, else
/// `<repo>/target`).
pub fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    if target.is_absolute() {
        target
    } else {
        repo_root().join(target)
    }
}

/// The shared virtualenv folder.
pub fn venv_dir() -> PathBuf {
    target_dir().join("a2a-venv")
}

/// Runs `cmd` and returns its stdout; panics naming `what`, with both outputs, on failure.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Prints each requirement given as an argument (`name` or `name==version`) that is not
/// installed (or not at that version).
const CHECK: &str = r#"
import sys, importlib.metadata as m
for req in sys.argv[1:]:
    name, _, pin = req.partition("==")
    try:
        version = m.version(name)
    except m.PackageNotFoundError:
        print(req)
        continue
    if pin and version != pin:
        print(req)
"#;

/// The distribution name of a requirement: `a2a-sdk[http-server]==1.3.0` → `a2a-sdk`.
fn dist_name(requirement: &str) -> &str {
    let end = requirement
        .find(['[', '<', '>', '=', '!', '~', ';', ' ', '@'])
        .unwrap_or(requirement.len());
    requirement[..end].trim()
}

/// The requirements among `packages` that are not installed in the venv of `python`. A
/// requirement pinned with `==` counts as installed only at that version.
fn missing(python: &Path, packages: &[&str]) -> Vec<String> {
    let names: Vec<String> = packages
        .iter()
        .map(|p| {
            let pin = p.split_once("==").map(|(_, v)| v.trim());
            match pin {
                Some(v) => format!("{}=={v}", dist_name(p)),
                None => dist_name(p).to_owned(),
            }
        })
        .collect();
    let out = run(
        Command::new(python).args(["-c", CHECK]).args(&names),
        "checking the packages in the Python virtualenv",
    );
    let missing: Vec<&str> = out.lines().map(str::trim).collect();
    packages
        .iter()
        .zip(&names)
        .filter(|(_, n)| missing.contains(&n.as_str()))
        .map(|(p, _)| (*p).to_owned())
        .collect()
}

fn pip_install(python: &Path, packages: &[String]) {
    run(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages),
        &format!(
            "pip install {} (PyPI must be reachable)",
            packages.join(" ")
        ),
    );
}

/// Creates (once) or reuses the shared venv with the pinned a2a-sdk plus `packages` (pip
/// requirements such as `"uvicorn"`; those missing are installed) and returns its python.
///
/// Blocks (process spawns, maybe a pip download): call it from `spawn_blocking` in async
/// code. Panics with a clear message when python3 (with `venv`) or PyPI is unavailable. The
/// system python is `$PYTHON`, else `python3`.
pub fn venv_python(packages: &[&str]) -> PathBuf {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    std::fs::create_dir_all(target_dir()).expect("creating the cargo target dir");
    // One process at a time sets the venv up (tests and benches may run side by side).
    let lock_path = target_dir().join("a2a-venv.lock");
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", lock_path.display()));

    if !(venv.join(PIN_MARKER).exists() && python.exists()) {
        let system_python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&system_python).args(["-m", "venv"]).arg(&venv),
            "creating the Python virtualenv (needs python3 with the venv module)",
        );
        pip_install(&python, &[A2A_SDK.to_owned()]);
        std::fs::write(venv.join(PIN_MARKER), A2A_SDK).expect("writing the pin marker");
    }
    let (with_extras, plain): (Vec<&str>, Vec<&str>) =
        packages.iter().partition(|p| p.contains('['));
    if !plain.is_empty() {
        let missing = missing(&python, &plain);
        if !missing.is_empty() {
            pip_install(&python, &missing);
        }
    }
    for requirement in with_extras {
        let marker = venv.join(extra_marker(requirement));
        if !marker.exists() {
            pip_install(&python, &[requirement.to_owned()]);
            std::fs::write(&marker, requirement).expect("writing the extra's marker");
        }
    }
    drop(lock);
    python
}

/// The marker file name of a requirement with extras: `a2a-sdk[grpc]==1.3.0` →
/// `.req-a2a-sdk-grpc--1.3.0`.
fn extra_marker(requirement: &str) -> String {
    let name: String = requirement
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            ']' => '\0',
            _ => '-',
        })
        .filter(|c| *c != '\0')
        .collect();
    format!(".req-{name}")
}

#[cfg(test)]
mod tests {
    use super::{dist_name, extra_marker};

    #[test]
    fn extra_markers() {
        assert_eq!(
            extra_marker("a2a-sdk[grpc]==1.3.0"),
            ".req-a2a-sdk-grpc--1.3.0"
        );
    }

    #[test]
    fn dist_names() {
        assert_eq!(dist_name("a2a-sdk[http-server]==1.3.0"), "a2a-sdk");
        assert_eq!(dist_name("uvicorn"), "uvicorn");
        assert_eq!(dist_name("httpx>=0.27"), "httpx");
    }
}

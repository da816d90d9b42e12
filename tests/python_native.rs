//! The Python authoring package and the Python example skills, natively: `python -m pytest`
//! over `guest-sdk/python/tests`, `skills-examples/py-notes` and `skills-examples/text-stats`
//! with `molecule_skill.testing.FakeHost`, no wasm. Runs in the tests' shared venv with a
//! pinned pytest (PyPI must be reachable the first time).

use std::process::Command;

use molecule_tests::python::venv_python;
use molecule_tests::repo_root;

/// The pytest release the tests pin.
const PYTEST: &str = "pytest==8.3.4";

#[test]
fn the_sdk_and_the_example_skills_pass_their_own_tests() {
    let python = venv_python(&[PYTEST]);
    let root = repo_root();
    for suite in [
        "guest-sdk/python/tests",
        "skills-examples/py-notes/tests",
        "skills-examples/text-stats/tests",
    ] {
        let out = Command::new(&python)
            .current_dir(&root)
            .env("PYTHONPATH", root.join("guest-sdk/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", suite])
            .output()
            .expect("running pytest");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "pytest {suite} failed:\n{text}");
        assert!(
            text.contains(" passed"),
            "pytest {suite} ran no test:\n{text}"
        );
    }
}

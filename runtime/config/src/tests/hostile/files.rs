//! M4 and LOW: the config file itself. A dangling symlink, a missing config folder, a file
//! over the size limit and a FIFO each fail preflight (a FIFO without blocking).

use crate::tests::{no_env, parse, write};
use crate::{preflight, WorkspaceConfig, MAX_CONFIG_BYTES};

// M4: a dangling symlink and a missing config folder.

#[test]
fn m4_a_dangling_config_symlink_fails_naming_link_and_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("config.yaml");
    std::os::unix::fs::symlink("/nonexistent/config.yaml", &link).expect("symlink");
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let e = c.errors[0].to_string();
    assert!(e.starts_with(&link.display().to_string()), "{e}");
    assert!(
        e.contains("symbolic link to /nonexistent/config.yaml"),
        "{e}"
    );
    assert!(preflight(&no_env(), &c, &["langgraph"], dir.path()).has_failures());
}

#[test]
fn m4_a_config_folder_that_does_not_exist_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("typo-dir");
    let c = WorkspaceConfig::load(&missing, &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let e = c.errors[0].to_string();
    assert!(
        e.contains(&format!(
            "config folder {} does not exist",
            missing.display()
        )),
        "{e}"
    );
    assert!(preflight(&no_env(), &c, &["langgraph"], &missing).has_failures());
    // A folder without config.yaml is still defaults plus a warning.
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert!(c.errors.is_empty() && c.warnings.len() == 1, "{c:?}");
}

#[test]
fn low_a_huge_config_fails_naming_its_size_and_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = format!(
        "name: x\ndescription: \"{}\"\n",
        "a".repeat(MAX_CONFIG_BYTES)
    );
    write(dir.path(), "config.yaml", &big);
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let m = &c.errors[0].message;
    assert!(m.contains(&format!("is {} bytes", big.len())), "{m}");
    assert!(
        m.contains(&format!("limit of {MAX_CONFIG_BYTES} bytes")),
        "{m}"
    );
    assert_eq!(c.name, "Workspace");
    assert_eq!(parse(&big).errors.len(), 1);
}

#[test]
fn low_a_fifo_as_config_fails_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("config.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable; skipping");
        return;
    }
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert!(
        c.errors[0].message.contains("not a regular file"),
        "{}",
        c.errors[0]
    );
}

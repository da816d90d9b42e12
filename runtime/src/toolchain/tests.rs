//! The missing-target path of [`GuestToolchain::ensure_target`], with stand-in `rustc` and
//! `rustup` scripts and a fake rustup home, so no real toolchain is touched.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::*;

const TOOLCHAIN: &str = "1.95.0-x86_64-unknown-linux-gnu";

/// A fake rustup home with one toolchain (without the wasm target) and stand-in programs:
/// `rustc` prints the toolchain's sysroot; `rustup` appends its arguments to `rustup.log` and
/// then runs `rustup_body`.
struct Fixture {
    dir: tempfile::TempDir,
    sysroot: PathBuf,
}

impl Fixture {
    fn new(rustup_body: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let sysroot = dir.path().join("toolchains").join(TOOLCHAIN);
        std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/lib")).unwrap();
        let fixture = Fixture { dir, sysroot };
        fixture.script("rustc", &format!("echo '{}'", fixture.sysroot.display()));
        fixture.script(
            "rustup",
            &format!(
                "echo \"$@\" >> '{}'\n{rustup_body}",
                fixture.log().display()
            ),
        );
        fixture
    }

    fn script(&self, name: &str, body: &str) {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("rustup.log")
    }

    fn rustup_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn toolchain(&self) -> GuestToolchain {
        GuestToolchain {
            rustc: self.dir.path().join("rustc").into(),
            rustup: self.dir.path().join("rustup").into(),
            lock: Some(self.dir.path().join("target.lock")),
        }
    }

    fn crate_dir(&self) -> &Path {
        self.dir.path()
    }
}

#[test]
fn installs_a_missing_target_once_with_rustup() {
    let installs = format!(
        "mkdir -p \"$(dirname \"$0\")/toolchains/{TOOLCHAIN}/lib/rustlib/{GUEST_TARGET}/lib\" && \
         touch \"$(dirname \"$0\")/toolchains/{TOOLCHAIN}/lib/rustlib/manifest-rust-std-{GUEST_TARGET}\""
    );
    let fx = Fixture::new(&installs);
    fx.toolchain().ensure_target(fx.crate_dir()).unwrap();
    assert_eq!(
        fx.rustup_calls(),
        vec![format!("target add {GUEST_TARGET} --toolchain {TOOLCHAIN}")]
    );
    assert!(has_target(&fx.sysroot));
    // Installed now: a second build asks rustup nothing.
    fx.toolchain().ensure_target(fx.crate_dir()).unwrap();
    assert_eq!(fx.rustup_calls().len(), 1);
}

#[test]
fn an_installed_target_never_calls_rustup() {
    let fx = Fixture::new("exit 1");
    std::fs::create_dir_all(fx.sysroot.join(format!("lib/rustlib/{GUEST_TARGET}/lib"))).unwrap();
    std::fs::write(
        fx.sysroot
            .join(format!("lib/rustlib/manifest-rust-std-{GUEST_TARGET}")),
        "",
    )
    .unwrap();
    fx.toolchain().ensure_target(fx.crate_dir()).unwrap();
    assert!(fx.rustup_calls().is_empty());
}

/// A target folder without rustup's manifest is an install in progress (or a broken one):
/// not usable, so rustup is asked again rather than a build started on half a library.
#[test]
fn a_half_installed_target_is_installed_again() {
    let installs = format!(
        "touch \"$(dirname \"$0\")/toolchains/{TOOLCHAIN}/lib/rustlib/manifest-rust-std-{GUEST_TARGET}\""
    );
    let fx = Fixture::new(&installs);
    std::fs::create_dir_all(fx.sysroot.join(format!("lib/rustlib/{GUEST_TARGET}/lib"))).unwrap();
    fx.toolchain().ensure_target(fx.crate_dir()).unwrap();
    assert_eq!(fx.rustup_calls().len(), 1);
}

/// Parallel builds in one process: rustup runs once, and no build sees the target before
/// the install finished.
#[test]
fn parallel_builds_install_once() {
    let installs = format!(
        "sleep 0.3; mkdir -p \"$(dirname \"$0\")/toolchains/{TOOLCHAIN}/lib/rustlib/{GUEST_TARGET}/lib\" && \
         touch \"$(dirname \"$0\")/toolchains/{TOOLCHAIN}/lib/rustlib/manifest-rust-std-{GUEST_TARGET}\""
    );
    let fx = Fixture::new(&installs);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| fx.toolchain().ensure_target(fx.crate_dir()).unwrap());
        }
    });
    assert_eq!(fx.rustup_calls().len(), 1);
}

#[test]
fn a_failing_rustup_gives_the_exact_command() {
    let fx = Fixture::new("echo 'error: could not download file' >&2; exit 1");
    let err = format!(
        "{:#}",
        fx.toolchain().ensure_target(fx.crate_dir()).unwrap_err()
    );
    assert!(
        err.contains(&format!(
            "`rustup target add {GUEST_TARGET} --toolchain {TOOLCHAIN}` failed"
        )),
        "{err}"
    );
    assert!(err.contains("could not download file"), "{err}");
    assert!(err.contains("run it yourself"), "{err}");
}

#[test]
fn a_missing_rustup_gives_the_exact_command() {
    let fx = Fixture::new("");
    let mut toolchain = fx.toolchain();
    toolchain.rustup = fx.dir.path().join("no-such-rustup").into();
    let err = format!("{:#}", toolchain.ensure_target(fx.crate_dir()).unwrap_err());
    assert!(
        err.contains(&format!(
            "rustup target add {GUEST_TARGET} --toolchain {TOOLCHAIN}"
        )),
        "{err}"
    );
    assert!(err.contains("is rustup installed?"), "{err}");
}

#[test]
fn a_rustup_that_installs_nothing_is_an_error() {
    let fx = Fixture::new("exit 0");
    let err = format!(
        "{:#}",
        fx.toolchain().ensure_target(fx.crate_dir()).unwrap_err()
    );
    assert!(err.contains("is still missing"), "{err}");
}

#[test]
fn a_toolchain_rustup_does_not_manage_names_the_target() {
    let fx = Fixture::new("exit 1");
    let debian = fx.dir.path().join("usr");
    std::fs::create_dir_all(debian.join("lib/rustlib")).unwrap();
    fx.script("rustc", &format!("echo '{}'", debian.display()));
    let err = format!(
        "{:#}",
        fx.toolchain().ensure_target(fx.crate_dir()).unwrap_err()
    );
    assert!(err.contains("not installed by rustup"), "{err}");
    assert!(err.contains(&debian.display().to_string()), "{err}");
    assert!(fx.rustup_calls().is_empty());
}

#[test]
fn a_broken_rustc_names_the_command() {
    let fx = Fixture::new("");
    fx.script(
        "rustc",
        "echo 'error: toolchain is not installed' >&2; exit 1",
    );
    let err = format!(
        "{:#}",
        fx.toolchain().ensure_target(fx.crate_dir()).unwrap_err()
    );
    assert!(err.contains("--print sysroot"), "{err}");
    assert!(err.contains("toolchain is not installed"), "{err}");
}

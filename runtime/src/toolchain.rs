//! The Rust toolchain that builds guest components, and the one thing a fresh machine often
//! lacks: the `wasm32-wasip2` standard library.
//!
//! rustup adds the targets listed in `rust-toolchain.toml` only when it installs the toolchain
//! itself; a toolchain that was already there (and `RUSTUP_AUTO_INSTALL=0`) stays without
//! them, and cargo then fails with "can't find crate for `std`". Before a guest build,
//! [`GuestToolchain::ensure_target`] asks `rustc --print sysroot` which toolchain the build
//! will use (run in the crate's folder, so `rust-toolchain.toml` and `RUSTUP_TOOLCHAIN` apply
//! exactly as they do for cargo), and when `<sysroot>/lib/rustlib/wasm32-wasip2` is missing it
//! runs `rustup target add wasm32-wasip2 --toolchain <name>` once, saying so in the log. Where
//! that cannot work (no rustup, a toolchain rustup did not install, an offline machine) the
//! error gives the exact command to run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context as _};

/// The wasm target guests build for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// The programs a guest build uses to find and complete its toolchain.
#[derive(Debug, Clone)]
pub struct GuestToolchain {
    /// `rustc`, asked for its sysroot (`$RUSTC`, else `rustc` on `PATH`).
    pub rustc: OsString,
    /// `rustup`, used to add a missing target (`$RUSTUP`, else `rustup` on `PATH`).
    pub rustup: OsString,
    /// A file locked while checking and installing, shared by processes that build into the
    /// same cache (`None`: only this process's builds are serialised).
    pub lock: Option<PathBuf>,
}

impl Default for GuestToolchain {
    fn default() -> Self {
        GuestToolchain::from_env()
    }
}

impl GuestToolchain {
    /// The toolchain the environment points at: `$RUSTC` / `$RUSTUP`, else the names on `PATH`.
    pub fn from_env() -> Self {
        let pick = |var: &str, default: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.into())
        };
        GuestToolchain {
            rustc: pick("RUSTC", "rustc"),
            rustup: pick("RUSTUP", "rustup"),
            lock: None,
        }
    }

    /// Makes sure the toolchain that builds in `crate_dir` has the [`GUEST_TARGET`] standard
    /// library, installing it with rustup when it is missing.
    ///
    /// Errors: `rustc` cannot be run; the target is missing and rustup is absent, fails, or
    /// does not manage the toolchain — each message ends with the command to run by hand.
    pub fn ensure_target(&self, crate_dir: &Path) -> anyhow::Result<()> {
        // Builds run in parallel (a workspace loads its skills and adapter at once): one
        // check-and-install at a time, in this process and across processes sharing `lock`,
        // so no build starts on a target another build is still installing.
        static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        let _file_lock = self.lock_file()?;
        let sysroot = self.sysroot(crate_dir)?;
        if has_target(&sysroot) {
            return Ok(());
        }
        let Some(toolchain) = rustup_toolchain_name(&sysroot) else {
            bail!(
                "the Rust toolchain at {} has no `{GUEST_TARGET}` standard library, and it was \
                 not installed by rustup, so it cannot be added automatically; install the \
                 `{GUEST_TARGET}` target for that toolchain, or use rustup and run \
                 `rustup target add {GUEST_TARGET}`",
                sysroot.display()
            );
        };
        let command = format!("rustup target add {GUEST_TARGET} --toolchain {toolchain}");
        tracing::warn!(
            "the `{toolchain}` toolchain lacks the `{GUEST_TARGET}` target that guest \
             components build for; installing it once: `{command}`"
        );
        let output = self.run_rustup(crate_dir, &toolchain).with_context(|| {
            format!("running `{command}` (is rustup installed?); run it yourself, then retry")
        })?;
        if !output.status.success() {
            bail!(
                "`{command}` failed ({}):\n{}\nrun it yourself (it needs the package \
                 registry rustup downloads from), then retry",
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr), 20)
            );
        }
        if !has_target(&sysroot) {
            bail!(
                "`{command}` succeeded but {} is still missing; run it yourself and check \
                 which toolchain it installed into",
                target_dir(&sysroot).display()
            );
        }
        tracing::info!("installed the `{GUEST_TARGET}` target into `{toolchain}`");
        Ok(())
    }

    /// Takes the cross-process lock file, when one is set.
    fn lock_file(&self) -> anyhow::Result<Option<std::fs::File>> {
        let Some(path) = &self.lock else {
            return Ok(None);
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let file = std::fs::File::create(path)
            .with_context(|| format!("creating the lock file {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Some(file))
    }

    /// The sysroot of the `rustc` that cargo will use in `crate_dir`.
    fn sysroot(&self, crate_dir: &Path) -> anyhow::Result<PathBuf> {
        let output = Command::new(&self.rustc)
            .current_dir(crate_dir)
            .args(["--print", "sysroot"])
            .output()
            .with_context(|| {
                format!(
                    "running `{} --print sysroot` in {} (is the Rust toolchain installed?)",
                    self.rustc.to_string_lossy(),
                    crate_dir.display()
                )
            })?;
        if !output.status.success() {
            bail!(
                "`{} --print sysroot` in {} failed ({}):\n{}",
                self.rustc.to_string_lossy(),
                crate_dir.display(),
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr), 20)
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let path = text.trim();
        if path.is_empty() {
            bail!(
                "`{} --print sysroot` printed nothing",
                self.rustc.to_string_lossy()
            );
        }
        Ok(PathBuf::from(path))
    }

    fn run_rustup(&self, crate_dir: &Path, toolchain: &str) -> std::io::Result<Output> {
        Command::new(&self.rustup)
            .current_dir(crate_dir)
            .args(["target", "add", GUEST_TARGET, "--toolchain", toolchain])
            .output()
    }
}

/// `<sysroot>/lib/rustlib/wasm32-wasip2`.
fn target_dir(sysroot: &Path) -> PathBuf {
    sysroot.join("lib").join("rustlib").join(GUEST_TARGET)
}

/// The target's library folder exists and, in a rustup toolchain, rustup's manifest of the
/// component too (it is complete, not being extracted right now).
fn has_target(sysroot: &Path) -> bool {
    let manifest = sysroot
        .join("lib")
        .join("rustlib")
        .join(format!("manifest-rust-std-{GUEST_TARGET}"));
    target_dir(sysroot).join("lib").is_dir()
        && (rustup_toolchain_name(sysroot).is_none() || manifest.is_file())
}

/// The rustup toolchain name of a sysroot inside `$RUSTUP_HOME/toolchains/`, e.g.
/// `1.95.0-x86_64-unknown-linux-gnu`; `None` for a toolchain rustup does not manage.
fn rustup_toolchain_name(sysroot: &Path) -> Option<String> {
    let parent = sysroot.parent()?;
    if parent.file_name()? != "toolchains" {
        return None;
    }
    sysroot.file_name()?.to_str().map(str::to_owned)
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests;

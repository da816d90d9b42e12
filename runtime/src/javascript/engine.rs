//! The one JavaScript engine component every JavaScript skill runs on: QuickJS (quickjs-ng
//! through `rquickjs`, pinned in `guest-sdk/js/engine/Cargo.lock`) built from source by the
//! runtime's own [`ComponentBuilder`] for `wasm32-wasip2`, once per machine and engine
//! source, and shared by every skill (the skill's source is data).
//!
//! Why this engine (measured on this project's 2-core machine, against StarlingMonkey as
//! componentize-js builds it and Boa): a 1.5 MB component that instantiates in tens of
//! microseconds (no heap snapshot), a tool call around 1 ms, about 2 MB of linear memory per
//! running call, native ES modules loaded at run time, and byte-for-byte reproducible builds
//! from crates.io. Its C sources need a C compiler for wasm: `clang`, `llvm-ar` and
//! wasi-libc's headers (Debian: `apt-get install clang llvm wasi-libc`); [`ensure`] checks for
//! them before building and says what to install. Nothing is downloaded at build time
//! (`RQUICKJS_SYS_NO_WASI_SDK=1` stops `rquickjs-sys` from fetching a wasi-sdk).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::builder::ComponentBuilder;

/// A built engine component.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The `.wasm` file in the builder's cache.
    pub wasm: PathBuf,
    /// Its build key (hex sha256 of sources and build settings); also its memo key.
    pub key: String,
    /// True when cargo ran now.
    pub built_now: bool,
    /// Time spent (hashing, plus building when `built_now`).
    pub elapsed: Duration,
}

/// Where wasi-libc's headers are, unless `MOLECULE_WASI_INCLUDE` says otherwise (Debian's
/// `wasi-libc` package).
const WASI_INCLUDE: &str = "/usr/include/wasm32-wasi";

/// One engine build at a time in this process (cargo's own lock serialises processes).
static BUILD: Mutex<()> = Mutex::new(());

/// The engine crate of the guest SDK at `sdk` (`<sdk>/js/engine`).
pub fn crate_dir(sdk: &Path) -> anyhow::Result<PathBuf> {
    let dir = sdk.join("js").join("engine");
    if !dir.join("Cargo.toml").is_file() {
        bail!(
            "the guest SDK at {} has no js/engine/Cargo.toml: JavaScript skills need the \
             engine's source there (set MOLECULE_GUEST_SDK to a complete `guest-sdk` folder)",
            sdk.display()
        );
    }
    Ok(dir)
}

/// Returns the engine for the current sources of the guest SDK (the checkout's, or
/// `$MOLECULE_GUEST_SDK`), building it first when no build of them is cached. Blocking
/// (about a minute and a half on a first build): call it from `spawn_blocking`.
///
/// Errors: the SDK or its engine crate missing; the C toolchain missing (naming what to
/// install); the cargo build failing (with its output).
pub fn ensure(builder: &ComponentBuilder) -> anyhow::Result<Engine> {
    let started = Instant::now();
    let sdk = crate::scaffold::guest_sdk(None)?;
    let dir = crate_dir(&sdk)?;
    let env = build_env(builder);
    let done = |wasm: PathBuf, key: String, built_now| Engine {
        wasm,
        key,
        built_now,
        elapsed: started.elapsed(),
    };
    let (key, wasm) = builder.cached_path(&dir, &env)?;
    if wasm.is_file() {
        return Ok(done(wasm, key, false));
    }
    let _one = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    if wasm.is_file() {
        return Ok(done(wasm, key, false));
    }
    check_c_toolchain()?;
    tracing::warn!(
        key = %key,
        "building the JavaScript engine component once (about a minute: cargo builds QuickJS's \
         crate, pinned by guest-sdk/js/engine/Cargo.lock, with clang; nothing else is \
         downloaded); later loads reuse it"
    );
    let built = builder
        .build_with_env(&dir, &env)
        .context("building the JavaScript engine component")?;
    Ok(done(built.wasm, built.source_hash, true))
}

/// The variables `rquickjs-sys`'s build script needs to compile QuickJS for wasm32-wasip2
/// with the system's clang, offline; the prefix map keeps the cache's path out of the bytes.
fn build_env(builder: &ComponentBuilder) -> Vec<(String, String)> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let include = var("MOLECULE_WASI_INCLUDE", WASI_INCLUDE);
    let target = builder.target_dir().display().to_string();
    vec![
        ("RQUICKJS_SYS_NO_WASI_SDK".into(), "1".into()),
        ("CC_wasm32_wasip2".into(), var("CC_wasm32_wasip2", "clang")),
        (
            "AR_wasm32_wasip2".into(),
            var("AR_wasm32_wasip2", "llvm-ar"),
        ),
        (
            "CFLAGS_wasm32_wasip2".into(),
            format!("-isystem {include} -ffile-prefix-map={target}=/target"),
        ),
    ]
}

/// Checks for clang, llvm-ar and wasi-libc's `stdlib.h`; the error names every missing part
/// and the packages that provide it.
pub fn check_c_toolchain() -> anyhow::Result<()> {
    let cc = std::env::var("CC_wasm32_wasip2").unwrap_or_else(|_| "clang".into());
    let ar = std::env::var("AR_wasm32_wasip2").unwrap_or_else(|_| "llvm-ar".into());
    let include = std::env::var("MOLECULE_WASI_INCLUDE").unwrap_or_else(|_| WASI_INCLUDE.into());
    let mut missing = Vec::new();
    for (tool, package) in [(&cc, "clang"), (&ar, "llvm")] {
        let runs = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !runs {
            missing.push(format!("`{tool}` (package {package})"));
        }
    }
    if !Path::new(&include).join("stdlib.h").is_file() {
        missing.push(format!(
            "wasi-libc's headers in {include} (package wasi-libc; or set MOLECULE_WASI_INCLUDE)"
        ));
    }
    if !missing.is_empty() {
        bail!(
            "building the JavaScript engine needs a C compiler for wasm, and this machine lacks \
             {}. On Debian or Ubuntu: `sudo apt-get install -y clang llvm wasi-libc` (or run \
             `dev/setup` in the molecule-runtime checkout)",
            missing.join(", ")
        );
    }
    Ok(())
}

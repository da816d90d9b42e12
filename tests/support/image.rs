//! The container image's build context and its booted binary, shared by `tests/image.rs`
//! (builds the image with `podman build`, inspects it, exports its root filesystem) and the
//! `image_boot` bench (times container start to Agent Card on that exported filesystem).
//!
//! Layout of the image (see `deploy/Containerfile`): `/usr/local/bin/molecule-runtime`,
//! `/opt/molecule/{adapters,workspace,cache}`, and `/var/lib/molecule` (the data volume).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{repo_root, test_cache_dir};

/// The Rust target of the image's static binary.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// The tag the test gives the image it builds.
pub const IMAGE_TAG: &str = "localhost/molecule-runtime:test";

/// The environment the image sets (`ENV` in `deploy/Containerfile`), with its paths under
/// `root` (the exported root filesystem) instead of `/`.
pub fn image_env(root: &Path, data_dir: &Path) -> Vec<(String, String)> {
    let at = |p: &str| root.join(p).display().to_string();
    vec![
        ("MOLECULE_CACHE_DIR".into(), at("opt/molecule/cache")),
        ("MOLECULE_ADAPTERS_DIR".into(), at("opt/molecule/adapters")),
        ("WORKSPACE_CONFIG_PATH".into(), at("opt/molecule/workspace")),
        ("MOLECULE_DATA_DIR".into(), data_dir.display().to_string()),
        (
            "MOLECULE_LLM_SCRIPT".into(),
            at("opt/molecule/workspace/model-script.yaml"),
        ),
        ("HOME".into(), data_dir.display().to_string()),
    ]
}

/// The target dir the tests build into (`$CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    test_cache_dir()
        .parent()
        .expect("the test cache is under the target dir")
        .to_owned()
}

/// Where the image test keeps its build context and exported root filesystem.
pub fn image_work_dir() -> PathBuf {
    target_dir().join("molecule-image")
}

/// The exported root filesystem of the last image the test built.
pub fn exported_rootfs() -> PathBuf {
    image_work_dir().join("rootfs-export")
}

/// Builds the runtime for [`MUSL_TARGET`] in release mode (once per target dir: cargo does
/// nothing when it is up to date) and returns the binary. Panics with what the build needs
/// when cargo cannot run or the build fails (its own output is printed above).
pub fn musl_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let needs = format!(
        "it needs the {MUSL_TARGET} target (`rustup target add {MUSL_TARGET}`) and musl-tools \
         (`dev/setup` installs them)"
    );
    let status = Command::new(&cargo)
        .args(["build", "--release", "--locked", "-p", "molecule-runtime"])
        .args(["--target", MUSL_TARGET])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(repo_root())
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{cargo} build` for the image's binary: {e}"));
    assert!(
        status.success(),
        "the image's static binary did not build (`cargo build --release -p molecule-runtime \
         --target {MUSL_TARGET}` exited with {status}; its errors are above): {needs}"
    );
    target_dir()
        .join(MUSL_TARGET)
        .join("release/molecule-runtime")
}

/// Writes the build context `deploy/Containerfile` reads into `ctx`: the stripped binary,
/// the adapters as components (and a one-line workspace per adapter under
/// `opt/molecule/prebuild/` for the cache stage) and the demo workspace with each skill's
/// prebuilt `tool.wasm`.
pub fn build_context(ctx: &Path, binary: &Path) {
    let _ = std::fs::remove_dir_all(ctx);
    let root = ctx.join("rootfs");
    let builder = molecule_runtime::builder::ComponentBuilder::new(&test_cache_dir());
    let adapters = root.join("opt/molecule/adapters");
    std::fs::create_dir_all(&adapters).unwrap();
    for name in molecule_runtime::plan::ADAPTERS {
        let built = builder
            .build(&repo_root().join("adapters-wasm").join(name))
            .unwrap_or_else(|e| panic!("building adapter {name}: {e:#}"));
        std::fs::copy(&built.wasm, adapters.join(format!("{name}.wasm"))).unwrap();
        // A workspace per adapter, for the cache stage's `check` (not in the final image).
        let config = format!("name: prebuild-{name}\nruntime: {name}\nmodel: scripted:demo\n");
        let dir = root.join("opt/molecule/prebuild").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), config).unwrap();
    }
    let ws = root.join("opt/molecule/workspace");
    for file in ["config.yaml", "model-script.yaml", "system-prompt.md"] {
        copy(&repo_root().join("demo").join(file), &ws.join(file));
    }
    for skill in ["json-query", "notes"] {
        let src = repo_root().join("demo/skills").join(skill);
        let built = builder
            .build(&src)
            .unwrap_or_else(|e| panic!("building skill {skill}: {e:#}"));
        let dest = ws.join("skills").join(skill);
        copy(&src.join("SKILL.md"), &dest.join("SKILL.md"));
        copy(&built.wasm, &dest.join("tool.wasm"));
    }
    std::fs::create_dir_all(root.join("var/lib/molecule")).unwrap();
    let status = Command::new("strip")
        .arg("-o")
        .arg(ctx.join("molecule-runtime"))
        .arg(binary)
        .status()
        .expect("running strip (binutils)");
    assert!(status.success(), "strip failed");
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}

/// A runtime started from an exported image root: killed when dropped.
pub struct Booted {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Booted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `root`'s binary as the image would (`run`, the image's environment), on
/// 127.0.0.1 and a free port, with `data_dir` as the volume; returns once it listens.
pub fn boot_rootfs(root: &Path, data_dir: &Path) -> Booted {
    let port = free_port();
    let child = Command::new(root.join("usr/local/bin/molecule-runtime"))
        .args(["run", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .env_clear()
        .envs(image_env(root, data_dir))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the image's binary");
    Booted {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// A port free now on 127.0.0.1.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Polls `base`'s Agent Card every millisecond until it answers 200 (or `within` passes);
/// its JSON.
pub async fn wait_for_card(base: &str, within: Duration) -> Option<serde_json::Value> {
    let deadline = Instant::now() + within;
    let url = format!("{base}/.well-known/agent-card.json");
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(resp) = client.get(&url).send().await {
            if resp.status().is_success() {
                return resp.json().await.ok();
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

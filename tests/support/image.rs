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
        (
            "MOLECULE_PRECOMPILED_DIR".into(),
            at("opt/molecule/cache/compiled"),
        ),
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
///
/// The context is kept between runs and only files whose bytes changed are written (files no
/// longer part of it are removed): unchanged inputs keep their contents *and* times, so
/// `podman build --layers` reuses the cache stage's layers instead of compiling again.
pub fn build_context(ctx: &Path, binary: &Path) {
    let mut ctx_files = ContextFiles::new(ctx);
    let root = Path::new("rootfs");
    let builder = molecule_runtime::builder::ComponentBuilder::new(&test_cache_dir());
    for name in molecule_runtime::plan::ADAPTERS {
        let built = builder
            .build(&repo_root().join("adapters-wasm").join(name))
            .unwrap_or_else(|e| panic!("building adapter {name}: {e:#}"));
        let adapter = root.join(format!("opt/molecule/adapters/{name}.wasm"));
        ctx_files.copy(&built.wasm, &adapter);
        // A workspace per adapter, for the cache stage's `check` (not in the final image).
        let config = format!("name: prebuild-{name}\nruntime: {name}\nmodel: scripted:demo\n");
        let dir = root.join("opt/molecule/prebuild").join(name);
        ctx_files.write(&dir.join("config.yaml"), config.as_bytes());
    }
    let ws = root.join("opt/molecule/workspace");
    for file in ["config.yaml", "model-script.yaml", "system-prompt.md"] {
        ctx_files.copy(&repo_root().join("demo").join(file), &ws.join(file));
    }
    for skill in ["json-query", "notes"] {
        let src = repo_root().join("demo/skills").join(skill);
        let built = builder
            .build(&src)
            .unwrap_or_else(|e| panic!("building skill {skill}: {e:#}"));
        let dest = ws.join("skills").join(skill);
        ctx_files.copy(&src.join("SKILL.md"), &dest.join("SKILL.md"));
        ctx_files.copy(&built.wasm, &dest.join("tool.wasm"));
    }
    ctx_files.dir(&root.join("var/lib/molecule"));
    let stripped = ctx.with_extension("strip.tmp");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(binary)
        .status()
        .expect("running strip (binutils)");
    assert!(status.success(), "strip failed");
    ctx_files.copy(&stripped, Path::new("molecule-runtime"));
    let _ = std::fs::remove_file(&stripped);
    ctx_files.remove_others();
}

/// The files of a build context, written only when their bytes change.
struct ContextFiles {
    ctx: PathBuf,
    /// Every path (relative to `ctx`) that belongs to the context, folders included.
    keep: std::collections::BTreeSet<PathBuf>,
}

impl ContextFiles {
    fn new(ctx: &Path) -> Self {
        std::fs::create_dir_all(ctx).unwrap();
        ContextFiles {
            ctx: ctx.to_owned(),
            keep: Default::default(),
        }
    }

    /// Records `rel` and its parent folders as part of the context.
    fn keep(&mut self, rel: &Path) {
        for p in rel.ancestors().filter(|p| !p.as_os_str().is_empty()) {
            self.keep.insert(p.to_owned());
        }
    }

    fn dir(&mut self, rel: &Path) {
        std::fs::create_dir_all(self.ctx.join(rel)).unwrap();
        self.keep(rel);
    }

    /// Copies `from` to `rel` (bytes and permissions), leaving an identical file alone.
    fn copy(&mut self, from: &Path, rel: &Path) {
        let bytes =
            std::fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        self.write(rel, &bytes);
        let to = self.ctx.join(rel);
        let mode = std::fs::metadata(from).unwrap().permissions();
        if std::fs::metadata(&to).unwrap().permissions() != mode {
            std::fs::set_permissions(&to, mode).unwrap();
        }
    }

    /// Writes `bytes` at `rel` unless the file already holds exactly them.
    fn write(&mut self, rel: &Path, bytes: &[u8]) {
        let to = self.ctx.join(rel);
        self.keep(rel);
        if std::fs::read(&to).is_ok_and(|old| old == bytes) {
            return;
        }
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", to.display()));
    }

    /// Removes what is under `ctx` but no longer part of the context.
    fn remove_others(&self) {
        let mut stack = vec![self.ctx.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let rel = path.strip_prefix(&self.ctx).unwrap().to_owned();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                match (self.keep.contains(&rel), is_dir) {
                    (true, true) => stack.push(path),
                    (true, false) => {}
                    (false, true) => std::fs::remove_dir_all(&path).unwrap(),
                    (false, false) => std::fs::remove_file(&path).unwrap(),
                }
            }
        }
    }
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
    boot_rootfs_with(root, data_dir, &[])
}

/// [`boot_rootfs`] with `extra` environment variables set over the image's (the
/// Deployment's `MOLECULE_CACHE_DIR` on an emptyDir, say).
pub fn boot_rootfs_with(root: &Path, data_dir: &Path, extra: &[(&str, &Path)]) -> Booted {
    let port = free_port();
    let child = Command::new(root.join("usr/local/bin/molecule-runtime"))
        .args(["run", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .env_clear()
        .envs(image_env(root, data_dir))
        .envs(extra.iter().map(|(k, v)| (*k, *v)))
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

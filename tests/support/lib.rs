//! Shared fixtures for the integration tests and benchmarks: the repository's paths, one
//! component host per process, and the guest components built from source once per run
//! (the builder caches them by source hash across runs too).

/// The shared Python virtualenv with the A2A SDK (crate `molecule-python-venv`).
pub use molecule_python_venv as python;

pub mod image;
pub mod logs;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::cache::CompiledCache;
use molecule_runtime::component::ComponentHost;
use molecule_runtime::engine::{EngineOptions, WasmEngine};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The cache folder the tests share: under the target dir, so `cargo clean` resets it.
pub fn test_cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        repo_root().join(target)
    };
    target.join("molecule-test-cache")
}

/// Builds (or fetches from the cache) the component crate at `rel` (relative to the repo
/// root) and returns its bytes. Each crate is built at most once per process.
pub fn guest_wasm(rel: &str) -> Arc<Vec<u8>> {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Arc<Vec<u8>>>>> =
        OnceLock::new();
    let map = BUILT.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bytes) = map.get(rel) {
        return bytes.clone();
    }
    let builder = ComponentBuilder::new(&test_cache_dir());
    let built = builder
        .build(&repo_root().join(rel))
        .unwrap_or_else(|e| panic!("building {rel}: {e:#}"));
    let bytes = Arc::new(std::fs::read(&built.wasm).expect("reading built component"));
    map.insert(rel.to_owned(), bytes.clone());
    bytes
}

/// The shared Python interpreter of the tests: built from this checkout's `guest-sdk/python`
/// into the shared test cache (`<target>/molecule-test-cache/python`) at most once per
/// source version — the build lock makes parallel test binaries wait for one build — and
/// checked once per process. Panics with the build error (python3 and PyPI are needed the
/// first time). The returned value builds nothing more.
pub fn python_interpreter() -> molecule_runtime::python::PythonInterpreter {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let python = molecule_runtime::python::PythonInterpreter::new(&test_cache_dir())
        .with_sdk(repo_root().join("guest-sdk"));
    let built = BUILT.get_or_init(|| {
        python
            .ensure()
            .map(|_| ())
            .map_err(|e| format!("building the Python interpreter: {e:#}"))
    });
    if let Err(err) = built {
        panic!("{err}");
    }
    python
}

/// The tests' builder, with the shared JavaScript engine built: from this checkout's
/// `guest-sdk/js` into the shared test cache at most once per engine source version (cargo's
/// lock makes parallel test binaries wait for one build) and checked once per process.
/// Panics with the build error (clang, llvm-ar and wasi-libc are needed the first time:
/// `dev/setup`). JavaScript skills loaded through the returned builder build nothing more.
pub fn js_builder() -> ComponentBuilder {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let builder = ComponentBuilder::new(&test_cache_dir());
    let built = BUILT.get_or_init(|| {
        molecule_runtime::javascript::engine::ensure(&builder)
            .map(|_| ())
            .map_err(|e| format!("building the JavaScript engine: {e:#}"))
    });
    if let Err(err) = built {
        panic!("{err}");
    }
    builder
}

/// A component host on a fresh engine, with the shared compiled-code cache.
pub fn host() -> ComponentHost {
    host_with(EngineOptions::default())
}

/// A component host on an engine built with `options`.
pub fn host_with(options: EngineOptions) -> ComponentHost {
    let engine = Arc::new(WasmEngine::new(options).expect("engine"));
    let cache = CompiledCache::new(test_cache_dir().join("compiled"));
    ComponentHost::new(engine, cache).expect("component host")
}

/// Copies the crate at `rel` into `dest`, rewriting its relative path dependencies to
/// absolute ones so it builds from anywhere. Returns `dest`.
pub fn copy_crate(rel: &str, dest: &Path) -> PathBuf {
    let src = repo_root().join(rel);
    copy_dir(&src, dest);
    let manifest = dest.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("reading Cargo.toml");
    let sdk = repo_root().join("guest-sdk");
    let text = text.replace(
        "path = \"../../../guest-sdk\"",
        &format!("path = \"{}\"", sdk.display()),
    );
    let text = text.replace(
        "path = \"../../guest-sdk\"",
        &format!("path = \"{}\"", sdk.display()),
    );
    std::fs::write(&manifest, text).expect("writing Cargo.toml");
    dest.to_owned()
}

fn copy_dir(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).expect("creating folder");
    for entry in std::fs::read_dir(src).expect("reading folder").flatten() {
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &dest.join(&name));
        } else {
            std::fs::copy(&path, dest.join(&name)).expect("copying file");
        }
    }
}

/// The `versioned` test skill built with its version string set to `version`.
pub fn versioned_wasm(version: &str) -> Vec<u8> {
    let dir = tempfile_dir();
    let krate = copy_crate("tests/guests/versioned", &dir.join("versioned"));
    let lib = krate.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).expect("reading lib.rs");
    std::fs::write(&lib, text.replace("\"v1\"", &format!("{version:?}"))).expect("writing");
    let built = ComponentBuilder::new(&test_cache_dir())
        .build(&krate)
        .unwrap_or_else(|e| panic!("building versioned {version}: {e:#}"));
    let bytes = std::fs::read(&built.wasm).expect("reading component");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "molecule-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("creating temp folder");
    dir
}

/// Boots a workspace from `config.yaml` text in `dir` on 127.0.0.1:0, with the demo's
/// scripted model and the shared build cache.
pub async fn boot_config(
    dir: &Path,
    yaml: &str,
    in_memory_tasks: bool,
) -> molecule_runtime::workspace::boot::RunningWorkspace {
    boot_config_env(dir, yaml, &[], in_memory_tasks).await
}

/// Like [`boot_config`], with environment variables (e.g. `PLATFORM_URL`, `WORKSPACE_ID`).
pub async fn boot_config_env(
    dir: &Path,
    yaml: &str,
    env: &[(&str, &str)],
    in_memory_tasks: bool,
) -> molecule_runtime::workspace::boot::RunningWorkspace {
    let credentials = molecule_llm::Credentials {
        scripted_file: Some(repo_root().join("demo/model-script.yaml")),
        ..molecule_llm::Credentials::default()
    };
    let selection = molecule_llm::ModelSelection::resolve(None, "scripted:demo").expect("model");
    let gateway = molecule_llm::Gateway::new(selection, credentials)
        .map(Arc::new)
        .map_err(|e| e.to_string());
    boot_with_gateway(dir, yaml, env, in_memory_tasks, |_| gateway).await
}

/// Like [`boot_config_env`], but a boot error is returned, not a panic (for tests of what
/// must stop boot).
pub async fn try_boot_config_env(
    dir: &Path,
    yaml: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<molecule_runtime::workspace::boot::RunningWorkspace> {
    let credentials = molecule_llm::Credentials {
        scripted_file: Some(repo_root().join("demo/model-script.yaml")),
        ..molecule_llm::Credentials::default()
    };
    let selection = molecule_llm::ModelSelection::resolve(None, "scripted:demo").expect("model");
    let gateway = molecule_llm::Gateway::new(selection, credentials)
        .map(Arc::new)
        .map_err(|e| e.to_string());
    try_boot_with_gateway(dir, yaml, env, true, |_| gateway).await
}

/// Boots a workspace from `config.yaml` text in `dir` on 127.0.0.1:0 with the model gateway
/// `gateway` makes from the plan (e.g. `|plan| plan.gateway(Credentials::default())` for what
/// the config alone gives). Preflight must pass.
pub async fn boot_with_gateway(
    dir: &Path,
    yaml: &str,
    env: &[(&str, &str)],
    in_memory_tasks: bool,
    gateway: impl FnOnce(&molecule_runtime::plan::Plan) -> Result<Arc<molecule_llm::Gateway>, String>,
) -> molecule_runtime::workspace::boot::RunningWorkspace {
    try_boot_with_gateway(dir, yaml, env, in_memory_tasks, gateway)
        .await
        .expect("boot")
}

/// [`boot_with_gateway`], returning a boot error instead of panicking.
pub async fn try_boot_with_gateway(
    dir: &Path,
    yaml: &str,
    env: &[(&str, &str)],
    in_memory_tasks: bool,
    gateway: impl FnOnce(&molecule_runtime::plan::Plan) -> Result<Arc<molecule_llm::Gateway>, String>,
) -> anyhow::Result<molecule_runtime::workspace::boot::RunningWorkspace> {
    let plan = local_plan(dir, yaml, env);
    let gateway = gateway(&plan);
    try_boot_plan(plan, Arc::new(host()), gateway, in_memory_tasks).await
}

/// Writes `yaml` as `dir/config.yaml` and plans it with `env` on 127.0.0.1, port 0. Panics if
/// a preflight check fails.
pub fn local_plan(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> molecule_runtime::plan::Plan {
    use molecule_runtime::plan::{Overrides, Plan};
    use std::net::{IpAddr, Ipv4Addr};
    std::fs::write(dir.join("config.yaml"), yaml).expect("write config.yaml");
    let overrides = Overrides {
        config_dir: Some(dir.to_owned()),
        port: Some(0),
        bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let env =
        molecule_config::Env::from_pairs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let plan = Plan::new(env, &overrides);
    assert!(
        !plan.preflight.has_failures(),
        "{}",
        plan.preflight.render()
    );
    plan
}

/// Boots `plan` on a 127.0.0.1 listener (port 0) with `host`, the shared build cache and
/// `gateway`; tasks kept in memory. Panics if boot fails or the workspace is not configured.
pub async fn boot_plan(
    plan: molecule_runtime::plan::Plan,
    host: Arc<ComponentHost>,
    gateway: Arc<molecule_llm::Gateway>,
) -> molecule_runtime::workspace::boot::RunningWorkspace {
    let ws = try_boot_plan(plan, host, Ok(gateway), true)
        .await
        .expect("boot");
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    ws
}

/// Boots `plan` on a 127.0.0.1 listener (port 0) with `host`, the shared build cache and
/// `gateway` (an `Err` is the gateway's configuration error); returns the boot error.
pub async fn try_boot_plan(
    plan: molecule_runtime::plan::Plan,
    host: Arc<ComponentHost>,
    gateway: Result<Arc<molecule_llm::Gateway>, String>,
    in_memory_tasks: bool,
) -> anyhow::Result<molecule_runtime::workspace::boot::RunningWorkspace> {
    let deps = molecule_runtime::workspace::boot::BootDeps {
        host,
        builder: ComponentBuilder::new(&test_cache_dir()),
        gateway,
        in_memory_tasks,
    };
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind 127.0.0.1:0");
    molecule_runtime::workspace::boot::boot(plan, deps, listener).await
}

/// One JSON-RPC call (A2A 1.0) with `client` to the workspace at `base` (`http://host:port`);
/// the reply's `result` (`null` for an error reply).
pub async fn a2a_result(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let resp = client
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("request");
    let body: serde_json::Value = resp.json().await.expect("JSON");
    body["result"].clone()
}

/// Polls `done` every `every` until it holds; panics naming `what` after `within`.
pub async fn wait_until(
    what: &str,
    within: std::time::Duration,
    every: std::time::Duration,
    mut done: impl FnMut() -> bool,
) {
    let deadline = std::time::Instant::now() + within;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Hits of `budget` so far in this process (what `/metrics` reports as
/// `molecule_budget_hits_total`).
pub fn budget_hits(budget: molecule_runtime::budgets::Budget) -> u64 {
    molecule_runtime::budgets::hits()
        .find(|(b, _)| *b == budget)
        .map_or(0, |(_, n)| n)
}

/// The host log of this test process, captured from the first call on (INFO and above).
/// Installs the global tracing subscriber: use it only in a test binary that installs none.
pub fn captured_log() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::Mutex;
    static LOG: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::default());
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Capture(buf))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test");
        buf
    })
}

/// A log writer appending to a shared buffer.
struct Capture(&'static std::sync::Mutex<Vec<u8>>);

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

//! End to end: the real web-fetch skill component, built from skills-examples/web-fetch, runs
//! in a minimal host of this test (wasmtime component Linker + WASI p2 + wasi-http with the
//! egress hooks) and fetches from a local server — granted, denied, rebound and truncated.

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use molecule_egress::{EgressHooks, EgressPolicy, EgressState, StaticResolver};
use serde_json::Value;
use support::serve;
use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// The store state of the test host: WASI (nothing inherited) and outgoing HTTP.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    egress: EgressState,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.egress.view(&mut self.table)
    }
}

/// Builds the web-fetch component once per test process and returns its path.
fn web_fetch_wasm() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { repo.join(t) })
            .unwrap_or_else(|| repo.join("target"))
            .join("egress-guests");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&repo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(repo.join("skills-examples/web-fetch/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("running cargo to build skills-examples/web-fetch");
        assert!(
            status.success(),
            "building skills-examples/web-fetch failed"
        );
        target.join("wasm32-wasip2/release/web_fetch.wasm")
    })
}

/// One compiled component for all tests of this process.
fn component() -> &'static (Engine, Component) {
    static COMPILED: OnceLock<(Engine, Component)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let engine = Engine::default();
        let component = Component::from_file(&engine, web_fetch_wasm()).expect("compiling");
        (engine, component)
    })
}

/// Calls tool `fetch` of a fresh instance whose egress is `hooks`; `Ok(json)` or
/// `Err((tool-error case, text))`.
async fn fetch(hooks: &EgressHooks, input: &str) -> Result<String, (String, String)> {
    let (engine, component) = component();
    let mut linker: Linker<State> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    molecule_egress::add_to_linker(&mut linker).unwrap();
    // Of the molecule:runtime host interfaces, web-fetch imports only `types` (no functions).
    // Not `define_unknown_imports_as_traps`: after wasi-http it stubs the `error` resource
    // into `wasi:io/streams` with a foreign type, and linking then fails.
    linker.instance("molecule:runtime/types@0.1.0").unwrap();
    let state = State {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        egress: EgressState::new(hooks.clone()),
    };
    let mut store = Store::new(engine, state);
    let instance = linker
        .instantiate_async(&mut store, component)
        .await
        .unwrap();
    let iface = instance
        .get_export_index(&mut store, None, "molecule:runtime/tool@0.1.0")
        .expect("the skill exports molecule:runtime/tool");
    let call = instance
        .get_export_index(&mut store, Some(&iface), "call")
        .expect("tool.call");
    let func = instance.get_func(&mut store, call).unwrap();
    let mut results = [Val::Bool(false)];
    func.call_async(
        &mut store,
        &[Val::String("fetch".into()), Val::String(input.into())],
        &mut results,
    )
    .await
    .unwrap();
    match &results[0] {
        Val::Result(Ok(Some(v))) => match &**v {
            Val::String(s) => Ok(s.clone()),
            other => panic!("unexpected ok payload {other:?}"),
        },
        Val::Result(Err(Some(e))) => match &**e {
            Val::Variant(case, Some(text)) => match &**text {
                Val::String(t) => Err((case.clone(), t.clone())),
                other => panic!("unexpected error text {other:?}"),
            },
            other => panic!("unexpected error {other:?}"),
        },
        other => panic!("unexpected result {other:?}"),
    }
}

fn hooks_for(hosts: &[String], resolver: StaticResolver) -> EgressHooks {
    let policy = EgressPolicy::new("web-fetch", hosts).unwrap();
    EgressHooks::with_resolver(policy, Arc::new(resolver)).unwrap()
}

#[tokio::test]
async fn the_skill_fetches_from_a_granted_origin() {
    let server = serve("127.0.0.1", 0, "A").await;
    let port = server.addr.port();
    let hooks = hooks_for(&[format!("http://127.0.0.1:{port}")], StaticResolver::new());

    let out = fetch(
        &hooks,
        &format!(r#"{{"url": "http://127.0.0.1:{port}/hi"}}"#),
    )
    .await
    .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], format!("A GET /hi host=127.0.0.1:{port}"));
    assert_eq!(out["truncated"], false);
    assert_eq!(
        out["headers"]["x-served-by"],
        Value::Null,
        "only a few headers are kept"
    );
    let length = out["body"].as_str().unwrap().len().to_string();
    assert_eq!(out["headers"]["content-length"], length.as_str(), "{out}");

    let out = fetch(
        &hooks,
        &format!(r#"{{"url": "http://127.0.0.1:{port}/big", "max_bytes": 100}}"#),
    )
    .await
    .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["truncated"], true);
    assert_eq!(out["body"], "x".repeat(100));
}

#[tokio::test]
async fn the_skill_reports_denials_with_the_origin_to_grant() {
    let server = serve("127.0.0.1", 0, "A").await;
    let port = server.addr.port();
    let hooks = hooks_for(&[], StaticResolver::new());

    let (case, text) = fetch(&hooks, &format!(r#"{{"url": "http://127.0.0.1:{port}/"}}"#))
        .await
        .expect_err("nothing is granted");
    assert_eq!(case, "denied");
    assert!(
        text.contains(&format!("\"http://127.0.0.1:{port}\"")),
        "{text}"
    );
    assert!(text.contains("grants.skills."), "{text}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn the_skill_cannot_rebind_a_wildcard_name_to_loopback() {
    let server = serve("127.0.0.1", 0, "A").await;
    let port = server.addr.port();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let hooks = hooks_for(
        &[format!("http://*.example.test:{port}")],
        StaticResolver::new().with("rebind.example.test", &[loopback]),
    );

    let (case, text) = fetch(
        &hooks,
        &format!(r#"{{"url": "http://rebind.example.test:{port}/"}}"#),
    )
    .await
    .expect_err("loopback through a wildcard");
    assert_eq!(case, "denied");
    assert!(text.contains("private, loopback or link-local"), "{text}");
    assert_eq!(server.connections(), 0);
}

//! The overhead of secrets at egress: one `http_send` tool call of the real `hostile` guest
//! (a fresh store and instance, one HTTP POST through the egress layer to an axum server on
//! 127.0.0.1 that echoes the `authorization` header in a header and the body), in three grants
//! of the same origin:
//!
//! * `no_secret`: the origin granted, no secret; the guest sends a plain token;
//! * `header_secret`: `API_TOKEN: {hosts: [origin]}`; the guest sends its placeholder in the
//!   header, the egress layer substitutes it and masks the echoed value in the response;
//! * `header_and_body_secret`: `body: true`; the placeholder also in the body (the request
//!   body is buffered and scanned as well).
//!
//! Each call is checked (the server got the value; the guest saw it masked). Run:
//! `cargo bench -p molecule-tests --bench secrets_egress`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use criterion::{criterion_group, criterion_main, Criterion};
use molecule_config::{Env, WorkspaceConfig};
use molecule_runtime::component::SkillComponent;
use molecule_runtime::sandbox::Sandbox;
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::policy::ConfigPolicy;
use molecule_runtime::workspace::skills::GrantPolicy;
use molecule_tests::{guest_wasm, host};
use serde_json::{json, Value};

/// The secret's value.
const VALUE: &str = "sk-live-7f3a9c21e4b8d605";

/// A server on 127.0.0.1 echoing the `authorization` header in `x-echo` and in the body.
async fn echo_server() -> String {
    let app = axum::Router::new().fallback(|headers: HeaderMap, body: Bytes| async move {
        let auth = headers
            .get("authorization")
            .cloned()
            .unwrap_or(HeaderValue::from_static("-"));
        let text = format!(
            "you sent {} and {}",
            String::from_utf8_lossy(auth.as_bytes()),
            String::from_utf8_lossy(&body)
        );
        ([("x-echo", auth)], text)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

/// The `hostile` guest loaded as skill `hostile` under the grant entry `grant`.
async fn load(root: &Path, origin: &str, grant: &str) -> (Sandbox, SkillComponent) {
    let dir = root.join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let caps = format!("{{interfaces: [config], hosts: [\"{origin}\"], secrets: [API_TOKEN]}}");
    let md = format!("---\nname: hostile\ndescription: t\ncapabilities: {caps}\n---\nbody\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    let wasm = guest_wasm("tests/guests/hostile");
    std::fs::write(dir.join("tool.wasm"), wasm.as_slice()).unwrap();
    let skill = SkillDir::load(&dir).unwrap();
    let yaml = format!("grants:\n  skills:\n    hostile: {grant}\n");
    let config = WorkspaceConfig::from_yaml_str(
        &yaml,
        root,
        &Env::from_pairs(Vec::<(String, String)>::new()),
    );
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let values = BTreeMap::from([("API_TOKEN".to_owned(), VALUE.to_owned())]);
    let policy = ConfigPolicy::new(Arc::new(config), None, values);
    let host = host();
    let component = host
        .load_skill(&wasm, policy.grants_for(&skill).unwrap())
        .await
        .unwrap();
    (Sandbox::new(host.engine().clone()), component)
}

/// Calls `tool` with `input`; the tool's JSON output.
async fn call(sandbox: &Sandbox, skill: &SkillComponent, tool: &str, input: &Value) -> Value {
    let out = sandbox
        .call_tool(skill, tool, &input.to_string())
        .await
        .unwrap();
    serde_json::from_str(&out).unwrap()
}

fn secret_egress(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let root = tempfile::tempdir().unwrap();
    let origin = rt.block_on(echo_server());
    let hosts = format!("interfaces: [config], hosts: [\"{origin}\"]");
    let cases = [
        ("no_secret", format!("{{{hosts}}}")),
        (
            "header_secret",
            format!("{{{hosts}, secrets: {{API_TOKEN: {{hosts: [\"{origin}\"]}}}}}}"),
        ),
        (
            "header_and_body_secret",
            format!("{{{hosts}, secrets: {{API_TOKEN: {{hosts: [\"{origin}\"], body: true}}}}}}"),
        ),
    ];
    let mut group = c.benchmark_group("secret_egress");
    for (name, grant) in cases {
        let (sandbox, skill) = rt.block_on(load(root.path(), &origin, &grant));
        let held = rt.block_on(call(
            &sandbox,
            &skill,
            "use_config",
            &json!({"key": "API_TOKEN"}),
        ));
        // Without a secret grant the guest sends the plain value itself (same bytes on the wire).
        let token = match name {
            "no_secret" => VALUE.to_owned(),
            _ => held["result"].as_str().unwrap().to_owned(),
        };
        let body = match name {
            "header_and_body_secret" => format!("token={token}&x=1"),
            _ => format!("token={VALUE}&x=1"),
        };
        let input = json!({"url": format!("{origin}/v1"), "method": "POST",
            "headers": {"authorization": format!("Bearer {token}")}, "body": body});
        let check = |answer: &Value| {
            assert_eq!(answer["ok"], true, "{answer}");
            let echoed = answer["headers"]["x-echo"].as_str().unwrap();
            match name {
                "no_secret" => assert_eq!(echoed, format!("Bearer {VALUE}")),
                _ => assert_eq!(echoed, format!("Bearer {}", "*".repeat(VALUE.len()))),
            }
        };
        check(&rt.block_on(call(&sandbox, &skill, "http_send", &input)));
        group.bench_function(name, |b| {
            b.iter(|| check(&rt.block_on(call(&sandbox, &skill, "http_send", &input))))
        });
    }
    group.finish();
}

criterion_group!(benches, secret_egress);
criterion_main!(benches);

//! Secrets at egress, end to end through the config policy a workspace uses: the real
//! `hostile` guest (its `use_config` and `http_send` tools) holds only a placeholder; a local
//! axum server on 127.0.0.1 records exactly what it receives and echoes the credential back.
//! Checked: the guest's view (placeholder, never the value; an echoed value masked), what the
//! granted server received (the value in the header, and in the body where configured), that
//! a placeholder to any other origin, in the URL or in an unconfigured body is refused naming
//! the secret and the origin, and that the host log (TRACE) never holds the value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use molecule_config::{Env, WorkspaceConfig};
use molecule_runtime::component::SkillComponent;
use molecule_runtime::sandbox::Sandbox;
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::policy::ConfigPolicy;
use molecule_runtime::workspace::skills::GrantPolicy;
use molecule_tests::{guest_wasm, host};
use serde_json::{json, Value};

/// The secret's value: it must reach the granted server and nothing else.
const VALUE: &str = "sk-live-7f3a9c21e4b8d605";

/// What the server received: (authorization header, body), one per request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A server on 127.0.0.1 recording each request and echoing its `authorization` header back
/// in `x-echo` and in the body. Stops when the test's runtime ends.
async fn recording_server() -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = String::from_utf8_lossy(&body).into_owned();
            log.lock().unwrap().push((auth.clone(), body.clone()));
            let echo = HeaderValue::from_str(&auth).unwrap_or(HeaderValue::from_static("-"));
            let text = format!("you sent {auth} and {body}");
            ([("x-echo", echo)], text)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, received)
}

/// The host log of this test binary at TRACE (wasmtime's compiler at INFO), captured.
fn trace_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::default());
        let filter = tracing_subscriber::EnvFilter::new(
            "trace,cranelift=info,wasmtime=info,wasmtime_cranelift=info",
        );
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(filter)
            .with_writer(move || Capture(buf))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buf
    })
}

/// A log writer appending to a shared buffer.
struct Capture(&'static Mutex<Vec<u8>>);

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `hostile` skill in `root`, requesting `config`, both origins and `API_TOKEN`, and
/// loaded under `grant` (the YAML of its `grants.skills.hostile` entry).
async fn load(root: &Path, origins: [&str; 2], grant: &str) -> (Sandbox, SkillComponent) {
    let wasm = guest_wasm("tests/guests/hostile");
    let dir = root.join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let caps = format!(
        "{{interfaces: [config], hosts: [\"{}\", \"{}\"], secrets: [API_TOKEN]}}",
        origins[0], origins[1]
    );
    let md = format!("---\nname: hostile\ndescription: t\ncapabilities: {caps}\n---\nbody\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    std::fs::write(dir.join("tool.wasm"), wasm.as_slice()).unwrap();
    let skill_dir = SkillDir::load(&dir).unwrap();
    let yaml = format!("grants:\n  skills:\n    hostile: {grant}\n");
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let config = WorkspaceConfig::from_yaml_str(&yaml, root, &env);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let values = BTreeMap::from([("API_TOKEN".to_owned(), VALUE.to_owned())]);
    let policy = ConfigPolicy::new(Arc::new(config), None, values);
    let grants = policy.grants_for(&skill_dir).unwrap();
    let host = host();
    let skill = host.load_skill(&wasm, grants).await.unwrap();
    (Sandbox::new(host.engine().clone()), skill)
}

/// Calls `tool` with `input`; the tool's JSON output.
async fn call(sandbox: &Sandbox, skill: &SkillComponent, tool: &str, input: Value) -> Value {
    let out = sandbox
        .call_tool(skill, tool, &input.to_string())
        .await
        .unwrap();
    serde_json::from_str(&out).unwrap()
}

/// What `config.get("API_TOKEN")` gives the guest.
async fn guest_view(sandbox: &Sandbox, skill: &SkillComponent) -> String {
    let got = call(sandbox, skill, "use_config", json!({"key": "API_TOKEN"})).await;
    got["result"].as_str().unwrap_or_default().to_owned()
}

/// Asserts the log captured so far holds no secret value.
fn assert_log_clean() {
    let log = String::from_utf8_lossy(&trace_log().lock().unwrap()).into_owned();
    assert!(!log.is_empty(), "the log was captured");
    assert!(!log.contains(VALUE), "the value leaked into the log");
}

/// Two grants of both origins where the secret goes to the first one only.
fn grant(origins: [&str; 2], secret: &str) -> String {
    format!(
        "{{interfaces: [config], hosts: [\"{}\", \"{}\"], secrets: {secret}}}",
        origins[0], origins[1]
    )
}

#[tokio::test]
async fn the_guest_holds_a_placeholder_and_only_the_granted_server_gets_the_value() {
    trace_log();
    let root = tempfile::tempdir().unwrap();
    let (a, got_a) = recording_server().await;
    let (b, got_b) = recording_server().await;
    let secret = format!("{{API_TOKEN: {{hosts: [\"{a}\"], body: true}}}}");
    let (sandbox, skill) = load(root.path(), [&a, &b], &grant([&a, &b], &secret)).await;

    let placeholder = guest_view(&sandbox, &skill).await;
    let hex = placeholder
        .strip_prefix("molecule-secret-API_TOKEN-")
        .unwrap();
    assert!(hex.len() == 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()));

    let sent = json!({"url": format!("{a}/v1"), "method": "POST",
        "headers": {"authorization": format!("Bearer {placeholder}")},
        "body": format!("token={placeholder}&x=1")});
    let answer = call(&sandbox, &skill, "http_send", sent).await;
    assert_eq!(answer["ok"], true, "{answer}");
    let received = got_a.lock().unwrap().clone();
    assert_eq!(
        received,
        [(format!("Bearer {VALUE}"), format!("token={VALUE}&x=1"))]
    );
    // The server echoed the value; the guest sees it masked, length kept.
    let mask = "*".repeat(VALUE.len());
    assert_eq!(answer["headers"]["x-echo"], format!("Bearer {mask}"));
    assert_eq!(
        answer["body"],
        format!("you sent Bearer {mask} and token={mask}&x=1")
    );
    assert!(!answer.to_string().contains(VALUE), "{answer}");

    // The same placeholder to the other granted origin: refused, naming the secret and origin.
    let elsewhere = json!({"url": format!("{b}/"),
        "headers": {"authorization": format!("Bearer {placeholder}")}});
    let refused = call(&sandbox, &skill, "http_send", elsewhere).await;
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("secret `API_TOKEN` may not be sent to") && error.contains(&b),
        "{error}"
    );
    assert!(
        error.contains("grants.skills.hostile.secrets.API_TOKEN.hosts"),
        "{error}"
    );
    assert!(!error.contains(VALUE));
    assert!(got_b.lock().unwrap().is_empty(), "nothing reached {b}");

    // In the URL: refused even to the granted origin.
    let in_url = json!({"url": format!("{a}/?key={placeholder}")});
    let refused = call(&sandbox, &skill, "http_send", in_url).await;
    assert!(
        refused["error"].as_str().unwrap().contains("the URL"),
        "{refused}"
    );
    assert_eq!(
        got_a.lock().unwrap().len(),
        1,
        "the URL request was not sent"
    );
    assert_log_clean();
}

#[tokio::test]
async fn the_list_form_substitutes_headers_only_and_expose_hands_the_value() {
    trace_log();
    let root = tempfile::tempdir().unwrap();
    let (a, got_a) = recording_server().await;
    let (b, _) = recording_server().await;
    // The list form: the entry's hosts, headers only.
    let (sandbox, skill) = load(root.path(), [&a, &b], &grant([&a, &b], "[API_TOKEN]")).await;
    let placeholder = guest_view(&sandbox, &skill).await;
    assert!(
        placeholder.starts_with("molecule-secret-API_TOKEN-"),
        "{placeholder}"
    );
    let header = json!({"url": format!("{a}/"),
        "headers": {"authorization": placeholder.clone()}});
    assert_eq!(
        call(&sandbox, &skill, "http_send", header).await["ok"],
        true
    );
    assert_eq!(got_a.lock().unwrap()[0].0, VALUE);
    let body = json!({"url": format!("{a}/"), "method": "POST", "body": placeholder.clone()});
    let refused = call(&sandbox, &skill, "http_send", body).await;
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("request body") && error.contains("secrets.API_TOKEN.body: true"),
        "{error}"
    );
    assert_eq!(
        got_a.lock().unwrap().len(),
        1,
        "the body request was not sent"
    );

    // A new boot (policy) makes a new placeholder.
    let (sandbox2, skill2) = load(root.path(), [&a, &b], &grant([&a, &b], "[API_TOKEN]")).await;
    assert_ne!(guest_view(&sandbox2, &skill2).await, placeholder);

    // Only `expose: true` hands over the value.
    let exposed = grant([&a, &b], "{API_TOKEN: {expose: true}}");
    let (sandbox, skill) = load(root.path(), [&a, &b], &exposed).await;
    assert_eq!(guest_view(&sandbox, &skill).await, VALUE);
    assert_log_clean();
}

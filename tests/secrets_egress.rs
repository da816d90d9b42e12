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

/// The `hostile` guest as skill `id` in `root`, requesting `caps` (SKILL.md YAML).
fn skill_dir(root: &Path, id: &str, caps: &str) -> SkillDir {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!("---\nname: {id}\ndescription: t\ncapabilities: {caps}\n---\nbody\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    std::fs::write(
        dir.join("tool.wasm"),
        guest_wasm("tests/guests/hostile").as_slice(),
    )
    .unwrap();
    SkillDir::load(&dir).unwrap()
}

/// The config policy of `yaml` (config.yaml) with `API_TOKEN` = [`VALUE`] in the environment.
fn policy(root: &Path, yaml: &str) -> ConfigPolicy {
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let config = WorkspaceConfig::from_yaml_str(yaml, root, &env);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let values = BTreeMap::from([("API_TOKEN".to_owned(), VALUE.to_owned())]);
    ConfigPolicy::new(Arc::new(config), None, values)
}

/// `skill` loaded under `policy`.
async fn load_with(policy: &ConfigPolicy, skill: &SkillDir) -> (Sandbox, SkillComponent) {
    let grants = policy.grants_for(skill).unwrap();
    let host = host();
    let wasm = guest_wasm("tests/guests/hostile");
    let skill = host.load_skill(&wasm, grants).await.unwrap();
    (Sandbox::new(host.engine().clone()), skill)
}

/// The `hostile` skill in `root`, requesting `config`, both origins and `API_TOKEN`, and
/// loaded under `grant` (the YAML of its `grants.skills.hostile` entry).
async fn load(root: &Path, origins: [&str; 2], grant: &str) -> (Sandbox, SkillComponent) {
    let caps = format!(
        "{{interfaces: [config], hosts: [\"{}\", \"{}\"], secrets: [API_TOKEN]}}",
        origins[0], origins[1]
    );
    let skill = skill_dir(root, "hostile", &caps);
    let yaml = format!("grants:\n  skills:\n    hostile: {grant}\n");
    load_with(&policy(root, &yaml), &skill).await
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
        error.contains("request body")
            && error.contains("the list form `grants.skills.hostile.secrets: [API_TOKEN]`")
            && error.contains("{API_TOKEN: {hosts: [...], body: true}}")
            && !error.contains("secrets.API_TOKEN.body"),
        "{error}"
    );
    assert_eq!(
        got_a.lock().unwrap().len(),
        1,
        "the body request was not sent"
    );

    // In the URL: the refusal names the entry's `hosts`, the list form's own key.
    let in_url = json!({"url": format!("{a}/?key={placeholder}")});
    let refused = call(&sandbox, &skill, "http_send", in_url).await;
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("as granted under grants.skills.hostile.hosts in")
            && !error.contains("secrets.API_TOKEN.hosts"),
        "{error}"
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

/// What `read_env` shows the guest for `API_TOKEN`.
async fn env_view(sandbox: &Sandbox, skill: &SkillComponent) -> Value {
    call(sandbox, skill, "read_env", json!({"name": "API_TOKEN"})).await["var"].clone()
}

#[tokio::test]
async fn an_env_var_named_like_a_secret_never_carries_its_value() {
    let root = tempfile::tempdir().unwrap();
    let a = "http://127.0.0.1:9";
    let env_only = skill_dir(root.path(), "envy", "{env: [API_TOKEN]}");
    let both = skill_dir(
        root.path(),
        "both",
        "{interfaces: [config], env: [API_TOKEN], secrets: [API_TOKEN]}",
    );
    // Granted as a secret, requested only as env: nothing (not the value).
    let secret = format!("{{API_TOKEN: {{hosts: [\"{a}\"]}}}}");
    let yaml = format!(
        "grants:\n  skills:\n    envy: {{env: [API_TOKEN], hosts: [\"{a}\"], secrets: {secret}}}\n    \
         both: {{interfaces: [config], env: [API_TOKEN], hosts: [\"{a}\"], secrets: {secret}}}\n"
    );
    let granted = policy(root.path(), &yaml);
    let (sandbox, skill) = load_with(&granted, &env_only).await;
    assert_eq!(env_view(&sandbox, &skill).await, Value::Null);
    // Granted and requested as a secret: env holds the same placeholder as config.get.
    let (sandbox, skill) = load_with(&granted, &both).await;
    let placeholder = guest_view(&sandbox, &skill).await;
    assert!(
        placeholder.starts_with("molecule-secret-API_TOKEN-"),
        "{placeholder}"
    );
    assert_eq!(env_view(&sandbox, &skill).await, json!(placeholder));

    // A secret of another skill's entry, granted here as env only: nothing.
    let yaml = format!(
        "grants:\n  skills:\n    envy: {{env: [API_TOKEN]}}\n    other: {{hosts: [\"{a}\"], \
         secrets: [API_TOKEN]}}\n"
    );
    let (sandbox, skill) = load_with(&policy(root.path(), &yaml), &env_only).await;
    assert_eq!(env_view(&sandbox, &skill).await, Value::Null);
    // Requested as a secret by the skill but granted as env only: nothing.
    let yaml = "grants:\n  skills:\n    both: {interfaces: [config], env: [API_TOKEN]}\n";
    let (sandbox, skill) = load_with(&policy(root.path(), yaml), &both).await;
    assert_eq!(env_view(&sandbox, &skill).await, Value::Null);
    // `expose: true` for the skill hands the value to env too.
    let yaml =
        "grants:\n  skills:\n    envy: {env: [API_TOKEN], secrets: {API_TOKEN: {expose: true}}}\n";
    let (sandbox, skill) = load_with(&policy(root.path(), yaml), &env_only).await;
    assert_eq!(env_view(&sandbox, &skill).await, json!(VALUE));
    // A plain env var (no secret of that name anywhere) still passes...
    let plain = "grants:\n  skills:\n    envy: {env: [API_TOKEN]}\n";
    let (sandbox, skill) = load_with(&policy(root.path(), plain), &env_only).await;
    assert_eq!(env_view(&sandbox, &skill).await, json!(VALUE));
    // ...but not one the platform hands out as a secret.
    let platform = BTreeMap::from([("API_TOKEN".to_owned(), "from-platform".to_owned())]);
    let late = Arc::new(arc_swap::ArcSwap::from_pointee(platform));
    let policy = policy(root.path(), plain).with_late_values(late);
    let (sandbox, skill) = load_with(&policy, &env_only).await;
    assert_eq!(env_view(&sandbox, &skill).await, Value::Null);
}

#[tokio::test]
async fn a_placeholder_works_only_for_the_skill_holding_it() {
    trace_log();
    let root = tempfile::tempdir().unwrap();
    let (a, got_a) = recording_server().await;
    let caps = format!("{{interfaces: [config], hosts: [\"{a}\"], secrets: [API_TOKEN]}}");
    let x = skill_dir(root.path(), "x", &caps);
    let y = skill_dir(root.path(), "y", &caps);
    let yaml = format!("grants:\n  default: {caps}\n");
    let policy = policy(root.path(), &yaml);
    let (sx, kx) = load_with(&policy, &x).await;
    let (sy, ky) = load_with(&policy, &y).await;
    let px = guest_view(&sx, &kx).await;
    let py = guest_view(&sy, &ky).await;
    assert!(
        px.starts_with("molecule-secret-API_TOKEN-") && px != py,
        "{px} {py}"
    );
    // X's placeholder is plain text to Y: sent as is, never replaced by the value.
    let send = |p: &str| json!({"url": format!("{a}/"), "headers": {"authorization": p}});
    assert_eq!(call(&sy, &ky, "http_send", send(&px)).await["ok"], true);
    assert_eq!(call(&sy, &ky, "http_send", send(&py)).await["ok"], true);
    let received: Vec<String> = got_a.lock().unwrap().iter().map(|r| r.0.clone()).collect();
    assert_eq!(received, [px, VALUE.to_owned()]);
    // A reload keeps each skill's placeholder.
    let (sy2, ky2) = load_with(&policy, &y).await;
    assert_eq!(guest_view(&sy2, &ky2).await, py);
}

/// `gzip("you sent Bearer sk-live-7f3a9c21e4b8d605")`: what a server that compresses whatever
/// it is asked sends back (the value is not in these bytes as such).
const GZIPPED_ECHO: [u8; 60] = [
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 171, 204, 47, 85, 40, 78, 205, 43, 81, 112, 74, 77, 44, 74,
    45, 82, 40, 206, 214, 205, 201, 44, 75, 213, 53, 79, 51, 78, 180, 76, 54, 50, 76, 53, 73, 178,
    72, 49, 51, 48, 5, 0, 154, 133, 160, 116, 40, 0, 0, 0,
];

#[tokio::test]
async fn a_compressed_response_is_refused_and_identity_is_asked_for() {
    trace_log();
    let root = tempfile::tempdir().unwrap();
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = asked.clone();
    // Gzips its echo of the credential whatever the request asked for.
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let log = log.clone();
        async move {
            let accept = headers.get("accept-encoding").and_then(|v| v.to_str().ok());
            log.lock().unwrap().push(accept.unwrap_or("").to_owned());
            ([("content-encoding", "gzip")], GZIPPED_ECHO.to_vec())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let secret = format!("{{API_TOKEN: {{hosts: [\"{a}\"]}}}}");
    let (sandbox, skill) = load(root.path(), [&a, &a], &grant([&a, &a], &secret)).await;
    let placeholder = guest_view(&sandbox, &skill).await;
    let sent = json!({"url": format!("{a}/"), "headers": {
        "authorization": format!("Bearer {placeholder}"), "accept-encoding": "gzip"}});
    let answer = call(&sandbox, &skill, "http_send", sent).await;
    assert_eq!(answer["ok"], false, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("content-encoding: gzip") && error.contains(&a),
        "{error}"
    );
    assert_eq!(*asked.lock().unwrap(), ["identity"]);
    assert_log_clean();
}

#[tokio::test]
async fn a_short_secret_value_warns_at_load_naming_the_secret() {
    trace_log();
    let root = tempfile::tempdir().unwrap();
    let a = "http://127.0.0.1:9";
    let caps = format!("{{hosts: [\"{a}\"], secrets: [SHORT_KEY]}}");
    let skill = skill_dir(root.path(), "shorty", &caps);
    let yaml = format!(
        "grants:\n  skills:\n    shorty: {{hosts: [\"{a}\"], secrets: {{SHORT_KEY: {{hosts: \
         [\"{a}\"]}}}}}}\n"
    );
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let config = WorkspaceConfig::from_yaml_str(&yaml, root.path(), &env);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let values = BTreeMap::from([("SHORT_KEY".to_owned(), "k3y9".to_owned())]);
    let policy = ConfigPolicy::new(Arc::new(config), None, values);
    policy.grants_for(&skill).unwrap();
    let log = String::from_utf8_lossy(&trace_log().lock().unwrap()).into_owned();
    assert!(
        log.contains("secret `SHORT_KEY` is shorter than 8 bytes") && !log.contains("k3y9"),
        "{log}"
    );
}

//! Langfuse export through the real binary: a fake Langfuse (the OTLP collector of
//! `common/collector.rs`, axum on 127.0.0.1) checks the path Langfuse serves
//! (`/api/public/otel/v1/traces`), the Basic auth and ingestion-version headers, and the
//! generation span of a model call (OpenTelemetry GenAI attributes) after a task run with the
//! `scripted` provider — beside an ordinary OTLP collector, whose own headers never reach
//! Langfuse. No secret (model API key, Langfuse keys, the Authorization value, a granted
//! secret's value) appears in any span or resource attribute. A partial Langfuse configuration, or
//! plain http to a name that may be public, stops the runtime at start, naming the variable;
//! the seed's in-cluster `http://langfuse-web:3000` is accepted.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

mod common;
use common::collector::{Collector, SeenSpan};
use common::server::{run_command, start_command, Server};
use common::{cache_dir, repo};

const PUBLIC_KEY: &str = "pk-lf-test-public";
const SECRET_KEY: &str = "sk-lf-test-secret-4242";
/// A model credential the runtime holds (unused by the scripted model).
const API_KEY: &str = "sk-ant-test-never-exported-9999";
/// The value of a secret granted to skills in config.yaml.
const GRANTED: &str = "granted-secret-value-31337";
/// A header meant for the OTLP collector only.
const COLLECTOR_HEADER: (&str, &str) = ("x-collector-key", "collector-secret-777");

/// `command` without any OTel or Langfuse variable from the test's own environment.
fn clean(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("LANGFUSE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("LOG_LEVEL").env_remove("PARENT_ID");
}

/// A config folder running the echo adapter with the demo's scripted model and a granted
/// secret.
fn echo_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Echo\nruntime: {}\nmodel: scripted:demo\n\
         grants:\n  default:\n    secrets:\n      DEMO_TOKEN: {{expose: true}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    let script = repo().join("demo/model-script.yaml");
    std::fs::copy(script, dir.path().join("model-script.yaml")).unwrap();
    dir
}

/// Serves the echo workspace with `env`, runs one task that asks the model, then stops the
/// server with SIGTERM (which flushes the spans) and waits for it to exit.
fn run_one_task(env: &[(&str, &str)], rt: &tokio::runtime::Runtime) {
    let ws = echo_workspace();
    let mut cmd = run_command(ws.path(), &ws.path().join("data"));
    clean(&mut cmd);
    cmd.env("ANTHROPIC_API_KEY", API_KEY)
        .env("DEMO_TOKEN", GRANTED)
        .envs(env.iter().copied());
    let (mut server, port) = start_command(cmd);
    let message = json!({"messageId": "lf-1", "role": "ROLE_USER",
                         "parts": [{"text": "ask hello model"}]});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                      "params": {"message": message}});
    let reply: serde_json::Value = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/"))
            .header("A2A-Version", "1.0")
            .json(&body)
            .send()
            .await
            .expect("SendMessage");
        resp.json().await.expect("a JSON-RPC answer")
    });
    let state = &reply["result"]["task"]["status"]["state"];
    assert_eq!(state, "TASK_STATE_COMPLETED", "{reply}");
    stop(&mut server);
}

/// SIGTERM, then waits (at most a minute) for a clean exit.
fn stop(server: &mut Server) {
    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn generation(spans: &[SeenSpan]) -> SeenSpan {
    let found = spans
        .iter()
        .find(|s| s.attrs.get("gen_ai.operation.name").map(String::as_str) == Some("chat"));
    found
        .unwrap_or_else(|| panic!("no generation span in {spans:?}"))
        .clone()
}

fn tokens(span: &SeenSpan, key: &str) -> u64 {
    let value = span.attrs.get(key);
    let value = value.unwrap_or_else(|| panic!("no {key} in {span:?}"));
    value.parse().unwrap_or_else(|_| panic!("{key}={value}"))
}

/// Fails naming any span whose attributes or resource quote a secret.
fn assert_no_secrets(spans: &[SeenSpan], basic: &str) {
    let secrets = [SECRET_KEY, API_KEY, GRANTED, COLLECTOR_HEADER.1, basic];
    for span in spans {
        let texts = span.attrs.iter().chain(&span.resource);
        for (key, value) in texts {
            let lower = key.to_ascii_lowercase();
            assert!(
                !lower.contains("authorization") && !lower.contains("api_key"),
                "{key} in {span:?}"
            );
            for secret in secrets {
                assert!(!value.contains(secret), "{key} quotes a secret: {span:?}");
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn model_calls_reach_langfuse_as_generations_beside_the_collector() {
    let langfuse = Collector::start();
    let collector = Collector::start();
    let headers = format!("{}={}", COLLECTOR_HEADER.0, COLLECTOR_HEADER.1);
    run_one_task(
        &[
            ("LANGFUSE_HOST", &langfuse.url()),
            ("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY),
            ("LANGFUSE_SECRET_KEY", SECRET_KEY),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url()),
            ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
        ],
        &langfuse.rt,
    );
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{PUBLIC_KEY}:{SECRET_KEY}"));
    let basic = format!("Basic {token}");
    let exports = langfuse.exports();
    assert!(!exports.is_empty(), "nothing reached Langfuse");
    for export in &exports {
        assert_eq!(export.path, "/api/public/otel/v1/traces");
        assert_eq!(export.content_type, "application/x-protobuf");
        assert_eq!(export.headers["authorization"], basic.as_str());
        assert_eq!(export.headers["x-langfuse-ingestion-version"], "4");
        assert!(
            !export.headers.contains_key(COLLECTOR_HEADER.0),
            "the collector's header reached Langfuse: {:?}",
            export.headers
        );
    }
    let spans = langfuse.spans();
    let span = generation(&spans);
    assert_eq!(span.name, "chat demo");
    assert_eq!(span.kind, 3, "span kind CLIENT: {span:?}");
    let attr = |key: &str| span.attrs.get(key).map(String::as_str);
    assert_eq!(attr("gen_ai.provider.name"), Some("scripted"));
    assert_eq!(attr("gen_ai.system"), Some("scripted"));
    assert_eq!(attr("gen_ai.request.model"), Some("demo"));
    assert_eq!(attr("gen_ai.response.model"), Some("demo"));
    assert_eq!(attr("langfuse.observation.type"), Some("generation"));
    assert!(tokens(&span, "gen_ai.usage.input_tokens") > 0, "{span:?}");
    assert!(tokens(&span, "gen_ai.usage.output_tokens") > 0, "{span:?}");
    assert!(
        span.duration_nanos > 0,
        "the span has no duration: {span:?}"
    );
    assert!(spans.iter().any(|s| s.name == "task"), "no task span");
    assert_no_secrets(&spans, &basic);

    // The OTLP collector got the same spans, with its own header.
    let others = collector.exports();
    assert!(!others.is_empty(), "nothing reached the OTLP collector");
    assert_eq!(others[0].headers[COLLECTOR_HEADER.0], COLLECTOR_HEADER.1);
    assert!(!others[0].headers.contains_key("authorization"));
    let other_spans = collector.spans();
    assert_eq!(generation(&other_spans).name, "chat demo");
    assert_no_secrets(&other_spans, &basic);
}

/// `molecule-runtime call …` with `env`: the runtime must stop before doing anything.
fn call_with(env: &[(&str, &str)]) -> Output {
    call_with_args(env, "{}")
}

/// `molecule-runtime call demo/skills/json-query query --args ARGS` with `env`.
fn call_with_args(env: &[(&str, &str)], args: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"));
    cmd.current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .args(["call", "demo/skills/json-query", "query", "--args", args])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    clean(&mut cmd);
    cmd.envs(env.iter().copied());
    cmd.output().expect("running molecule-runtime")
}

#[test]
fn partial_langfuse_settings_stop_the_runtime_naming_the_missing_variable() {
    let out = call_with(&[
        ("LANGFUSE_HOST", "https://cloud.langfuse.com"),
        ("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("LANGFUSE_SECRET_KEY not set"), "{stderr}");
    assert!(out.stdout.is_empty(), "the call ran");

    let out = call_with(&[("LANGFUSE_SECRET_KEY", SECRET_KEY)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("LANGFUSE_HOST and LANGFUSE_PUBLIC_KEY not set"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET_KEY), "{stderr}");
}

#[test]
fn plain_http_to_a_public_name_is_refused() {
    let out = call_with(&[
        ("LANGFUSE_HOST", "http://langfuse.example.com:3000"),
        ("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY),
        ("LANGFUSE_SECRET_KEY", SECRET_KEY),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("LANGFUSE_HOST=`http://langfuse.example.com:3000`"),
        "{stderr}"
    );
    assert!(stderr.contains("use https"), "{stderr}");
    assert!(!stderr.contains(SECRET_KEY), "{stderr}");
    assert!(out.stdout.is_empty(), "the call ran");
}

/// The seed's documented value: an in-cluster (compose / Kubernetes) service name over plain
/// http is accepted and the runtime runs (the export itself fails here: no such host).
#[test]
fn the_seeds_in_cluster_plain_http_host_is_accepted() {
    let env = [
        ("LANGFUSE_HOST", "http://langfuse-web:3000"),
        ("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY),
        ("LANGFUSE_SECRET_KEY", SECRET_KEY),
    ];
    let out = call_with_args(&env, r#"{"json":{"a":4242},"pointer":"/a"}"#);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("use https"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4242"), "the call ran: {stdout}\n{stderr}");
    assert!(!stderr.contains(SECRET_KEY), "{stderr}");
}

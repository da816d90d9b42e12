//! OTLP trace export through the real binary: a small collector (axum on 127.0.0.1, stopped
//! when the test ends) records what `molecule-runtime` posts — span names, attributes, the
//! resource's `service.name`, path, content type and headers — for `call` (a `tool_call` span,
//! over http/protobuf and http/json) and for `run` (a `task` span, flushed on SIGTERM). A
//! closed port or a malformed URL must neither fail nor hang the command.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::collector::{Collector, SeenSpan};
use common::{cache_dir, repo};

/// The binary with a clean OTel environment plus `env`.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"));
    cmd.current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .env_remove("PLATFORM_URL")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("LANGFUSE_") {
            cmd.env_remove(key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Waits for `child`, killing it (and failing) past `limit`.
fn wait(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("hung past {limit:?}; stderr: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `call demo/skills/json-query query` with `env`; returns the output and its wall time.
fn call_query(env: &[(&str, &str)]) -> (Output, Duration) {
    let args = r#"{"json":{"a":[1,2]},"pointer":"/a/1"}"#;
    let started = Instant::now();
    let child = command(
        &["call", "demo/skills/json-query", "query", "--args", args],
        env,
    )
    .spawn()
    .expect("running molecule-runtime");
    let out = wait(child, Duration::from_secs(120));
    let elapsed = started.elapsed();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "2\n");
    (out, elapsed)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tool_call_span(collector: &Collector) -> SeenSpan {
    let spans = collector.spans();
    let span = spans.iter().find(|s| s.name == "tool_call");
    span.unwrap_or_else(|| panic!("no tool_call span in {spans:?}"))
        .clone()
}

#[test]
fn call_exports_a_tool_call_span_over_http_protobuf() {
    let collector = Collector::start();
    call_query(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url())]);
    let exports = collector.exports();
    assert!(!exports.is_empty(), "nothing exported");
    for export in &exports {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.content_type, "application/x-protobuf");
    }
    let span = tool_call_span(&collector);
    assert_eq!(span.service, "molecule-runtime");
    assert_eq!(span.attrs.get("tool").map(String::as_str), Some("query"));
    assert!(
        span.attrs
            .get("skill")
            .is_some_and(|s| s.contains("json-query")),
        "{span:?}"
    );
}

#[test]
fn http_json_with_traces_endpoint_headers_and_service_name() {
    let collector = Collector::start();
    let endpoint = format!("{}/custom/traces", collector.url());
    call_query(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-molecule-test=yes"),
        ("OTEL_SERVICE_NAME", "otlp-test"),
    ]);
    let exports = collector.exports();
    assert!(!exports.is_empty(), "nothing exported");
    let export = &exports[0];
    assert_eq!(export.path, "/custom/traces");
    assert!(
        export.content_type.contains("application/json"),
        "{export:?}"
    );
    assert_eq!(export.headers["x-molecule-test"], "yes");
    assert_eq!(tool_call_span(&collector).service, "otlp-test");
}

#[test]
fn grpc_protocol_warns_and_falls_back_to_http_protobuf() {
    let collector = Collector::start();
    let (out, _) = call_query(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
        "{stderr}"
    );
    assert_eq!(
        collector.exports()[0].content_type,
        "application/x-protobuf"
    );
    tool_call_span(&collector);
}

#[test]
fn unreachable_endpoint_neither_fails_nor_hangs() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (_, elapsed) = call_query(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

#[test]
fn malformed_endpoint_warns_and_runs_without_export() {
    let (out, _) = call_query(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT=`not a url`"),
        "{stderr}"
    );
}

/// A config folder running the echo adapter with the demo's scripted model.
fn echo_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Echo\nruntime: {}\nmodel: scripted:demo\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    let script = repo().join("demo/model-script.yaml");
    std::fs::copy(script, dir.path().join("model-script.yaml")).unwrap();
    dir
}

/// Forwards `child`'s stderr lines to a channel; returns it.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The A2A port `run` announces on stderr.
fn announced_port(lines: &mpsc::Receiver<String>) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        if let Some(rest) = line.split(" serving A2A on port ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return digits.parse().unwrap();
        }
        seen.push(line);
    }
    panic!("no port announced; stderr: {}", seen.join("\n"));
}

#[cfg(unix)]
#[test]
fn run_exports_task_spans_and_flushes_them_on_sigterm() {
    let collector = Collector::start();
    let ws = echo_workspace();
    let data = tempfile::tempdir().unwrap();
    let config_dir = ws.path().to_str().unwrap();
    let args = [
        "run",
        "--config-dir",
        config_dir,
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ];
    let mut child = command(&args, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url())])
        .env("MOLECULE_DATA_DIR", data.path())
        .spawn()
        .expect("running molecule-runtime run");
    let lines = stderr_lines(&mut child);
    let port = announced_port(&lines);
    let message = json!({"messageId": "otlp-1", "role": "ROLE_USER", "parts": [{"text": "hi"}]});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                      "params": {"message": message}});
    let status = collector.rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/"))
            .header("A2A-Version", "1.0")
            .json(&body)
            .send()
            .await
            .expect("SendMessage");
        resp.status().as_u16()
    });
    assert_eq!(status, 200);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
    let out = wait(child, Duration::from_secs(60));
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(out.status.success(), "stderr: {}", rest.join("\n"));
    let spans = collector.spans();
    let task = spans.iter().find(|s| s.name == "task");
    let task = task.unwrap_or_else(|| panic!("no task span in {spans:?}"));
    assert_eq!(task.service, "molecule-runtime");
}

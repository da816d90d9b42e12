//! The workspace's skills over MCP, driven by the official Python MCP SDK (`mcp==2.3.0`, in
//! the virtualenv the tests share, see `molecule_python_venv`) against the real binary:
//! - Streamable HTTP at `/mcp` of a booted workspace (`mcp: {enabled: true}`, an inbound
//!   bearer, skills `json-query` and `hostile` admitted, `versioned` present but not admitted,
//!   `sandbox.timeout: 2s`): initialize, tools/list, a call, an invalid input, the `skill://`
//!   resources and index, a tool that is not granted, a denied capability, a limit hit (an
//!   infinite loop stopped by the time limit, named in the result), and 401 without or with a
//!   wrong bearer; `/metrics` then shows short calls answered in their first poll on the
//!   server thread; a spinning call starts there, moves to the guest pool at its first epoch
//!   tick and gives the server thread back while it spins on;
//! - stdio (`molecule-runtime mcp --stdio SKILL_DIR`): initialize, list, call, resources (the
//!   approval gate over stdio, `--config`, is in mcp_stdio_approval.rs).
//!
//! The script (tests/python/mcp_client_check.py) prints one `OK` line per check; these tests
//! assert on them. A workspace without `mcp:` does not serve `/mcp` (404). If Python or PyPI is
//! unreachable the tests fail with a clear message; they never pass silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::server::start_with;
use common::{cache_dir, repo};

/// The pinned MCP SDK.
const MCP_SDK: &str = "mcp==2.3.0";

/// The inbound bearer of the HTTP test.
const TOKEN: &str = "mcp-test-bearer-0123456789";

/// The venv's python with [`MCP_SDK`] installed.
fn python() -> PathBuf {
    molecule_python_venv::venv_python(&[MCP_SDK])
}

/// Runs the check script with `args`; returns stdout, panicking with both outputs on failure.
fn run_script(args: &[&str]) -> String {
    let script = repo().join("tests/python/mcp_client_check.py");
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .output()
        .expect("running the MCP check script");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "mcp_client_check.py failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Asserts that `out` has a line starting with each of `expected`, in order.
fn assert_lines(out: &str, expected: &[&str]) {
    let lines: Vec<&str> = out.lines().collect();
    let mut at = 0;
    for want in expected {
        let Some(i) = lines[at..].iter().position(|l| l.starts_with(want)) else {
            panic!("missing `{want}` (in order) in the script output:\n{out}");
        };
        at += i + 1;
    }
}

/// A workspace folder with the echo adapter and `skills/` linking the repo's skills, with
/// `sandbox.timeout: 2s`.
fn workspace(dir: &Path, extra_yaml: &str) {
    workspace_with_timeout(dir, "2s", extra_yaml);
}

/// [`workspace`] with `sandbox.timeout: timeout`.
fn workspace_with_timeout(dir: &Path, timeout: &str, extra_yaml: &str) {
    let skills = dir.join("skills");
    std::fs::create_dir_all(&skills).unwrap();
    for (name, rel) in [
        ("json-query", "demo/skills/json-query"),
        ("hostile", "tests/guests/hostile"),
        ("versioned", "tests/guests/versioned"),
    ] {
        std::os::unix::fs::symlink(repo().join(rel), skills.join(name)).unwrap();
    }
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Mcp\nruntime: {}\nmodel: scripted:reply\nskills: [json-query, hostile]\n\
         sandbox:\n  timeout: {timeout}\n{extra_yaml}",
        adapter.display()
    );
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    std::fs::write(dir.join("model-script.yaml"), "turns:\n  - text: \"ok\"\n").unwrap();
}

#[test]
fn python_mcp_client_over_http_lists_calls_and_is_refused_without_the_bearer() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), "mcp:\n  enabled: true\n");
    let env = [("MOLECULE_INBOUND_SECRET", TOKEN), TWO_WORKERS];
    let (_server, port) = start_with(dir.path(), &env);
    let url = format!("http://127.0.0.1:{port}/mcp");
    let out = run_script(&["http", &url, TOKEN]);
    assert_lines(
        &out,
        &[
            "OK initialize molecule-runtime",
            "OK list_tools ",
            "OK call_tool query \"second\"",
            "OK invalid_input ",
            "OK resources skill://hostile/SKILL.md,skill://index.json,skill://json-query/SKILL.md",
            "OK unknown_resource ",
            "OK not_granted ",
            "OK capability_denied",
            "OK limit ",
            "OK unauthorized missing 401",
            "OK unauthorized wrong 401",
            "ALL OK",
        ],
    );
    let tools = out
        .lines()
        .find(|l| l.starts_with("OK list_tools "))
        .unwrap();
    assert!(
        tools.contains("spin") && !tools.contains("version"),
        "{tools}"
    );
    let limit = out.lines().find(|l| l.starts_with("OK limit ")).unwrap();
    assert!(
        limit.contains("time limit") || limit.contains("timeout"),
        "{limit}"
    );
    // The short calls answered in their first poll, on the server thread.
    let metrics = get_metrics(port);
    assert!(
        count(&metrics, "started_here", "answered") >= 1,
        "{metrics}"
    );
    assert_eq!(count(&metrics, "started_here", "lost"), 0, "{metrics}");
}

/// `GET /metrics` of the workspace on 127.0.0.1:`port`.
fn get_metrics(port: u16) -> String {
    reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics"))
        .and_then(|r| r.text())
        .expect("GET /metrics")
}

/// `molecule_guest_calls_started_here_total{outcome=label}` (`family` `started_here`) or
/// `molecule_guest_calls_hopped_total{reason=label}` (`hopped`) in a `/metrics` text.
fn count(metrics: &str, family: &str, label: &str) -> u64 {
    let key = if family == "started_here" {
        "outcome"
    } else {
        "reason"
    };
    let series = format!("molecule_guest_calls_{family}_total{{{key}=\"{label}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
        .parse()
        .expect("a count")
}

/// Two server worker threads, whatever the machine's core count (a call starts on a server
/// thread only when the server has two or more).
const TWO_WORKERS: (&str, &str) = ("TOKIO_WORKER_THREADS", "2");

#[test]
fn a_spinning_tool_over_mcp_gives_the_server_thread_back_at_its_first_tick() {
    let dir = tempfile::tempdir().unwrap();
    // A spin long enough that the short calls below surely run while it does.
    workspace_with_timeout(dir.path(), "8s", "mcp:\n  enabled: true\n");
    let env = [("MOLECULE_INBOUND_SECRET", TOKEN), TWO_WORKERS];
    let (_server, port) = start_with(dir.path(), &env);
    let spin = std::thread::spawn(move || {
        let params = serde_json::json!({"name": "spin", "arguments": {}});
        mcp_rpc(port, "tools/call", params)
    });
    // The spinning call starts on a server thread and moves to the guest pool at its first
    // epoch tick (sandbox.timeout stops it there later).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&get_metrics(port), "started_here", "moved") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the spinning call never moved"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = get_metrics(port);
    for _ in 0..3 {
        let params =
            serde_json::json!({"name": "query", "arguments": {"json": [1, 2], "pointer": "/1"}});
        let answer = mcp_rpc(port, "tools/call", params);
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        assert_eq!(answer["result"]["content"][0]["text"], "2", "{answer}");
    }
    assert!(
        !spin.is_finished(),
        "the short calls answered while the guest still spun"
    );
    let after = get_metrics(port);
    let delta = |family, label| count(&after, family, label) - count(&before, family, label);
    // The spinning call gave its turn back: short calls found it free.
    assert_eq!(delta("hopped", "turn_taken"), 0, "{after}");
    assert!(
        delta("started_here", "answered") + delta("started_here", "moved") >= 1,
        "{after}"
    );
    let answer = spin.join().expect("the spinning call's thread");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("sandbox.timeout"), "{answer}");
}

#[test]
fn without_mcp_enabled_there_is_no_mcp_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), "");
    let (_server, port) = start_with(dir.path(), &[]);
    let status = http_status(port, "/mcp");
    assert_eq!(status, 404, "/mcp must not be served unless mcp.enabled");
}

/// The status of a `POST path` with an empty JSON object on 127.0.0.1:`port`.
fn http_status(port: u16, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split(' ').nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("no status in {answer}"))
}

#[test]
fn python_mcp_client_over_stdio_lists_and_calls() {
    let binary = env!("CARGO_BIN_EXE_molecule-runtime");
    let skill = repo().join("demo/skills/json-query");
    let out = run_script(&["stdio", binary, skill.to_str().unwrap()]);
    assert_lines(
        &out,
        &[
            "OK initialize molecule-runtime",
            "OK list_tools query",
            "OK call_tool query \"second\"",
            "OK invalid_input ",
            "OK resources skill://index.json,skill://json-query/SKILL.md",
            "OK unknown_resource ",
            "ALL OK",
        ],
    );
}

/// One JSON-RPC request to `/mcp` (stateless Streamable HTTP, JSON answer) with the bearer.
fn mcp_rpc(port: u16, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .bearer_auth(TOKEN)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&body)
        .send()
        .expect("POST /mcp");
    let text = answer.text().expect("MCP answer");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_tool_gated_by_approval_is_refused_over_mcp_and_noted_in_the_list() {
    let dir = tempfile::tempdir().unwrap();
    workspace(
        dir.path(),
        "mcp:\n  enabled: true\napproval:\n  tools: [query]\n",
    );
    let (_server, port) = start_with(dir.path(), &[("MOLECULE_INBOUND_SECRET", TOKEN)]);
    let listed = mcp_rpc(port, "tools/list", serde_json::json!({}));
    let tools = listed["result"]["tools"].as_array().expect("tools").clone();
    let query = tools
        .iter()
        .find(|t| t["name"] == "query")
        .expect("query listed");
    let described = query["description"].as_str().unwrap_or_default();
    assert!(described.contains("approval.tools"), "{described}");
    let called = mcp_rpc(
        port,
        "tools/call",
        serde_json::json!({"name": "query", "arguments": {"json": "{\"a\": 1}", "path": "a"}}),
    );
    let result = &called["result"];
    assert_eq!(result["isError"], true, "{called}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("approval.tools") && text.contains("refused"),
        "{text}"
    );
    let other = tools
        .iter()
        .find(|t| t["name"] == "spin")
        .expect("spin listed");
    assert!(!other["description"]
        .as_str()
        .unwrap_or_default()
        .contains("approval.tools"));
}

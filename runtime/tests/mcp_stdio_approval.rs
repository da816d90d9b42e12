//! `molecule-runtime mcp --stdio SKILL_DIR --config config.yaml` applies the workspace's
//! `approval.tools` as `/mcp` does, tested with plain newline-delimited JSON-RPC over the real
//! binary's stdin/stdout (MCP spec "Transports: stdio"): a gated tool is noted in `tools/list`
//! and its `tools/call` is refused with an error result naming `approval.tools`, while the
//! same call runs without `--config`; a bare `--config config.yaml` is read from the
//! working folder; a listed name that is no tool stops the command, naming
//! the file and the key.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use common::{cache_dir, repo};
use serde_json::{json, Value};

/// How long one answer may take (the first may build the skill on a cold cache).
const ANSWER_WITHIN: Duration = Duration::from_secs(600);

/// The real binary serving `demo/skills/json-query` over stdio, with `extra` arguments.
struct StdioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl StdioServer {
    fn start(extra: &[&str]) -> StdioServer {
        StdioServer::start_in(None, extra)
    }

    /// [`StdioServer::start`] with the working folder `cwd` (else the test's own).
    fn start_in(cwd: Option<&Path>, extra: &[&str]) -> StdioServer {
        let skill = repo().join("demo/skills/json-query");
        let mut command = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"));
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .args(["mcp", "--stdio", skill.to_str().unwrap()])
            .args(extra)
            .env("MOLECULE_CACHE_DIR", cache_dir())
            .env_remove("LOG_LEVEL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting molecule-runtime mcp --stdio");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        StdioServer {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{message}").expect("writing to the server");
        stdin.flush().expect("flushing");
    }

    /// Sends request `id` and returns its answer.
    fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self
                .lines
                .recv_timeout(ANSWER_WITHIN)
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            let answer: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if answer["id"] == id {
                return answer;
            }
        }
    }

    fn initialize(&mut self) {
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "stdio-approval-test", "version": "0"}});
        let answer = self.call(1, "initialize", params);
        assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    fn call_query(&mut self, id: u64) -> Value {
        let arguments = json!({"json": {"a": 1}, "pointer": "/a"});
        self.call(
            id,
            "tools/call",
            json!({"name": "query", "arguments": arguments}),
        )["result"]
            .clone()
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        // Closing stdin ends the server; it is killed if it does not.
        drop(self.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, tools: &str) -> String {
    let yaml = format!("name: Stdio\napproval:\n  tools: [{tools}]\n");
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    dir.join("config.yaml").display().to_string()
}

#[test]
fn a_gated_tool_is_refused_over_stdio_with_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "query");
    let mut server = StdioServer::start(&["--config", &file]);
    server.initialize();
    let listed = server.call(2, "tools/list", json!({}));
    let tools = listed["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let query = tools.iter().find(|t| t["name"] == "query");
    let described = query
        .and_then(|t| t["description"].as_str())
        .unwrap_or_default();
    assert!(described.contains("approval.tools"), "{listed}");
    let result = server.call_query(3);
    assert_eq!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("approval.tools") && text.contains("refused"),
        "{result}"
    );

    // The same call without --config runs.
    let mut open = StdioServer::start(&[]);
    open.initialize();
    let result = open.call_query(2);
    assert_ne!(result["isError"], true, "{result}");
}

/// `--config config.yaml` (a bare file name: its parent is "", the working folder) is read
/// from the working folder; it once failed with "config folder  does not exist".
#[test]
fn a_bare_config_file_name_is_read_from_the_working_folder() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "query");
    let mut server = StdioServer::start_in(Some(dir.path()), &["--config", "config.yaml"]);
    server.initialize();
    let result = server.call_query(2);
    assert_eq!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("approval.tools"), "{result}");
}

#[test]
fn a_listed_name_that_is_no_tool_stops_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "qurey");
    let out = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .args(["mcp", "--stdio", "--config", &file])
        .arg(repo().join("demo/skills/json-query"))
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .output()
        .expect("running molecule-runtime mcp");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&file) && stderr.contains("approval.tools[0]"),
        "{stderr}"
    );
}

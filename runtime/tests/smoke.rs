//! Smoke mode through the real binary: the exit code of every outcome (clean return, timeout
//! in a host call and in wasm, an approval request ending the run at once, ordinary error, crash, wedged, link failure of the adapter and
//! of a skill, preflight FAIL), the fallback of a malformed `MOLECULE_SMOKE_TIMEOUT_SECS` to 5 s,
//! and `MOLECULE_SMOKE_MODE=1 molecule-runtime run` behaving as smoke without opening its port.
//! Adapters: `tests/guests/echo-adapter` and `tests/guests/smoke-adapter` (whose
//! `runtime_config.smoke` picks the outcome); the broken components are built from WAT.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{cache_dir, repo};

/// A config folder whose config.yaml runs `runtime` with `extra` YAML appended.
fn workspace(runtime: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("name: Smoke\nruntime: {runtime}\nmodel: scripted:smoke\n{extra}\n");
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"smoke ok\"\n",
    )
    .unwrap();
    dir
}

fn smoke_adapter(mode: &str) -> tempfile::TempDir {
    let adapter = repo().join("tests/guests/smoke-adapter");
    let extra = format!("runtime_config: {{smoke: {mode}}}");
    workspace(&adapter.display().to_string(), &extra)
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"));
    cmd.current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .env_remove("MOLECULE_SMOKE_MODE")
        .env_remove("MOLECULE_SMOKE_TIMEOUT_SECS")
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("PLATFORM_URL")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `smoke --json` on `dir`; returns the output, the report and the wall time.
fn smoke(dir: &Path, env: &[(&str, &str)]) -> (Output, Value, Duration) {
    let started = Instant::now();
    let out = command(
        &["smoke", "--json", "--config-dir", dir.to_str().unwrap()],
        env,
    )
    .output()
    .expect("running molecule-runtime smoke");
    let elapsed = started.elapsed();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report, elapsed)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn outcome(report: &Value) -> &str {
    report["execute"]["outcome"].as_str().unwrap_or_default()
}

#[test]
fn clean_return_exits_0_and_lists_every_component() {
    let dir = workspace(
        &repo()
            .join("tests/guests/echo-adapter")
            .display()
            .to_string(),
        "",
    );
    std::fs::create_dir(dir.path().join("skills")).unwrap();
    std::os::unix::fs::symlink(
        repo().join("demo/skills/json-query"),
        dir.path().join("skills/json-query"),
    )
    .unwrap();
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 0, "{report:#}");
    assert_eq!(outcome(&report), "clean", "{report:#}");
    assert_eq!(report["exit_code"], 0);
    let components = report["components"].as_array().unwrap();
    assert_eq!(components.len(), 2, "{report:#}");
    assert_eq!(components[0]["kind"], "adapter");
    assert_eq!(components[0]["link_ok"], true);
    assert_eq!(components[1]["kind"], "skill");
    assert_eq!(components[1]["name"], "json-query");
    assert_eq!(components[1]["tools"], serde_json::json!(["query"]));
    let adapter_tools = components[0]["tools"].as_array().unwrap();
    assert!(adapter_tools.iter().any(|t| t == "query"), "{report:#}");
}

#[test]
fn timeout_exits_0_in_a_host_call_and_in_wasm() {
    for mode in ["sleep", "spin"] {
        let dir = smoke_adapter(mode);
        let (out, report, elapsed) = smoke(dir.path(), &[("MOLECULE_SMOKE_TIMEOUT_SECS", "1")]);
        assert_eq!(code(&out), 0, "{mode}: {report:#}");
        assert_eq!(outcome(&report), "timeout", "{mode}: {report:#}");
        assert_eq!(report["execute"]["timeout_secs"], 1);
        assert!(elapsed < Duration::from_secs(30), "{mode}: {elapsed:?}");
    }
}

/// `request_approval`, or a call of a tool config.yaml's `approval.tools` gates, ends the smoke
/// run there as a pass: outcome `approval`, not a wait until the time limit (here far away).
#[test]
fn an_approval_request_ends_the_run_as_a_pass() {
    let adapter = repo().join("tests/guests/smoke-adapter");
    for mode in ["approve", "gated"] {
        let extra =
            format!("runtime_config: {{smoke: {mode}}}\napproval: {{tools: [commit_memory]}}");
        let dir = workspace(&adapter.display().to_string(), &extra);
        let (out, report, _) = smoke(dir.path(), &[("MOLECULE_SMOKE_TIMEOUT_SECS", "300")]);
        assert_eq!(code(&out), 0, "{mode}: {report:#}");
        assert_eq!(outcome(&report), "approval", "{mode}: {report:#}");
        let detail = report["execute"]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with("reached an approval request"),
            "{mode}: {detail}"
        );
        let asked = if mode == "approve" {
            "deploy"
        } else {
            "commit_memory"
        };
        assert!(detail.contains(asked), "{mode}: {detail}");
    }
}

#[test]
fn ordinary_error_exits_0() {
    let dir = smoke_adapter("fail");
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 0, "{report:#}");
    assert_eq!(outcome(&report), "error");
    let detail = report["execute"]["detail"].as_str().unwrap();
    assert!(detail.contains("model unreachable"), "{detail}");
}

/// Smoke runs are offline: with the default model (no `model:` line) or a named provider,
/// the model call fails at once with "offline in smoke mode" (outcome `error`, exit 0), and
/// nothing connects to the provider's endpoint, here a listener on 127.0.0.1.
#[test]
fn smoke_never_reaches_the_model_provider() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    for model_line in ["", "model: openai:gpt-4o-mini\n"] {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!("name: Smoke\nruntime: langgraph\n{model_line}");
        std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
        let env = [
            ("OPENAI_BASE_URL", format!("{base}/v1")),
            ("ANTHROPIC_BASE_URL", base.clone()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (out, report, _) = smoke(dir.path(), &env);
        assert_eq!(code(&out), 0, "{model_line}: {report:#}");
        assert_eq!(outcome(&report), "error", "{model_line}: {report:#}");
        let detail = report["execute"]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("offline in smoke mode"), "{detail}");
        let text = report.to_string();
        assert!(!text.contains("sk-fake-smoke"), "stub key leaked: {text}");
        assert!(
            listener.accept().is_err(),
            "{model_line}: smoke connected to the provider"
        );
    }
}

#[test]
fn crash_exits_1() {
    let dir = smoke_adapter("trap");
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 1, "{report:#}");
    assert_eq!(outcome(&report), "crash");
    assert!(report["execute"]["detail"]
        .as_str()
        .unwrap()
        .contains("crashed"));
}

#[test]
fn wedged_runtime_exits_1() {
    let dir = smoke_adapter("wedge");
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 1, "{report:#}");
    assert_eq!(outcome(&report), "clean");
    let wedged = report["wedged"].as_str().unwrap();
    assert!(wedged.contains("stuck waiting for a lock"), "{wedged}");
}

/// A component importing an interface no host provides.
const BROKEN: &str = r#"(component
  (import "molecule:missing/thing@1.0.0" (instance (export "poke" (func))))
)"#;

#[test]
fn adapter_link_failure_exits_1_naming_the_import() {
    let dir = workspace("broken.wasm", "");
    std::fs::write(
        dir.path().join("broken.wasm"),
        wat::parse_str(BROKEN).unwrap(),
    )
    .unwrap();
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 1, "{report:#}");
    assert_eq!(outcome(&report), "skipped");
    let adapter = &report["components"][0];
    assert_eq!(adapter["kind"], "adapter");
    assert_eq!(adapter["link_ok"], false);
    assert_eq!(
        adapter["link_problems"][0]["import"], "molecule:missing/thing@1.0.0",
        "{report:#}"
    );

    // The human report names the component and the import too.
    let out = command(
        &["smoke", "--config-dir", dir.path().to_str().unwrap()],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("adapter broken.wasm: FAIL"), "{text}");
    assert!(text.contains("molecule:missing/thing@1.0.0"), "{text}");
}

#[test]
fn skill_link_failure_exits_1_naming_the_skill_and_import() {
    let dir = workspace(
        &repo()
            .join("tests/guests/echo-adapter")
            .display()
            .to_string(),
        "",
    );
    let skill = dir.path().join("skills/broken-skill");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: broken-skill\ndescription: Imports what no host has.\n---\n# broken\n",
    )
    .unwrap();
    std::fs::write(skill.join("tool.wasm"), wat::parse_str(BROKEN).unwrap()).unwrap();
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 1, "{report:#}");
    let broken = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broken-skill")
        .expect("the skill is reported");
    assert_eq!(broken["kind"], "skill");
    assert_eq!(broken["link_ok"], false);
    assert_eq!(
        broken["link_problems"][0]["import"],
        "molecule:missing/thing@1.0.0"
    );
}

#[test]
fn preflight_failure_exits_1() {
    let dir = workspace("no-such-adapter", "");
    let (out, report, _) = smoke(dir.path(), &[]);
    assert_eq!(code(&out), 1, "{report:#}");
    assert!(report["preflight"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["status"] == "FAIL" && l["name"] == "runtime"));
}

#[test]
fn malformed_timeout_falls_back_to_5_seconds() {
    let dir = smoke_adapter("sleep");
    let (out, report, elapsed) = smoke(dir.path(), &[("MOLECULE_SMOKE_TIMEOUT_SECS", "soon")]);
    assert_eq!(code(&out), 0, "{report:#}");
    assert_eq!(outcome(&report), "timeout");
    assert_eq!(report["execute"]["timeout_secs"], 5);
    let ms = report["execute"]["elapsed_ms"].as_u64().unwrap();
    assert!((4_900..15_000).contains(&ms), "{ms} ms");
    assert!(elapsed >= Duration::from_secs(5));
    assert!(report["preflight"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["status"] == "WARN" && l["name"] == "MOLECULE_SMOKE_TIMEOUT_SECS"));
}

#[test]
fn smoke_mode_env_turns_run_into_smoke_without_a_listener() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = smoke_adapter("sleep");
    let port_arg = port.to_string();
    let mut child = command(
        &[
            "run",
            "--config-dir",
            dir.path().to_str().unwrap(),
            "--port",
            &port_arg,
            "--bind",
            "127.0.0.1",
        ],
        &[
            ("MOLECULE_SMOKE_MODE", "yes"),
            ("MOLECULE_SMOKE_TIMEOUT_SECS", "2"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let connect = TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, port).into(),
            Duration::from_millis(50),
        );
        assert!(connect.is_err(), "smoke mode opened port {port}");
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "smoke mode did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("execute: timeout"), "{text}");
    assert!(text.contains("smoke: PASS"), "{text}");
}

//! The adapters' Python built-ins with real components, attacked: `run_code` (a CPU spin, a
//! memory bomb, reads of host files, huge output, the per-task `/scratch` and its budget) and
//! `run_skill_script` on the script-only Agent Skills folder `skills-examples/text-stats`,
//! both through [`TaskTools`] as an adapter calls them.
//!
//! The interpreter is built once per source version into the shared test cache (see
//! `python_skills.rs`).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use molecule_runtime::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::capabilities::events::EventsBackend;
use molecule_runtime::capabilities::tools::ToolsBackend;
use molecule_runtime::component::ComponentHost;
use molecule_runtime::limits::SandboxLimits;
use molecule_runtime::python::run::{CodeRunner, SCRATCH_BUDGET};
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_runtime::workspace::task_tools::{Builtins, TaskTools, RUN_CODE, RUN_SKILL_SCRIPT};
use molecule_tests::{host, python_interpreter, repo_root, test_cache_dir};
use serde_json::{json, Value};

struct NoEvents;

#[async_trait]
impl EventsBackend for NoEvents {
    async fn status(&self, _: TaskState, _: Option<Message>) -> Result<(), HostError> {
        Ok(())
    }
    async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
        Ok(())
    }
    async fn message(&self, _: Message) -> Result<(), HostError> {
        Ok(())
    }
}

/// One host per test process, so every run shares one compiled interpreter.
fn shared_host() -> Arc<ComponentHost> {
    static HOST: OnceLock<Arc<ComponentHost>> = OnceLock::new();
    HOST.get_or_init(|| Arc::new(host())).clone()
}

/// A registry over the skill folders `extra` (none: no skills).
async fn registry(extra: &[&Path]) -> Arc<SkillRegistry> {
    python_interpreter();
    let registry = SkillRegistry::new(
        shared_host(),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        Vec::new(),
    )
    .with_extra_dirs(extra.iter().map(|p| p.to_path_buf()).collect());
    let registry = Arc::new(registry);
    let snapshot = registry.load_all().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    registry
}

/// The tools of one task with `run_code` enabled under `limits`, scratch under `scratch_root`.
async fn code_tools(limits: SandboxLimits, scratch_root: &Path) -> TaskTools {
    let runner = CodeRunner::new(shared_host(), python_interpreter(), limits);
    let builtins = Builtins {
        code: Some(runner),
        scratch_root: Some(scratch_root.to_owned()),
        ..Builtins::default()
    };
    TaskTools::new(registry(&[]).await, builtins, Arc::new(NoEvents))
}

fn limits(memory_mib: usize, timeout: Duration) -> SandboxLimits {
    SandboxLimits {
        memory_bytes: memory_mib << 20,
        timeout,
        ..SandboxLimits::default()
    }
}

/// Calls `run_code` with `code`; the parsed `{"exit_code", "stdout", "stderr"}` or the error.
async fn run_code(tools: &TaskTools, code: &str) -> Result<Value, ToolError> {
    let out = tools
        .call(RUN_CODE, &json!({ "code": code }).to_string())
        .await?;
    Ok(serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}")))
}

fn failed_text(result: Result<Value, ToolError>) -> String {
    match result {
        Err(ToolError::Failed(text)) => text,
        other => panic!("expected a failed tool call, got {other:?}"),
    }
}

/// The host still runs code normally after an attack.
async fn still_fine(tools: &TaskTools) {
    let out = run_code(tools, "print(6 * 7)").await.unwrap();
    assert_eq!(out["exit_code"], 0, "{out}");
    assert_eq!(out["stdout"], "42\n", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_cpu_spin_ends_with_the_time_limit() {
    let root = tempfile::tempdir().unwrap();
    let tools = code_tools(limits(256, Duration::from_secs(2)), root.path()).await;
    still_fine(&tools).await; // warm: the interpreter is loaded before the clock starts
    let started = Instant::now();
    let text = failed_text(run_code(&tools, "while True:\n    pass\n").await);
    let elapsed = started.elapsed();
    assert!(text.contains("time limit exceeded"), "{text}");
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(5),
        "stopped after {elapsed:?}"
    );
    still_fine(&tools).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_memory_bomb_hits_the_memory_limit() {
    let root = tempfile::tempdir().unwrap();
    let tools = code_tools(limits(128, Duration::from_secs(20)), root.path()).await;
    let bomb = "x = []\nwhile True:\n    x.append(bytearray(10**7))\n";
    let text = failed_text(run_code(&tools, bomb).await);
    assert!(text.contains("memory limit exceeded"), "{text}");
    assert!(text.contains("128 MiB"), "names the limit: {text}");
    // One impossible allocation: refused inside the guest (MemoryError) or by the limit.
    match run_code(&tools, "x = bytearray(10**10)\n").await {
        Ok(out) => {
            assert_ne!(out["exit_code"], 0, "{out}");
            let stderr = out["stderr"].as_str().unwrap();
            assert!(
                stderr.contains("MemoryError") || stderr.contains("OverflowError"),
                "{out}"
            );
        }
        Err(ToolError::Failed(text)) => assert!(text.contains("memory limit"), "{text}"),
        Err(other) => panic!("{other:?}"),
    }
    still_fine(&tools).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_cannot_read_host_files() {
    let root = tempfile::tempdir().unwrap();
    let tools = code_tools(limits(256, Duration::from_secs(20)), root.path()).await;
    for path in [
        "/etc/passwd",
        "/skill/../../etc/passwd",
        "/scratch/../../etc/passwd",
        "../etc/passwd",
        "/proc/self/environ",
    ] {
        let code = format!("print(open({path:?}).read())");
        let out = run_code(&tools, &code).await.unwrap();
        assert_ne!(out["exit_code"], 0, "{path}: {out}");
        let stderr = out["stderr"].as_str().unwrap();
        assert!(stderr.contains("Error"), "{path}: {out}");
        assert!(
            !out.to_string().contains("root:"),
            "{path}: host data {out}"
        );
    }
    // Listing `/` fails: there is no root folder, only the mounts.
    let out = run_code(&tools, "import os\nprint(sorted(os.listdir('/')))")
        .await
        .unwrap();
    assert_ne!(out["exit_code"], 0, "{out}");
    assert!(
        out["stderr"]
            .as_str()
            .unwrap()
            .contains("FileNotFoundError"),
        "{out}"
    );
    assert_eq!(out["stdout"], "", "{out}");
    // The empty /skill is read-only.
    let out = run_code(&tools, "open('/skill/x.py', 'w').write('x')")
        .await
        .unwrap();
    assert_ne!(out["exit_code"], 0, "{out}");
    // No environment leaks in.
    let out = run_code(&tools, "import os\nprint(dict(os.environ))")
        .await
        .unwrap();
    assert_eq!(out["stdout"], "{}\n", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_huge_output_is_truncated_within_the_cap() {
    let root = tempfile::tempdir().unwrap();
    let tools = code_tools(limits(512, Duration::from_secs(30)), root.path()).await;
    let out = tools
        .call(
            RUN_CODE,
            &json!({"code": "print('x' * 10**8)\nimport sys\nsys.stderr.write('e' * 10**7)"})
                .to_string(),
        )
        .await
        .unwrap();
    assert!(
        out.len() <= SandboxLimits::default().max_output_bytes,
        "{} bytes",
        out.len()
    );
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["exit_code"], 0);
    let stdout = out["stdout"].as_str().unwrap();
    assert!(stdout.starts_with("xxxx"), "{}", &stdout[..40]);
    assert!(
        stdout.contains("[truncated:"),
        "marker missing: …{}",
        &stdout[stdout.len() - 80..]
    );
    assert!(out["stderr"].as_str().unwrap().contains("[truncated:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_scratch_is_per_task_and_removed_when_the_task_ends() {
    let root = tempfile::tempdir().unwrap();
    let tools = code_tools(limits(256, Duration::from_secs(20)), root.path()).await;
    let write = "import os\nopen('notes.txt', 'w').write('kept')\nprint(os.getcwd())";
    let out = run_code(&tools, write).await.unwrap();
    assert_eq!(out["exit_code"], 0, "{out}");
    assert_eq!(out["stdout"], "/scratch\n", "cwd: {out}");
    let out = run_code(&tools, "print(open('/scratch/notes.txt').read())")
        .await
        .unwrap();
    assert_eq!(
        out["stdout"], "kept\n",
        "a later run of the task reads it: {out}"
    );
    let dir = tools.scratch_dir().expect("scratch made");
    assert!(dir.starts_with(root.path()), "{}", dir.display());
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "kept"
    );
    // Another task has its own, empty scratch.
    let other = code_tools(limits(256, Duration::from_secs(20)), root.path()).await;
    let out = run_code(&other, "import os\nprint(os.listdir('/scratch'))")
        .await
        .unwrap();
    assert_eq!(out["stdout"], "[]\n", "{out}");
    drop(tools);
    assert!(!dir.exists(), "scratch left behind at {}", dir.display());

    // Over the budget: the run fails and the folder is emptied.
    let mib = (SCRATCH_BUDGET >> 20) + 1;
    let fill =
        format!("f = open('big', 'wb')\nfor _ in range({mib}):\n    f.write(b'0' * 2**20)\n");
    let text = failed_text(run_code(&other, &fill).await);
    assert!(text.contains("budget"), "{text}");
    let dir = other.scratch_dir().unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_is_listed_only_when_enabled() {
    let root = tempfile::tempdir().unwrap();
    let tools = code_tools(limits(256, Duration::from_secs(20)), root.path()).await;
    let listed = tools.list().await;
    let spec = listed.iter().find(|t| t.name == RUN_CODE).expect("listed");
    assert!(spec.description.contains("sandbox"), "{}", spec.description);
    assert!(
        !listed.iter().any(|t| t.name == RUN_SKILL_SCRIPT),
        "no skill has scripts"
    );
    let plain = TaskTools::new(registry(&[]).await, Builtins::default(), Arc::new(NoEvents));
    assert!(!plain.list().await.iter().any(|t| t.name == RUN_CODE));
    let err = plain
        .call(RUN_CODE, r#"{"code":"print(1)"}"#)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::NotFound(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_skill_script_runs_text_stats_through_task_tools() {
    let text_stats = repo_root().join("skills-examples/text-stats");
    let scratch = tempfile::tempdir().unwrap();
    let builtins = Builtins {
        scratch_root: Some(scratch.path().to_owned()),
        ..Builtins::default()
    };
    let tools = TaskTools::new(registry(&[&text_stats]).await, builtins, Arc::new(NoEvents));
    let listed = tools.list().await;
    let spec = listed
        .iter()
        .find(|t| t.name == RUN_SKILL_SCRIPT)
        .expect("listed when a skill has scripts");
    let schema: Value = serde_json::from_str(&spec.input_schema).unwrap();
    assert_eq!(schema["properties"]["skill"]["enum"], json!(["text-stats"]));
    assert!(!listed.iter().any(|t| t.name == RUN_CODE), "not enabled");

    let input = json!({"skill": "text-stats", "script": "stats.py",
                       "args": ["--top", "2", "--json"], "stdin": "the cat and the hat"});
    let out = tools
        .call(RUN_SKILL_SCRIPT, &input.to_string())
        .await
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["exit_code"], 0, "{out}");
    let stats: Value = serde_json::from_str(out["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(stats["words"], 5, "{stats}");
    assert_eq!(
        stats["top_words"],
        json!([{"word": "the", "count": 2}, {"word": "and", "count": 1}])
    );
    // `scripts/` prefix accepted; empty stdin is the script's exit code 3.
    let input = json!({"skill": "text-stats", "script": "scripts/stats.py"});
    let out: Value = serde_json::from_str(
        &tools
            .call(RUN_SKILL_SCRIPT, &input.to_string())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(out["exit_code"], 3, "{out}");
    assert!(out["stderr"].as_str().unwrap().contains("no text"), "{out}");
    // Bad options: argparse's exit code 2 and usage on stderr.
    let input =
        json!({"skill": "text-stats", "script": "stats.py", "args": ["--bogus"], "stdin": "x"});
    let out: Value = serde_json::from_str(
        &tools
            .call(RUN_SKILL_SCRIPT, &input.to_string())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(out["exit_code"], 2, "{out}");
    assert!(out["stderr"].as_str().unwrap().contains("usage"), "{out}");

    // Unknown skill or script: a clear error naming what exists.
    let err = tools
        .call(RUN_SKILL_SCRIPT, r#"{"skill":"nope","script":"stats.py"}"#)
        .await
        .unwrap_err();
    match err {
        ToolError::NotFound(text) => {
            assert!(
                text.contains("nope") && text.contains("text-stats"),
                "{text}"
            )
        }
        other => panic!("{other:?}"),
    }
    let err = tools
        .call(
            RUN_SKILL_SCRIPT,
            r#"{"skill":"text-stats","script":"nope.py"}"#,
        )
        .await
        .unwrap_err();
    match err {
        ToolError::NotFound(text) => {
            assert!(
                text.contains("nope.py") && text.contains("stats.py"),
                "{text}"
            )
        }
        other => panic!("{other:?}"),
    }
    for escape in ["../SKILL.md", "/etc/passwd", "scripts/../../x.py"] {
        let input = json!({"skill": "text-stats", "script": escape});
        let err = tools
            .call(RUN_SKILL_SCRIPT, &input.to_string())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ToolError::InvalidInput(_)),
            "{escape}: {err:?}"
        );
    }
    let err = tools
        .call(
            RUN_SKILL_SCRIPT,
            r#"{"skill":"text-stats","script":"stats.py","x":1}"#,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::InvalidInput(_)), "{err:?}");

    // The script's scratch is the task's, removed with it.
    let dir = tools.scratch_dir().expect("made by the runs");
    assert!(dir.is_dir());
    drop(tools);
    assert!(!dir.exists());
}

//! The adapter is hot-swapped too: editing its source rebuilds it, and new tasks run on the new
//! version while the workspace keeps serving; a broken edit keeps the old version.

use std::time::{Duration, Instant};

use molecule_tests::{boot_config, copy_crate};
use serde_json::{json, Value};

async fn ask(base: &str, text: &str) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"messageId": format!("m-{}", Instant::now().elapsed().as_nanos()),
                    "role": "ROLE_USER", "parts": [{"text": text}]}}});
    let reply: Value = reqwest::Client::new()
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["result"]["task"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_adapter_swaps_it_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = copy_crate("tests/guests/echo-adapter", &dir.path().join("adapter"));
    let yaml = format!(
        "name: Swap\nruntime: {}\nmodel: scripted:demo\n",
        adapter.display()
    );
    let ws = boot_config(dir.path(), &yaml, true).await;
    let base = format!("http://{}", ws.addr);
    assert_eq!(ask(&base, "hi").await, "echo: hi");

    let lib = adapter.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let marker = format!("echo-{}: ", std::process::id());
    std::fs::write(
        &lib,
        source.replace("\"echo: {text}\"", &format!("\"{marker}{{text}}\"")),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let answer = ask(&base, "hi").await;
        if answer == format!("{marker}hi") {
            break;
        }
        assert_eq!(answer, "echo: hi", "the old version serves until the swap");
        assert!(Instant::now() < deadline, "the new adapter never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    std::fs::write(&lib, "this is not rust").unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        ask(&base, "hi").await,
        format!("{marker}hi"),
        "a broken edit keeps the old version"
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_rule_edits_reach_the_next_task_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("plugins/house-style/rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("tone.md"), "Always answer in RULE-ONE style.\n").unwrap();
    let adapter = molecule_tests::repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Rules\nruntime: {}\nmodel: scripted:demo\n",
        adapter.display()
    );
    let ws = boot_config(dir.path(), &yaml, true).await;
    let base = format!("http://{}", ws.addr);
    assert!(ask(&base, "config system_prompt")
        .await
        .contains("RULE-ONE"));

    std::fs::write(rules.join("tone.md"), "Always answer in RULE-TWO style.\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let prompt = ask(&base, "config system_prompt").await;
        if prompt.contains("RULE-TWO") {
            assert!(!prompt.contains("RULE-ONE"), "{prompt}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the prompt never changed: {prompt}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ws.shutdown().await.unwrap();
}

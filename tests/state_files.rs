//! The files the runtime writes about its platform membership — the workspace token
//! (`.auth_token`), the initial prompt's marker (`.initial_prompt_done`) and an external
//! workspace's id (`.workspace_id`) — live in the data directory (`MOLECULE_DATA_DIR`, the
//! volume), never in the config directory, which may be a read-only ConfigMap mount. Copies an
//! earlier runtime left in the config directory are still read; an external workspace whose id
//! cannot be saved is not created.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use molecule_platform::fake::FakePlatform;
use molecule_tests::{boot_config_env, repo_root, try_boot_config_env, wait_until};

fn echo_yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: {name}\nruntime: {}\nmodel: scripted:demo\ninitial_prompt: hello on boot\n\
         observability: {{heartbeat_interval_seconds: 5}}\n",
        adapter.display()
    )
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    wait_until(
        what,
        Duration::from_secs(20),
        Duration::from_millis(50),
        done,
    )
    .await;
}

/// The names in `dir`.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The n-th registration's status and bearer token.
fn registration(platform: &FakePlatform, n: usize) -> (u16, Option<String>) {
    let calls = platform.calls_to("POST", "/registry/register");
    let call = &calls[n];
    (call.status, call.bearer().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_state_is_written_to_the_data_dir_and_reused_on_the_next_boot() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let config = tempfile::tempdir().unwrap();
    let volume = tempfile::tempdir().unwrap();
    let data = volume.path().join("data");
    let data_text = data.display().to_string();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-d"),
        ("MOLECULE_DATA_DIR", data_text.as_str()),
    ];
    std::fs::write(config.path().join("config.yaml"), echo_yaml("Mounted")).unwrap();
    let before = names(config.path());
    let ws = boot_config_env(config.path(), &echo_yaml("Mounted"), &env, true).await;
    let readyz = format!("http://{}/readyz", ws.addr);
    let mut ready = false;
    for _ in 0..200 {
        if reqwest::get(&readyz).await.unwrap().status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready once the platform accepted the registration");
    wait_for("the initial prompt", || {
        !platform.calls_to("POST", "/workspaces/ws-d/a2a").is_empty()
    })
    .await;
    let token = platform.token_of("ws-d").expect("a minted token");
    let saved = std::fs::read_to_string(data.join(".auth_token")).unwrap();
    assert_eq!(saved.trim(), token, "the token is saved in the data dir");
    assert!(data.join(".initial_prompt_done").is_file());
    assert_eq!(
        names(config.path()),
        before,
        "nothing is written into the config dir"
    );
    ws.shutdown().await.unwrap();

    // The next boot registers with the saved token, and does not send the prompt again.
    let ws = boot_config_env(config.path(), &echo_yaml("Mounted"), &env, true).await;
    wait_for("the second registration", || {
        platform.calls_to("POST", "/registry/register").len() >= 2
    })
    .await;
    assert_eq!(registration(&platform, 1), (200, Some(token.clone())));
    ws.shutdown().await.unwrap();
    assert_eq!(platform.calls_to("POST", "/workspaces/ws-d/a2a").len(), 1);

    // A token an earlier runtime saved in the config dir is read (never rewritten), and so
    // is its initial prompt marker.
    std::fs::rename(data.join(".auth_token"), config.path().join(".auth_token")).unwrap();
    std::fs::write(config.path().join(".initial_prompt_done"), "1\n").unwrap();
    let fresh = volume.path().join("fresh");
    let fresh_text = fresh.display().to_string();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-d"),
        ("MOLECULE_DATA_DIR", fresh_text.as_str()),
    ];
    let ws = boot_config_env(config.path(), &echo_yaml("Mounted"), &env, true).await;
    wait_for("the third registration", || {
        platform.calls_to("POST", "/registry/register").len() >= 3
    })
    .await;
    assert_eq!(registration(&platform, 2), (200, Some(token.clone())));
    ws.shutdown().await.unwrap();
    assert!(!fresh.join(".auth_token").exists(), "no token was minted");
    assert!(!fresh.join(".initial_prompt_done").exists());
    assert_eq!(platform.calls_to("POST", "/workspaces/ws-d/a2a").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_workspace_is_not_created_when_its_id_cannot_be_saved() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let admin = platform.admin_token().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A folder where the id file goes: no one (root included) can write the file.
    std::fs::create_dir_all(data.join(".workspace_id")).unwrap();
    let data_text = data.display().to_string();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("MOLECULE_ADMIN_TOKEN", admin.as_str()),
        ("MOLECULE_DATA_DIR", data_text.as_str()),
    ];
    let err = match try_boot_config_env(dir.path(), &echo_yaml("Outside"), &env).await {
        Ok(_) => panic!("boot must stop when the workspace id cannot be saved"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains(".workspace_id"), "names the file: {err}");
    assert!(err.contains("MOLECULE_DATA_DIR"), "says what to fix: {err}");
    assert!(
        platform.calls_to("POST", "/workspaces").is_empty(),
        "no workspace was created"
    );
}

//! Workspaces behind NAT: with `MOLECULE_OUTBOUND=1` a real workspace (echo adapter) opens the
//! relay WebSocket to the fake platform and serves A2A over it. Its advertised URL points
//! nowhere (a closed port), so the callers here — the official Python A2A SDK and reqwest —
//! reach it only through the platform's `POST /workspaces/{id}/a2a`. Also: the platform cuts
//! the socket and the workspace reconnects; an oversized request body and an oversized frame
//! are refused; the socket needs the workspace's own token; a normal boot (no token until the
//! first registration answers) logs no relay warning.

use std::process::Stdio;
use std::time::Duration;

use molecule_platform::fake::FakePlatform;
use molecule_platform::relay_frame::{MAX_FRAME_BYTES, MAX_REQUEST_BODY};
use molecule_runtime::workspace::boot::RunningWorkspace;
use molecule_tests::python::venv_python;
use molecule_tests::{boot_config_env, repo_root};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

const ID: &str = "ws-nat";
const CALLER: &str = "ws-caller";

/// A platform, a caller's token, and the workspace behind NAT connected to the relay.
async fn setup(dir: &std::path::Path) -> (FakePlatform, String, RunningWorkspace) {
    let platform = FakePlatform::start().await;
    let caller_token = platform.provision(CALLER, "Caller", None);
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Behind NAT\nruntime: {}\nmodel: scripted:demo\n",
        adapter.display()
    );
    // A closed port: the platform cannot reach the workspace over HTTP.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let url = platform.url();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", ID),
        ("MOLECULE_OUTBOUND", "1"),
        ("MOLECULE_WORKSPACE_URL", nowhere.as_str()),
    ];
    let ws = boot_config_env(dir, &yaml, &env, true).await;
    wait_for("the relay socket", || platform.relay_connected(ID)).await;
    (platform, caller_token, ws)
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(20));
    molecule_tests::wait_until(what, within, every, done).await;
}

fn relay_url(platform: &FakePlatform) -> String {
    format!("{}/workspaces/{ID}/a2a", platform.url())
}

/// SendMessage through the relay as the caller: (status, reply).
async fn send(platform: &FakePlatform, token: &str, text: &str) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"messageId": format!("m-{text}"), "role": "ROLE_USER",
                    "parts": [{"text": text}]}}});
    let resp = reqwest::Client::new()
        .post(relay_url(platform))
        .bearer_auth(token)
        .header("X-Workspace-ID", CALLER)
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn answer(reply: &Value) -> &str {
    reply["result"]["task"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

/// An outside client (curl, a UI) calls the NAT workspace through the platform with the
/// admin token and no `X-Workspace-ID`, as the README's example does; any other token
/// without a workspace id is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_reaches_a_workspace_behind_nat() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, _token, ws) = setup(dir.path()).await;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": {
        "message": {"messageId": "m-admin", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}});
    let post = |bearer: String| {
        reqwest::Client::new()
            .post(relay_url(&platform))
            .bearer_auth(bearer)
            .header("A2A-Version", "1.0")
            .json(&body)
            .send()
    };
    let resp = post(platform.admin_token().to_owned()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(answer(&reply), "echo: hi", "{reply}");
    let refused = post("not-the-admin-token".into()).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(ws.outbound().expect("the relay runs").relayed(), 1);
    ws.shutdown().await.unwrap();
}

/// The relay waits for the first registration's token: no "cannot connect" warning (such as
/// `no workspace token`) on a normal boot, and one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_boot_logs_no_relay_warning() {
    molecule_tests::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let (platform, _token, ws) = setup(dir.path()).await;
    let port = platform.addr().port().to_string();
    let warned = molecule_tests::logs::lines(&["WARN", "outbound relay", &port]);
    assert!(warned.is_empty(), "{warned:#?}");
    let token = molecule_tests::logs::lines(&["WARN", "no workspace token"]);
    assert!(token.is_empty(), "{token:#?}");
    assert_eq!(platform.relay_connections(ID), 1);
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_reaches_a_workspace_behind_nat_through_the_platform() {
    let python = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let dir = tempfile::tempdir().unwrap();
    let (platform, token, ws) = setup(dir.path()).await;
    let registered = platform.workspace(ID).unwrap()["url"].clone();
    assert!(
        !registered
            .as_str()
            .unwrap()
            .contains(&ws.addr.port().to_string()),
        "the platform must not know the workspace's own port: {registered}"
    );
    let script = repo_root().join("tests/python/relay_client_check.py");
    let run = tokio::process::Command::new(python)
        .arg(script)
        .args([relay_url(&platform), token, CALLER.to_string()])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the script finishes within 120 s")
        .expect("python runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0], "OK send TASK_STATE_COMPLETED echo: hello",
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("OK stream events=")
            && lines[1].ends_with("first=task TASK_STATE_COMPLETED echo: stream me"),
        "{stdout}"
    );
    assert_eq!(lines[2], "ALL OK");
    let stats = ws.outbound().expect("the relay runs");
    assert_eq!(stats.relayed(), 2, "both requests came over the socket");
    let calls = platform.calls_to("POST", &format!("/workspaces/{ID}/a2a"));
    assert!(calls.iter().all(|c| c.status == 200), "{calls:?}");
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_reconnects_after_the_platform_cuts_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, token, ws) = setup(dir.path()).await;
    let (status, reply) = send(&platform, &token, "before").await;
    assert_eq!((status, answer(&reply)), (200, "echo: before"), "{reply}");
    assert_eq!(platform.relay_connections(ID), 1);
    assert!(platform.cut_relay(ID));
    wait_for("a second connection", || {
        platform.relay_connections(ID) == 2 && platform.relay_connected(ID)
    })
    .await;
    // Meanwhile the workspace kept serving on its own port.
    let local = reqwest::get(format!("http://{}/.well-known/agent-card.json", ws.addr))
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    let (status, reply) = send(&platform, &token, "after").await;
    assert_eq!((status, answer(&reply)), (200, "echo: after"), "{reply}");
    assert_eq!(ws.outbound().unwrap().connects(), 2);
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, token, ws) = setup(dir.path()).await;
    // A request body over the relay's cap never reaches the socket.
    let big = "x".repeat(MAX_REQUEST_BODY + 1);
    let resp = reqwest::Client::new()
        .post(relay_url(&platform))
        .bearer_auth(&token)
        .header("X-Workspace-ID", CALLER)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(ws.outbound().unwrap().relayed(), 0);
    // A frame over the limit ends that socket (close 1009); the workspace connects again.
    let frame = format!(
        r#"{{"type":"cancel","id":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    assert!(platform.relay_send_raw(ID, frame));
    wait_for("a reconnection after the oversized frame", || {
        platform.relay_connections(ID) == 2 && platform.relay_connected(ID)
    })
    .await;
    let (status, reply) = send(&platform, &token, "still here").await;
    assert_eq!(
        (status, answer(&reply)),
        (200, "echo: still here"),
        "{reply}"
    );
    // An invalid frame is dropped without ending the socket.
    assert!(platform.relay_send_raw(ID, r#"{"type":"nope"}"#.into()));
    let (status, _) = send(&platform, &token, "and here").await;
    assert_eq!(status, 200);
    assert_eq!(platform.relay_connections(ID), 2);
    assert_eq!(ws.outbound().unwrap().refused(), 1);
    ws.shutdown().await.unwrap();
}

/// Opens the relay socket by hand: the handshake's HTTP status (101 when accepted).
async fn handshake(platform: &FakePlatform, id: &str, token: Option<&str>) -> u16 {
    let url = format!(
        "{}/workspaces/{id}/connect",
        platform.url().replacen("http", "ws", 1)
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("x-workspace-id", id.parse().unwrap());
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_needs_the_workspace_token() {
    let platform = FakePlatform::start().await;
    let own = platform.provision("ws-x", "X", None);
    let other = platform.provision("ws-y", "Y", None);
    assert_eq!(handshake(&platform, "ws-x", None).await, 401);
    assert_eq!(handshake(&platform, "ws-x", Some(&other)).await, 401);
    assert_eq!(handshake(&platform, "ws-x", Some("not-a-token")).await, 401);
    assert_eq!(platform.relay_connections("ws-x"), 0);
    assert_eq!(handshake(&platform, "ws-x", Some(&own)).await, 101);
    // The socket is served once the upgrade completes, after the 101.
    wait_for("the accepted socket", || {
        platform.relay_connections("ws-x") == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_answer_503_and_headers_are_relayed() {
    use molecule_runtime::outbound::{OutboundRelay, RelayOptions};
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-cap", "Cap", None);
    let caller_token = platform.provision(CALLER, "Caller", None);
    let client = molecule_platform::PlatformClient::builder(platform.url(), "ws-cap")
        .env_token(Some(token))
        .build()
        .unwrap();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let held = gate.clone();
    // Answers with the caller and bearer it saw, once the gate opens.
    let router = axum::Router::new().fallback(move |h: axum::http::HeaderMap| {
        let held = held.clone();
        async move {
            let _permit = held.acquire().await;
            let get = |k: &str| {
                h.get(k)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            format!("{} {}", get("x-workspace-id"), get("authorization"))
        }
    });
    let options = RelayOptions {
        max_in_flight: 1,
        ..RelayOptions::default()
    };
    let relay = OutboundRelay::spawn(client, router, options).unwrap();
    wait_for("the relay socket", || platform.relay_connected("ws-cap")).await;
    let post = || {
        reqwest::Client::new()
            .post(format!("{}/workspaces/ws-cap/a2a", platform.url()))
            .bearer_auth(&caller_token)
            .header("X-Workspace-ID", CALLER)
            .body("{}")
            .send()
    };
    let first = tokio::spawn(post());
    wait_for("the first request in flight", || {
        relay.stats().relayed() == 1
    })
    .await;
    let second = post().await.unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");
    assert_eq!(relay.stats().refused(), 1);
    gate.add_permits(1);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    let secret = platform.inbound_secret_of("ws-cap").unwrap();
    assert_eq!(
        first.text().await.unwrap(),
        format!("{CALLER} Bearer {secret}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_platform_is_dialed_over_tls_and_retried() {
    use molecule_runtime::outbound::{OutboundRelay, RelayOptions};
    use tokio::io::AsyncReadExt;
    // A TCP listener that reads the first bytes and hangs up: no TLS server, so every attempt
    // fails after the ClientHello and the relay must try again (its task alive).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let client = molecule_platform::PlatformClient::builder(url, "ws-tls")
        .env_token(Some("token".into()))
        .build()
        .unwrap();
    let relay = OutboundRelay::spawn(client, axum::Router::new(), RelayOptions::default()).unwrap();
    for attempt in 0..2 {
        let accepted = tokio::time::timeout(Duration::from_secs(20), listener.accept()).await;
        let (mut socket, _) = accepted.expect("the relay dials").unwrap();
        let mut first = [0u8; 1];
        socket.read_exact(&mut first).await.unwrap();
        assert_eq!(
            first[0], 0x16,
            "attempt {attempt} opens with a TLS handshake record"
        );
    }
    assert_eq!(relay.stats().connects(), 0);
}

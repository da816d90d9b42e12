//! The cost of the outbound relay (workspaces behind NAT): one blocking SendMessage (echo
//! adapter) round trip, p50 and p90 of [`SAMPLES`] sequential requests each,
//!
//! * direct to the workspace's own port;
//! * through the fake platform's HTTP proxy (`POST /workspaces/{id}/a2a` → the registered URL)
//!   to a workspace without the relay;
//! * through the same platform's WebSocket relay to a workspace with `MOLECULE_OUTBOUND=1`.
//!
//! Run: `cargo bench -p molecule-tests --bench nat_relay` (the figures in the README are from
//! `--profile dev`: dependencies at opt-level 2, the workspace crates unoptimised).

use std::time::{Duration, Instant};

use molecule_platform::fake::FakePlatform;
use molecule_tests::{boot_config_env, repo_root};
use serde_json::{json, Value};

/// Requests measured per path.
const SAMPLES: usize = 500;

async fn send(client: &reqwest::Client, url: &str, auth: &[(&str, String)], n: usize) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"messageId": format!("m-{n}-{url}"), "role": "ROLE_USER",
                    "parts": [{"text": "hello"}]}}});
    let mut req = client.post(url).header("A2A-Version", "1.0").json(&body);
    for (k, v) in auth {
        req = req.header(*k, v);
    }
    let reply: Value = req.send().await.unwrap().json().await.unwrap();
    let text = &reply["result"]["task"]["artifacts"][0]["parts"][0]["text"];
    assert_eq!(text, "echo: hello", "{reply}");
}

async fn measure(name: &str, url: &str, auth: &[(&str, String)]) {
    let client = reqwest::Client::new();
    for n in 0..20 {
        send(&client, url, auth, n).await; // warm-up
    }
    let mut times: Vec<Duration> = Vec::with_capacity(SAMPLES);
    for n in 0..SAMPLES {
        let t = Instant::now();
        send(&client, url, auth, 100 + n).await;
        times.push(t.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<28} p50 {:.3} ms  p90 {:.3} ms",
        ms(times[SAMPLES / 2]),
        ms(times[SAMPLES * 9 / 10])
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let platform = FakePlatform::start().await;
        let caller = platform.provision("ws-caller", "Caller", None);
        let adapter = repo_root().join("tests/guests/echo-adapter");
        let yaml = format!(
            "name: Bench\nruntime: {}\nmodel: scripted:demo\n",
            adapter.display()
        );
        let url = platform.url();
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let plain_env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-http")];
        let plain = boot_config_env(d1.path(), &yaml, &plain_env, true).await;
        let nat_env = [
            ("PLATFORM_URL", url.as_str()),
            ("WORKSPACE_ID", "ws-nat"),
            ("MOLECULE_OUTBOUND", "1"),
        ];
        let nat = boot_config_env(d2.path(), &yaml, &nat_env, true).await;
        let ready = || {
            platform.relay_connected("ws-nat")
                && platform.inbound_secret_of("ws-http").is_some()
                && platform
                    .workspace("ws-http")
                    .is_some_and(|w| w["registered"] == true)
        };
        molecule_tests::wait_until(
            "both joined",
            Duration::from_secs(30),
            Duration::from_millis(20),
            ready,
        )
        .await;
        // Let the workspaces pick up the inbound secret the platform handed out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let secret = platform.inbound_secret_of("ws-http").unwrap();
        let direct = [("authorization", format!("Bearer {secret}"))];
        let via = [
            ("authorization", format!("Bearer {caller}")),
            ("x-workspace-id", "ws-caller".to_owned()),
        ];
        measure("direct", &format!("http://{}/", plain.addr), &direct).await;
        measure(
            "platform HTTP proxy",
            &format!("{url}/workspaces/ws-http/a2a"),
            &via,
        )
        .await;
        measure(
            "platform WebSocket relay",
            &format!("{url}/workspaces/ws-nat/a2a"),
            &via,
        )
        .await;
        assert_eq!(nat.outbound().unwrap().relayed(), SAMPLES + 20);
        plain.shutdown().await.unwrap();
        nat.shutdown().await.unwrap();
    });
}

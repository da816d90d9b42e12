//! `molecule-dev-platform`: the fake Molecule platform as a standalone server, for running a
//! parent and a few child workspaces on one machine. State lives in memory and is gone when
//! the process exits. See the crate README.
//!
//! ```text
//! molecule-dev-platform [--port 8080] [--host 127.0.0.1] [--admin-token TOKEN] [--parent CHILD=PARENT]…
//! ```

use std::time::Duration;

use molecule_platform::fake::{FakePlatform, DEFAULT_ADMIN_TOKEN};

const USAGE: &str = "usage: molecule-dev-platform [--port 8080] [--host 127.0.0.1] [--admin-token TOKEN] [--parent CHILD=PARENT]...";

#[tokio::main]
async fn main() {
    tracing_subscriber_init();
    let mut port = 8080u16;
    let mut host = "127.0.0.1".to_string();
    let mut admin = DEFAULT_ADMIN_TOKEN.to_string();
    let mut parents = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--port" => {
                port = value("--port")
                    .parse()
                    .unwrap_or_else(|_| fail("--port must be a number 0-65535"))
            }
            "--host" => host = value("--host"),
            "--admin-token" => admin = value("--admin-token"),
            "--parent" => {
                let v = value("--parent");
                let (c, p) = v.split_once('=').unwrap_or_else(|| {
                    fail("--parent takes CHILD=PARENT, e.g. --parent ws-a=ws-pm")
                });
                parents.push((c.to_string(), p.to_string()));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    let fake = FakePlatform::start_with(&format!("{host}:{port}"), &admin)
        .await
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot listen on {host}:{port}: {e} (is the port taken? try --port 0)"
            ))
        });
    for (c, p) in &parents {
        fake.set_parent(c, Some(p));
    }
    println!("molecule-dev-platform listening on {}", fake.url());
    println!("  PLATFORM_URL={}", fake.url());
    let custom = if admin == DEFAULT_ADMIN_TOKEN {
        "the default"
    } else {
        "a custom"
    };
    println!("  admin token for POST /workspaces: {custom} one (see --admin-token)");
    println!(
        "  workspaces behind NAT: MOLECULE_OUTBOUND=1 opens {}/workspaces/{{id}}/connect",
        fake.url().replacen("http", "ws", 1)
    );
    let mut seen = 0usize;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let calls = fake.calls();
        for c in calls.iter().skip(seen) {
            let who = c.header("x-workspace-id").unwrap_or("-");
            eprintln!("{} {} {} from {who}", c.status, c.method, c.path);
        }
        seen = calls.len();
    }
}

fn tracing_subscriber_init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into()),
        ))
        .with_writer(std::io::stderr)
        .try_init();
}

fn fail(msg: &str) -> ! {
    eprintln!("molecule-dev-platform: {msg}\n{USAGE}");
    std::process::exit(2)
}

//! A test adapter for smoke mode. `runtime_config.smoke` in the setup config picks what
//! `execute` does with the stub request:
//!
//! * absent or `clean` — answers and returns Ok;
//! * `sleep` — blocks in a host call (a clock wait) for an hour;
//! * `spin` — loops in wasm forever;
//! * `fail` — returns an ordinary error;
//! * `trap` — crashes;
//! * `wedge` — reports itself wedged through `heartbeat`, then returns Ok;
//! * `approve` — asks a human through `request_approval` (in a workspace the call does not
//!   return); if it ever returns, fails;
//! * `gated` — calls `commit_memory` (gated when config.yaml lists it in `approval.tools`);
//!   if the call returns, fails.

use std::sync::OnceLock;

use molecule_guest_sdk::adapter::{Adapter, RequestContext};
use molecule_guest_sdk::{approval, events, export_adapter, heartbeat, tools};
use serde_json::Value;

static MODE: OnceLock<String> = OnceLock::new();

struct Smoke;

impl Adapter for Smoke {
    fn name() -> String {
        "smoke".into()
    }

    fn setup(config: Value) -> Result<(), String> {
        let mode = config["runtime_config"]["smoke"]
            .as_str()
            .unwrap_or("clean")
            .to_owned();
        let _ = MODE.set(mode);
        Ok(())
    }

    fn execute(context: RequestContext) -> Result<(), String> {
        let mode = MODE.get().map(String::as_str).unwrap_or("clean");
        match mode {
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(())
            }
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "fail" => Err("model unreachable: connection refused (smoke-adapter)".into()),
            "trap" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[cfg(not(target_arch = "wasm32"))]
                unreachable!()
            }
            "approve" => match approval::request("deploy", "smoke") {
                Ok(()) => Err("request_approval returned (smoke-adapter)".into()),
                Err(e) => Err(format!("request_approval refused: {e:?}")),
            },
            "gated" => {
                let out = tools::call_raw("commit_memory", r#"{"content":"smoke"}"#);
                Err(format!("the gated call returned: {out:?} (smoke-adapter)"))
            }
            "wedge" => {
                heartbeat::report_wedged("stuck waiting for a lock (smoke-adapter)");
                Ok(())
            }
            _ => events::text_artifact(Some("answer"), format!("ok: {}", context.message.text()))
                .map_err(|e| format!("{e:?}")),
        }
    }
}

export_adapter!(Smoke);

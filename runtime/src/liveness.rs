//! What the heartbeat reports about the runtime itself: the current task summary and whether a
//! component declared itself wedged (through the `heartbeat` import). One per process; the
//! heartbeat loop reads it before each beat.

use std::sync::Mutex;

use crate::capabilities::heartbeat::HeartbeatBackend;

/// The runtime's liveness state.
#[derive(Debug, Default)]
pub struct Liveness {
    current_task: Mutex<Option<String>>,
    wedged: Mutex<Option<String>>,
}

/// The process-wide liveness state.
pub fn global() -> &'static Liveness {
    static LIVENESS: std::sync::OnceLock<Liveness> = std::sync::OnceLock::new();
    LIVENESS.get_or_init(Liveness::default)
}

impl Liveness {
    /// The current task summary, if any.
    pub fn current_task(&self) -> Option<String> {
        self.current_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Why the runtime is wedged, if a component said so.
    pub fn wedged(&self) -> Option<String> {
        self.wedged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The `heartbeat` backend granted to adapters: it updates [`global`].
pub struct LivenessBackend;

impl HeartbeatBackend for LivenessBackend {
    fn set_current_task(&self, _component: &str, summary: &str) {
        let summary: String = summary.chars().take(200).collect();
        *global()
            .current_task
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(summary);
    }

    fn report_wedged(&self, component: &str, reason: &str) {
        tracing::error!(component, reason, "component reports the runtime wedged");
        *global().wedged.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(format!("{component}: {reason}"));
    }
}

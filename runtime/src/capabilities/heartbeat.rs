//! `heartbeat`: what the component is doing now, and whether it is wedged. The backend
//! forwards it to the platform's heartbeat loop. Ungranted calls are ignored (logged at debug):
//! the interface returns nothing a guest could act on.

use crate::bindings::imports::molecule::runtime::heartbeat;
use crate::state::HostState;

/// Receives liveness signals from components.
pub trait HeartbeatBackend: Send + Sync {
    /// The component's current task summary changed.
    fn set_current_task(&self, component: &str, summary: &str);
    /// The component declared itself unable to make progress.
    fn report_wedged(&self, component: &str, reason: &str);
}

impl heartbeat::Host for HostState {
    async fn set_current_task(&mut self, summary: String) {
        match &self.grants.heartbeat {
            Some(b) => b.set_current_task(self.grants.component(), &summary),
            None => tracing::debug!(component = self.grants.component(), "heartbeat not granted"),
        }
    }

    async fn report_wedged(&mut self, reason: String) {
        match &self.grants.heartbeat {
            Some(b) => b.report_wedged(self.grants.component(), &reason),
            None => tracing::warn!(
                component = self.grants.component(),
                reason,
                "component reports itself wedged (heartbeat not granted)"
            ),
        }
    }
}

//! `heartbeat`: what the component is doing now, and whether it is wedged. The backend
//! forwards it to the platform's heartbeat loop. The interface returns nothing a guest could
//! act on, so an ungranted call is not an error: it is logged (a wedged report at WARN) with
//! the same denial text as every other capability.

use crate::bindings::imports::molecule::runtime::heartbeat;

use super::grant::Granted;

/// Receives liveness signals from components.
pub trait HeartbeatBackend: Send + Sync {
    /// The component's current task summary changed.
    fn set_current_task(&self, component: &str, summary: &str);
    /// The component declared itself unable to make progress.
    fn report_wedged(&self, component: &str, reason: &str);
}

/// The `heartbeat` capability of one store.
pub type HeartbeatCtx = Granted<dyn HeartbeatBackend>;

impl heartbeat::Host for HeartbeatCtx {
    async fn set_current_task(&mut self, summary: String) {
        match self.get() {
            Ok(b) => b.set_current_task(self.component(), &summary),
            Err(denied) => tracing::debug!(component = self.component(), ?denied),
        }
    }

    async fn report_wedged(&mut self, reason: String) {
        match self.get() {
            Ok(b) => b.report_wedged(self.component(), &reason),
            Err(denied) => tracing::warn!(
                component = self.component(),
                reason = %crate::redact::escape(&reason),
                ?denied,
                "component reports itself wedged (heartbeat not granted)"
            ),
        }
    }
}

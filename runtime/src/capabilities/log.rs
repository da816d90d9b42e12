//! `log`: guest log records go to the host's `tracing` log, tagged with the component and
//! counted against the call's output budget. Always granted; there is no other backend.

use crate::bindings::imports::molecule::runtime::log::{self, Level};
use crate::state::HostState;

/// Longest single record kept, in bytes; longer ones are cut at a character boundary.
const MAX_RECORD: usize = 8 << 10;

impl log::Host for HostState {
    async fn write(&mut self, level: Level, message: String) {
        let component = self.grants.component().to_owned();
        let want = message.len().min(MAX_RECORD);
        let keep = self.log_budget.take(&component, want);
        let text = truncate(&message, keep);
        match level {
            Level::Trace => tracing::trace!(target: "guest", component, "{text}"),
            Level::Debug => tracing::debug!(target: "guest", component, "{text}"),
            Level::Info => tracing::info!(target: "guest", component, "{text}"),
            Level::Warn => tracing::warn!(target: "guest", component, "{text}"),
            Level::Error => tracing::error!(target: "guest", component, "{text}"),
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(super::truncate("héllo", 2), "h");
        assert_eq!(super::truncate("héllo", 3), "hé");
        assert_eq!(super::truncate("abc", 10), "abc");
    }
}

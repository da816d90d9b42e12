//! `config`: the configuration values the operator granted to a component (environment
//! values and secrets), and nothing else. The backend is the granted map itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bindings::imports::molecule::runtime::config;
use crate::bindings::HostError;

use super::grant::Denial;

/// The `config` capability of one store: the granted keys (a value, or `None` for granted
/// but unset).
pub struct ConfigCtx {
    values: Arc<BTreeMap<String, Option<String>>>,
    denial: Denial,
}

impl ConfigCtx {
    /// The granted `values`; any other key is denied with `denial`.
    pub fn new(values: Arc<BTreeMap<String, Option<String>>>, denial: Denial) -> Self {
        ConfigCtx { values, denial }
    }
}

impl config::Host for ConfigCtx {
    async fn get(&mut self, key: String) -> Result<Option<String>, HostError> {
        match self.values.get(&key) {
            Some(value) => Ok(value.clone()),
            None => Err(self.denial.deny(&format!("config key {key}"))),
        }
    }

    async fn keys(&mut self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::Host as _;

    #[tokio::test]
    async fn only_granted_keys_are_readable() {
        let values = BTreeMap::from([
            ("A".to_owned(), Some("1".to_owned())),
            ("B".to_owned(), None),
        ]);
        let mut ctx = ConfigCtx::new(Arc::new(values), Denial::new("skill s", "the test"));
        assert_eq!(ctx.get("A".into()).await, Ok(Some("1".into())));
        assert_eq!(ctx.get("B".into()).await, Ok(None));
        assert_eq!(
            ctx.get("C".into()).await,
            Err(HostError::Denied(
                "skill s is not granted `config key C`; grant it in the test".into()
            ))
        );
        assert_eq!(ctx.keys().await, ["A", "B"]);
    }
}

//! `config`: a component reads only the configuration values the operator granted to it.
//! The backend is the grant map itself ([`Grants`](crate::grants::Grants)).

use crate::bindings::imports::molecule::runtime::config;
use crate::bindings::HostError;
use crate::state::HostState;

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<String>, HostError> {
        match self.grants.config.get(&key) {
            Some(value) => Ok(value.clone()),
            None => Err(self.grants.denied(&format!("config key {key}"))),
        }
    }

    async fn keys(&mut self) -> Vec<String> {
        self.grants.config.keys().cloned().collect()
    }
}

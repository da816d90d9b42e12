//! Unit tests for the crate, one module per area; files go in temp dirs.

mod a2a_card_keys;
mod a2a_grpc;
mod a2a_limits;
mod approval;
mod cli_runtime;
mod env;
mod fail_closed;
mod grants;
mod hostile;
mod log_level;
mod outbound;
mod packages;
mod plugins;
mod preflight;
mod prompt;
mod raw_scalars;
mod sandbox;
mod secret_grants;
mod units;
mod uploads;
mod workspace;

use std::path::Path;

use crate::{Env, WorkspaceConfig};

/// Writes `text` to `dir/rel`, creating parent folders.
pub(crate) fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("test paths have a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write test file");
}

/// An environment with nothing set.
pub(crate) fn no_env() -> Env {
    Env::from_pairs(Vec::<(String, String)>::new())
}

/// Parses `yaml` as `/cfg/config.yaml` with no environment.
pub(crate) fn parse(yaml: &str) -> WorkspaceConfig {
    WorkspaceConfig::from_yaml_str(yaml, Path::new("/cfg"), &no_env())
}

/// The warning whose key is `key`, panicking with all warnings when there is none.
pub(crate) fn warning<'a>(config: &'a WorkspaceConfig, key: &str) -> &'a crate::Warning {
    config
        .warnings
        .iter()
        .find(|w| w.key == key)
        .unwrap_or_else(|| panic!("no warning for {key}; got {:#?}", config.warnings))
}

/// The error whose key is `key`, panicking with all errors when there is none.
pub(crate) fn error<'a>(config: &'a WorkspaceConfig, key: &str) -> &'a crate::Warning {
    config
        .errors
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no error for {key}; got {:#?}", config.errors))
}

//! The process environment the runtime reads, captured once into [`Env`]. Tests build an
//! [`Env`] from pairs, so nothing here touches the real environment except [`Env::from_process`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::lenient::parse_flag;
use crate::warning::Warning;

/// Default for `WORKSPACE_CONFIG_PATH`.
pub const DEFAULT_CONFIG_PATH: &str = "/configs";
/// Default for `PLUGINS_DIR`.
pub const DEFAULT_PLUGINS_DIR: &str = "/plugins";
/// The longest `PARENT_ID` accepted, in bytes.
pub const MAX_PARENT_ID_BYTES: usize = 128;
/// Default for `MOLECULE_SMOKE_TIMEOUT_SECS`.
pub const DEFAULT_SMOKE_TIMEOUT_SECS: u64 = 5;

/// The environment variables the runtime reads, parsed. Empty values count as unset.
#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    /// `WORKSPACE_ID`; required when a platform is configured.
    pub workspace_id: Option<String>,
    /// `WORKSPACE_CONFIG_PATH` (default `/configs`): the directory holding `config.yaml`.
    pub config_path: PathBuf,
    /// `PLATFORM_URL`, without a trailing `/`.
    pub platform_url: Option<String>,
    /// `PLUGINS_DIR` (default `/plugins`): shared plugins, searched after `<configs>/plugins`.
    pub plugins_dir: PathBuf,
    /// `AWARENESS_URL`, without a trailing `/`.
    pub awareness_url: Option<String>,
    /// `AWARENESS_NAMESPACE`, defaulting to `workspace:<WORKSPACE_ID>` when the id is known.
    pub awareness_namespace: Option<String>,
    /// `LOG_LEVEL`: the stderr log level (a level name or a `tracing` filter); wins over
    /// `RUST_LOG` and `observability.log_level`.
    pub log_level: Option<String>,
    /// `RUST_LOG`: a `tracing` filter, used when `LOG_LEVEL` is unset; wins over
    /// `observability.log_level`.
    pub rust_log: Option<String>,
    /// `MOLECULE_SMOKE_MODE` is one of 1/true/yes/on.
    pub smoke_mode: bool,
    /// `MOLECULE_SMOKE_TIMEOUT_SECS` (default 5; malformed → 5 with a warning).
    pub smoke_timeout: Duration,
    /// `MOLECULE_WORKSPACE_TOKEN`: the token used when neither memory nor `.auth_token` has one.
    pub workspace_token: Option<String>,
    /// `HOSTNAME`: used to build the advertised URL when `MOLECULE_WORKSPACE_URL` is unset.
    pub hostname: Option<String>,
    /// `MOLECULE_WORKSPACE_URL`: the advertised URL, verbatim.
    pub workspace_url: Option<String>,
    /// `MOLECULE_MODEL`: highest-priority model override.
    pub molecule_model: Option<String>,
    /// `MODEL`: model override below `MOLECULE_MODEL`.
    pub model: Option<String>,
    /// `LLM_PROVIDER`: provider override.
    pub llm_provider: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otel_endpoint: Option<String>,
    /// `PARENT_ID`: this workspace's parent, reported to the platform when the platform does
    /// not name one itself (its `GET /workspaces/{id}` `parent_id` wins). Checked by
    /// [`Env::checked_parent_id`].
    pub parent_id: Option<String>,
    /// Problems found while parsing (e.g. a malformed smoke timeout).
    pub warnings: Vec<Warning>,
    pub(crate) vars: BTreeMap<String, String>,
}

impl Env {
    /// Captures the real process environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Env {
        Env::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Builds an [`Env`] from `(name, value)` pairs; later pairs win over earlier ones.
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut warnings = Vec::new();
        let workspace_id = get("WORKSPACE_ID");
        let awareness_namespace = get("AWARENESS_NAMESPACE")
            .or_else(|| workspace_id.as_ref().map(|id| format!("workspace:{id}")));
        let smoke_mode = match get("MOLECULE_SMOKE_MODE") {
            None => false,
            Some(v) => parse_flag(&v).unwrap_or_else(|| {
                warnings.push(Warning::in_env(
                    "MOLECULE_SMOKE_MODE",
                    format!("`{v}` is not a flag; smoke mode is off (use 1, true, yes or on)"),
                ));
                false
            }),
        };
        let smoke_timeout = Duration::from_secs(match get("MOLECULE_SMOKE_TIMEOUT_SECS") {
            None => DEFAULT_SMOKE_TIMEOUT_SECS,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    warnings.push(Warning::in_env(
                        "MOLECULE_SMOKE_TIMEOUT_SECS",
                        format!(
                            "`{v}` is not a positive whole number of seconds; \
                             using {DEFAULT_SMOKE_TIMEOUT_SECS}"
                        ),
                    ));
                    DEFAULT_SMOKE_TIMEOUT_SECS
                }
            },
        });
        let url = |name: &str| get(name).map(|u| u.trim_end_matches('/').to_string());
        Env {
            workspace_id,
            config_path: get("WORKSPACE_CONFIG_PATH")
                .unwrap_or_else(|| DEFAULT_CONFIG_PATH.into())
                .into(),
            platform_url: url("PLATFORM_URL"),
            plugins_dir: get("PLUGINS_DIR")
                .unwrap_or_else(|| DEFAULT_PLUGINS_DIR.into())
                .into(),
            awareness_url: url("AWARENESS_URL"),
            awareness_namespace,
            log_level: get("LOG_LEVEL"),
            rust_log: get("RUST_LOG"),
            smoke_mode,
            smoke_timeout,
            workspace_token: get("MOLECULE_WORKSPACE_TOKEN"),
            hostname: get("HOSTNAME"),
            workspace_url: get("MOLECULE_WORKSPACE_URL"),
            molecule_model: get("MOLECULE_MODEL"),
            model: get("MODEL"),
            llm_provider: get("LLM_PROVIDER"),
            otel_endpoint: get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            parent_id: get("PARENT_ID"),
            warnings,
            vars,
        }
    }

    /// `PARENT_ID`, checked: `None` when unset or empty; else a workspace id of at most
    /// [`MAX_PARENT_ID_BYTES`] bytes of ASCII letters, digits and `-`, `_`, `.`, `:`, other
    /// than `WORKSPACE_ID`.
    ///
    /// # Errors
    /// Text naming `PARENT_ID` when the value breaks those rules (it is sent to the platform
    /// as this workspace's parent, so a malformed one is refused rather than sent).
    pub fn checked_parent_id(&self) -> Result<Option<&str>, String> {
        let Some(parent) = self.parent_id.as_deref() else {
            return Ok(None);
        };
        let id_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if parent.len() > MAX_PARENT_ID_BYTES || !parent.chars().all(id_char) {
            return Err(format!(
                "PARENT_ID is not a workspace id (at most {MAX_PARENT_ID_BYTES} ASCII letters, \
                 digits, `-`, `_`, `.` or `:`); unset it or set the parent's id"
            ));
        }
        if self.workspace_id.as_deref() == Some(parent) {
            return Err(format!(
                "PARENT_ID is `{parent}`, this workspace's own WORKSPACE_ID: a workspace cannot \
                 be its own parent"
            ));
        }
        Ok(Some(parent))
    }

    /// Any captured variable by name; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Whether `name` is set to a non-empty value.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The URL this workspace advertises: `MOLECULE_WORKSPACE_URL` verbatim, else
    /// `http://<HOSTNAME>:<port>`, else `None`.
    pub fn advertised_url(&self, port: u16) -> Option<String> {
        self.workspace_url
            .clone()
            .or_else(|| self.hostname.as_ref().map(|h| format!("http://{h}:{port}")))
    }
}

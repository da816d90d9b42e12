//! The `platform:` section of config.yaml (`platform.outbound`) and `MOLECULE_OUTBOUND`: whether
//! the workspace opens the outbound relay to the platform (a WebSocket, so a workspace behind
//! NAT needs no inbound port). A security-relevant switch, read fail closed: a value that is
//! not a boolean (null included), a near miss of `outbound`, an unparseable variable, or the
//! variable and the key disagreeing is an error, never a default.

use serde_yaml::Value;

use crate::keys::check_keys;
use crate::lenient::{describe, parse_flag, Reader};
use crate::report::{PreflightReport, Status};
use crate::{Env, WorkspaceConfig};

/// The variable that turns the outbound relay on (`1/true/yes/on`) or off (`0/false/no/off`).
pub const OUTBOUND_VAR: &str = "MOLECULE_OUTBOUND";

/// The keys read under `platform`.
const KEYS: [&str; 1] = ["outbound"];

/// `platform`: how the workspace reaches the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformConfig {
    /// `platform.outbound`: open the relay WebSocket (`None`: not written).
    pub outbound: Option<bool>,
}

impl PlatformConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> PlatformConfig {
        let holds = "`outbound`, whether A2A is served over the platform's relay";
        let Some(v) = r.secure_mapping(v, "platform", holds) else {
            return PlatformConfig::default();
        };
        check_keys(r, v, "platform", &KEYS, &KEYS, &[]);
        let outbound = match v.get("outbound") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                r.fail(
                    "platform.outbound",
                    other,
                    format!(
                        "expected true or false, found {}; write a boolean or remove the key",
                        describe(other)
                    ),
                );
                None
            }
        };
        PlatformConfig { outbound }
    }
}

/// Whether the outbound relay is on: `MOLECULE_OUTBOUND` and config.yaml `platform.outbound`
/// must agree when both are set; either alone decides; neither: off. Empty counts as unset.
///
/// # Errors
/// The variable is not a flag, or it and the key disagree; the message names the variable,
/// the file and the key.
pub fn outbound_mode(env: &Env, config: &WorkspaceConfig) -> Result<bool, String> {
    let file = config.config_dir.join("config.yaml");
    let var = match env.vars.get(OUTBOUND_VAR).filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => Some(
            parse_flag(raw)
                .filter(|_| !raw.trim().is_empty())
                .ok_or_else(|| {
                    format!(
                        "environment: {OUTBOUND_VAR} is {:?}; use 1/true/yes/on or 0/false/no/off",
                        crate::escape_text(raw)
                    )
                })?,
        ),
    };
    match (var, config.platform.outbound) {
        (Some(e), Some(c)) if e != c => Err(format!(
            "{OUTBOUND_VAR}={e} disagrees with {}: platform.outbound: {c}; set them alike or \
             remove one",
            file.display()
        )),
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Ok(false),
    }
}

/// Preflight check `outbound`: PASS when the relay is on with a platform; FAIL when the
/// variable is not a flag, the variable and the key disagree, or the relay is on without
/// `PLATFORM_URL`; nothing when it is off.
pub(crate) fn check_outbound(report: &mut PreflightReport, env: &Env, config: &WorkspaceConfig) {
    match (outbound_mode(env, config), &env.platform_url) {
        (Ok(true), Some(url)) => report.push(
            Status::Pass,
            "outbound",
            format!("on: A2A also served over the relay socket of {url}"),
        ),
        (Ok(true), None) => report.push(
            Status::Fail,
            "outbound",
            format!(
                "{OUTBOUND_VAR} / platform.outbound is on but PLATFORM_URL is not set: the \
                 relay needs a platform"
            ),
        ),
        (Ok(false), _) => {}
        (Err(e), _) => report.push(Status::Fail, "outbound", e),
    }
}

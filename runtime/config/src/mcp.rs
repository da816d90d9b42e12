//! config.yaml `mcp`: whether the workspace's skill tools are served over MCP (Model Context
//! Protocol, Streamable HTTP transport) at `/mcp` on the A2A port, and which `Host` headers that
//! endpoint accepts. The whole section fails closed: it decides whether a network client may
//! call the skill tools directly, so a non-mapping section, an unknown key, a null or a value of
//! the wrong type is an error naming the file and the key, never a default.

use serde_yaml::Value;

use crate::lenient::{describe, Reader};

/// The keys read under `mcp`.
pub(crate) const MCP_KEYS: [&str; 2] = ["enabled", "allowed_hosts"];

/// Longest `mcp.allowed_hosts` entry, in bytes (a DNS name is at most 253, plus `:port`).
const MAX_HOST_BYTES: usize = 260;

/// Most `mcp.allowed_hosts` entries.
const MAX_HOSTS: usize = 64;

/// `mcp`: the MCP endpoint of the workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpConfig {
    /// `mcp.enabled`: serve `/mcp` (default `false`: an operator opts in, since MCP clients
    /// call the skill tools directly, without the adapter in between).
    pub enabled: bool,
    /// `mcp.allowed_hosts`: `Host` header values (`name` or `name:port`) `/mcp` accepts
    /// besides the loopback names (`localhost`, `127.0.0.1`, `::1`), which are always
    /// accepted; a request with any other `Host` is refused (403), which stops DNS-rebinding
    /// attacks from a browser. Empty by default.
    pub allowed_hosts: Vec<String>,
}

impl McpConfig {
    /// Reads `mcp` as written (`v` is the raw value: a null is an error, not an absent
    /// section); absent gives the defaults; every problem is an error (`r.fail`).
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> McpConfig {
        let Some(v) = r.secure_mapping(v, "mcp", "whether clients may call the skill tools") else {
            return McpConfig::default();
        };
        strict_unknown_keys(r, v);
        McpConfig {
            enabled: read_enabled(r, v.get("enabled")),
            allowed_hosts: read_hosts(r, v.get("allowed_hosts")),
        }
    }
}

/// Any key under `mcp` that is not read is an error, a near miss (`enable`, `Enabled`) included.
fn strict_unknown_keys(r: &mut Reader<'_>, v: &Value) {
    let Value::Mapping(m) = v else { return };
    for (k, _) in m {
        let name = r.text(k).unwrap_or_default();
        if !MCP_KEYS.contains(&name.as_str()) {
            r.fail(
                &format!("mcp.{name}"),
                k,
                format!(
                    "unknown key; `mcp` takes only {}: the section decides who may call the \
                     skill tools, so nothing in it is ignored",
                    MCP_KEYS.join(", ")
                ),
            );
        }
    }
}

/// `mcp.enabled`: `true` or `false`; absent is `false`; anything else is an error.
fn read_enabled(r: &mut Reader<'_>, value: Option<&Value>) -> bool {
    match value {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            r.fail(
                "mcp.enabled",
                other,
                format!(
                    "expected true or false, found {}; it decides whether /mcp serves the \
                     skill tools, so it is not defaulted",
                    describe(other)
                ),
            );
            false
        }
    }
}

/// `mcp.allowed_hosts`: a list of host names (`name` or `name:port`); anything else errors.
fn read_hosts(r: &mut Reader<'_>, value: Option<&Value>) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Value::Sequence(items) = value else {
        r.fail(
            "mcp.allowed_hosts",
            value,
            format!("expected a list of host names, found {}", describe(value)),
        );
        return Vec::new();
    };
    if items.len() > MAX_HOSTS {
        r.fail(
            "mcp.allowed_hosts",
            value,
            format!("{} entries; at most {MAX_HOSTS}", items.len()),
        );
        return Vec::new();
    }
    let mut hosts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("mcp.allowed_hosts[{i}]");
        match item {
            Value::String(s) if valid_host(s) => hosts.push(s.to_ascii_lowercase()),
            other => r.fail(
                &key,
                other,
                format!(
                    "expected a host name such as `agent.example.com` or \
                     `agent.example.com:8000` (no scheme, path or spaces), found {}",
                    describe(other)
                ),
            ),
        }
    }
    hosts
}

/// A `Host` value: 1–260 bytes of letters, digits, `.-_:[]` (an IPv6 literal in brackets).
fn valid_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_HOST_BYTES
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (McpConfig, Vec<String>) {
        let file = std::path::Path::new("/ws/config.yaml");
        let mut r = Reader::new(file);
        let v: Value = serde_yaml::from_str(yaml).unwrap();
        let config = McpConfig::read(&mut r, v.get("mcp"));
        let errors = r.errors.iter().map(ToString::to_string).collect();
        (config, errors)
    }

    #[test]
    fn absent_is_off_and_a_valid_section_reads() {
        assert_eq!(read("name: x").0, McpConfig::default());
        let (c, errors) = read("mcp: {enabled: true, allowed_hosts: [ws.example.com:8000]}");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(c.enabled);
        assert_eq!(c.allowed_hosts, vec!["ws.example.com:8000"]);
    }

    #[test]
    fn bad_values_nulls_and_near_misses_fail_closed() {
        for yaml in [
            "mcp: yes",
            "mcp: ~",
            "mcp: {enabled: ~}",
            "mcp: {enabled: maybe}",
            "mcp: {enabled: true, allowed_hosts: http://x/}",
            "mcp: {enabled: true, allowed_hosts: [\"http://x/\"]}",
            "mcp: {enabled: true, allowed_hosts: [~]}",
            "mcp: {enable: true}",
            "mcp: {Enabled: true}",
            "mcp: {enabled: true, port: 9}",
        ] {
            let (_, errors) = read(yaml);
            assert!(!errors.is_empty(), "{yaml} should fail");
            assert!(
                errors.iter().all(|e| e.contains("config.yaml")),
                "{yaml}: {errors:?}"
            );
            assert!(
                errors.iter().any(|e| e.contains("mcp")),
                "{yaml}: {errors:?}"
            );
        }
    }

    #[test]
    fn in_config_yaml_a_null_section_or_a_near_miss_name_fails() {
        let c = crate::tests::parse("mcp: ~\n");
        assert!(crate::tests::error(&c, "mcp")
            .to_string()
            .contains("config.yaml"));
        let c = crate::tests::parse("MCP: {enabled: true}\n");
        assert!(
            c.errors.iter().any(|e| e.message.contains("`mcp`")),
            "{:?}",
            c.errors
        );
        let c = crate::tests::parse("mcp: {enabled: true}\n");
        assert!(c.errors.is_empty() && c.mcp.enabled, "{:?}", c.errors);
    }
}

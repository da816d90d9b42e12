//! `packages`: skill packages pulled from OCI registries (a `skills:` entry holding a `/` is an
//! OCI reference, `registry/org/skill@sha256:<hex>`). Every key here is a security setting:
//! a value present but unusable, a null, or a near-miss key name is an error naming the file
//! and the key, never a default (fail closed). The signature policy defaults to `require`.

use std::path::PathBuf;

use serde_yaml::Value;

use crate::keys::check_keys;
use crate::lenient::{describe, Reader};

/// `packages.signatures`: what a pulled package's cosign signature must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// Refuse a package unless a signature over its manifest digest verifies with one of
    /// `trusted_keys` (the default).
    #[default]
    Require,
    /// Load an unsigned or wrongly signed package, with a warning.
    Warn,
    /// Do not look at signatures.
    Off,
}

impl SignaturePolicy {
    /// The value as config.yaml writes it.
    pub fn name(self) -> &'static str {
        match self {
            SignaturePolicy::Require => "require",
            SignaturePolicy::Warn => "warn",
            SignaturePolicy::Off => "off",
        }
    }
}

/// The `packages` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackagesConfig {
    /// `packages.signatures` (default `require`).
    pub signatures: SignaturePolicy,
    /// `packages.trusted_keys`: PEM public key files (cosign's `cosign.pub`), resolved against
    /// the config folder. Default none (so under `require` no package loads until one is set).
    pub trusted_keys: Vec<PathBuf>,
    /// `packages.cache_dir`, resolved against the config folder; `None`: the runtime's data
    /// folder's `packages/`.
    pub cache_dir: Option<PathBuf>,
    /// `packages.insecure_registries`: registries (`host` or `host:port`) reached over plain
    /// HTTP besides the loopback (`localhost`, `127.0.0.1`, `[::1]`, always plain HTTP).
    pub insecure_registries: Vec<String>,
}

/// The keys of `packages`.
const KEYS: [&str; 4] = [
    "signatures",
    "trusted_keys",
    "cache_dir",
    "insecure_registries",
];

impl PackagesConfig {
    pub(crate) fn read(
        r: &mut Reader<'_>,
        v: Option<&Value>,
        config_dir: &std::path::Path,
    ) -> PackagesConfig {
        let mut out = PackagesConfig::default();
        let holds = "the signature policy of pulled skill packages";
        let Some(v) = r.secure_mapping(v, "packages", holds) else {
            return out;
        };
        check_keys(r, v, "packages", &KEYS, &KEYS, &[]);
        if let Some(node) = v.get("signatures") {
            out.signatures = signatures(r, node).unwrap_or_default();
        }
        if let Some(node) = v.get("trusted_keys") {
            out.trusted_keys = texts(r, node, "packages.trusted_keys")
                .into_iter()
                .map(|p| config_dir.join(p))
                .collect();
        }
        if let Some(node) = v.get("cache_dir") {
            out.cache_dir = text(r, node, "packages.cache_dir").map(|p| config_dir.join(p));
        }
        if let Some(node) = v.get("insecure_registries") {
            out.insecure_registries = texts(r, node, "packages.insecure_registries");
        }
        out
    }
}

/// `require`, `warn` or `off`; anything else (null included) is an error and the policy
/// stays `require`.
fn signatures(r: &mut Reader<'_>, node: &Value) -> Option<SignaturePolicy> {
    let text = match node {
        Value::String(s) => s.as_str(),
        other => {
            let found = describe(other);
            r.fail(
                "packages.signatures",
                node,
                format!("expected one of require, warn, off, found {found}; the policy is not defaulted: write one or remove the key (then it is `require`)"),
            );
            return None;
        }
    };
    match text {
        "require" => Some(SignaturePolicy::Require),
        "warn" => Some(SignaturePolicy::Warn),
        "off" => Some(SignaturePolicy::Off),
        other => {
            r.fail(
                "packages.signatures",
                node,
                format!(
                    "unknown policy `{}`; use one of require, warn, off (lower case)",
                    crate::escape_text(other)
                ),
            );
            None
        }
    }
}

/// A non-empty string, or an error.
fn text(r: &mut Reader<'_>, node: &Value, key: &str) -> Option<String> {
    match node {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        other => {
            r.fail(
                key,
                node,
                format!(
                    "expected a non-empty string, found {}; fix it or remove the key",
                    describe(other)
                ),
            );
            None
        }
    }
}

/// A list of non-empty strings; a non-list, a null or a bad item is an error (the list keeps
/// its good items).
fn texts(r: &mut Reader<'_>, node: &Value, key: &str) -> Vec<String> {
    let Value::Sequence(items) = node else {
        r.fail(
            key,
            node,
            format!(
                "expected a list of strings, found {}; fix it or remove the key",
                describe(node)
            ),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| text(r, item, &format!("{key}[{i}]")))
        .collect()
}

/// Whether a `skills:` entry is an OCI reference (it holds a `/`; folder ids never do).
pub fn is_package_reference(entry: &str) -> bool {
    entry.contains('/')
}

/// The skill id a package reference loads as: the last component of its repository
/// (`localhost:5000/acme/echo@sha256:…` → `echo`, `ghcr.io/acme/echo:1.2` → `echo`).
pub fn package_skill_id(entry: &str) -> &str {
    let name = entry.split('@').next().unwrap_or(entry);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split(':').next().unwrap_or(last)
}

/// Whether a package reference pins a digest (`@sha256:…`).
pub fn is_pinned(entry: &str) -> bool {
    entry.contains("@sha256:")
}

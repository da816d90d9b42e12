//! Keys that are not read: unknown keys are reported, and a key that looks like a security
//! setting (`A2A`, `inbound-secret`, a top-level `inbound_secret`, `sandbox.Timeout`) but is
//! not where it is read is an error. Without this, a misspelt or mis-indented secret or limit
//! would be ignored and the workspace would run without it.

use serde_yaml::Value;

use crate::key_path::join;
use crate::lenient::{describe, Reader};

/// The keys read at the top level of config.yaml.
pub(crate) const TOP_KEYS: [&str; 29] = [
    "name",
    "description",
    "role",
    "version",
    "tier",
    "model",
    "provider",
    "runtime",
    "runtime_config",
    "initial_prompt",
    "initial_prompt_file",
    "idle_prompt",
    "idle_prompt_file",
    "idle_interval_seconds",
    "skills",
    "plugins",
    "tools",
    "prompt_files",
    "sub_workspaces",
    "a2a",
    "delegation",
    "sandbox",
    "observability",
    "grants",
    "packages",
    "approval",
    "uploads",
    "mcp",
    "platform",
];

/// Security settings that are read only in some places, and where.
const PLACED: [(&str, &str); 3] = [
    ("inbound_secret", "a2a.inbound_secret"),
    (
        "memory_limit",
        "sandbox.memory_limit, grants.default.memory_limit or grants.skills.<id>.memory_limit",
    ),
    (
        "timeout",
        "sandbox.timeout, grants.default.timeout or grants.skills.<id>.timeout",
    ),
];

/// The security keys that are sections (mappings of settings) rather than settings: `a2a`,
/// `sandbox`, `grants`, `grants.default`, `grants.skills` and the budget subsections of
/// `sandbox`.
const SECTIONS: [&str; 17] = [
    "a2a",
    "sandbox",
    "grants",
    "default",
    "skills",
    "log",
    "heartbeat",
    "describe",
    "memory_capability",
    "http",
    "task",
    "llm",
    "admission",
    "packages",
    "approval",
    "uploads",
    "mcp",
];

/// A key as compared for near misses: lower case, `-` and spaces as `_`.
pub(crate) fn normalise(key: &str) -> String {
    key.trim().to_lowercase().replace(['-', ' '], "_")
}

/// Levenshtein distance between two short strings.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Whether `key` is a near miss of `known`: equal once normalised, or within an edit distance
/// of 1 (names up to 4 characters) or 2.
fn near(key: &str, known: &str) -> bool {
    let n = normalise(key);
    if n == known {
        return true;
    }
    if n.chars().count() > 64 {
        return false;
    }
    let limit = if known.len() <= 4 { 1 } else { 2 };
    distance(&n, known) <= limit
}

/// The known key `key` is a near miss of, if any.
fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .find(|k| normalise(key) == **k)
        .or_else(|| known.iter().find(|k| near(key, k)))
        .copied()
}

/// Checks the keys of the mapping `map` at `path` (empty for the top level): keys in `known`
/// are fine; a near miss of a key in `secure`, or a key that is a (near miss of a) security
/// setting read elsewhere (`placed`: from [`PLACED`] by name), is an error; any other key is a
/// warning, with a suggestion when it is close to a known key.
pub(crate) fn check_keys(
    r: &mut Reader<'_>,
    map: &Value,
    path: &str,
    known: &[&str],
    secure: &[&str],
    placed: &[&str],
) {
    let Value::Mapping(m) = map else { return };
    for (k, _) in m {
        let Some(name) = r.text(k) else {
            let at = if path.is_empty() { "(top level)" } else { path };
            let what = format!("ignoring an entry whose key is {}", describe(k));
            r.warn_at(at, k, what);
            continue;
        };
        if known.contains(&name.as_str()) {
            continue;
        }
        let key = join(path, &name);
        let section = if path.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{path}`")
        };
        if let Some(s) = suggest(&name, known).filter(|s| secure.contains(s)) {
            let right = join(path, s);
            let (what, them) = if SECTIONS.contains(&s) {
                ("holds security settings", "them")
            } else {
                ("is a security setting", "it")
            };
            r.fail(
                &key,
                k,
                format!(
                    "unknown key; did you mean `{right}`? Keys are case-sensitive and `{s}` \
                     {what}, so a near miss is not ignored (it would run without {them}): \
                     rename it to `{s}`"
                ),
            );
            continue;
        }
        let misplaced = PLACED
            .iter()
            .filter(|(p, _)| placed.contains(p))
            .find(|(p, _)| near(&name, p));
        if let Some((p, home)) = misplaced {
            r.fail(
                &key,
                k,
                format!(
                    "`{p}` is not read in {section} (check the indentation and spelling); it \
                     belongs at {home}: a security setting in the wrong place is not ignored, \
                     since the workspace would run without it"
                ),
            );
            continue;
        }
        let hint = match suggest(&name, known) {
            Some(s) => format!("did you mean `{s}`? "),
            None => String::new(),
        };
        r.warn_at(
            &key,
            k,
            format!(
                "unknown key, ignored; {hint}the keys of {section} are {}",
                known.join(", ")
            ),
        );
    }
}

/// Reports keys that are near misses of `inbound_secret` (and, unless `secret_only`, of
/// `memory_limit`) anywhere under `value` (a section where they are never read), as errors
/// naming where they belong.
pub(crate) fn check_nested(
    r: &mut Reader<'_>,
    value: &Value,
    path: &str,
    secret_only: bool,
    depth: usize,
) {
    let candidates = if secret_only {
        &PLACED[..1]
    } else {
        &PLACED[..2]
    };
    if depth > crate::source::MAX_DEPTH {
        return;
    }
    match value {
        Value::Mapping(m) => {
            for (k, v) in m {
                let Some(name) = r.text(k) else { continue };
                let key = join(path, &name);
                let hit = candidates.iter().find(|(p, _)| near(&name, p));
                if let Some((p, home)) = hit {
                    r.fail(
                        &key,
                        k,
                        format!(
                            "`{p}` is not read here (check the indentation and spelling); it \
                             belongs at {home}: a security setting in the wrong place is not \
                             ignored, since the workspace would run without it"
                        ),
                    );
                }
                check_nested(r, v, &key, secret_only, depth + 1);
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check_nested(r, item, &format!("{path}[{i}]"), secret_only, depth + 1);
            }
        }
        _ => {}
    }
}

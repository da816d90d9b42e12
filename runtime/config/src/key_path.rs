//! Key paths as messages name them: `a2a.port`, `grants.skills.notes.timeout`. A leaf module,
//! so that both the YAML parser ([`crate::source`]) and the lenient reader can build them.

/// `parent.key`, or just `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

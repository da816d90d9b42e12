//! Finding skill folders: which entries of a skills root are skills, and why an entry that
//! looks meant as one is not usable (a broken link, a folder without `SKILL.md`, a name that
//! cannot be a skill id).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What [`SkillRegistry::discover`] found in the skill folders.
#[derive(Default)]
pub(super) struct Discovered {
    /// Skill folders by id.
    pub(super) skills: BTreeMap<String, PathBuf>,
    /// Entries that look meant as skills but are not usable, by name, with the reason.
    pub(super) unusable: BTreeMap<String, String>,
}

/// Classifies one entry of a skills root: `Ok(Some(id))` for a skill folder, `Ok(None)` for
/// an entry that is not meant as a skill (a hidden entry, a plain file), and `Err((name,
/// reason))` for one that is meant as a skill but unusable: a link whose target is missing,
/// a folder that cannot be read, or a folder without `SKILL.md`.
pub(super) fn skill_entry(path: &Path) -> Result<Option<String>, (String, String)> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    if name.starts_with('.') {
        return Ok(None);
    }
    let unusable = |reason: String| Err((name.to_owned(), reason));
    if !is_usable_id(name) {
        return Err((
            crate::redact::escape(name),
            format!(
                "{} is not usable as a skill: its name is the skill's id on the Agent Card and \
                 in config.yaml, so use letters, digits, `-`, `_` and `.` only (Agent Skills \
                 names are lowercase letters, digits and hyphens)",
                crate::redact::escape(&path.display().to_string())
            ),
        ));
    }
    let is_link = path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    match std::fs::metadata(path) {
        Err(err) if is_link => {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            unusable(format!(
                "{} is a link to {target}, which cannot be followed ({err}); the skill is not \
                 loaded. A copied workspace keeps relative links: copy the skill folder \
                 itself (`cp -rL`), or start from `molecule-runtime new workspace`",
                path.display()
            ))
        }
        Err(err) => unusable(format!("{} cannot be read: {err}", path.display())),
        Ok(meta) if !meta.is_dir() => Ok(None),
        Ok(_) => {
            let skill_md = path.join("SKILL.md");
            match std::fs::metadata(&skill_md) {
                Ok(m) if m.is_file() => Ok(Some(name.to_owned())),
                Ok(_) => unusable(format!("{} is not a file", skill_md.display())),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => unusable(format!(
                    "{} has no SKILL.md, so it is not a skill; add one (frontmatter with \
                     `name` and `description`) or move the folder out of {}",
                    path.display(),
                    path.parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                )),
                Err(err) => unusable(format!("{} cannot be read: {err}", skill_md.display())),
            }
        }
    }
}

/// Whether a folder name can be a skill id: 1–64 of `A-Z a-z 0-9 - _ .`, so no id carries
/// spaces, control characters or anything a log line or a config key could not hold.
fn is_usable_id(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_ids_are_unusable_and_escaped() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["with space", "esc\u{1b}[31m", "line\nbreak"] {
            let path = dir.path().join(bad);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("SKILL.md"), "---\nname: x\n---\n").unwrap();
            let (name, reason) = skill_entry(&path).unwrap_err();
            assert!(!name.contains(['\u{1b}', '\n']), "{name:?}");
            assert!(!reason.contains(['\u{1b}', '\n']), "{reason:?}");
            assert!(reason.contains("not usable as a skill"), "{reason}");
        }
        let ok = dir.path().join("json-query");
        std::fs::create_dir_all(&ok).unwrap();
        std::fs::write(ok.join("SKILL.md"), "---\nname: json-query\n---\n").unwrap();
        assert_eq!(skill_entry(&ok), Ok(Some("json-query".to_owned())));
    }
}

//! A skill folder: `SKILL.md` (Agent Skills frontmatter plus a Markdown body) and the tool
//! component, either a prebuilt `.wasm` in the folder or a Rust crate the builder compiles.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Deserialize;

/// The frontmatter fields of `SKILL.md` that the runtime uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SkillMeta {
    /// Skill name: 1-64 characters of `[a-z0-9-]`, equal to the folder name.
    pub name: String,
    /// What the skill does and when to use it.
    pub description: String,
    /// Free-form tags for the Agent Card.
    pub tags: Vec<String>,
    /// Example prompts for the Agent Card.
    pub examples: Vec<String>,
    /// The skill's own version.
    pub version: Option<String>,
    /// SPDX license name.
    pub license: Option<String>,
    /// Anything else the author wants to carry.
    pub metadata: Option<serde_yaml::Value>,
    /// Adapters this skill is for (`runtime: langgraph` or a list); empty means all.
    #[serde(deserialize_with = "one_or_many")]
    pub runtime: Vec<String>,
}

impl SkillMeta {
    /// True when the skill should load under adapter `runtime`.
    pub fn runs_on(&self, runtime: &str) -> bool {
        self.runtime.is_empty() || self.runtime.iter().any(|r| r == runtime)
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// Where a skill's tool component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// A prebuilt component file.
    Prebuilt(PathBuf),
    /// A Rust crate to build for wasm32-wasip2.
    Crate(PathBuf),
}

/// A skill folder, read but not yet compiled.
#[derive(Debug, Clone)]
pub struct SkillDir {
    /// The folder name: the skill's id on the Agent Card.
    pub id: String,
    /// The folder.
    pub dir: PathBuf,
    /// Parsed frontmatter (empty when it was malformed; see `warnings`).
    pub meta: SkillMeta,
    /// The Markdown body after the frontmatter.
    pub body: String,
    /// The frontmatter's YAML text (capability requests are read from it).
    pub frontmatter: String,
    /// Problems that did not stop loading, each naming the file (and line when known).
    pub warnings: Vec<String>,
    /// The tool component.
    pub source: ComponentSource,
}

impl SkillDir {
    /// Reads the skill folder at `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<SkillDir> {
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} is not a usable skill folder name", dir.display()))?
            .to_owned();
        let skill_md = dir.join("SKILL.md");
        let text = std::fs::read_to_string(&skill_md)
            .with_context(|| format!("reading {}", skill_md.display()))?;
        let (meta, body, mut warnings) = parse_skill_md(&skill_md, &text);
        let frontmatter = frontmatter_text(&text).unwrap_or_default().to_owned();
        if !meta.name.is_empty() && meta.name != id {
            warnings.push(format!(
                "{}: name `{}` differs from the folder name `{id}`; the folder name is used",
                skill_md.display(),
                meta.name
            ));
        }
        let source = find_source(dir)?;
        Ok(SkillDir {
            id,
            dir: dir.to_owned(),
            meta,
            body,
            frontmatter,
            warnings,
            source,
        })
    }
}

/// Splits `SKILL.md` into frontmatter and body. Malformed frontmatter yields empty metadata
/// and a warning naming the file and line.
pub fn parse_skill_md(path: &Path, text: &str) -> (SkillMeta, String, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        warnings.push(format!(
            "{}:1: no frontmatter (a `---` line, YAML, a `---` line)",
            path.display()
        ));
        return (SkillMeta::default(), text.to_owned(), warnings);
    };
    let Some(end) = rest.find("\n---") else {
        warnings.push(format!(
            "{}:1: frontmatter has no closing `---` line",
            path.display()
        ));
        return (SkillMeta::default(), text.to_owned(), warnings);
    };
    let yaml = &rest[..end];
    let body = rest[end + 4..]
        .trim_start_matches(['-', '\r'])
        .trim_start_matches('\n')
        .to_owned();
    let meta = match serde_yaml::from_str::<SkillMeta>(yaml) {
        Ok(meta) => meta,
        Err(err) => {
            // Line numbers in the YAML error count from the frontmatter; the file has one
            // `---` line before it.
            let line = err.location().map(|l| l.line() + 1).unwrap_or(2);
            warnings.push(format!(
                "{}:{line}: malformed frontmatter, loading with empty metadata: {err}",
                path.display()
            ));
            SkillMeta::default()
        }
    };
    if meta.description.trim().is_empty() && warnings.is_empty() {
        warnings.push(format!(
            "{}: frontmatter has no `description`",
            path.display()
        ));
    }
    (meta, body, warnings)
}

/// The YAML between the opening and closing `---` lines, if any.
pub fn frontmatter_text(text: &str) -> Option<&str> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    Some(&rest[..rest.find("\n---")?])
}

/// Finds the component: `tool.wasm` or `<folder>.wasm`, else a `Cargo.toml` crate.
fn find_source(dir: &Path) -> anyhow::Result<ComponentSource> {
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or("tool");
    for name in ["tool.wasm".to_owned(), format!("{folder}.wasm")] {
        let path = dir.join(&name);
        if path.is_file() {
            return Ok(ComponentSource::Prebuilt(path));
        }
    }
    if dir.join("Cargo.toml").is_file() {
        return Ok(ComponentSource::Crate(dir.to_owned()));
    }
    bail!(
        "{} has no tool component: add `tool.wasm` (a prebuilt component) or a Cargo.toml \
         crate that builds one",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frontmatter_and_body() {
        let text =
            "---\nname: notes\ndescription: Keeps notes\ntags: [memory]\n---\n# Notes\nUse it.\n";
        let (meta, body, warnings) = parse_skill_md(Path::new("SKILL.md"), text);
        assert_eq!(meta.name, "notes");
        assert_eq!(meta.tags, vec!["memory"]);
        assert_eq!(body, "# Notes\nUse it.\n");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn malformed_frontmatter_warns_with_line() {
        let text = "---\nname: notes\ndescription: [unclosed\n---\nbody\n";
        let (meta, body, warnings) = parse_skill_md(Path::new("skills/notes/SKILL.md"), text);
        assert_eq!(meta, SkillMeta::default());
        assert_eq!(body, "body\n");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("skills/notes/SKILL.md:"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("malformed frontmatter"));
    }
}
